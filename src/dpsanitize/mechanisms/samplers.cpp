#include "dpsanitize/mechanisms/samplers.h"

#include <algorithm>
#include <boost/math/special_functions/gamma.hpp>
#include <limits>

namespace dpsanitize {

namespace bm = boost::math;

TruncatedPoisson::TruncatedPoisson(double mu, uint64_t kmax) : mu_(mu), kmax_(kmax) {
  // P(Poisson(mu) <= kmax) = Q(kmax + 1, mu); its upper tail P(kmax + 1, mu).
  const double tail_beyond = bm::gamma_p(static_cast<double>(kmax) + 1.0, mu);
  const double norm = bm::gamma_q(static_cast<double>(kmax) + 1.0, mu);
  log_norm_ = std::log(norm);
  for (uint64_t k = 0;; ++k) {
    if (k >= kmax) {
      sf_.push_back(0.0);
      break;
    }
    const double s = (bm::gamma_p(static_cast<double>(k) + 1.0, mu) - tail_beyond) / norm;
    sf_.push_back(std::max(0.0, s));
    if (s < 0x1.0p-55) break;
  }
}

uint64_t TruncatedPoisson::Sample(double v) const {
  // sf_ decreases; the first entry below v is the draw.
  const auto it = std::partition_point(sf_.begin(), sf_.end(), [v](double s) { return s >= v; });
  return static_cast<uint64_t>(it - sf_.begin());
}

double TruncatedPoisson::Pmf(uint64_t k) const {
  if (k > kmax_) return 0.0;
  const double kk = static_cast<double>(k);
  return std::exp(kk * std::log(mu_) - mu_ - std::lgamma(kk + 1.0) - log_norm_);
}

double TruncatedPoisson::Survival(uint64_t k) const {
  if (k >= kmax_) return 0.0;
  const double tail_beyond = bm::gamma_p(static_cast<double>(kmax_) + 1.0, mu_);
  return (bm::gamma_p(static_cast<double>(k) + 1.0, mu_) - tail_beyond) / std::exp(log_norm_);
}

double TruncatedPoisson::LogTailAtLeast(uint64_t r) const {
  if (r == 0) return 0.0;
  if (r > kmax_) return -std::numeric_limits<double>::infinity();
  // P(r <= K <= kmax) / norm; for a far tail use the leading pmf terms in
  // log space, which gamma_p would round to 0.
  const double p =
      bm::gamma_p(static_cast<double>(r), mu_) - bm::gamma_p(static_cast<double>(kmax_) + 1.0, mu_);
  if (p > 1e-290) return std::log(p) - log_norm_;
  // Sum pmf(r..) in log space until terms are negligible.
  double log_sum = -std::numeric_limits<double>::infinity();
  for (uint64_t k = r; k <= kmax_ && k < r + 100000; ++k) {
    const double kk = static_cast<double>(k);
    const double lt = kk * std::log(mu_) - mu_ - std::lgamma(kk + 1.0);
    const double m = std::max(log_sum, lt);
    log_sum = m + std::log(std::exp(log_sum - m) + std::exp(lt - m));
    if (lt < log_sum - 40) break;
  }
  return log_sum - log_norm_;
}

TruncatedGumbel::TruncatedGumbel(double b, double delta) : b_(b), delta_(delta) {
  ratio_ = delta / b;
  lo_ = std::exp(-ratio_);
  // hi - lo = 2 sinh(delta / b); c = 1 - exp(-(hi - lo)).
  const double spread = 2.0 * std::sinh(ratio_);
  c_ = std::isinf(spread) ? 1.0 : -std::expm1(-spread);
  // Z = Phi(delta) - Phi(-delta) = exp(-lo) - exp(-hi) = exp(-lo) * c.
  log_z_ = -lo_ + std::log(c_);
}

double TruncatedGumbel::Sample(double u) const {
  const double x = -std::log1p(-u * c_);  // E - lo, > 0
  double log_e;
  if (x > lo_) {
    log_e = std::log(x) + std::log1p(lo_ / x);
  } else {
    log_e = -ratio_ + std::log1p(x / lo_);
  }
  const double g = -b_ * log_e;
  return std::min(delta_, std::max(-delta_, g));
}

double TruncatedGumbel::Cdf(double x) const {
  if (x <= -delta_) return 0.0;
  if (x >= delta_) return 1.0;
  // (exp(-e^{-x/b}) - exp(-hi)) / Z  with hi = e^{delta/b}.
  const double hi = std::exp(ratio_);
  const double num = std::exp(-std::exp(-x / b_)) - std::exp(-hi);
  return std::min(1.0, std::max(0.0, num / std::exp(log_z_)));
}

double TruncatedGumbel::LogPdf(double x) const {
  if (x < -delta_ || x > delta_) return -std::numeric_limits<double>::infinity();
  const double t = x / b_;
  return -std::log(b_) - t - std::exp(-t) - log_z_;
}

double TruncatedGumbel::Pdf(double x) const { return std::exp(LogPdf(x)); }

}  // namespace dpsanitize
