// Statistical tests of the exponential-mechanism selectors (em, tem, and the
// alpha hook for bem; spec section 2b) on the fixture embedding and on a tiny
// hand-made vocabulary.
//
// The sampler (ExpMechSelector: head + envelope rejection + a sequential
// Bernoulli walk) is compared with the exact law ExpMechLogLaw (a full scan,
// log-sum-exp) by Pearson's chi-square over every output word, cells that
// expect fewer than 5 draws pooled (goodness_of_fit.h). ExpMechLogLaw itself
// is checked against hand-computed closed forms, so the chain is anchored.
//
// Significance. Each chi-square asserts p > kAlpha = 1e-4; frequency checks
// use 5 standard errors. Every draw comes from a fixed key
// (RunKey::FromSeed("exp-mech-test")), so the tests are deterministic and
// cannot flake; alpha only guards against a seed that happened to be unlucky
// when the tests were written. The negative controls show that the same test,
// at the same sample size, rejects a wrong law (exp(-eps d) instead of
// exp(-eps d / 2), a 5 % error in beta, a dropped tail) with p far below alpha.
#include "dpsanitize/mechanisms/exp_mech.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/bem_plan.h"
#include "dpsanitize/neighbors/tail_bounds_builder.h"
#include "dpsanitize/random/keyed_rng.h"
#include "statistical/fixture_vocabulary.h"
#include "statistical/goodness_of_fit.h"

namespace dpsanitize {
namespace {

constexpr double kAlpha = 1e-4;
constexpr int kDraws = 100000;
constexpr double kInf = std::numeric_limits<double>::infinity();

RunKey TestKey() { return RunKey::FromSeed("exp-mech-test"); }

// ---------------------------------------------------------------------------
// Fixture embedding and a caching exact neighbour source.

struct Fixture : FixtureVocabulary {
  WordId isolated = 0;  // the most isolated of the 1,000 least frequent words
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    if (!OpenFixtureVocabulary(f)) return f;
    const VectorSet& v = f->vectors;
    // The word whose nearest other word is farthest, by squared distances
    // with partial sums pruned against the current nearest.
    double best = -1;
    for (size_t w = v.n > 1000 ? v.n - 1000 : 0; w < v.n; ++w) {
      double nearest = kInf;
      for (size_t y = 0; y < v.n && nearest > best; ++y) {
        if (y == w) continue;
        double s = 0;
        for (uint32_t d = 0; d < v.dim && s < nearest; ++d) {
          const double t = static_cast<double>(v.row(w)[d]) - v.row(y)[d];
          s += t * t;
        }
        nearest = std::min(nearest, s);
      }
      if (nearest > best) {
        best = nearest;
        f->isolated = static_cast<WordId>(w);
      }
    }
    return f;
  }();
  return *fixture;
}

// Exact lists by a double-precision scan, computed once per word (the draws
// would otherwise rescan 5,000 x 100 floats each).
class CachingScanSource : public NeighborSource {
 public:
  explicit CachingScanSource(VectorSet v) : v_(v) {}
  const Neighbor* Nearest(WordId word, size_t k, std::vector<Neighbor>* scratch) const override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Neighbor>& list = lists_[word];
    if (list.size() < k) ExactNeighborsScan(v_, word, std::max<size_t>(k, 64), &list);
    return list.data();
  }

 private:
  VectorSet v_;
  mutable std::mutex mu_;
  mutable std::map<WordId, std::vector<Neighbor>> lists_;
};

// ---------------------------------------------------------------------------
// Helpers.

std::vector<double> DrawCounts(VectorSet v, const NeighborSource& source, const ExpMechParams& p,
                               size_t head_k, WordId word, int draws, uint64_t doc_id,
                               double* mean_rounds = nullptr, const TailBounds* bounds = nullptr) {
  ExpMechSelector selector(p, v, source, head_k, bounds);
  std::vector<double> counts(v.n, 0.0);
  const DocKey doc(TestKey(), doc_id);
  std::vector<Neighbor> scratch;
  uint64_t total_rounds = 0;
  for (int i = 0; i < draws; ++i) {
    WordRng rng(doc, 0, static_cast<uint64_t>(i));
    uint64_t rounds = 0;
    const WordId y = selector.Select(word, rng, &scratch, &rounds);
    counts[y] += 1;
    total_rounds += rounds;
  }
  if (mean_rounds) *mean_rounds = static_cast<double>(total_rounds) / draws;
  return counts;
}

std::vector<double> ExpectedCounts(VectorSet v, WordId word, const ExpMechParams& p, int draws) {
  std::vector<double> lp;
  ExpMechLogLaw(v, word, p, &lp);
  std::vector<double> e(v.n);
  for (size_t y = 0; y < v.n; ++y) e[y] = draws * std::exp(lp[y]);
  return e;
}

std::string Describe(const ChiSquareResult& r) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), "chi2 = %.1f, df = %d, p = %.3g", r.stat, r.df, r.p);
  return buf;
}

WordId FixtureWord(const Fixture& fx, const std::string& key) {
  const std::optional<WordId> id = fx.vocab->Find(key);
  EXPECT_TRUE(id.has_value()) << "fixture lacks a test word";
  return id.value_or(0);
}

// ---------------------------------------------------------------------------
// The exact law on a tiny hand-made vocabulary.
//
// Four points in the plane: p0 = (0, 0), p1 = (0, 1), p2 = (3, 4), p3 = (6, 8),
// so d(p0, .) = 0, 1, 5, 10 and d(p2, .) = 5, sqrt(18), 0, 5.
const float kTiny[] = {0, 0, 0, 1, 3, 4, 6, 8};
VectorSet TinySet() { return {kTiny, 4, 2}; }

