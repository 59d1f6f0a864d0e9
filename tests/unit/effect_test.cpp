// What eps does (pipeline/effect.h) on the fixture embedding: em's figures
// against a brute force written here from the definition, their growth with
// eps, tg's certified and mvl's Monte Carlo figures, the quick figures of a
// sanitize run, and the wording.
#include "dpsanitize/pipeline/effect.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<Engine> OpenFixture(const std::string& mechanism, double eps, bool build = false,
                                    unsigned threads = 0) {
  Config c;
  c.embedding = DPS_FIXTURE_VEC;
  c.mechanism = mechanism;
  c.eps = eps;
  c.no_ledger = true;
  c.threads = threads;
  auto e = OpenEngine(c, build);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? std::move(e).value() : nullptr;
}

// The brute force: for each word w, every distance d(w, y) in long double
// straight from the vectors, P[M(w) = y] = exp(-eps d / 2) / Z by a shifted
// sum (the largest weight is w's own, 1), and the 10 nearest by a full sort.
struct Brute {
  double p_unchanged = 0, mean_distance = 0, p_near10 = 0, median_nn = 0;
};

Brute BruteForceEm(const VectorSet& vs, double eps, size_t words) {
  Brute b;
  std::vector<double> nn;
  for (size_t w = 0; w < words; ++w) {
    std::vector<std::pair<long double, size_t>> d(vs.n);
    for (size_t y = 0; y < vs.n; ++y) {
      long double s = 0;
      for (uint32_t k = 0; k < vs.dim; ++k) {
        const long double t = static_cast<long double>(vs.row(w)[k]) - vs.row(y)[k];
        s += t * t;
      }
      d[y] = {std::sqrt(s), y};
    }
    long double z = 0, zd = 0;
    for (const auto& [dist, y] : d) {
      const long double u = std::exp(-static_cast<long double>(eps) / 2 * dist);
      z += u;
      zd += u * dist;
    }
    std::vector<std::pair<long double, size_t>> sorted = d;
    std::sort(sorted.begin(), sorted.end());  // (distance, id): w itself first, at 0
    long double near = 0;
    for (size_t r = 1; r <= 10; ++r) {
      near += std::exp(-static_cast<long double>(eps) / 2 * sorted[r].first);
    }
    b.p_unchanged += static_cast<double>(1 / z);
    b.mean_distance += static_cast<double>(zd / z);
    b.p_near10 += static_cast<double>(near / z);
    nn.push_back(static_cast<double>(sorted[1].first));
  }
  const double n = static_cast<double>(words);
  b.p_unchanged /= n;
  b.mean_distance /= n;
  b.p_near10 /= n;
  std::sort(nn.begin(), nn.end());
  b.median_nn = words % 2 ? nn[words / 2] : 0.5 * (nn[words / 2 - 1] + nn[words / 2]);
  return b;
}

TEST(EffectTest, EmMatchesABruteForceForSeveralEps) {
  for (double eps : {2.0, 4.0}) {
    SCOPED_TRACE(eps);
    auto e = OpenFixture("em", eps);
    ASSERT_NE(e, nullptr);
    EffectOptions o;
    o.words = 150;
    auto f = ComputeEffect(*e, o);
    ASSERT_TRUE(f.ok()) << f.status().message();
    const Brute b = BruteForceEm(e->vocab->vectors(), eps, 150);
    EXPECT_EQ(f.value().words, 150u);
    EXPECT_EQ(f.value().kind, LawKind::kExact);
    EXPECT_NEAR(f.value().p_unchanged_mean, b.p_unchanged, 1e-9 * b.p_unchanged);
    EXPECT_NEAR(f.value().mean_distance_moved, b.mean_distance, 1e-9 * b.mean_distance);
    EXPECT_NEAR(f.value().p_near10_mean, b.p_near10, 1e-9);
    EXPECT_NEAR(f.value().median_nn_distance, b.median_nn, 1e-9 * b.median_nn);
    ASSERT_TRUE(f.value().inv_eps.has_value());
    EXPECT_DOUBLE_EQ(*f.value().inv_eps, 1 / eps);
    EXPECT_FALSE(f.value().p_unchanged_ci.has_value()) << "exact figures carry no interval";
  }
}

TEST(EffectTest, EmKeepsMoreWordsAsEpsGrows) {
  double last_p = -1, last_d = std::numeric_limits<double>::infinity();
  for (double eps : {1.0, 2.0, 3.0, 5.0, 8.0}) {
    SCOPED_TRACE(eps);
    auto e = OpenFixture("em", eps);
    ASSERT_NE(e, nullptr);
    EffectOptions o;
    o.words = 100;
    auto f = ComputeEffect(*e, o);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_GT(f.value().p_unchanged_mean, last_p);
    EXPECT_LT(f.value().mean_distance_moved, last_d);
    last_p = f.value().p_unchanged_mean;
    last_d = f.value().mean_distance_moved;
  }
}

