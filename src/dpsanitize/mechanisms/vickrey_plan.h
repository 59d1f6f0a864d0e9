// vickrey's registry entry: Vickrey's choice between the two nearest words
// (Xu et al. 2021, vickrey.h) on mvl's or the Mahalanobis mechanism's noise,
// with the base mechanism's proven eps and a Monte Carlo output law.
#ifndef DPSANITIZE_MECHANISMS_VICKREY_PLAN_H_
#define DPSANITIZE_MECHANISMS_VICKREY_PLAN_H_

#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

// Default t: pyPANTERA's (the only public default; the paper tunes t per
// task). docs/mechanism.md.
inline constexpr double kDefaultVickreyT = 0.75;

MechanismInfo VickreyMechanismInfo();

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_VICKREY_PLAN_H_