void ExpectLaw(VectorSet v, WordId w, const ExpMechParams& p, const std::vector<double>& want,
               double log_z) {
  std::vector<double> lp;
  ExpMechLogLaw(v, w, p, &lp);
  ASSERT_EQ(lp.size(), want.size());
  double sum = 0;
  for (size_t y = 0; y < want.size(); ++y) {
    EXPECT_NEAR(std::exp(lp[y]), want[y], 1e-14) << "y = " << y;
    EXPECT_NEAR(lp[y], std::log(want[y]), 1e-13) << "y = " << y;
    sum += std::exp(lp[y]);
  }
  EXPECT_NEAR(sum, 1.0, 1e-15);
  EXPECT_NEAR(ExpMechLogZ(v, w, p), log_z, 1e-14);
}

TEST(ExpMechLawTest, TinyVocabularyClosedForms) {
  const VectorSet v = TinySet();
  // em, eps = 1 (beta = 1/2) from p0: weights 1, e^-1/2, e^-5/2, e^-5;
  // Z = 1.695353605335618 (ln Z = 0.527891335792151).
  ExpectLaw(v, 0, EmParams(1.0),
            {0.5898474494363888, 0.35776056263646705, 0.048417627075296184, 0.0039743608518481325},
            0.5278913357921506);
  // tem, eps = 1, gamma = 3 from p0: s = 0, 1, 3, 3, weights 1, e^-1/2,
  // e^-3/2, e^-3/2: the two words beyond gamma share one probability.
  ExpectLaw(v, 0, TemParams(1.0, 3.0),
            {0.4871416572550292, 0.29546635074839844, 0.10869599599828618, 0.10869599599828618},
            0.7192003208757646);
  // em, eps = 2 (beta = 1) from p2: weights e^-5, e^-sqrt(18), 1, e^-5.
  ExpectLaw(v, 2, EmParams(2.0),
            {0.006555408438387557, 0.013980307574439323, 0.9729088755487858, 0.006555408438387557},
            0.02746485426635155);
  // alpha = (1, 2, 1, 1/2), beta = 1/2 from p0: weights 1, 2 e^-1/2, e^-5/2,
  // e^-5 / 2.
  const double log_alpha[] = {0, std::log(2.0), 0, std::log(0.5)};
  ExpMechParams pa = EmParams(1.0);
  pa.log_alpha = log_alpha;
  ExpectLaw(v, 0, pa,
            {0.4350634532112308, 0.5277586465861285, 0.03571218295815253, 0.0014657172444881863},
            0.8322633890802615);
  // beta = 0 is the uniform law.
  ExpectLaw(v, 3, EmParams(0.0), {0.25, 0.25, 0.25, 0.25}, std::log(4.0));
}

TEST(ExpMechLawTest, FixtureLawsSumToOneAndStayFiniteAtLargeEps) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const VectorSet& v = fx.vectors;
  const WordId october = FixtureWord(fx, "october");
  for (WordId w : {FixtureWord(fx, "the"), october, fx.isolated}) {
    for (const ExpMechParams& p : {EmParams(0.1), EmParams(3), EmParams(50), EmParams(1000),
                                   TemParams(3, 5.0), TemParams(50, 2.0)}) {
      std::vector<double> lp;
      ExpMechLogLaw(v, w, p, &lp);
      double sum = 0;
      for (double l : lp) {
        ASSERT_TRUE(std::isfinite(l)) << "beta " << p.beta;
        ASSERT_LE(l, 0.0);
        sum += std::exp(l);
      }
      EXPECT_NEAR(sum, 1.0, 1e-12) << "beta " << p.beta << " gamma " << p.gamma;
      // ln P[M(w) = w] = ln alpha(w) - ln Z(w), and no output beats w.
      EXPECT_NEAR(lp[w], -ExpMechLogZ(v, w, p), 1e-12);
      EXPECT_EQ(*std::max_element(lp.begin(), lp.end()), lp[w]);
    }
  }
  // eps = 50 (beta = 25) in a dense region: the nearest word (distance 0.6)
  // has ln-probability about -15, the farthest about -250: both finite, no
  // underflow to -inf.
  std::vector<double> lp;
  ExpMechLogLaw(v, october, EmParams(50), &lp);
  std::vector<Neighbor> nb;
  ExactNeighborsScan(v, october, v.n - 1, &nb);
  EXPECT_NEAR(lp[nb[0].id], -25 * nb[0].dist, 1e-6);
  EXPECT_NEAR(lp[nb.back().id], -25 * nb.back().dist, 1e-6);
  EXPECT_LT(lp[nb.back().id], -200);
}

// ---------------------------------------------------------------------------
// Sampler = law on the tiny vocabulary, every head depth (0: all tail,
// 1 and 2: head + tail, 3 and 10: the whole vocabulary is the head).

