// Statistical tests of the exact samplers (spec section 4): each sampler is
// compared with its exact law by a goodness-of-fit test, and its extreme
// parameters are exercised.
//
// Significance. Every goodness-of-fit test asserts p > kAlpha = 1e-4. The
// draws come from fixed seeds (WordRng keyed by RunKey::FromSeed), so each
// test is deterministic: it cannot flake from run to run. The alpha only
// guards against a seed that happens to be unlucky when the test is first
// written (probability 1e-4 per test under the null); a real sampler bug of
// the size these tests target gives p-values many orders of magnitude below.
#include "dpsanitize/mechanisms/samplers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "dpsanitize/random/keyed_rng.h"
#include "statistical/goodness_of_fit.h"

namespace dpsanitize {
namespace {

constexpr double kAlpha = 1e-4;
constexpr double kEulerGamma = 0.57721566490153286061;

// A fixed-seed stream of uniforms on (0, 1); `stream` separates the tests.
WordRng TestRng(uint64_t stream) {
  return WordRng(RunKey::FromSeed("samplers-test"), stream, 0, 0);
}

// ---------------------------------------------------------------------------
// TruncatedPoisson.

// Reference log pmf of Poisson(mu) conditioned on k <= kmax, written from the
// definition (lgamma), independently of the library.
class RefTruncatedPoisson {
 public:
  RefTruncatedPoisson(double mu, uint64_t kmax) : mu_(mu), kmax_(kmax) {
    // ln sum_{k <= kmax} mu^k e^-mu / k!, summed in log space until the terms
    // past the mode are negligible.
    double m = -std::numeric_limits<double>::infinity();
    std::vector<double> terms;
    for (uint64_t k = 0; k <= kmax; ++k) {
      const double t = Unnormalised(k);
      terms.push_back(t);
      m = std::max(m, t);
      if (static_cast<double>(k) > mu && t < m - 60) break;
    }
    double s = 0;
    for (double t : terms) s += std::exp(t - m);
    log_norm_ = m + std::log(s);
  }
  double LogPmf(uint64_t k) const {
    if (k > kmax_) return -std::numeric_limits<double>::infinity();
    return Unnormalised(k) - log_norm_;
  }
  // ln P(K >= r), by log-sum-exp of the pmf terms.
  double LogTail(uint64_t r) const {
    if (r > kmax_) return -std::numeric_limits<double>::infinity();
    double m = -std::numeric_limits<double>::infinity();
    std::vector<double> terms;
    for (uint64_t k = r; k <= kmax_; ++k) {
      const double t = LogPmf(k);
      terms.push_back(t);
      m = std::max(m, t);
      if (static_cast<double>(k) > mu_ && t < m - 60) break;
    }
    double s = 0;
    for (double t : terms) s += std::exp(t - m);
    return m + std::log(s);
  }

