// Statistical and numerical tests of the regularised Mahalanobis mechanism
// (Xu et al. 2020; docs/mechanism.md): Sigma_lambda, its Cholesky factor A
// and certified smallest eigenvalue, and the noise Z = Y A X.
//
// The sampler test whitens: W = A^-1 Z must be mvl's noise at eps_R, so
// ||W|| ~ Gamma(n, 1/eps_R) (Kolmogorov-Smirnov) and W / ||W|| uniform on the
// sphere (coordinate moments within 5 standard errors, one coordinate's Beta
// law by KS). pyPANTERA's renormalised noise Y A X / ||A X|| has whitened
// radius Y / ||A X||, not Gamma, whenever Sigma_lambda != I: the same KS test
// must reject it (power check).
//
// Significance. Goodness-of-fit tests assert p > kAlpha = 1e-4 and the power
// checks p < kReject = 1e-12. All draws come from fixed seeds, so the tests
// are deterministic; the thresholds only guard against an unlucky seed when
// the test was written.
#include "dpsanitize/mechanisms/mahalanobis.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/gamma.hpp>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dpsanitize/mechanisms/covariance.h"
#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/registry.h"
#include "statistical/brute_force_finder.h"
#include "statistical/fixture_vocabulary.h"
#include "statistical/goodness_of_fit.h"
#include "statistical/plan_helpers.h"

namespace dpsanitize {
namespace {

constexpr double kAlpha = 1e-4;
constexpr double kReject = 1e-12;
constexpr double kPi = 3.14159265358979323846;

// x = L^-1 b for lower-triangular row-major L.
std::vector<double> ForwardSolve(const std::vector<double>& l, uint32_t n, const double* b) {
  std::vector<double> x(n);
  for (uint32_t i = 0; i < n; ++i) {
    double s = b[i];
    for (uint32_t k = 0; k < i; ++k) s -= l[static_cast<size_t>(i) * n + k] * x[k];
    x[i] = s / l[static_cast<size_t>(i) * n + i];
  }
  return x;
}

MahalanobisShape ShapeOf(const SymMatrix& reg) {
  MahalanobisShape shape;
  shape.dim = reg.n;
  EXPECT_TRUE(Cholesky(reg, &shape.factor));
  return shape;
}

SymMatrix FixtureSigmaLambda(const FixtureVocabulary& f, double lambda) {
  StatusOr<SymMatrix> s = VocabularyCovariance(f.vectors);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return RegularisedCovariance(*s, lambda);
}

TEST(CovarianceTest, FixtureTraceFactorAndEigenvalues) {
  FixtureVocabulary f;
  if (!OpenFixtureVocabulary(&f)) return;
  const uint32_t n = f.vectors.dim;
  StatusOr<SymMatrix> s = VocabularyCovariance(f.vectors);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_NEAR(s->Trace(), n, 1e-9 * n) << "normalised to mean variance 1";
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j < n; ++j) ASSERT_EQ(s->at(i, j), s->at(j, i));
  }
  for (double lambda : {0.2, 0.5, 1.0}) {
    const SymMatrix reg = RegularisedCovariance(*s, lambda);
    std::vector<double> l;
    ASSERT_TRUE(Cholesky(reg, &l));
    double worst = 0;
    for (uint32_t i = 0; i < n; ++i) {
      for (uint32_t j = 0; j < n; ++j) {
        double p = 0;
        for (uint32_t k = 0; k < n; ++k) p += l[i * n + k] * l[j * n + k];
        worst = std::max(worst, std::abs(p - reg.at(i, j)));
      }
    }
    EXPECT_LT(worst, 1e-12) << "A A^T = Sigma_lambda, lambda " << lambda;
    const std::vector<double> ev = JacobiEigenvalues(reg);
    double sum = 0;
    for (double e : ev) sum += e;
    EXPECT_NEAR(sum, reg.Trace(), 1e-10 * n);
    StatusOr<MinEigenBound> b = CertifiedMinEigenvalue(reg);
    ASSERT_TRUE(b.ok()) << b.status().message();
    EXPECT_FALSE(b->identity);
    EXPECT_EQ(b->min_est, ev.front());
    EXPECT_LE(b->mu, b->min_est);
    EXPECT_GT(b->mu, 0.998 * b->min_est);
    // The estimate is not too low either: Sigma_lambda - 1.001 lambda_min I
    // is indefinite, so its Cholesky must fail.
    SymMatrix shifted = reg;
    for (uint32_t i = 0; i < n; ++i) shifted.at(i, i) -= 1.001 * b->min_est;
    std::vector<double> unused;
    EXPECT_FALSE(Cholesky(shifted, &unused)) << "lambda " << lambda;
    // (lambda_min(Sigma_lambda) = lambda lambda_min(Sigma) + 1 - lambda.)
    if (lambda == 0.2) {
      EXPECT_GT(b->min_est, 0.8);
    }
    std::printf(
        "[stat] fixture Sigma_lambda, lambda %.1f: lambda_min %.5f (bound %.5f), max %.4f\n",
        lambda, b->min_est, b->mu, b->max_est);
  }
}