TEST(ExpMechSamplerTest, TinyVocabularyEveryHeadDepth) {
  const VectorSet v = TinySet();
  ScanNeighborSource source(v);
  const double log_alpha[] = {0, std::log(2.0), 0, std::log(0.5)};
  ExpMechParams with_alpha = EmParams(0.6);
  with_alpha.log_alpha = log_alpha;
  const ExpMechParams cases[] = {EmParams(1.0), TemParams(1.0, 3.0), with_alpha};
  uint64_t doc = 100;
  for (const ExpMechParams& p : cases) {
    for (WordId w : {0u, 2u}) {
      for (size_t head_k : {0, 1, 2, 3, 10}) {
        const std::vector<double> obs = DrawCounts(v, source, p, head_k, w, 40000, ++doc);
        const ChiSquareResult r = ChiSquareTest(obs, ExpectedCounts(v, w, p, 40000));
        EXPECT_GT(r.p, kAlpha) << "beta " << p.beta << " gamma " << p.gamma << " w " << w
                               << " head_k " << head_k << ": " << Describe(r);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Sampler = law on the fixture.

struct FixtureCase {
  const char* name;        // test-case label (the word key; "" = the isolated rare word)
  const char* word;        // fixture word, nullptr for Fixture::isolated
  double eps;              // beta = eps / 2
  double gamma;            // +inf for em
  size_t head_k;           // head depth
  double min_tail;         // lower bound on the law's mass outside the head (path coverage)
  bool clustered = false;  // with the fixture's tail bounds (the clustered tail)
};

// Tail bounds of the fixture vocabulary, 64 clusters (computed once: 25 M
// distances).
const TailBounds* FixtureBounds() {
  static const OwnedTailBounds* bounds = [] {
    const Fixture& fx = GetFixture();
    auto b = ComputeTailBounds(fx.vectors, 64, 2);
    return b.ok() ? new OwnedTailBounds(std::move(b).value()) : nullptr;
  }();
  static const TailBounds view = bounds ? bounds->view() : TailBounds{};
  return bounds ? &view : nullptr;
}

void PrintTo(const FixtureCase& c, std::ostream* os) {
  *os << c.name << " eps=" << c.eps << " gamma=" << c.gamma << " head_k=" << c.head_k
      << (c.clustered ? " clustered" : "");
}

class ExpMechFixtureTest : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(ExpMechFixtureTest, OutputFrequenciesMatchExactLaw) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const FixtureCase& c = GetParam();
  const VectorSet& v = fx.vectors;
  const WordId w = c.word ? FixtureWord(fx, c.word) : fx.isolated;
  const ExpMechParams p = TemParams(c.eps, c.gamma);
  CachingScanSource source(v);

  std::vector<double> lp;
  ExpMechLogLaw(v, w, p, &lp);
  // The law's mass outside the head (w and its head_k nearest words): the
  // share of outputs that must come through the tail and its rejection step.
  std::vector<Neighbor> scratch;
  const Neighbor* nb = source.Nearest(w, v.n - 1, &scratch);
  double head = std::exp(lp[w]);
  for (size_t i = 0; i < std::min(c.head_k, v.n - 1); ++i) head += std::exp(lp[nb[i].id]);
  EXPECT_GE(1 - head, c.min_tail) << "the case does not exercise the tail as intended";

  const TailBounds* bounds = nullptr;
  if (c.clustered) {
    bounds = FixtureBounds();
    ASSERT_NE(bounds, nullptr);
  }
  double mean_rounds = 0;
  const std::vector<double> obs =
      DrawCounts(v, source, p, c.head_k, w, kDraws, 1000 + w, &mean_rounds, bounds);
  std::vector<double> expected(v.n);
  for (size_t y = 0; y < v.n; ++y) expected[y] = kDraws * std::exp(lp[y]);
  const ChiSquareResult r = ChiSquareTest(obs, expected);
  std::printf(
      "[stat] eps %g gamma %g head_k %zu%s: P[w] = %.4f, outside head %.4f, %.2f rounds, %s\n",
      c.eps, c.gamma, c.head_k, c.clustered ? " clustered" : "", std::exp(lp[w]), 1 - head,
      mean_rounds, Describe(r).c_str());
  EXPECT_GT(r.p, kAlpha) << Describe(r);
}

INSTANTIATE_TEST_SUITE_P(
    ExpMechEm, ExpMechFixtureTest,
    ::testing::Values(
        // eps = 1: the tail dominates (more than 90 % of the mass beyond the head).
        FixtureCase{"the", "the", 1, kInf, 64, 0.9},
        FixtureCase{"october", "october", 1, kInf, 64, 0.9},
        FixtureCase{"isolated", nullptr, 1, kInf, 64, 0.9},
        // eps = 3 (and 2 for the isolated word): the transition.
        FixtureCase{"the", "the", 3, kInf, 64, 0.3},
        FixtureCase{"october", "october", 3, kInf, 64, 0.05},
        FixtureCase{"isolated", nullptr, 2, kInf, 64, 0.3},
        // eps = 8: w dominates; "october" (dense: months at distance 0.6-1)
        // still gives its neighbours a quarter of the mass.
        FixtureCase{"october", "october", 8, kInf, 64, 0},
        FixtureCase{"two", "two", 8, kInf, 64, 0},
        // eps = 0: the uniform law (beta = 0 extreme).
        FixtureCase{"the", "the", 0, kInf, 64, 0.9}),
    [](const ::testing::TestParamInfo<FixtureCase>& info) {
      return std::string(info.param.name) + "_eps" +
             std::to_string(static_cast<int>(info.param.eps));
    });

INSTANTIATE_TEST_SUITE_P(ExpMechSmallHead, ExpMechFixtureTest,
                         ::testing::Values(
                             // head_k = 4: most outputs go through the tail and its rejection.
                             FixtureCase{"the", "the", 3, kInf, 4, 0.5},
                             FixtureCase{"two", "two", 1, kInf, 4, 0.9},
                             FixtureCase{"october", "october", 1, kInf, 4, 0.9},
                             // head_k = 0: the head is w alone, every other word via the tail.
                             FixtureCase{"the", "the", 0.5, kInf, 0, 0.9}),
                         [](const ::testing::TestParamInfo<FixtureCase>& info) {
                           return std::string(info.param.name) + "_head" +
                                  std::to_string(info.param.head_k);
                         });

INSTANTIATE_TEST_SUITE_P(ExpMechTem, ExpMechFixtureTest,
                         ::testing::Values(
                             // Roughly a third each on w, the words within gamma, the words beyond.
                             FixtureCase{"the", "the", 3, 5.5, 64, 0.3},
                             FixtureCase{"october", "october", 3, 5.0, 64, 0.3},
                             // gamma below the 64th neighbour's distance: the whole tail is
                             // truncated (acceptance 1, no distance computed).
                             FixtureCase{"october", "october", 4, 4.5, 64, 0.1},
                             // with a small head, most outputs through the tail.
                             FixtureCase{"the", "the", 3, 5.5, 4, 0.3}),
                         [](const ::testing::TestParamInfo<FixtureCase>& info) {
                           return std::string(info.param.name) + "_eps" +
                                  std::to_string(static_cast<int>(info.param.eps)) + "_head" +
                                  std::to_string(info.param.head_k);
                         });

// The clustered tail (TailBounds): the same law, fewer proposals. Every case
// below uses it (the single envelope's tail mass is at least 1/16 of w's
// weight; checked by ClusteredTailIsUsedAndCutsRounds).
INSTANTIATE_TEST_SUITE_P(
    ExpMechClustered, ExpMechFixtureTest,
    ::testing::Values(FixtureCase{"the", "the", 1, kInf, 64, 0.9, true},
                      FixtureCase{"october", "october", 1, kInf, 64, 0.9, true},
                      FixtureCase{"isolated", nullptr, 2, kInf, 64, 0.3, true},
                      FixtureCase{"the", "the", 3, kInf, 64, 0.3, true},
                      FixtureCase{"october", "october", 3, kInf, 64, 0.05, true},
                      FixtureCase{"the", "the", 3, kInf, 4, 0.5, true},
                      FixtureCase{"the", "the", 0.5, kInf, 0, 0.9, true},
                      // tem: the bound is capped at gamma.
                      FixtureCase{"the", "the", 3, 5.5, 64, 0.3, true},
                      FixtureCase{"the", "the", 3, 5.5, 4, 0.3, true}),
    [](const ::testing::TestParamInfo<FixtureCase>& info) {
      return std::string(info.param.name) + "_eps" +
             std::to_string(static_cast<int>(info.param.eps * 10)) + "_gamma" +
             (std::isfinite(info.param.gamma) ? std::to_string(static_cast<int>(info.param.gamma))
                                              : std::string("inf")) +
             "_head" + std::to_string(info.param.head_k);
    });

// The bounds hold (never above a member's Distance, within one step of the
// nearest member), and the clustered sampler needs fewer rounds than the
// single envelope for the same word (the point of it).
TEST(ExpMechClusteredTest, BoundsHoldAndCutRounds) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const TailBounds* b = FixtureBounds();
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(CheckTailBounds(*b).ok());
  EXPECT_GT(b->clusters, 32u);
  const VectorSet& v = fx.vectors;
  for (const WordId w :
       {WordId{0}, FixtureWord(fx, "october"), fx.isolated, static_cast<WordId>(v.n - 1)}) {
    for (uint32_t c = 0; c < b->clusters; ++c) {
      double m = kInf;
      for (uint32_t i = 0; i < b->Size(c); ++i) {
        const WordId y = b->Members(c)[i];
        if (y != w) m = std::min(m, Distance(v, w, y));
      }
      const double bound = b->Bound(w, c);
      ASSERT_LE(bound, m) << "word " << w << " cluster " << c;
      if (std::isfinite(m)) {
        ASSERT_GT(bound, m - b->step) << "word " << w << " cluster " << c;
      }
    }
  }
  CachingScanSource source(v);
  for (const double eps : {1.0, 3.0}) {
    const WordId w = FixtureWord(fx, "the");
    double plain = 0, clustered = 0;
    DrawCounts(v, source, EmParams(eps), 64, w, 20000, 77, &plain);
    DrawCounts(v, source, EmParams(eps), 64, w, 20000, 77, &clustered, b);
    std::printf("[stat] eps %g: %.2f rounds with one envelope, %.2f clustered\n", eps, plain,
                clustered);
    EXPECT_LT(clustered, plain * 0.8) << "eps " << eps;
  }
}

// A corrupt view is refused: a repeated member, an empty cluster, a step that
// is not a power of two.
TEST(ExpMechClusteredTest, CheckTailBoundsRefusesCorruptViews) {
  const TailBounds* b = FixtureBounds();
  ASSERT_NE(b, nullptr);
  std::vector<uint32_t> members(b->members, b->members + b->vocab_size);
  std::vector<uint32_t> offsets(b->offsets, b->offsets + b->clusters + 1);
  TailBounds t = *b;
  t.members = members.data();
  t.offsets = offsets.data();
  EXPECT_TRUE(CheckTailBounds(t).ok());
  members[1] = members[0];
  EXPECT_FALSE(CheckTailBounds(t).ok());
  members[1] = b->members[1];
  offsets[1] = offsets[0];
  EXPECT_FALSE(CheckTailBounds(t).ok());
  offsets[1] = b->offsets[1];
  t.step = 0.75;
  EXPECT_FALSE(CheckTailBounds(t).ok());
  t.step = b->step;
  members[0] = static_cast<uint32_t>(b->vocab_size);
  EXPECT_FALSE(CheckTailBounds(t).ok());
}

// tem's "⊥": the outputs beyond gamma are uniform among themselves, and
// their total matches the law.
TEST(ExpMechTemTest, BeyondGammaOutputsAreUniformAmongThemselves) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const VectorSet& v = fx.vectors;
  CachingScanSource source(v);
  for (const char* key : {"the", "october"}) {
    const WordId w = FixtureWord(fx, key);
    const ExpMechParams p = TemParams(3, 5.25);
    const int draws = 200000;
    const std::vector<double> obs = DrawCounts(v, source, p, 64, w, draws, 5000 + w);
    std::vector<double> lp;
    ExpMechLogLaw(v, w, p, &lp);
    std::vector<double> beyond_obs;
    double beyond_mass = 0;
    for (size_t y = 0; y < v.n; ++y) {
      if (y != w && Distance(v, w, y) >= p.gamma) {
        beyond_obs.push_back(obs[y]);
        beyond_mass += std::exp(lp[y]);
      }
    }
    double beyond_total = 0;
    for (double o : beyond_obs) beyond_total += o;
    ASSERT_GT(beyond_obs.size(), 1000u);
    ASSERT_GT(beyond_mass, 0.2);
    ASSERT_LT(beyond_mass, 0.8);
    // Total beyond gamma: binomial, 5 standard errors.
    const double se = std::sqrt(draws * beyond_mass * (1 - beyond_mass));
    EXPECT_NEAR(beyond_total, draws * beyond_mass, 5 * se);
    // Uniform among themselves, conditionally on their total.
    const std::vector<double> expected(beyond_obs.size(), beyond_total / beyond_obs.size());
    const ChiSquareResult r = ChiSquareTest(beyond_obs, expected);
    std::printf("[stat] tem beyond gamma: %zu words, mass %.3f, %s\n", beyond_obs.size(),
                beyond_mass, Describe(r).c_str());
    EXPECT_GT(r.p, kAlpha) << Describe(r);
  }
}

// ---------------------------------------------------------------------------
// Power: the same chi-square at the same sample size rejects wrong laws.

TEST(ExpMechPowerTest, WrongLawsAreRejected) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const VectorSet& v = fx.vectors;
  CachingScanSource source(v);
  for (const char* key : {"the", "october"}) {
    for (double eps : {1.0, 3.0}) {
      const WordId w = FixtureWord(fx, key);
      const ExpMechParams right = EmParams(eps);
      const std::vector<double> obs = DrawCounts(v, source, right, 64, w, kDraws, 7000 + w);
      const ChiSquareResult good = ChiSquareTest(obs, ExpectedCounts(v, w, right, kDraws));
      EXPECT_GT(good.p, kAlpha) << Describe(good);
      // exp(-eps d) instead of exp(-eps d / 2).
      const ChiSquareResult wrong = ChiSquareTest(obs, ExpectedCounts(v, w, {eps}, kDraws));
      EXPECT_LT(wrong.p, 1e-12) << "exp(-eps d) not rejected: " << Describe(wrong);
      // beta off by 5 % at eps = 3. At eps = 1 the law is nearly flat (5,000
      // cells of ~20 draws each) and the error must be larger to be seen.
      const double factor = eps < 2 ? 1.25 : 1.05;
      const ChiSquareResult off =
          ChiSquareTest(obs, ExpectedCounts(v, w, {factor * eps / 2}, kDraws));
      EXPECT_LT(off.p, 1e-6) << "beta * " << factor << " not rejected: " << Describe(off);
      std::printf("[stat] power eps %g: right p = %.3g, exp(-eps d) p = %.3g, %.2f beta p = %.3g\n",
                  eps, good.p, wrong.p, factor, off.p);
    }
  }
  // A sampler that dropped the tail (the law restricted to the head,
  // renormalised) would be rejected too: its outputs never leave the head,
  // while at eps = 1 over 90 % of the true law's mass lies outside it.
  const WordId w = FixtureWord(fx, "the");
  std::vector<double> expected = ExpectedCounts(v, w, EmParams(1), kDraws);
  std::vector<double> head_only(v.n, 0.0);
  std::vector<Neighbor> nb;
  ExactNeighborsScan(v, w, 64, &nb);
  double head = expected[w];
  head_only[w] = expected[w];
  for (const Neighbor& n : nb) {
    head_only[n.id] = expected[n.id];
    head += expected[n.id];
  }
  for (double& o : head_only) o *= kDraws / head;
  const ChiSquareResult dropped = ChiSquareTest(head_only, expected);
  EXPECT_LT(dropped.p, 1e-12) << Describe(dropped);
}