TEST(EffectTest, FiguresDoNotDependOnTheThreadCount) {
  auto one = OpenFixture("tg", 50, false, 1);
  auto two = OpenFixture("tg", 50, false, 3);
  ASSERT_NE(one, nullptr);
  ASSERT_NE(two, nullptr);
  EffectOptions o;
  o.words = 20;
  auto a = ComputeEffect(*one, o);
  auto b = ComputeEffect(*two, o);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a.value().p_unchanged_mean, b.value().p_unchanged_mean);
  EXPECT_EQ(a.value().mean_distance_moved, b.value().mean_distance_moved);
  EXPECT_EQ(a.value().p_near10_mean, b.value().p_near10_mean);
}

TEST(EffectTest, TgFiguresAreCertifiedProbabilities) {
  auto e = OpenFixture("tg", 50);
  ASSERT_NE(e, nullptr);
  EffectOptions o;
  o.words = 60;
  auto f = ComputeEffect(*e, o);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const EffectFigures& x = f.value();
  EXPECT_EQ(x.kind, LawKind::kCertified);
  EXPECT_GT(x.p_unchanged_mean, 0);
  ASSERT_TRUE(std::isfinite(x.p_near10_mean));
  // Kept, among the 10 nearest, or farther: the first two cannot exceed 1.
  EXPECT_LE(x.p_unchanged_mean + x.p_near10_mean, 1 + 1e-9);
  EXPECT_GT(x.mean_distance_moved, 0);
  EXPECT_FALSE(x.p_unchanged_ci.has_value());
}

TEST(EffectTest, MvlGivesMonteCarloFiguresWithIntervals) {
  auto e = OpenFixture("mvl", 10);
  ASSERT_NE(e, nullptr);
  EffectOptions o;
  o.words = 20;
  o.draws_per_word = 20;
  auto f = ComputeEffect(*e, o);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const EffectFigures& x = f.value();
  EXPECT_EQ(x.kind, LawKind::kMonteCarlo);
  EXPECT_EQ(x.draws_per_word, 20u);
  ASSERT_TRUE(x.p_unchanged_ci && x.mean_distance_ci && x.p_near10_ci);
  EXPECT_LE(x.p_unchanged_ci->lo, x.p_unchanged_mean);
  EXPECT_GE(x.p_unchanged_ci->hi, x.p_unchanged_mean);
  EXPECT_LT(x.p_unchanged_ci->hi - x.p_unchanged_ci->lo, 0.15);
  EXPECT_LE(x.mean_distance_ci->lo, x.mean_distance_moved);
  EXPECT_GE(x.mean_distance_ci->hi, x.mean_distance_moved);
  EXPECT_LE(x.p_near10_ci->lo, x.p_near10_mean);
  EXPECT_GE(x.p_near10_ci->hi, x.p_near10_mean);
  EXPECT_LE(x.p_unchanged_mean + x.p_near10_mean, 1 + 1e-12);
  // Fixed streams: the same figures again.
  auto again = ComputeEffect(*e, o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value().p_unchanged_mean, x.p_unchanged_mean);
  EXPECT_EQ(again.value().mean_distance_moved, x.mean_distance_moved);
}

// The sanitize line's Monte Carlo of the run's own sampler agrees with the
// mechanism's law: exact (em) and certified (tg).
TEST(EffectTest, QuickFiguresAgreeWithTheLaw) {
  struct Case {
    const char* mechanism;
    double eps;
  };
  for (const Case& c : {Case{"em", 3}, Case{"tg", 50}}) {
    SCOPED_TRACE(c.mechanism);
    auto e = OpenFixture(c.mechanism, c.eps, /*build=*/true);
    ASSERT_NE(e, nullptr);
    // The sampler path for both, with a large budget: every round is drawn.
    QuickEffectOptions qo;
    qo.sampled_words = 60;
    qo.max_draws_per_word = 50;
    qo.budget_seconds = 100;
    qo.use_law = false;
    auto quick = ComputeQuickEffect(*e, qo);
    ASSERT_TRUE(quick.ok()) << quick.status().message();
    const EffectFigures& q = quick.value();
    EXPECT_EQ(q.kind, LawKind::kMonteCarlo);
    EXPECT_EQ(q.draws_per_word, 50u);
    EXPECT_EQ(q.words, 60u);
    ASSERT_TRUE(q.p_unchanged_ci && q.mean_distance_ci && q.p_near10_ci);
    EffectOptions o;
    o.words = 60;
    auto full = ComputeEffect(*e, o);
    ASSERT_TRUE(full.ok()) << full.status().message();
    const EffectFigures& x = full.value();
    // 95 % intervals, widened by half their width so that the test does not
    // fail one time in twenty for three figures.
    auto near = [](double v, const EffectInterval& iv) {
      const double pad = 0.5 * (iv.hi - iv.lo);
      return v >= iv.lo - pad && v <= iv.hi + pad;
    };
    EXPECT_TRUE(near(x.p_unchanged_mean, *q.p_unchanged_ci))
        << x.p_unchanged_mean << " vs " << q.p_unchanged_ci->lo << ".." << q.p_unchanged_ci->hi;
    EXPECT_TRUE(near(x.mean_distance_moved, *q.mean_distance_ci))
        << x.mean_distance_moved << " vs " << q.mean_distance_ci->lo << ".."
        << q.mean_distance_ci->hi;
    EXPECT_TRUE(near(x.p_near10_mean, *q.p_near10_ci))
        << x.p_near10_mean << " vs " << q.p_near10_ci->lo << ".." << q.p_near10_ci->hi;
    EXPECT_EQ(q.median_nn_distance, x.median_nn_distance);
    EXPECT_THAT(EffectLine(q), HasSubstr("Monte Carlo"));
    // Fixed public streams: the same rounds give the same figures.
    auto again = ComputeQuickEffect(*e, qo);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again.value().p_unchanged_mean, q.p_unchanged_mean);
    EXPECT_EQ(again.value().mean_distance_moved, q.mean_distance_moved);
  }
}

