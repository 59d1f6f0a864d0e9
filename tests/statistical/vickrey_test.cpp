// Statistical tests of the Vickrey mechanism (Xu et al. 2021; vickrey.h,
// docs/mechanism.md): the selection step against its rule on fixed noisy
// points, the whole mechanism on a two-word vocabulary against its exact law
// (a two-dimensional quadrature, independent of the sampler), and the
// registry plan against mvl and mahalanobis on the same streams.
//
// Significance: frequencies must lie within 5 standard errors of the exact
// probability (a two-sided normal test at about 6e-7); the power checks ask
// the alternative to lie more than 10 standard errors away. Draws come from
// fixed seeds, so every test is deterministic.
#include "dpsanitize/mechanisms/vickrey.h"

#include <gtest/gtest.h>

#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/registry.h"
#include "dpsanitize/random/keyed_rng.h"
#include "statistical/brute_force_finder.h"
#include "statistical/fixture_vocabulary.h"
#include "statistical/plan_helpers.h"

namespace dpsanitize {
namespace {

double Integrate(const std::function<double(double)>& f, double a, double b) {
  if (!(b > a)) return 0;
  return boost::math::quadrature::gauss_kronrod<double, 31>::integrate(f, a, b, 12, 1e-11);
}

TEST(VickreyRuleTest, ProbabilityOfTheSecondWord) {
  EXPECT_EQ(VickreySecondProbability(0, 1, 2), 0);
  EXPECT_EQ(VickreySecondProbability(1, 1, 2), 1);
  EXPECT_DOUBLE_EQ(VickreySecondProbability(0.5, 1, 3), 0.25);   // d1 / (d1 + d2)
  EXPECT_DOUBLE_EQ(VickreySecondProbability(0.75, 2, 2), 0.75);  // a tie: t
  EXPECT_DOUBLE_EQ(VickreySecondProbability(0.75, 1, 2), 0.75 / (0.75 + 0.5));
  EXPECT_EQ(VickreySecondProbability(0.3, 0, 0), 0.3);  // 0 / 0: t
  EXPECT_EQ(VickreySecondProbability(1, 0, 0), 1);
}

// The selection step alone, on fixed noisy points: the frequency of the
// second-nearest word over independent coins is Binomial(N, p), p from the
// distances computed here in double. Both paths: the float search with its
// double re-ranking, and the large-radius scan.
TEST(VickreyBatchTest, ChoosesTheSecondWordWithTheRulesProbability) {
  // Three words in the plane; c is far.
  const float words[] = {0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 3.0f};
  const VectorSet v{words, 3, 2};
  BruteForceFinder finder(v);
  MvlStableScan scan(v);
  struct Point {
    double dir[2];
    double r;
  };
  const double s = std::sqrt(0.5);
  // (0.4, 0): a at 0.4, b at 0.6. (0.3, 0.3): a at 0.42, b at 0.76.
  // r = 500 (above the scan's radius, 64 * 3): b nearest at 500 cos, a second.
  const Point points[] = {{{1, 0}, 0.4}, {{s, s}, 0.3 / s}, {{0.8, -0.6}, 500}};
  constexpr int kN = 40000;
  for (const Point& pt : points) {
    ASSERT_EQ(scan.Applies(pt.r), pt.r > 100);
    const double z[2] = {pt.r * pt.dir[0], pt.r * pt.dir[1]};
    double d[3];
    for (int w = 0; w < 3; ++w) d[w] = std::hypot(z[0] - words[2 * w], z[1] - words[2 * w + 1]);
    const int first = d[1] < d[0] ? 1 : 0;
    const int second = 1 - first;  // c is never among the two nearest here
    ASSERT_LT(d[second], d[2]);
    for (double t : {0.0, 0.25, 0.75, 1.0}) {
      const double p = t * d[first] / (t * d[first] + (1 - t) * d[second]);
      VickreyBatch batch(t, v, finder, scan);
      std::vector<WordId> out(kN);
      for (int i = 0; i < kN; ++i) {
        WordRng rng(RunKey::FromSeed("vickrey-batch"), 1, 0, static_cast<uint64_t>(i));
        batch.AddPoint(&words[0], pt.dir, pt.r, rng.Uniform(), &out[i]);
        if (batch.queued() == 1000) batch.Flush();
      }
      batch.Flush();
      double seconds = 0;
      for (WordId o : out) {
        ASSERT_TRUE(o == static_cast<WordId>(first) || o == static_cast<WordId>(second));
        seconds += o == static_cast<WordId>(second);
      }
      const double freq = seconds / kN;
      std::printf("[stat] vickrey choice r %g t %.2f: P[second] exact %.5f, observed %.5f\n", pt.r,
                  t, p, freq);
      if (t == 0 || t == 1) {
        EXPECT_EQ(freq, t);  // p is exactly 0 or 1 (d1 > 0)
      } else {
        EXPECT_LT(std::abs(freq - p), 5 * std::sqrt(p * (1 - p) / kN));
      }
    }
  }
}

// P[M(a) = b] for the vocabulary {a, b}, ||b - a|| = D, in 3 dimensions, mvl
// noise at eps. With Z = rho u, rho ~ Gamma(3, 1/eps) and s = u.(b - a)/D
// uniform on [-1, 1] (3 dimensions), d_a = rho and d_b = sqrt(rho^2 -
// 2 rho D s + D^2); b is the nearer iff s > D / (2 rho). `swapped` gives the
// law of the rule with the two words' roles exchanged (the power check).
double TwoWordLaw(double eps, double t, double D, bool swapped) {
  auto second = [t, swapped](double d1, double d2) {
    return swapped ? VickreySecondProbability(t, d2, d1) : VickreySecondProbability(t, d1, d2);
  };
  auto inner = [&](double rho) {
    const double split = D / (2 * rho);  // b nearer above it
    auto a_nearer = [&](double s) {
      const double db = std::sqrt(std::max(0.0, rho * rho - 2 * rho * D * s + D * D));
      return second(rho, db);  // b is the second word
    };
    auto b_nearer = [&](double s) {
      const double db = std::sqrt(std::max(0.0, rho * rho - 2 * rho * D * s + D * D));
      return 1 - second(db, rho);  // b is the first word
    };
    const double mid = std::min(1.0, split);
    return 0.5 * (Integrate(a_nearer, -1, mid) + Integrate(b_nearer, mid, 1));
  };
  // Gamma(3, scale 1/eps) density; its mass beyond 80 / eps is below e^-70.
  auto outer = [&](double rho) {
    return eps * eps * eps * rho * rho * std::exp(-eps * rho) / 2 * inner(rho);
  };
  return Integrate(outer, 0, D / 2) + Integrate(outer, D / 2, 4 * D) +
         Integrate(outer, 4 * D, 80 / eps + 4 * D);
}

TEST(VickreyMechanismTest, TwoWordVocabularyMatchesTheExactLaw) {
  const float words[] = {0.0f, 0.0f, 0.0f, 0.6f, 0.8f, 0.0f};  // D = 1
  const VectorSet v{words, 2, 3};
  BruteForceFinder finder(v);
  MahalanobisShape mvl_noise;
  mvl_noise.dim = 3;
  mvl_noise.identity = true;
  constexpr double kEps = 3;
  constexpr int kDraws = 100000;
  std::vector<WordDraw> in(kDraws);
  for (int i = 0; i < kDraws; ++i) in[i] = {0, 0, 91, static_cast<uint64_t>(i)};
  for (double t : {0.25, 0.75}) {
    const double p = TwoWordLaw(kEps, t, 1.0, false);
    const double p_swapped = TwoWordLaw(kEps, t, 1.0, true);
    const double p_mvl = TwoWordLaw(kEps, 0, 1.0, false);
    VickreyMechanism mech(t, kEps, mvl_noise, v, finder);
    std::vector<WordId> out(kDraws);
    mech.Perturb(in.data(), in.size(), RunKey::FromSeed("vickrey-two-words"), out.data());
    double moved = 0;
    for (WordId o : out) moved += o == 1;
    const double freq = moved / kDraws;
    const double se = std::sqrt(p * (1 - p) / kDraws);
    std::printf(
        "[stat] vickrey two words eps %g t %.2f: P[M(a) = b] exact %.5f, observed %.5f "
        "(%.2f SE); roles swapped %.5f, mvl %.5f\n",
        kEps, t, p, freq, (freq - p) / se, p_swapped, p_mvl);
    EXPECT_LT(std::abs(freq - p), 5 * se);
    // Power: the swapped rule and plain mvl are told apart at this size.
    EXPECT_GT(std::abs(p_swapped - p), 10 * se);
    EXPECT_GT(std::abs(p_mvl - p), 10 * se);
  }
}

// On the fixture's first 600 words: t = 0 is mvl (and, with Mahalanobis
// noise, the mahalanobis mechanism) draw for draw, since the noise is drawn
// first from the same stream; t = 1 never outputs mvl's word (it takes the
// second-nearest of the same noisy point); t = 0.75 outputs one or the other.
TEST(VickreyPlanTest, AgreesWithItsBaseMechanismOnTheSameStreams) {
  FixtureVocabulary f;
  if (!OpenFixtureVocabulary(&f)) return;
  const VectorSet v{f.vectors.data, 600, f.vectors.dim};
  BruteForceFinder finder(v);
  std::vector<WordDraw> in;
  for (uint64_t i = 0; i < 1200; ++i) in.push_back({static_cast<WordId>(i % 300), 0, 5, i});
  const std::string seed = "vickrey-test";
  for (double eps : {3.0, 12.0, 1e-6}) {  // 1e-6: the large-radius scan
    const auto mvl = PlanFor("mvl", eps, {}, v);
    const std::vector<WordId> base = Outputs(*mvl, v, finder, in, seed);
    const auto t0 = PlanFor("vickrey", eps, {{"vickrey-t", "0"}}, v);
    EXPECT_EQ(Outputs(*t0, v, finder, in, seed), base) << "eps " << eps;
    const auto t1 = PlanFor("vickrey", eps, {{"vickrey-t", "1"}}, v);
    const std::vector<WordId> second = Outputs(*t1, v, finder, in, seed);
    const auto dflt = PlanFor("vickrey", eps, {}, v);
    EXPECT_EQ(RowNumber(*dflt, "vickrey_t"), 0.75);
    const std::vector<WordId> mixed = Outputs(*dflt, v, finder, in, seed);
    size_t took_second = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      ASSERT_NE(second[i], base[i]) << "eps " << eps << ", draw " << i;
      ASSERT_TRUE(mixed[i] == base[i] || mixed[i] == second[i]) << "draw " << i;
      took_second += mixed[i] == second[i];
    }
    std::printf("[stat] vickrey eps %g: t = 0.75 took the second-nearest in %zu of %zu draws\n",
                eps, took_second, in.size());
    EXPECT_GT(took_second, 0u);
    EXPECT_LT(took_second, in.size());
    // Mahalanobis noise: t = 0 is the mahalanobis mechanism, same eps_r.
    const auto mhl = PlanFor("mahalanobis", eps, {{"lambda", "0.5"}}, v);
    const auto vm =
        PlanFor("vickrey", eps,
                {{"vickrey-t", "0"}, {"vickrey-noise", "mahalanobis"}, {"lambda", "0.5"}}, v);
    EXPECT_EQ(RowNumber(*vm, "eps_r"), RowNumber(*mhl, "eps_r"));
    EXPECT_EQ(Outputs(*vm, v, finder, in, seed), Outputs(*mhl, v, finder, in, seed))
        << "eps " << eps;
  }
}

}  // namespace
}  // namespace dpsanitize
