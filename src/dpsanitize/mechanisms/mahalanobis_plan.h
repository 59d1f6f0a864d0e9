// mahalanobis's registry entry: the regularised Mahalanobis mechanism (Xu et
// al. 2020), the sampler in mahalanobis.h, Sigma_lambda and its certified
// smallest eigenvalue in covariance.h, a Monte Carlo output law like mvl's.
#ifndef DPSANITIZE_MECHANISMS_MAHALANOBIS_PLAN_H_
#define DPSANITIZE_MECHANISMS_MAHALANOBIS_PLAN_H_

#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

// Default regularisation: MLDP's constructor default (docs/mechanism.md).
inline constexpr double kDefaultMahalanobisLambda = 0.2;

MechanismInfo MahalanobisMechanismInfo();

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MAHALANOBIS_PLAN_H_