 private:
  double Unnormalised(uint64_t k) const {
    const double kk = static_cast<double>(k);
    if (k == 0) return -mu_;  // avoids 0 * ln(0) when mu = 0
    return kk * std::log(mu_) - mu_ - std::lgamma(kk + 1.0);
  }
  double mu_;
  uint64_t kmax_;
  double log_norm_;
};

struct PoissonCase {
  const char* name;
  double mu;
  uint64_t kmax;
};

// The default tg setting for |V| = 50,000; a small vocabulary where the
// truncation matters a lot (mu = 3 > most of the mass of k <= 4) or a little
// (mu = ln 4); and a large mean.
const PoissonCase kPoissonCases[] = {
    {"default_50k", std::log(49999.0), 49999},
    {"mu3_kmax4", 3.0, 4},
    {"mu_ln4_kmax4", std::log(4.0), 4},
    {"mu500", 500.0, 49999},
};

TEST(TruncatedPoissonTest, PmfMatchesReferenceAndSumsToOne) {
  for (const PoissonCase& c : kPoissonCases) {
    SCOPED_TRACE(c.name);
    TruncatedPoisson tp(c.mu, c.kmax);
    RefTruncatedPoisson ref(c.mu, c.kmax);
    double sum = 0;
    for (uint64_t k = 0; k <= c.kmax; ++k) {
      const double p = tp.Pmf(k);
      sum += p;
      const double want = std::exp(ref.LogPmf(k));
      ASSERT_NEAR(p, want, 1e-12 * want + 1e-300) << "k = " << k;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
    EXPECT_EQ(tp.Pmf(c.kmax + 1), 0.0);
  }
}

TEST(TruncatedPoissonTest, SurvivalMatchesPmfTailsAndSampleInvertsIt) {
  for (const PoissonCase& c : kPoissonCases) {
    SCOPED_TRACE(c.name);
    TruncatedPoisson tp(c.mu, c.kmax);
    // Backward sums of the pmf: tail[k] = P(K > k).
    const uint64_t top = std::min<uint64_t>(c.kmax, 2000);
    std::vector<double> tail(top + 1, 0.0);
    for (uint64_t k = top; k-- > 0;) tail[k] = tail[k + 1] + tp.Pmf(k + 1);
    for (uint64_t k = 0; k <= top; ++k) {
      ASSERT_NEAR(tp.Survival(k), tail[k], 1e-12) << "k = " << k;
    }
    EXPECT_EQ(tp.Survival(c.kmax), 0.0);
    // Sample(v) is the smallest k with P(K > k) < v.
    for (double v : {0x1.0p-54, 1e-12, 1e-6, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 0x1.0p-53}) {
      const uint64_t k = tp.Sample(v);
      ASSERT_LE(k, c.kmax) << "v = " << v;
      EXPECT_LT(tp.Survival(k), v) << "v = " << v;
      if (k > 0) {
        EXPECT_GE(tp.Survival(k - 1), v) << "v = " << v;
      }
    }
  }
}

TEST(TruncatedPoissonTest, ChiSquareGoodnessOfFit) {
  constexpr int kDraws = 200000;
  uint64_t stream = 0;
  for (const PoissonCase& c : kPoissonCases) {
    SCOPED_TRACE(c.name);
    TruncatedPoisson tp(c.mu, c.kmax);
    WordRng rng = TestRng(100 + stream++);
    // Cells k = 0..top and one cell for k > top (expected about 0).
    const uint64_t top =
        std::min<uint64_t>(c.kmax, static_cast<uint64_t>(c.mu + 40 * std::sqrt(c.mu) + 40));
    std::vector<double> observed(top + 2, 0.0);
    for (int i = 0; i < kDraws; ++i) {
      const uint64_t k = tp.Sample(rng.Uniform());
      ASSERT_LE(k, c.kmax);
      observed[std::min(k, top + 1)] += 1;
    }
    std::vector<double> expected(top + 2, 0.0);
    for (uint64_t k = 0; k <= top; ++k) expected[k] = kDraws * tp.Pmf(k);
    expected[top + 1] = kDraws * tp.Survival(top);
    const ChiSquareResult r = ChiSquareTest(observed, expected);
    std::printf("[stat] TruncatedPoisson %-14s chi2 = %8.2f df = %3d p = %.4f\n", c.name, r.stat,
                r.df, r.p);
    EXPECT_GT(r.p, kAlpha) << "chi2 = " << r.stat << ", df = " << r.df;
  }
}

TEST(TruncatedPoissonTest, MuZeroAlwaysDrawsZero) {
  // mu = 0 is DefaultMu for |V| <= 2 (kmax = 1) and a valid --mu in expert mode.
  TruncatedPoisson tp(0.0, 1);
  WordRng rng = TestRng(1);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(tp.Sample(rng.Uniform()), 0u);
  for (double v : {0x1.0p-54, 0.5, 1 - 0x1.0p-53}) EXPECT_EQ(tp.Sample(v), 0u);
  EXPECT_EQ(tp.Survival(0), 0.0);
  EXPECT_EQ(tp.Pmf(1), 0.0);
  EXPECT_EQ(tp.LogTailAtLeast(0), 0.0);
}

// mu = 0 must also work with a large vocabulary (`--gumbel-scale B --mu 0`
// with the default 50,000 words), and its mass function and log tail must be
// P(K = 0) = 1 and ln P(K >= 1) = -inf. Disabled because it fails on the
// current library (see the report): the constructor throws
// std::overflow_error from boost::math::gamma_p(a, 0) for a = kmax + 1 >= 1755
// (the CLI aborts); Pmf(0) computes 0 * ln(0) = NaN; LogTailAtLeast(1)
// combines -inf - (-inf) = NaN.
TEST(TruncatedPoissonTest, MuZeroPmfAndLogTail) {
  const auto large_vocabulary = [] { return TruncatedPoisson(0.0, 49999).Sample(0.5); };
  EXPECT_NO_THROW(large_vocabulary());
  TruncatedPoisson tp(0.0, 1);
  EXPECT_EQ(tp.Pmf(0), 1.0);
  EXPECT_EQ(tp.LogTailAtLeast(1), -std::numeric_limits<double>::infinity());
}

TEST(TruncatedPoissonTest, KmaxZeroAlwaysDrawsZero) {
  TruncatedPoisson tp(10.0, 0);
  for (double v : {0x1.0p-54, 0.5, 1 - 0x1.0p-53}) EXPECT_EQ(tp.Sample(v), 0u);
  EXPECT_NEAR(tp.Pmf(0), 1.0, 1e-15);
  EXPECT_EQ(tp.Survival(0), 0.0);
}

// A mean far above the truncation point (possible in expert mode with a tiny
// --vocab-size and a large --mu): almost all the mass is on k = kmax, since
// P(K = 4) / P(K = 3) = mu / 4 = 25. Disabled because it fails on the current
// library (see the report): the survival function subtracts two incomplete
// gamma values that both round to 1, so Sample() always returns 0.
TEST(TruncatedPoissonTest, MeanFarAboveKmax) {
  TruncatedPoisson tp(100.0, 4);
  RefTruncatedPoisson ref(100.0, 4);
  EXPECT_NEAR(tp.Pmf(4), std::exp(ref.LogPmf(4)), 1e-12);
  EXPECT_NEAR(tp.Survival(3), std::exp(ref.LogPmf(4)), 1e-9);
  EXPECT_EQ(tp.Sample(0.5), 4u);
}

TEST(TruncatedPoissonTest, LogTailAtLeastMatchesReference) {
  for (const PoissonCase& c : kPoissonCases) {
    SCOPED_TRACE(c.name);
    TruncatedPoisson tp(c.mu, c.kmax);
    RefTruncatedPoisson ref(c.mu, c.kmax);
    EXPECT_EQ(tp.LogTailAtLeast(0), 0.0);
    EXPECT_EQ(tp.LogTailAtLeast(c.kmax + 1), -std::numeric_limits<double>::infinity());
    double previous = 0;
    const uint64_t top = std::min<uint64_t>(c.kmax, 1500);
    for (uint64_t r = 1; r <= top; ++r) {
      const double got = tp.LogTailAtLeast(r);
      const double want = ref.LogTail(r);
      // Relative accuracy of the tail probability itself: 1e-9.
      ASSERT_NEAR(got, want, 1e-9) << "r = " << r;
      ASSERT_LE(got, previous) << "r = " << r;
      previous = got;
    }
  }
}

TEST(TruncatedPoissonTest, LogTailFarIntoTheTail) {
  // mu = ln 49999: a rank-200 output needs k >= 200, with probability about
  // e^{-398}; the tail must stay finite, accurate and very negative (spec
  // section 7) where P itself underflows (r = 400: about e^{-1059}).
  TruncatedPoisson tp(std::log(49999.0), 49999);
  RefTruncatedPoisson ref(std::log(49999.0), 49999);
  for (uint64_t r : {150u, 200u, 250u, 400u, 1000u, 5000u}) {
    const double got = tp.LogTailAtLeast(r);
    ASSERT_TRUE(std::isfinite(got)) << "r = " << r;
    EXPECT_NEAR(got, ref.LogTail(r), 1e-9 * std::abs(ref.LogTail(r))) << "r = " << r;
  }
  EXPECT_LT(tp.LogTailAtLeast(200), -200.0);
  EXPECT_GT(tp.LogTailAtLeast(200), -450.0);
}

// ---------------------------------------------------------------------------
// TruncatedGumbel.

// Reference truncated max-stable Gumbel, written from the definition in long
// double: Phi(x) = exp(-exp(-x/b)) renormalised on [-delta, delta].
struct RefGumbel {
  long double b;
  long double delta;
  long double Phi(long double x) const { return std::exp(-std::exp(-x / b)); }
  long double Z() const { return Phi(delta) - Phi(-delta); }
  double Cdf(double x) const {
    if (x <= -delta) return 0;
    if (x >= delta) return 1;
    return static_cast<double>((Phi(x) - Phi(-delta)) / Z());
  }
  double Pdf(double x) const {
    if (x < -delta || x > delta) return 0;
    const long double t = x / b;
    return static_cast<double>(std::exp(-t - std::exp(-t)) / (b * Z()));
  }
};

struct GumbelCase {
  const char* name;
  double b;
  double delta;
};

// b / delta = 0.05, 1, 20, and the extremes: delta / b = 2470 (e^{delta/b}
// overflows; the default embedding's certified delta_max with a tiny b) and
// b / delta = 1e6 (almost uniform on [-delta, delta]).
const GumbelCase kGumbelCases[] = {
    {"b/d=0.05", 0.05, 1.0},       {"b/d=1", 1.0, 1.0},     {"b/d=20", 20.0, 1.0},
    {"b=0.01,d=24.7", 0.01, 24.7}, {"b=1e6,d=1", 1e6, 1.0},
};

TEST(TruncatedGumbelTest, KsGoodnessOfFitAndSupport) {
  constexpr int kDraws = 100000;
  uint64_t stream = 0;
  for (const GumbelCase& c : kGumbelCases) {
    SCOPED_TRACE(c.name);
    TruncatedGumbel g(c.b, c.delta);
    WordRng rng = TestRng(200 + stream++);
    std::vector<double> x(kDraws);
    for (double& v : x) {
      v = g.Sample(rng.Uniform());
      ASSERT_TRUE(v >= -c.delta && v <= c.delta) << v;
    }
    const KsResult r = KsTest(x, [&g](double t) { return g.Cdf(t); });
    std::printf("[stat] TruncatedGumbel %-14s KS D = %.5f p = %.4f\n", c.name, r.d, r.p);
    EXPECT_GT(r.p, kAlpha) << "D = " << r.d;
  }
}

TEST(TruncatedGumbelTest, MaxStableConventionMean) {
  // With the truncation far out, the mean of the max-stable Gumbel(0, b) is
  // +gamma * b (Euler-Mascheroni); the mirror image would give -gamma * b.
  // Standard error: b * pi / sqrt(6) / sqrt(n). Tolerance: 5 standard errors.
  constexpr int kDraws = 100000;
  uint64_t stream = 300;
  for (const GumbelCase& c :
       {GumbelCase{"b=0.01,d=24.7", 0.01, 24.7}, GumbelCase{"b/d=0.05", 0.05, 1.0}}) {
    SCOPED_TRACE(c.name);
    TruncatedGumbel g(c.b, c.delta);
    WordRng rng = TestRng(stream++);
    double sum = 0;
    for (int i = 0; i < kDraws; ++i) sum += g.Sample(rng.Uniform());
    const double mean = sum / kDraws;
    const double se = c.b * M_PI / std::sqrt(6.0) / std::sqrt(static_cast<double>(kDraws));
    std::printf("[stat] TruncatedGumbel %-14s mean/b = %.4f (gamma = %.4f)\n", c.name, mean / c.b,
                kEulerGamma);
    EXPECT_NEAR(mean, kEulerGamma * c.b, 5 * se);
  }
  // b >> delta: nearly uniform on [-1, 1], mean 0 to second order in 1/b.
  TruncatedGumbel flat(1e6, 1.0);
  WordRng rng = TestRng(310);
  double sum = 0;
  for (int i = 0; i < kDraws; ++i) sum += flat.Sample(rng.Uniform());
  EXPECT_NEAR(sum / kDraws, 0.0, 5 * std::sqrt(1.0 / 3.0 / kDraws));
}

TEST(TruncatedGumbelTest, SampleIsTheExactInverseOfCdf) {
  // G = -b ln E is decreasing in u, so Cdf(Sample(u)) = 1 - u exactly.
  for (const GumbelCase& c : kGumbelCases) {
    SCOPED_TRACE(c.name);
    TruncatedGumbel g(c.b, c.delta);
    double previous = std::numeric_limits<double>::infinity();
    for (int i = 1; i < 1000; ++i) {
      const double u = i / 1000.0;
      const double x = g.Sample(u);
      ASSERT_LE(x, previous) << "u = " << u;
      previous = x;
      ASSERT_NEAR(g.Cdf(x), 1 - u, 1e-9) << "u = " << u;
    }
  }
}

TEST(TruncatedGumbelTest, ExtremeParametersAndUniforms) {
  const GumbelCase extremes[] = {
      {"b=1e-3,d=1e3", 1e-3, 1e3}, {"b=1e-300,d=1", 1e-300, 1.0}, {"b=1e300,d=1", 1e300, 1.0},
      {"b=1,d=1e-12", 1.0, 1e-12}, {"b=0.01,d=24.7", 0.01, 24.7}, {"b=1e6,d=1", 1e6, 1.0},
      {"ratio=709", 1.0, 709.0},   {"ratio=746", 1.0, 746.0},
  };
  for (const GumbelCase& c : extremes) {
    SCOPED_TRACE(c.name);
    TruncatedGumbel g(c.b, c.delta);
    for (double u : {0x1.0p-54, 1e-300, 1e-9, 0.5, 1 - 1e-9, 1 - 0x1.0p-53}) {
      const double x = g.Sample(u);
      ASSERT_TRUE(std::isfinite(x)) << "u = " << u;
      EXPECT_GE(x, -c.delta) << "u = " << u;
      EXPECT_LE(x, c.delta) << "u = " << u;
    }
    EXPECT_EQ(g.Cdf(-c.delta), 0.0);
    EXPECT_EQ(g.Cdf(c.delta), 1.0);
    EXPECT_EQ(g.Pdf(-2 * c.delta), 0.0);
    EXPECT_TRUE(std::isfinite(g.LogPdf(0.0)));
  }
}

TEST(TruncatedGumbelTest, CdfAndPdfMatchReferenceAndCdfIsIntegralOfPdf) {
  using Quad = boost::math::quadrature::gauss_kronrod<double, 61>;
  for (const GumbelCase& c : kGumbelCases) {
    SCOPED_TRACE(c.name);
    TruncatedGumbel g(c.b, c.delta);
    const RefGumbel ref{c.b, c.delta};
    // Below -8b the untruncated CDF is exp(-e^8) ~ 1e-1295: start there, and
    // integrate the peak region in pieces of at most 2b so no piece misses it.
    const double lo = std::max(-c.delta, -8 * c.b);
    for (double frac : {-0.9, -0.5, -0.1, 0.0, 0.05, 0.3, 0.7, 0.99}) {
      const double x = frac * c.delta;
      const double pdf_ref = ref.Pdf(x);
      EXPECT_NEAR(g.Pdf(x), pdf_ref, 1e-12 * pdf_ref + 1e-300) << "x = " << x;
      EXPECT_NEAR(g.Cdf(x), ref.Cdf(x), 1e-9) << "x = " << x;
      double integral = 0;
      if (x > lo) {
        const double hi = std::min(x, lo + 200 * c.b);  // the pdf is < e^-190 beyond
        const int pieces =
            std::max(1, std::min(400, static_cast<int>(std::ceil((hi - lo) / (2 * c.b)))));
        for (int p = 0; p < pieces; ++p) {
          const double a = lo + (hi - lo) * p / pieces;
          const double e = lo + (hi - lo) * (p + 1) / pieces;
          integral += Quad::integrate([&g](double t) { return g.Pdf(t); }, a, e, 10, 1e-12);
        }
      }
      EXPECT_NEAR(g.Cdf(x), integral, 1e-9) << "x = " << x;
    }
  }
}

// ---------------------------------------------------------------------------
// Gamma and Gaussian.

TEST(GammaSamplerTest, KsAgainstGammaCdf) {
  constexpr int kDraws = 100000;
  for (double shape : {100.0, 1.5, 1.0}) {
    SCOPED_TRACE(shape);
    WordRng rng = TestRng(400 + static_cast<uint64_t>(shape * 10));
    std::vector<double> x(kDraws);
    for (double& v : x) {
      v = SampleGammaUnitScale(shape, rng);
      ASSERT_GT(v, 0.0);
    }
    boost::math::gamma_distribution<double> dist(shape, 1.0);
    const KsResult r = KsTest(x, [&dist](double t) { return boost::math::cdf(dist, t); });
    std::printf("[stat] Gamma shape %-6g KS D = %.5f p = %.4f\n", shape, r.d, r.p);
    EXPECT_GT(r.p, kAlpha) << "D = " << r.d;
  }
}

TEST(GaussianPairTest, KsAgainstNormalCdfAndUncorrelated) {
  constexpr int kPairs = 100000;
  WordRng rng = TestRng(500);
  std::vector<double> z1(kPairs);
  std::vector<double> z2(kPairs);
  double cross = 0;
  double squares = 0;
  for (int i = 0; i < kPairs; ++i) {
    GaussianPair(rng.Uniform(), rng.Uniform(), &z1[i], &z2[i]);
    cross += z1[i] * z2[i];
    squares += z1[i] * z1[i] + z2[i] * z2[i];
  }
  boost::math::normal_distribution<double> normal;
  const auto cdf = [&normal](double t) { return boost::math::cdf(normal, t); };
  const KsResult r1 = KsTest(z1, cdf);
  const KsResult r2 = KsTest(z2, cdf);
  std::printf("[stat] GaussianPair z1 KS D = %.5f p = %.4f; z2 KS D = %.5f p = %.4f\n", r1.d, r1.p,
              r2.d, r2.p);
  EXPECT_GT(r1.p, kAlpha);
  EXPECT_GT(r2.p, kAlpha);
  // E[z1 z2] = 0 with standard error 1 / sqrt(n): within 5 standard errors.
  EXPECT_NEAR(cross / kPairs, 0.0, 5.0 / std::sqrt(static_cast<double>(kPairs)));
  // E[z^2] = 1 with standard error sqrt(2 / (2n)) over the 2n values.
  EXPECT_NEAR(squares / (2.0 * kPairs), 1.0, 5.0 * std::sqrt(1.0 / kPairs));
}

}  // namespace
}  // namespace dpsanitize