// ---------------------------------------------------------------------------
// The pipeline adapter: deterministic per (key, doc, field, position),
// independent of batch split, order and threads.

TEST(ExpMechMechanismTest, PerturbIsDeterministicAndBatchIndependent) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const VectorSet& v = fx.vectors;
  CachingScanSource source(v);
  const ExpMechParams p = EmParams(3);
  ExpMechMechanism mech(p, v, source, 16);

  std::vector<WordDraw> in;
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  for (uint64_t doc = 0; doc < 20; ++doc) {
    for (uint32_t field = 0; field < 2; ++field) {
      for (uint64_t pos = 0; pos < 50; ++pos) {
        in.push_back({static_cast<WordId>(next() % 300), field, doc, pos});
      }
    }
  }
  const RunKey key = TestKey();
  std::vector<WordId> all(in.size());
  mech.Perturb(in.data(), in.size(), key, all.data());

  // Again: identical.
  std::vector<WordId> again(in.size());
  mech.Perturb(in.data(), in.size(), key, again.data());
  EXPECT_EQ(all, again);

  // In uneven batches, each batch in reverse order.
  std::vector<WordId> batched(in.size());
  size_t start = 0;
  for (size_t len = 1; start < in.size(); len = len * 3 % 97 + 1) {
    const size_t n = std::min(len, in.size() - start);
    std::vector<WordDraw> rev(in.begin() + start, in.begin() + start + n);
    std::reverse(rev.begin(), rev.end());
    std::vector<WordId> out(n);
    mech.Perturb(rev.data(), n, key, out.data());
    for (size_t i = 0; i < n; ++i) batched[start + n - 1 - i] = out[i];
    start += n;
  }
  EXPECT_EQ(all, batched);

  // From two threads at once, interleaved halves.
  std::vector<WordId> threaded(in.size());
  auto run = [&](size_t parity) {
    for (size_t i = parity; i < in.size(); i += 2) mech.Perturb(&in[i], 1, key, &threaded[i]);
  };
  std::thread t0(run, 0);
  std::thread t1(run, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(all, threaded);

  // The same as drawing each word from its own stream directly.
  std::vector<Neighbor> scratch;
  for (size_t i = 0; i < in.size(); ++i) {
    WordRng rng(key, in[i].doc_id, in[i].field, in[i].position);
    ASSERT_EQ(mech.selector().Select(in[i].word, rng, &scratch), all[i]) << "i = " << i;
  }

  // Another key, or another position, gives other draws (eps = 3 changes
  // most words, so equality everywhere would mean the key is ignored).
  std::vector<WordId> other(in.size());
  mech.Perturb(in.data(), in.size(), RunKey::FromSeed("another"), other.data());
  size_t differ = 0;
  for (size_t i = 0; i < in.size(); ++i) differ += other[i] != all[i];
  EXPECT_GT(differ, in.size() / 4);
  std::vector<WordDraw> shifted = in;
  for (WordDraw& d : shifted) d.position += 1000;
  mech.Perturb(shifted.data(), shifted.size(), key, other.data());
  differ = 0;
  for (size_t i = 0; i < in.size(); ++i) differ += other[i] != all[i];
  EXPECT_GT(differ, in.size() / 4);
}

