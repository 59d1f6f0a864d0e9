#include "dpsanitize/mechanisms/calibration.h"

#include <algorithm>
#include <boost/math/special_functions/lambert_w.hpp>
#include <cmath>

namespace dpsanitize {

double DefaultMu(uint64_t vocab_size) {
  return vocab_size > 2 ? std::log(static_cast<double>(vocab_size - 1)) : 0.0;
}

double TgEpsMin(uint64_t vocab_size, double delta_min) {
  return (2.0 * (1.0 + std::log(static_cast<double>(vocab_size))) + 3.0) / delta_min;
}

StatusOr<TgCalibration> CalibrateTg(double eps, uint64_t vocab_size, double delta_min,
                                    double delta_max) {
  if (vocab_size < 2 || !(delta_min > 0) || !(delta_max >= delta_min)) {
    return DataError(
        "calibration: vocabulary of {} words with delta_min {} and delta_max {} "
        "cannot be calibrated",
        vocab_size, delta_min, delta_max);
  }
  TgCalibration c;
  c.vocab_size = vocab_size;
  c.delta_min = delta_min;
  c.delta_max = delta_max;
  c.eps = eps;
  c.eps_min = TgEpsMin(vocab_size, delta_min);
  c.mu = DefaultMu(vocab_size);
  c.a = (eps - 2.0 * (1.0 + std::log(static_cast<double>(vocab_size))) / delta_min) / 3.0;
  if (!(c.a * delta_min > 1.0)) {
    return UsageError(
        "--eps {}: below the truncated Gumbel calibration's domain, eps_min = {:.4g} for this "
        "embedding and vocabulary (|V| = {}, delta_min = {:.4g}); use --eps above {:.4g}, a "
        "smaller "
        "--vocab-size, --mechanism mvl, or explicit noise with --gumbel-scale",
        eps, c.eps_min, vocab_size, delta_min, c.eps_min);
  }
  // W0's argument overflows to inf for eps beyond about 1e307; Boost then
  // throws. No finite calibration exists there, so say so.
  const double w_arg = 2.0 * c.a * delta_max;
  if (!std::isfinite(w_arg)) {
    return UsageError(
        "--eps {}: too large for the truncated Gumbel calibration (its noise scale underflows); "
        "use a smaller --eps",
        eps);
  }
  const double w = boost::math::lambert_w0(w_arg);
  const double l = std::log(c.a * delta_min);
  c.b = 2.0 * delta_max / std::min(w, l);
  return c;
}

}  // namespace dpsanitize
