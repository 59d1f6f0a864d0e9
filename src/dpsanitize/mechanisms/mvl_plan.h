// mvl's registry entry: multivariate Laplace (Feyisetan et al. 2020), the
// sampler in mvl.h, its Monte Carlo output law in mvl_law.h.
#ifndef DPSANITIZE_MECHANISMS_MVL_PLAN_H_
#define DPSANITIZE_MECHANISMS_MVL_PLAN_H_

#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

MechanismInfo MvlMechanismInfo();

// --mvl-search, shared by the mechanisms with mvl's nearest-word step (mvl,
// mahalanobis, vickrey): one definition, one help line.
MechanismFlag MvlSearchFlag();

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MVL_PLAN_H_