// ---------------------------------------------------------------------------
// tem's default gamma (Carvalho et al., SDM 2023).

TEST(ExpMechTemTest, DefaultGammaRule) {
  // (2 / eps) ln((|V| - 1)(1 - p) / p): |V| = 50,000, p = 0.001, eps = 1:
  // 2 ln(49,949,001) = 35.4530...
  auto g = DefaultTemGamma(1.0, 50000);
  ASSERT_TRUE(g.ok());
  EXPECT_NEAR(*g, 35.45302612571767, 1e-10);
  auto g3 = DefaultTemGamma(3.0, 4971);
  ASSERT_TRUE(g3.ok());
  EXPECT_NEAR(*g3, 2.0 / 3.0 * std::log(4970 * 0.999 / 0.001), 1e-12);
  EXPECT_EQ(*DefaultTemGamma(2.0, 1), kInf);
  EXPECT_FALSE(DefaultTemGamma(0.0, 100).ok());
  EXPECT_FALSE(DefaultTemGamma(-1.0, 100).ok());
  EXPECT_FALSE(DefaultTemGamma(kInf, 100).ok());
  EXPECT_FALSE(DefaultTemGamma(std::nan(""), 100).ok());
  EXPECT_FALSE(DefaultTemGamma(1.0, 100, 0.0).ok());
  EXPECT_FALSE(DefaultTemGamma(1.0, 100, 1.0).ok());
  EXPECT_FALSE(DefaultTemGamma(1.0, 2, 0.6).ok());  // gamma would be < 0

  // The rule's promise, checked with the exact law: for every source word the
  // output lies beyond gamma with probability at most p.
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const VectorSet& v = fx.vectors;
  for (double eps : {1.0, 3.0, 8.0, 20.0}) {
    for (double prob : {1e-3, 0.1}) {
      auto gamma = DefaultTemGamma(eps, v.n, prob);
      ASSERT_TRUE(gamma.ok());
      for (WordId w : {FixtureWord(fx, "the"), FixtureWord(fx, "october"), fx.isolated}) {
        std::vector<double> lp;
        ExpMechLogLaw(v, w, TemParams(eps, *gamma), &lp);
        double beyond = 0;
        for (size_t y = 0; y < v.n; ++y) {
          if (y != w && Distance(v, w, y) >= *gamma) beyond += std::exp(lp[y]);
        }
        EXPECT_LE(beyond, prob * (1 + 1e-12)) << "eps " << eps << " gamma " << *gamma;
      }
    }
  }
}

