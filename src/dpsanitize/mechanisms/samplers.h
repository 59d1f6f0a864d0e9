// Exact samplers for the mechanisms (spec section 4).
//
// Each sampler maps uniforms on (0, 1) to its distribution by inversion where
// a closed form exists, so that one uniform gives one draw and a statistical
// test can compare it with the exact law:
//   * TruncatedPoisson: Poisson(mu) conditioned on k <= kmax, by inversion of
//     the survival function, computed with the regularized incomplete gamma
//     function (Boost.Math) so the tails are accurate to double precision;
//   * TruncatedGumbel: max-stable Gumbel(0, b), CDF exp(-exp(-x/b)),
//     conditioned on |x| <= delta, as G = -b ln E with E an Exponential(1)
//     truncated to [e^{-delta/b}, e^{delta/b}], by inversion in a form that
//     neither overflows nor loses the tails for any b/delta;
//   * StandardGaussian: Box-Muller; Gamma: Marsaglia-Tsang (2000), exact
//     rejection sampling.
// Resolution: uniforms have 53 random bits, so events of probability below
// 2^-54 per draw are not produced (documented in docs/mechanism.md).
#ifndef DPSANITIZE_MECHANISMS_SAMPLERS_H_
#define DPSANITIZE_MECHANISMS_SAMPLERS_H_

#include <cmath>
#include <cstdint>
#include <vector>

namespace dpsanitize {

class TruncatedPoisson {
 public:
  TruncatedPoisson(double mu, uint64_t kmax);
  // The smallest k with P(K > k) < v, for v uniform on (0, 1).
  uint64_t Sample(double v) const;
  double mu() const { return mu_; }
  uint64_t kmax() const { return kmax_; }
  // Exact probability mass and survival P(K > k) of the truncated law.
  double Pmf(uint64_t k) const;
  double Survival(uint64_t k) const;
  // ln P(K >= r) of the truncated law, accurate far into the tail.
  double LogTailAtLeast(uint64_t r) const;

 private:
  double mu_;
  uint64_t kmax_;
  double log_norm_;         // ln P(Poisson(mu) <= kmax)
  std::vector<double> sf_;  // sf_[k] = P(K > k), until below 2^-55 or k = kmax
};

class TruncatedGumbel {
 public:
  TruncatedGumbel(double b, double delta);
  // One draw from a uniform u on (0, 1).
  double Sample(double u) const;
  double Cdf(double x) const;
  double Pdf(double x) const;
  double LogPdf(double x) const;
  double b() const { return b_; }
  double delta() const { return delta_; }

 private:
  double b_;
  double delta_;
  double ratio_;  // delta / b
  double lo_;     // e^{-delta/b}, may underflow to 0
  double c_;      // 1 - e^{-(hi - lo)}
  double log_z_;  // ln(Phi(delta) - Phi(-delta)), Phi the untruncated CDF
};

// Standard normal pair by Box-Muller from two uniforms on (0, 1).
inline void GaussianPair(double u1, double u2, double* z1, double* z2) {
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double t = 6.283185307179586476925 * u2;
  *z1 = r * std::cos(t);
  *z2 = r * std::sin(t);
}

// Gamma(shape, 1) for shape >= 1 by Marsaglia and Tsang, "A simple method for
// generating gamma variables", ACM TOMS 26(3), 2000. `rng` has Uniform().
template <typename Rng>
double SampleGammaUnitScale(double shape, Rng& rng) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x;
    double unused;
    GaussianPair(rng.Uniform(), rng.Uniform(), &x, &unused);
    double v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    const double u = rng.Uniform();
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_SAMPLERS_H_