TEST(CovarianceTest, JacobiFindsAKnownSpectrum) {
  // Q diag(1..n) Q^T with Q = I - 2 h h^T / h^T h (a reflection): symmetric,
  // dense, eigenvalues exactly 1..n.
  constexpr uint32_t kN = 40;
  std::vector<double> h(kN);
  double hh = 0;
  for (uint32_t i = 0; i < kN; ++i) {
    h[i] = std::sin(1.0 + 0.7 * i);
    hh += h[i] * h[i];
  }
  SymMatrix a;
  a.n = kN;
  a.a.assign(kN * kN, 0.0);
  for (uint32_t i = 0; i < kN; ++i) {
    for (uint32_t j = 0; j < kN; ++j) {
      double s = 0;
      for (uint32_t k = 0; k < kN; ++k) {
        const double qik = (i == k) - 2 * h[i] * h[k] / hh;
        const double qjk = (j == k) - 2 * h[j] * h[k] / hh;
        s += qik * (k + 1.0) * qjk;
      }
      a.at(i, j) = s;
    }
  }
  for (uint32_t i = 0; i < kN; ++i) {
    for (uint32_t j = 0; j < i; ++j) a.at(i, j) = a.at(j, i);
  }
  const std::vector<double> ev = JacobiEigenvalues(a);
  for (uint32_t i = 0; i < kN; ++i) EXPECT_NEAR(ev[i], i + 1.0, 1e-11) << i;
  StatusOr<MinEigenBound> b = CertifiedMinEigenvalue(a);
  ASSERT_TRUE(b.ok());
  EXPECT_LE(b->mu, 1.0);
  EXPECT_GT(b->mu, 0.998);
}

TEST(CovarianceTest, LambdaZeroIsExactlyTheIdentity) {
  FixtureVocabulary f;
  if (!OpenFixtureVocabulary(&f)) return;
  const SymMatrix reg = FixtureSigmaLambda(f, 0.0);
  for (uint32_t i = 0; i < reg.n; ++i) {
    for (uint32_t j = 0; j < reg.n; ++j) ASSERT_EQ(reg.at(i, j), i == j ? 1.0 : 0.0);
  }
  StatusOr<MinEigenBound> b = CertifiedMinEigenvalue(reg);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->identity);
  EXPECT_EQ(b->mu, 1.0);
}

TEST(CovarianceTest, SingularCovarianceAtLambdaOneIsRefused) {
  // Three words in 5 dimensions: the centred covariance has rank 2.
  const float words[] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0};
  const VectorSet v{words, 3, 5};
  StatusOr<SymMatrix> s = VocabularyCovariance(v);
  ASSERT_TRUE(s.ok());
  StatusOr<MinEigenBound> b = CertifiedMinEigenvalue(RegularisedCovariance(*s, 1.0));
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("--lambda"), std::string::npos) << b.status().message();
  EXPECT_TRUE(CertifiedMinEigenvalue(RegularisedCovariance(*s, 0.9)).ok());
}

// ---------------------------------------------------------------------------
// The noise.

struct Whitened {
  std::vector<double> radius;     // ||A^-1 Z||
  std::vector<double> direction;  // draws x dim, A^-1 Z / ||A^-1 Z||
};