TEST(ExpMechParamsTest, Validation) {
  EXPECT_TRUE(ValidateExpMechParams(EmParams(1), 10).ok());
  EXPECT_TRUE(ValidateExpMechParams(EmParams(0), 10).ok());
  EXPECT_TRUE(ValidateExpMechParams(TemParams(1, 0.5), 10).ok());
  EXPECT_FALSE(ValidateExpMechParams(EmParams(-1), 10).ok());
  EXPECT_FALSE(ValidateExpMechParams(EmParams(kInf), 10).ok());
  EXPECT_FALSE(ValidateExpMechParams(EmParams(std::nan("")), 10).ok());
  EXPECT_FALSE(ValidateExpMechParams(TemParams(1, 0), 10).ok());
  EXPECT_FALSE(ValidateExpMechParams(TemParams(1, -2), 10).ok());
  EXPECT_FALSE(ValidateExpMechParams(TemParams(1, std::nan("")), 10).ok());
  const double bad[] = {0, -kInf, 0};
  ExpMechParams p = EmParams(1);
  p.log_alpha = bad;
  EXPECT_FALSE(ValidateExpMechParams(p, 3).ok());
  EXPECT_TRUE(ValidateExpMechParams(p, 1).ok());
}

// ---------------------------------------------------------------------------
// Building blocks and extreme parameters.