TEST(EffectTest, QuickFiguresStopAtTheBudget) {
  auto e = OpenFixture("tg", 50, /*build=*/true);
  ASSERT_NE(e, nullptr);
  QuickEffectOptions qo;
  qo.budget_seconds = 0;
  auto quick = ComputeQuickEffect(*e, qo);
  ASSERT_TRUE(quick.ok()) << quick.status().message();
  EXPECT_EQ(quick.value().kind, LawKind::kMonteCarlo);
  EXPECT_EQ(quick.value().draws_per_word, 0u) << "the pilot predicts that nothing fits";
}

TEST(EffectTest, QuickFiguresOfAClosedFormLawAreExact) {
  auto e = OpenFixture("em", 2, /*build=*/true);
  ASSERT_NE(e, nullptr);
  auto quick = ComputeQuickEffect(*e, QuickEffectOptions{});
  ASSERT_TRUE(quick.ok()) << quick.status().message();
  EXPECT_EQ(quick.value().kind, LawKind::kExact);
  EXPECT_EQ(quick.value().words, 20u);
  const Brute b = BruteForceEm(e->vocab->vectors(), 2, 20);
  EXPECT_NEAR(quick.value().p_unchanged_mean, b.p_unchanged, 1e-9 * b.p_unchanged);
  EXPECT_NEAR(quick.value().mean_distance_moved, b.mean_distance, 1e-9 * b.mean_distance);
}

EffectFigures Synthetic(double p, double near) {
  EffectFigures f;
  f.mechanism = "em";
  f.eps = 2;
  f.inv_eps = 0.5;
  f.words = 1000;
  f.p_unchanged_mean = p;
  f.mean_distance_moved = 6.1;
  f.p_near10_mean = near;
  f.median_nn_distance = 3.2;
  f.method = "exact law over every output";
  return f;
}

TEST(EffectTest, WordingSaysWhatHappensPlainly) {
  EXPECT_EQ(EffectVerdict(Synthetic(0.03, 0.05)),
            "almost every word is replaced, mostly by unrelated words (outside its 10 nearest)");
  EXPECT_EQ(EffectVerdict(Synthetic(0.3, 0.6)),
            "most words are replaced, mostly by near neighbours (among its 10 nearest)");
  EXPECT_THAT(EffectVerdict(Synthetic(0.7, 0.1)), HasSubstr("most words are kept"));
  EXPECT_EQ(EffectVerdict(Synthetic(0.98, 0.02)), "almost every word is kept as it is");
  const std::string line = EffectLine(Synthetic(0.0312, 0.05));
  EXPECT_EQ(line,
            "em at eps 2: on the 1,000 most frequent words a word is kept with probability 0.031 "
            "and moves 6.1 on average (median nearest-neighbour distance 3.2): almost every word "
            "is replaced, mostly by unrelated words (outside its 10 nearest); see dpsanitize "
            "calibrate --mechanism em --eps 2");
  const std::string text = EffectText(Synthetic(0.0312, 0.05));
  EXPECT_THAT(text, HasSubstr("what eps does (1,000 most frequent words)\n"));
  EXPECT_THAT(text, HasSubstr("1/eps is 0.5"));
  EXPECT_THAT(text, Not(HasSubstr("interval")));
}

TEST(EffectTest, JsonHasTheKeys) {
  EffectFigures f = Synthetic(0.4, 0.3);
  nlohmann::json j;
  AddEffectJson(f, &j);
  for (const char* key : {"p_unchanged_mean", "mean_distance_moved", "p_near10_mean", "inv_eps",
                          "median_nn_distance", "effect_words", "effect_method"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_FALSE(j.contains("p_unchanged_ci"));
  f.kind = LawKind::kMonteCarlo;
  f.p_unchanged_ci = EffectInterval{0.3, 0.5};
  nlohmann::json m;
  AddEffectJson(f, &m);
  ASSERT_TRUE(m["p_unchanged_ci"].is_array());
  EXPECT_EQ(m["p_unchanged_ci"][0], 0.3);
  EXPECT_EQ(m["effect_method"], "monte_carlo");
}

}  // namespace
}  // namespace dpsanitize