// `renormalised`: pyPANTERA's Z = Y A X / ||A X|| instead of the paper's.
Whitened DrawWhitened(const MahalanobisShape& shape, double eps_r, int draws, uint64_t doc,
                      bool renormalised) {
  const RunKey key = RunKey::FromSeed("mahalanobis-test");
  const uint32_t n = shape.dim;
  std::vector<double> scratch(n), dir(n), z(n);
  Whitened w;
  w.radius.resize(draws);
  w.direction.resize(static_cast<size_t>(draws) * n);
  for (int i = 0; i < draws; ++i) {
    WordRng rng(key, doc, 0, static_cast<uint64_t>(i));
    if (!renormalised) {
      const double r = MahalanobisNoise(shape, eps_r, rng, scratch.data(), dir.data());
      for (uint32_t c = 0; c < n; ++c) z[c] = r * dir[c];
    } else {
      const double rho = MvlNoise(n, eps_r, rng, scratch.data());
      double norm2 = 0;
      for (uint32_t c = 0; c < n; ++c) {
        double s = 0;
        for (uint32_t k = 0; k <= c; ++k) s += shape.factor[c * n + k] * scratch[k];
        z[c] = s;
        norm2 += s * s;
      }
      const double inv = rho / std::sqrt(norm2);
      for (uint32_t c = 0; c < n; ++c) z[c] *= inv;
    }
    const std::vector<double> x = ForwardSolve(shape.factor, n, z.data());
    double n2 = 0;
    for (double t : x) n2 += t * t;
    const double r = std::sqrt(n2);
    w.radius[i] = r;
    for (uint32_t c = 0; c < n; ++c) w.direction[static_cast<size_t>(i) * n + c] = x[c] / r;
  }
  return w;
}

KsResult RadiusKs(const Whitened& w, uint32_t n, double eps_r) {
  boost::math::gamma_distribution<double> gamma(n, 1.0 / eps_r);
  return KsTest(w.radius, [&gamma](double t) { return boost::math::cdf(gamma, t); });
}

TEST(MahalanobisNoiseTest, WhitenedNoiseIsMvlNoiseOnTheFixture) {
  FixtureVocabulary f;
  if (!OpenFixtureVocabulary(&f)) return;
  const uint32_t n = f.vectors.dim;
  constexpr double kEpsR = 2.0;
  constexpr int kDraws = 100000;
  // lambda = 1: the most anisotropic Sigma_lambda (condition number ~50).
  const MahalanobisShape shape = ShapeOf(FixtureSigmaLambda(f, 1.0));
  const Whitened w = DrawWhitened(shape, kEpsR, kDraws, 1, false);
  const KsResult radius = RadiusKs(w, n, kEpsR);
  std::printf("[stat] mahalanobis lambda 1 eps_r 2: whitened radius KS D = %.5f p = %.4f\n",
              radius.d, radius.p);
  EXPECT_GT(radius.p, kAlpha) << "D = " << radius.d;

  const SphereMomentResult m = SphereMomentTest(w.direction, n, kDraws);
  std::printf(
      "[stat] mahalanobis whitened direction: largest |mean| %.2f SE, |mean square| %.2f SE\n",
      m.worst_mean, m.worst_square);
  EXPECT_LT(m.worst_mean, 5.0) << "coordinate " << m.worst_mean_coordinate;
  EXPECT_LT(m.worst_square, 5.0) << "coordinate " << m.worst_square_coordinate;
  // The last coordinate mixes every coordinate of Z through A^-1.
  std::vector<double> last(kDraws);
  for (int i = 0; i < kDraws; ++i)
    last[i] = (w.direction[static_cast<size_t>(i) * n + n - 1] + 1) / 2;
  boost::math::beta_distribution<double> beta((n - 1) / 2.0, (n - 1) / 2.0);
  const KsResult coord = KsTest(last, [&beta](double t) { return boost::math::cdf(beta, t); });
  std::printf("[stat] mahalanobis whitened last coordinate KS D = %.5f p = %.4f\n", coord.d,
              coord.p);
  EXPECT_GT(coord.p, kAlpha) << "D = " << coord.d;

  // Power: the renormalised variant, same streams, same test.
  for (double lambda : {1.0, 0.5}) {
    const MahalanobisShape s = ShapeOf(FixtureSigmaLambda(f, lambda));
    const Whitened bad = DrawWhitened(s, kEpsR, kDraws, 2, true);
    const KsResult r = RadiusKs(bad, n, kEpsR);
    std::printf(
        "[stat] renormalised (pyPANTERA) lambda %.1f: whitened radius KS D = %.5f p = %.3g\n",
        lambda, r.d, r.p);
    EXPECT_LT(r.p, kReject) << "the renormalised noise must fail the radius test";
  }
}