TEST(ExpMechBuildingBlocksTest, BernoulliFrequencies) {
  const DocKey doc(TestKey(), 9);
  uint64_t stream = 0;
  // Around the 1/2 boundary (log 2 = 0.6931), in the coin-flip regime (k fair
  // bits then a uniform) and at one and several 64-bit words of coin flips.
  for (double log_p : {-0.01, -0.5, -0.69, -0.7, -1.0, -3.0, -8.0}) {
    const int n = 100000;
    int hits = 0;
    for (int i = 0; i < n; ++i) {
      WordRng rng(doc, 0, ++stream);
      hits += BernoulliExp(log_p, rng);
    }
    const double p = std::exp(log_p);
    EXPECT_NEAR(hits, n * p, 5 * std::sqrt(n * p * (1 - p)) + 1) << "log_p " << log_p;
  }
  for (double p : {0.5, 0.3, 0.75, 1e-3}) {
    const int n = 100000;
    int hits = 0;
    for (int i = 0; i < n; ++i) {
      WordRng rng(doc, 0, ++stream);
      hits += BernoulliProb(p, rng);
    }
    EXPECT_NEAR(hits, n * p, 5 * std::sqrt(n * p * (1 - p)) + 1) << "p " << p;
  }
  WordRng rng(doc, 1, 0);
  EXPECT_TRUE(BernoulliProb(1.0, rng));
  EXPECT_TRUE(BernoulliProb(2.0, rng));
  EXPECT_FALSE(BernoulliProb(0.0, rng));
  EXPECT_FALSE(BernoulliProb(-1.0, rng));
  EXPECT_FALSE(BernoulliProb(std::nan(""), rng));
  EXPECT_FALSE(BernoulliProb(1e-310, rng));  // subnormal: 1029 fair bits, terminates
  EXPECT_TRUE(BernoulliExp(0.0, rng));
  EXPECT_TRUE(BernoulliExp(1e-300, rng));
  EXPECT_FALSE(BernoulliExp(-kInf, rng));
  EXPECT_FALSE(BernoulliExp(std::nan(""), rng));
  // Probabilities far below 2^-64 and below any double: false (almost surely)
  // and terminating.
  int hits = 0;
  for (int i = 0; i < 1000; ++i) hits += BernoulliExp(-50.0 - i, rng) + BernoulliExp(-1e300, rng);
  EXPECT_EQ(hits, 0);
}

TEST(ExpMechBuildingBlocksTest, UniformBelowIsUniform) {
  const DocKey doc(TestKey(), 10);
  uint64_t stream = 0;
  for (uint64_t n : {2u, 3u, 7u, 1000u}) {
    const int draws = 100000;
    std::vector<double> obs(n, 0.0);
    for (int i = 0; i < draws; ++i) {
      WordRng rng(doc, 0, ++stream);
      const uint64_t x = UniformBelow(n, rng);
      ASSERT_LT(x, n);
      obs[x] += 1;
    }
    const ChiSquareResult r = ChiSquareTest(obs, std::vector<double>(n, double(draws) / n));
    EXPECT_GT(r.p, kAlpha) << "n = " << n << ": " << Describe(r);
  }
  // n = 2^63 + 1: nearly half of all 64-bit words are rejected; the halves
  // [0, 2^62) and [2^62, 2^63) and the rest are still hit in proportion.
  const uint64_t n = (uint64_t{1} << 63) + 1;
  WordRng rng(doc, 1, 0);
  double low = 0;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const uint64_t x = UniformBelow(n, rng);
    ASSERT_LT(x, n);
    low += x < (uint64_t{1} << 62);
  }
  EXPECT_NEAR(low, draws / 2.0, 5 * std::sqrt(draws / 4.0));
  EXPECT_EQ(UniformBelow(1, rng), 0u);
}

TEST(ExpMechSamplerTest, HugeBetaReturnsTheWordAndOneWordVocabulary) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const VectorSet& v = fx.vectors;
  CachingScanSource source(v);
  const WordId october = FixtureWord(fx, "october");
  // eps = 50: P[M(w) != w] is about 3e-7 for october (nearest at 0.606), so
  // 20,000 draws give w every time; eps = 1e6 likewise, with every weight
  // other than w's at e^-300000 (log space: no overflow, no NaN).
  for (double eps : {50.0, 1e6}) {
    ExpMechSelector selector(EmParams(eps), v, source, 64);
    std::vector<Neighbor> scratch;
    for (int i = 0; i < 20000; ++i) {
      WordRng rng(TestKey(), 11, 0, static_cast<uint64_t>(i));
      ASSERT_EQ(selector.Select(october, rng, &scratch), october);
    }
  }
  // A one-word vocabulary: the word itself, no draw.
  const float one[] = {1, 2};
  const VectorSet single{one, 1, 2};
  ScanNeighborSource single_source(single);
  ExpMechSelector selector(EmParams(1), single, single_source, 64);
  WordRng rng(TestKey(), 12, 0, 0);
  std::vector<Neighbor> scratch;
  EXPECT_EQ(selector.Select(0, rng, &scratch), 0u);
}

// ---------------------------------------------------------------------------
// bem: the solved weights of the fixture at a total eps of 2.5, the sampler
// against their exact law (the densest words, whose alpha is smallest,
// included), and the claim re-derived by an independent computation.

constexpr double kBemEps = 2.5;

// The 2,000 most frequent fixture words: the solve is quadratic, and each
// test runs in its own process (about 50 s for the whole fixture under ASan).
VectorSet BemVectors() {
  const VectorSet& all = GetFixture().vectors;
  return {all.data, std::min<size_t>(2000, all.n), all.dim};
}

// Tail bounds of BemVectors() (64 clusters), for the clustered tail.
const TailBounds* BemBounds() {
  static const OwnedTailBounds* bounds = [] {
    auto b = ComputeTailBounds(BemVectors(), 64, 2);
    return b.ok() ? new OwnedTailBounds(std::move(b).value()) : nullptr;
  }();
  static const TailBounds view = bounds ? bounds->view() : TailBounds{};
  return bounds ? &view : nullptr;
}

