// Confidence intervals for proportions, shared by the Monte Carlo checks of
// the mechanisms (the privacy audit's Monte Carlo laws, the statistical
// tests).
//
//   DPS_ASSIGN_OR_RETURN(Interval iv, ClopperPearson(count, n, 0.05));
//   // P[iv.lo <= p <= iv.hi] >= 0.95 for the true proportion p
#ifndef DPSANITIZE_CORE_INTERVALS_H_
#define DPSANITIZE_CORE_INTERVALS_H_

#include <cstdint>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

// A closed interval [lo, hi] of a probability.
struct Interval {
  double lo = 0;
  double hi = 1;
};

// Two-sided Clopper-Pearson (exact binomial) interval for a proportion
// observed `count` times in `n` trials, at confidence 1 - alpha: lo is 0 at
// count = 0 and hi is 1 at count = n. Errors (internal): n = 0, count > n,
// alpha outside (0, 1).
StatusOr<Interval> ClopperPearson(uint64_t count, uint64_t n, double alpha);

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_INTERVALS_H_
