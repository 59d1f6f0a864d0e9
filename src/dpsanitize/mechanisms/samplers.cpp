#include "dpsanitize/mechanisms/samplers.h"

#include <algorithm>
#include <limits>

namespace dpsanitize {

namespace {

// ln of the Poisson(mu) pmf at k, without normalisation; mu = 0 is the point
// mass at 0.
double LogPoissonTerm(double mu, uint64_t k) {
  if (mu == 0) return k == 0 ? 0.0 : -std::numeric_limits<double>::infinity();
  const double kk = static_cast<double>(k);
  return kk * std::log(mu) - mu - std::lgamma(kk + 1.0);
}

double LogAddExp(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

}  // namespace

TruncatedPoisson::TruncatedPoisson(double mu, uint64_t kmax) : mu_(mu), kmax_(kmax) {
  // All in log space, so that no regime (mu = 0, mu far above kmax, long
  // tails) loses the distribution to cancellation: the survival function is
  // a sum of pmf terms from the top down, smallest first.
  std::vector<double> log_terms(kmax + 1);
  double log_norm = -std::numeric_limits<double>::infinity();
  for (uint64_t k = 0; k <= kmax; ++k) {
    log_terms[k] = LogPoissonTerm(mu, k);
    log_norm = LogAddExp(log_norm, log_terms[k]);
  }
  log_norm_ = log_norm;
  std::vector<double> sf(kmax + 1, 0.0);  // sf[k] = P(K > k)
  double tail = 0.0;
  for (uint64_t k = kmax; k > 0; --k) {
    tail += std::exp(log_terms[k] - log_norm);
    sf[k - 1] = std::min(1.0, tail);
  }
  // Keep the table up to the first entry below 2^-55 (uniforms are >= 2^-54).
  for (uint64_t k = 0; k <= kmax; ++k) {
    sf_.push_back(sf[k]);
    if (sf[k] < 0x1.0p-55) break;
  }
}

uint64_t TruncatedPoisson::Sample(double v) const {
  // sf_ decreases; the first entry below v is the draw.
  const auto it = std::partition_point(sf_.begin(), sf_.end(), [v](double s) { return s >= v; });
  return static_cast<uint64_t>(it - sf_.begin());
}

double TruncatedPoisson::Pmf(uint64_t k) const {
  if (k > kmax_) return 0.0;
  return std::exp(LogPoissonTerm(mu_, k) - log_norm_);
}

double TruncatedPoisson::Survival(uint64_t k) const {
  if (k >= kmax_) return 0.0;
  if (k < sf_.size()) return sf_[k];  // the very values Sample() inverts
  return std::exp(LogTailAtLeast(k + 1));
}

double TruncatedPoisson::LogTailAtLeast(uint64_t r) const {
  if (r == 0) return 0.0;
  if (r > kmax_) return -std::numeric_limits<double>::infinity();
  // ln sum_{k >= r} pmf(k): past the mode the terms fall at least
  // geometrically, so stop once they no longer change the sum.
  double log_sum = -std::numeric_limits<double>::infinity();
  for (uint64_t k = r; k <= kmax_; ++k) {
    const double lt = LogPoissonTerm(mu_, k);
    log_sum = LogAddExp(log_sum, lt);
    if (static_cast<double>(k) > mu_ && (lt < log_sum - 45 || std::isinf(lt))) break;
  }
  return std::min(0.0, log_sum - log_norm_);
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
  // E = lo + x with x = -log1p(-u c) > 0. ln(lo + x) is accurate to a
  // relative 2^-53 of E whatever the sizes of lo and x (and lo may have
  // underflowed to 0 when delta / b > 745, where x alone is E to double
  // precision), so one logarithm suffices.
  const double x = -std::log1p(-u * c_);
  const double g = -b_ * std::log(lo_ + x);
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
