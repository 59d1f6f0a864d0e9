// Clopper and Pearson, "The use of confidence or fiducial limits illustrated
// in the case of the binomial", Biometrika 1934: the interval's ends are
// quantiles of Beta distributions, computed by Boost.Math, which is exact to
// a few ulps where a normal approximation would fail for the small counts the
// Monte Carlo checks see.
#include "dpsanitize/core/intervals.h"

#include <boost/math/distributions/beta.hpp>
#include <exception>

namespace dpsanitize {

StatusOr<Interval> ClopperPearson(uint64_t count, uint64_t n, double alpha) {
  if (n == 0 || count > n || !(alpha > 0 && alpha < 1)) {
    return InternalError("Clopper-Pearson: bad arguments ({} of {}, alpha {})", count, n, alpha);
  }
  Interval iv;
  // Boost reports domain and evaluation errors by exceptions; they become a
  // Status here so that nothing throws across the library's interface.
  try {
    const double k = static_cast<double>(count);
    const double nn = static_cast<double>(n);
    if (count > 0) {
      iv.lo =
          boost::math::quantile(boost::math::beta_distribution<double>(k, nn - k + 1), alpha / 2);
    }
    if (count < n) {
      iv.hi = boost::math::quantile(boost::math::complement(
          boost::math::beta_distribution<double>(k + 1, nn - k), alpha / 2));
    }
  } catch (const std::exception& e) {
    return InternalError("Clopper-Pearson ({} of {}): {}", count, n, e.what());
  }
  return iv;
}

}  // namespace dpsanitize