const BemSolution* FixtureBem() {
  static const BemSolution* solution = [] {
    const VectorSet v = BemVectors();
    CachingScanSource source(v);
    BemSearchOptions o;
    o.threads = 2;
    auto s = SolveBem(v, source, 64, kBemEps, o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? new BemSolution(std::move(s).value()) : nullptr;
  }();
  return solution;
}

// bem's law for a solution: beta = eps_1, its weights.
ExpMechParams BemParams(const BemSolution& s) {
  ExpMechParams p;
  p.beta = s.eps1;
  p.log_alpha = s.log_alpha.data();
  return p;
}

// The ids of the n words with the smallest alpha (the densest regions).
std::vector<WordId> SmallestAlpha(const BemSolution& s, size_t n) {
  std::vector<WordId> ids(s.log_alpha.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<WordId>(i);
  std::partial_sort(ids.begin(), ids.begin() + n, ids.end(),
                    [&s](WordId a, WordId b) { return s.log_alpha[a] < s.log_alpha[b]; });
  ids.resize(n);
  return ids;
}

TEST(BemTest, ClaimHoldsByAnIndependentComputation) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const BemSolution* s = FixtureBem();
  ASSERT_NE(s, nullptr);
  const VectorSet v = BemVectors();
  ASSERT_EQ(s->log_alpha.size(), v.n);
  EXPECT_LE(s->eps(), kBemEps);
  EXPECT_GT(s->eps1, 0.8 * kBemEps) << "L should be small on the fixture";
  EXPECT_DOUBLE_EQ(*std::max_element(s->log_alpha.begin(), s->log_alpha.end()), 0.0);
  // ln Z(w) by ExpMechLogZ (a per-word scan, not the solver's), then L by a
  // plain loop over every pair with Distance(): nothing shared with
  // ExactLipschitz but the distance function.
  const ExpMechParams p = BemParams(*s);
  std::vector<double> log_z(v.n);
  for (size_t w = 0; w < v.n; ++w) log_z[w] = ExpMechLogZ(v, static_cast<WordId>(w), p);
  double l = 0;
  for (size_t w = 0; w < v.n; ++w) {
    for (size_t y = w + 1; y < v.n; ++y) {
      const double d = Distance(v, static_cast<WordId>(w), static_cast<WordId>(y));
      if (d > 0) l = std::max(l, std::fabs(log_z[w] - log_z[y]) / d);
    }
  }
  std::printf("[stat] bem fixture eps %g: eps_1 %.4f, L %.3g (independent %.3g), spread %.3g\n",
              kBemEps, s->eps1, s->lipschitz, l, s->log_z_spread);
  EXPECT_LE(l, s->lipschitz);
  // The claimed L is the true one plus its stated margin: x (1 + 1e-12) and
  // + 2e-12 / d_min (d_min >= 0.5 on the fixture), so at most 1e-11 above.
  EXPECT_GT(l, s->lipschitz * (1 - 1e-9) - 1e-11) << "the claimed L is the true one plus a margin";
  EXPECT_LE(s->eps1 + l, kBemEps);
}

TEST(BemTest, OutputFrequenciesMatchExactLawIncludingSmallestAlpha) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const BemSolution* s = FixtureBem();
  ASSERT_NE(s, nullptr);
  const VectorSet v = BemVectors();
  const ExpMechParams p = BemParams(*s);
  CachingScanSource source(v);
  std::vector<WordId> words = SmallestAlpha(*s, 3);
  words.push_back(FixtureWord(fx, "the"));
  words.push_back(FixtureWord(fx, "two"));
  // Head 64 with one envelope and with the clustered tail, and head 4 with
  // the clustered tail (most outputs through the tail's rejection; with one
  // envelope that takes ~500 rounds per draw for the densest words).
  const TailBounds* clustered = BemBounds();
  ASSERT_NE(clustered, nullptr);
  struct Variant {
    size_t head;
    const TailBounds* bounds;
  };
  for (const WordId w : words) {
    for (const Variant& var :
         {Variant{64, nullptr}, Variant{64, clustered}, Variant{4, clustered}}) {
      double rounds = 0;
      const std::vector<double> obs =
          DrawCounts(v, source, p, var.head, w, kDraws, 5000 + w, &rounds, var.bounds);
      const ChiSquareResult r = ChiSquareTest(obs, ExpectedCounts(v, w, p, kDraws));
      std::printf("[stat] bem word %u (ln alpha %.3f) head %zu%s: P[w] = %.4f, %.2f rounds, %s\n",
                  w, s->log_alpha[w], var.head, var.bounds ? " clustered" : "", obs[w] / kDraws,
                  rounds, Describe(r).c_str());
      EXPECT_GT(r.p, kAlpha) << "word " << w << " head " << var.head << " " << Describe(r);
    }
  }
}

// The same test rejects the unweighted law at the same eps_1 for the densest
// word: the weights matter, and the sample size sees them.
TEST(BemTest, UnweightedLawIsRejected) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const BemSolution* s = FixtureBem();
  ASSERT_NE(s, nullptr);
  const VectorSet v = BemVectors();
  const ExpMechParams p = BemParams(*s);
  CachingScanSource source(v);
  const WordId w = SmallestAlpha(*s, 1)[0];
  const std::vector<double> obs = DrawCounts(v, source, p, 64, w, kDraws, 6000);
  ExpMechParams unweighted = p;
  unweighted.log_alpha = nullptr;
  const ChiSquareResult wrong = ChiSquareTest(obs, ExpectedCounts(v, w, unweighted, kDraws));
  EXPECT_LT(wrong.p, 1e-10) << Describe(wrong);
}

TEST(BemTest, UnreachableEpsIsAUsageErrorNamingTheSmallestReached) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  // The 500 most frequent words (a quick solve).
  const VectorSet v{fx.vectors.data, 500, fx.vectors.dim};
  CachingScanSource source(v);
  // A first guess above the target (ratio < 0) with no second round: the
  // only eps_1 tried exceeds eps by itself.
  BemSearchOptions o;
  o.threads = 2;
  o.max_rounds = 1;
  o.initial_ratio = -0.5;
  auto s = SolveBem(v, source, 64, 1.0, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUsage);
  EXPECT_NE(s.status().message().find("smallest total eps_1 + L reached was 2"), std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace dpsanitize
