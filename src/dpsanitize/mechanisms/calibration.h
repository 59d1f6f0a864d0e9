// Calibration of the truncated Gumbel mechanism from a metric-DP epsilon.
//
// Xu, Feyisetan, Aggarwal, Xu, Teissier, "Density-aware differentially
// private textual perturbations using truncated Gumbel noise", FLAIRS 2021,
// in the form of its public reproduction (MLDP) with the domain made explicit
// (spec section 2):
//   a = (eps - 2 (1 + ln|V|) / dmin) / 3
//   b = 2 dmax / min(W0(2 a dmax), ln(a dmin))
// defined only for a * dmin > 1, i.e. eps > eps_min = (2 (1 + ln|V|) + 3) / dmin.
// The epsilon obtained is *nominal*: the theorem's, not a verified bound.
#ifndef DPSANITIZE_MECHANISMS_CALIBRATION_H_
#define DPSANITIZE_MECHANISMS_CALIBRATION_H_

#include <cstdint>
#include <string>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

struct TgCalibration {
  uint64_t vocab_size = 0;
  double delta_min = 0;
  double delta_max = 0;
  double eps = 0;      // requested epsilon per unit distance
  double eps_min = 0;  // lower end of the calibration's domain (exclusive)
  double a = 0;
  double b = 0;   // Gumbel scale
  double mu = 0;  // Poisson mean, ln(|V| - 1)
};

// ln(|V| - 1), the default Poisson mean; 0 for |V| <= 2.
double DefaultMu(uint64_t vocab_size);

double TgEpsMin(uint64_t vocab_size, double delta_min);

// Calibrates tg, or returns a usage error that states eps_min and what to do.
// `eps` was validated with the config (finite, > 0); a NaN or non-positive
// value falls outside the domain and gets the same usage error.
StatusOr<TgCalibration> CalibrateTg(double eps, uint64_t vocab_size, double delta_min,
                                    double delta_max);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_CALIBRATION_H_