TEST(MahalanobisNoiseTest, TwoDimensionsStronglyAnisotropic) {
  // Sigma_lambda = diag(1.9, 0.1) rotated by 30 degrees: the paper's law passes,
  // the renormalised one fails, in 2 dimensions (where ||A X|| spreads most).
  const double c = std::cos(kPi / 6), s = std::sin(kPi / 6);
  SymMatrix a;
  a.n = 2;
  a.a = {1.9 * c * c + 0.1 * s * s, (1.9 - 0.1) * c * s, (1.9 - 0.1) * c * s,
         1.9 * s * s + 0.1 * c * c};
  const MahalanobisShape shape = ShapeOf(a);
  constexpr double kEpsR = 0.7;
  constexpr int kDraws = 50000;
  const Whitened good = DrawWhitened(shape, kEpsR, kDraws, 3, false);
  const KsResult rg = RadiusKs(good, 2, kEpsR);
  // On the circle the angle is uniform on (-pi, pi].
  std::vector<double> angle(kDraws);
  for (int i = 0; i < kDraws; ++i)
    angle[i] = std::atan2(good.direction[2 * i + 1], good.direction[2 * i]);
  const KsResult ra = KsTest(angle, [](double t) { return (t + kPi) / (2 * kPi); });
  const Whitened bad = DrawWhitened(shape, kEpsR, kDraws, 3, true);
  const KsResult rb = RadiusKs(bad, 2, kEpsR);
  std::printf(
      "[stat] mahalanobis 2-d: radius p = %.4f, angle p = %.4f; renormalised radius p = %.3g\n",
      rg.p, ra.p, rb.p);
  EXPECT_GT(rg.p, kAlpha);
  EXPECT_GT(ra.p, kAlpha);
  EXPECT_LT(rb.p, kReject);
}

// ---------------------------------------------------------------------------
// The registry entry: lambda = 0 is mvl, and the Euclidean calibration.

// Exact law on a two-word vocabulary {a, b} in 2 dimensions (research notes
// 3.1): with D = b - a, M(a) = b iff Z.D > ||D||^2 / 2, and Z.D = (R / eps_R)
// ||A^T D|| S with R ~ Gamma(2, 1) and S = cos(theta), theta uniform; so
// P[M(a) = b] = int_c^inf r e^-r acos(c / r) / pi dr, c = eps_R ||D||^2 /
// (2 ||A^T D||). The whole mechanism (noise, nearest-word step) against it.
TEST(MahalanobisMechanismTest, TwoWordVocabularyMatchesTheExactLaw) {
  const float words[] = {0.0f, 0.0f, 1.0f, 0.5f};
  const VectorSet v{words, 2, 2};
  BruteForceFinder finder(v);
  SymMatrix a;
  a.n = 2;
  a.a = {1.5, 0.6, 0.6, 0.5};
  const MahalanobisShape shape = ShapeOf(a);
  constexpr double kEpsR = 1.3;
  const double dx = 1.0, dy = 0.5;
  const double atd0 = shape.factor[0] * dx + shape.factor[2] * dy;  // A^T D, A lower
  const double atd1 = shape.factor[3] * dy;
  const double c = kEpsR * (dx * dx + dy * dy) / (2 * std::hypot(atd0, atd1));
  // Simpson's rule on [c, c + 80] (the tail beyond weighs below e^-80).
  auto f = [c](double r) { return r * std::exp(-r) * std::acos(std::min(1.0, c / r)) / kPi; };
  constexpr int kSteps = 200000;
  const double h = 80.0 / kSteps;
  double sum = f(c) + f(c + 80);
  for (int i = 1; i < kSteps; ++i) sum += (i % 2 == 1 ? 4 : 2) * f(c + i * h);
  const double p = sum * h / 3;

  MahalanobisMechanism mech(kEpsR, shape, v, finder);
  constexpr int kDraws = 200000;
  std::vector<WordDraw> in(kDraws);
  for (int i = 0; i < kDraws; ++i) in[i] = {0, 0, 77, static_cast<uint64_t>(i)};
  std::vector<WordId> out(kDraws);
  mech.Perturb(in.data(), in.size(), RunKey::FromSeed("mahalanobis-test"), out.data());
  double moved = 0;
  for (WordId o : out) moved += o == 1;
  const double freq = moved / kDraws;
  const double se = std::sqrt(p * (1 - p) / kDraws);
  std::printf("[stat] mahalanobis two words: P[M(a) = b] exact %.5f, observed %.5f (%.2f SE)\n", p,
              freq, (freq - p) / se);
  EXPECT_LT(std::abs(freq - p), 5 * se);
  // mvl at the same eps (Sigma_lambda = I) has another probability: the test
  // tells the two apart.
  const double c_mvl = kEpsR * std::hypot(dx, dy) / 2;
  EXPECT_GT(std::abs(c_mvl - c), 0.1);
}

TEST(MahalanobisPlanTest, LambdaZeroGivesExactlyMvlsOutput) {
  FixtureVocabulary f;
  if (!OpenFixtureVocabulary(&f)) return;
  // The first 600 words keep the brute-force search quick.
  const VectorSet v{f.vectors.data, 600, f.vectors.dim};
  BruteForceFinder finder(v);
  std::vector<WordDraw> in;
  for (uint64_t i = 0; i < 1500; ++i) in.push_back({static_cast<WordId>(i % 300), 0, 5, i});
  for (double eps : {3.0, 12.0, 1e-6}) {  // 1e-6: the stable scan's radii
    const auto mvl = PlanFor("mvl", eps, {}, v);
    const auto mhl = PlanFor("mahalanobis", eps, {{"lambda", "0"}}, v);
    EXPECT_EQ(RowNumber(*mhl, "eps_r"), eps);
    EXPECT_EQ(RowNumber(*mhl, "lambda_min_bound"), 1.0);
    const std::vector<WordId> a = Outputs(*mvl, v, finder, in, "mahalanobis-test");
    const std::vector<WordId> b = Outputs(*mhl, v, finder, in, "mahalanobis-test");
    size_t unchanged = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      ASSERT_EQ(a[i], b[i]) << "eps " << eps << ", draw " << i;
      unchanged += a[i] == in[i].word;
    }
    std::printf("[stat] lambda 0 = mvl at eps %g: %zu of %zu draws identical (%zu unchanged)\n",
                eps, in.size(), in.size(), unchanged);
    // And lambda > 0 is a different mechanism on the same streams.
    const auto shaped = PlanFor("mahalanobis", eps, {{"lambda", "1"}}, v);
    const std::vector<WordId> c = Outputs(*shaped, v, finder, in, "mahalanobis-test");
    EXPECT_NE(a, c) << "eps " << eps;
  }
}

TEST(MahalanobisPlanTest, EuclideanCalibrationHoldsOnFixturePairs) {
  // eps_r d_R(x, y) <= eps d(x, y) for every pair: the ledger's Euclidean eps.
  FixtureVocabulary f;
  if (!OpenFixtureVocabulary(&f)) return;
  const uint32_t n = f.vectors.dim;
  constexpr double kEps = 10;
  for (double lambda : {0.2, 1.0}) {
    const auto plan =
        PlanFor("mahalanobis", kEps, {{"lambda", fmt::format("{}", lambda)}}, f.vectors);
    const double eps_r = RowNumber(*plan, "eps_r");
    const double mu = RowNumber(*plan, "lambda_min_bound");
    EXPECT_DOUBLE_EQ(eps_r, kEps * std::sqrt(mu));
    const MahalanobisShape shape = ShapeOf(FixtureSigmaLambda(f, lambda));
    double worst = 0;
    std::vector<double> diff(n);
    for (size_t i = 0; i < 3000; ++i) {
      const size_t x = (i * 7919) % f.vectors.n, y = (i * 104729 + 13) % f.vectors.n;
      if (x == y) continue;
      for (uint32_t c = 0; c < n; ++c)
        diff[c] = static_cast<double>(f.vectors.row(x)[c]) - f.vectors.row(y)[c];
      const std::vector<double> w = ForwardSolve(shape.factor, n, diff.data());
      double dr2 = 0;
      for (double t : w) dr2 += t * t;
      const double ratio = eps_r * std::sqrt(dr2) / (kEps * Distance(f.vectors, x, y));
      worst = std::max(worst, ratio);
    }
    std::printf(
        "[stat] mahalanobis lambda %.1f: largest eps_r d_R / (eps d) over 3000 pairs %.4f\n",
        lambda, worst);
    EXPECT_LE(worst, 1.0);
  }
}

}  // namespace
}  // namespace dpsanitize
