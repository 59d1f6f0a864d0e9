// Tests of the privacy audit (spec section 7), src/dpsanitize/audit/, of
// tg's exact law (src/dpsanitize/mechanisms/tg_law.h) and of em's and tem's
// exact law (src/dpsanitize/mechanisms/exp_mech_law.h): the real em and tem
// plans audited on the fixture stay within their proven eps, a wrong law
// (beta = eps instead of eps / 2) is flagged, and the law's figures match a
// brute-force computation.
//
// The audit's exact tg law is also an oracle for the real sampler: the output
// frequencies of TgSelector::Select (WordRng streams from
// RunKey::FromSeed("audit-test")) are compared with it by a chi-square test.
//
// Significance. Chi-square tests assert p > kAlpha = 1e-4 (cells expecting
// fewer than 5 draws are pooled). Every draw comes from a fixed seed, so the
// tests are deterministic and cannot flake; the alpha only guards against a
// seed that happens to be unlucky when the test is written. The negative
// control shows that the same check rejects a law perturbed by 2% of its top
// probability. Under AddressSanitizer the draw counts are smaller.
#include "dpsanitize/audit/audit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dpsanitize/audit/plot.h"
#include "dpsanitize/audit/report.h"
#include "dpsanitize/core/intervals.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/mechanisms/em_plan.h"
#include "dpsanitize/mechanisms/exp_mech.h"
#include "dpsanitize/mechanisms/exp_mech_law.h"
#include "dpsanitize/mechanisms/samplers.h"
#include "dpsanitize/mechanisms/tg.h"
#include "dpsanitize/mechanisms/tg_law.h"
#include "dpsanitize/mechanisms/tg_plan.h"
#include "dpsanitize/neighbors/faiss_index.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/random/keyed_rng.h"
#include "statistical/cached_exact_source.h"
#include "statistical/goodness_of_fit.h"

namespace dpsanitize {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr int kDraws = 20000;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int kDraws = 20000;
#else
constexpr int kDraws = 100000;
#endif
#else
constexpr int kDraws = 100000;
#endif
constexpr double kAlpha = 1e-4;
constexpr size_t kDepth = 48;  // P(k > 48) = e^-48 at mu = ln 4970

// The fixture's engine (vocabulary, exact delta_min, certified delta_max).
Engine& FixtureEngine(double eps = 50, const std::string& mechanism = "tg") {
  static std::map<std::pair<std::string, double>, std::unique_ptr<Engine>> engines;
  auto& slot = engines[{mechanism, eps}];
  if (!slot) {
    Config c;
    c.embedding = DPS_FIXTURE_VEC;
    c.eps = eps;
    c.mechanism = mechanism;
    c.no_ledger = true;
    auto e = OpenEngine(c, false);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (e.ok()) slot = std::move(e).value();
  }
  return *slot;
}

// The tg noise of the fixture's engine.
const TgParams& FixtureTg(const Engine& e = FixtureEngine()) {
  return static_cast<const TgPlan&>(*e.plan).params();
}

// What the audit command hands RunAudit, for an engine of FixtureEngine().
AuditInputs FixtureInputs(Engine& e) {
  auto made = MakeAuditInputs(e);
  EXPECT_TRUE(made.ok()) << made.status().message();
  AuditInputs in;
  if (made.ok()) in = std::move(made).value();
  return in;
}

// ---------------------------------------------------------------------------
// The building blocks against the library's samplers and known values.

TEST(AuditLawTest, GumbelLawMatchesTheSamplersLaw) {
  for (const auto& [b, delta] : std::vector<std::pair<double, double>>{
           {0.1, 17.0}, {0.5, 17.0}, {2.0, 17.0}, {25.66, 17.0}, {60.9, 24.35}, {1e4, 1.0}}) {
    SCOPED_TRACE(::testing::Message() << "b = " << b << ", delta = " << delta);
    const TruncatedGumbelLaw law(b, delta);
    const TruncatedGumbel lib(b, delta);
    for (int i = -100; i <= 100; ++i) {
      const double x = delta * i / 100.5;
      const double cdf = lib.Cdf(x);
      if (cdf > 1e-12 && cdf < 1 - 1e-12) {
        EXPECT_NEAR(std::exp(law.LogCdf(x)), cdf, 1e-9 * cdf) << "x = " << x;
        EXPECT_NEAR(law.Survival(x), 1 - cdf, 1e-9 * (1 - cdf) + 1e-15) << "x = " << x;
      }
      const double lp = lib.LogPdf(x);
      if (lp > -700) {
        EXPECT_NEAR(law.LogPdf(x), lp, 1e-9 * std::max(1.0, std::fabs(lp)));
      }
      // The linear and log forms agree, and F + S = 1.
      double pdf = 0, surv = 0;
      law.PdfAndSurvival(x, &pdf, &surv);
      EXPECT_NEAR(pdf, std::exp(law.LogPdf(x)), 1e-12 * pdf + 1e-300);
      EXPECT_NEAR(surv, std::exp(law.LogSurvival(x)), 1e-12);
      EXPECT_NEAR(std::exp(law.LogSurvival(x)) + std::exp(law.LogCdf(x)), 1.0, 1e-12);
    }
    // Far tails stay finite in log space (no underflow to -inf inside).
    EXPECT_GT(law.LogSurvival(delta * (1 - 1e-12)), -std::numeric_limits<double>::infinity());
    EXPECT_LT(law.LogSurvival(delta * (1 - 1e-12)), 0.0);
    EXPECT_EQ(law.LogSurvival(-delta), 0.0);
    EXPECT_EQ(law.LogCdf(delta), 0.0);
  }
  // The density integrates to 1 (Boost's quadrature, independent of ours).
  const TruncatedGumbelLaw law(2.0, 17.0);
  double err = 0;
  const double total = boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
      [&](double t) { return 8.5 * law.Pdf(8.5 * t); }, -2.0, 2.0, 15, 1e-13, &err);
  EXPECT_NEAR(total, 1.0, 1e-10);
}

TEST(AuditLawTest, PoissonLogTailMatchesTheLibrary) {
  for (const auto& [mu, kmax] : std::vector<std::pair<double, uint64_t>>{
           {std::log(4970.0), 4970}, {std::log(49999.0), 49999}, {3.0, 5}, {0.0, 10}}) {
    SCOPED_TRACE(::testing::Message() << "mu = " << mu << ", kmax = " << kmax);
    const PoissonLogLaw law(mu, kmax);
    const TruncatedPoisson lib(mu, kmax);
    EXPECT_EQ(law.LogTailAtLeast(0), 0.0);
    for (uint64_t r = 1; r <= std::min<uint64_t>(kmax, 400); ++r) {
      const double a = law.LogTailAtLeast(r);
      const double b = lib.LogTailAtLeast(r);
      if (std::isinf(b)) {
        EXPECT_TRUE(std::isinf(a)) << r;
      } else {
        EXPECT_NEAR(a, b, 1e-10 * std::max(1.0, std::fabs(b))) << "r = " << r;
      }
      if (lib.Pmf(r) > 1e-300) {
        EXPECT_NEAR(std::exp(law.LogPmf(r)), lib.Pmf(r), 1e-10 * lib.Pmf(r)) << r;
      }
    }
    EXPECT_EQ(law.LogTailAtLeast(kmax + 1), -std::numeric_limits<double>::infinity());
  }
  // Far into the tail: ln P(K >= 40000) at mu = 10.8 is about -2.8e5, and the
  // table agrees with a direct log-sum-exp of a few lgamma terms.
  const PoissonLogLaw law(std::log(49999.0), 49999);
  const double mu = std::log(49999.0);
  double direct = -std::numeric_limits<double>::infinity();
  for (int k = 40000; k < 40100; ++k) {
    const double t = k * std::log(mu) - mu - std::lgamma(k + 1.0);
    direct = std::max(direct, t) + std::log1p(std::exp(-std::fabs(direct - t)));
  }
  EXPECT_NEAR(law.LogTailAtLeast(40000), direct, 1e-6 * std::fabs(direct));
  EXPECT_LT(law.LogTailAtLeast(40000), -2e5);
}

TEST(AuditLawTest, ClopperPearsonKnownValues) {
  // 0 of 10 and 10 of 10 have closed forms: (alpha/2)^(1/n).
  auto zero = ClopperPearson(0, 10, 0.05);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->lo, 0.0);
  EXPECT_NEAR(zero->hi, 1 - std::pow(0.025, 0.1), 1e-12);
  auto all = ClopperPearson(10, 10, 0.05);
  ASSERT_TRUE(all.ok());
  EXPECT_NEAR(all->lo, std::pow(0.025, 0.1), 1e-12);
  EXPECT_EQ(all->hi, 1.0);
  // 50 of 100 at 95%: [0.3983, 0.6017] (standard tables).
  auto half = ClopperPearson(50, 100, 0.05);
  ASSERT_TRUE(half.ok());
  EXPECT_NEAR(half->lo, 0.3983, 1e-4);
  EXPECT_NEAR(half->hi, 0.6017, 1e-4);
  EXPECT_FALSE(ClopperPearson(11, 10, 0.05).ok());
}

// ---------------------------------------------------------------------------
// The exact law against the real sampler.

struct LawCase {
  const char* word;
  double b;  // <= 0: calibrated at eps = 50 on the fixture
  uint64_t doc_id;
};

std::string LawCaseName(const ::testing::TestParamInfo<LawCase>& info) {
  std::string b = info.param.b <= 0 ? "calibrated" : std::to_string(info.param.b);
  for (char& c : b) {
    if (c == '.') c = '_';
  }
  b.erase(b.find_last_not_of('0') + 1);
  if (!b.empty() && b.back() == '_') b.pop_back();
  return std::string(info.param.word) + "_b_" + b;
}

struct LawAndDraws {
  TgExactLaw law;
  std::vector<double> counts;  // ranks 0..K, then one cell for beyond K
};

LawAndDraws ComputeAndDraw(const char* word_text, double b_param, uint64_t doc_id) {
  const Engine& e = FixtureEngine();
  const VectorSet vs = e.vocab->vectors();
  const WordId word = e.vocab->Find(word_text).value();
  const TgParams params{FixtureTg().mu, b_param > 0 ? b_param : FixtureTg().b,
                        FixtureTg().delta_max};
  std::vector<Neighbor> list;
  ExactNeighborsScan(vs, word, kDepth, &list);
  std::vector<double> dist = {0.0};
  std::unordered_map<WordId, size_t> rank_of = {{word, 0}};
  for (size_t r = 0; r < list.size(); ++r) {
    dist.push_back(list[r].dist);
    rank_of[list[r].id] = r + 1;
  }
  const TruncatedGumbelLaw gumbel(params.b, params.delta_max);
  const PoissonLogLaw poisson(params.mu, vs.n - 1);
  auto law = ComputeTgExactLaw(dist, gumbel, poisson);
  EXPECT_TRUE(law.ok()) << law.status().message();
  LawAndDraws out;
  if (!law.ok()) return out;
  out.law = std::move(law).value();
  CachedExactSource source(vs, 256);
  TgSelector selector(params, vs.n, source);
  const RunKey key = RunKey::FromSeed("audit-test");
  out.counts.assign(kDepth + 2, 0.0);
  std::vector<Neighbor> scratch;
  for (int i = 0; i < kDraws; ++i) {
    WordRng rng(key, doc_id, 0, static_cast<uint64_t>(i));
    const auto it = rank_of.find(selector.Select(word, rng, &scratch));
    out.counts[it == rank_of.end() ? kDepth + 1 : it->second] += 1;
  }
  return out;
}

std::vector<double> Expected(const TgExactLaw& law) {
  std::vector<double> expected(kDepth + 2, 0.0);
  double total = 0;
  for (size_t i = 0; i <= kDepth; ++i) {
    const double p = std::exp(law.log_p[i]);
    expected[i] = kDraws * p;
    total += p;
  }
  expected[kDepth + 1] = kDraws * std::max(0.0, 1 - total);
  return expected;
}

class AuditExactLawTest : public ::testing::TestWithParam<LawCase> {};

TEST_P(AuditExactLawTest, SamplerFrequenciesMatchTheExactLaw) {
  const LawCase& c = GetParam();
  const LawAndDraws r = ComputeAndDraw(c.word, c.b, c.doc_id);
  ASSERT_EQ(r.law.log_p.size(), kDepth + 1);
  // The quadrature met its tolerance, and the law sums to P(k <= K).
  EXPECT_TRUE(r.law.converged);
  EXPECT_LT(r.law.max_rel_err, 1e-9);
  EXPECT_LT(r.law.sum_rule, 1e-12);
  EXPECT_LT(r.law.log_tail, -40);
  const ChiSquareResult chi = ChiSquareTest(r.counts, Expected(r.law));
  std::printf(
      "[stat] audit law %-8s b = %-7.4g P(unchanged) = %.5f (observed %.5f); chi2 = %.2f "
      "df = %d p = %.4f; panels %zu, rel err %.1e, sum rule %.1e\n",
      c.word, c.b > 0 ? c.b : FixtureTg().b, std::exp(r.law.log_p[0]), r.counts[0] / kDraws,
      chi.stat, chi.df, chi.p, r.law.panels, r.law.max_rel_err, r.law.sum_rule);
  EXPECT_GT(chi.p, kAlpha) << "chi2 = " << chi.stat << ", df = " << chi.df;
}

INSTANTIATE_TEST_SUITE_P(AuditFixture, AuditExactLawTest,
                         ::testing::Values(LawCase{"october", 0.1, 11}, LawCase{"october", 0.5, 12},
                                           LawCase{"good", 2.0, 13}, LawCase{"good", 0.0, 14},
                                           LawCase{"house", 5.0, 15}, LawCase{"house", 0.0, 16}),
                         LawCaseName);

TEST(AuditExactLawControlTest, RejectsAPerturbedLaw) {
  const LawAndDraws r = ComputeAndDraw("good", 2.0, 13);
  std::vector<double> expected = Expected(r.law);
  const ChiSquareResult right = ChiSquareTest(r.counts, expected);
  const size_t top = std::max_element(expected.begin(), expected.end()) - expected.begin();
  const double shift = 0.02 * expected[top];
  expected[top] -= shift;
  expected[top + 1] += shift;
  const ChiSquareResult wrong = ChiSquareTest(r.counts, expected);
  std::printf("[stat] audit control good b = 2: exact p = %.4f, 2%% perturbed p = %.3g\n", right.p,
              wrong.p);
  EXPECT_GT(right.p, kAlpha);
  EXPECT_LT(wrong.p, kDraws >= 100000 ? 1e-10 : 1e-3);
}

// The quadrature-free lower bound used past the integration depth is below
// the exact value at every integrated rank, and not far below it; the exact
// value is below the Poisson tail bound.
TEST(AuditLawTest, LowerBoundAndTailBracketTheExactLaw) {
  const Engine& e = FixtureEngine();
  const VectorSet vs = e.vocab->vectors();
  for (const char* w : {"good", "october"}) {
    for (double b : {1.0, FixtureTg().b}) {
      SCOPED_TRACE(::testing::Message() << w << ", b = " << b);
      const WordId word = e.vocab->Find(w).value();
      std::vector<Neighbor> list;
      ExactNeighborsScan(vs, word, 128, &list);
      std::vector<double> dist = {0.0};
      for (const Neighbor& nb : list) dist.push_back(nb.dist);
      const TruncatedGumbelLaw gumbel(b, FixtureTg().delta_max);
      const PoissonLogLaw poisson(FixtureTg().mu, vs.n - 1);
      auto law = ComputeTgExactLaw(dist, gumbel, poisson);
      ASSERT_TRUE(law.ok());
      for (size_t r = 0; r <= 128; ++r) {
        const double exact = law->log_p[r];
        ASSERT_GT(exact, -std::numeric_limits<double>::infinity()) << r;
        const double lower = TgLogLowerBound(dist.data(), r, gumbel, poisson);
        EXPECT_LE(lower, exact) << "rank " << r;
        // The bound keeps only k = r (losing at most P(k >= r) / P(k = r))
        // and one threshold (about a factor e (r + 1) when the noise is wide).
        const double kept = poisson.LogTailAtLeast(r) - poisson.LogPmf(r);
        EXPECT_GE(lower, exact - kept - std::log(2.718281828 * (r + 1)) - 3) << "rank " << r;
        // The tail bound P(k >= r) is above (allowing for the mass beyond K).
        EXPECT_LE(exact, poisson.LogTailAtLeast(r) + 1e-12) << "rank " << r;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// The whole audit on the fixture.

TEST(AuditRunTest, TgOnTheFixture) {
  Engine& e = FixtureEngine(50);
  AuditOptions opt;
  opt.pairs = 10;
  opt.depth = 64;
  opt.utility_words = 2;
  opt.threads = 2;
  auto report = RunAudit(FixtureInputs(e), opt);
  ASSERT_TRUE(report.ok()) << report.status().message();
  const AuditReport& r = report.value();
  ASSERT_EQ(r.pairs.size(), 10u);
  EXPECT_EQ(r.eps, 50);
  EXPECT_TRUE(r.numerics.converged);
  EXPECT_LT(r.numerics.max_rel_err, 1e-9);
  EXPECT_LT(r.numerics.max_sum_rule, 1e-12);
  size_t exceeding = 0;
  for (const AuditPair& p : r.pairs) {
    SCOPED_TRACE(p.word + " / " + p.word2);
    EXPECT_GT(p.distance, 0);
    EXPECT_GT(p.worst_lower, 0);
    EXPECT_GE(p.worst_lower, p.typical_lower - 1e-9);
    EXPECT_LE(p.typical_lower, p.typical_estimate + 1e-9);
    EXPECT_LE(p.typical_estimate, p.typical_upper + 1e-9);
    EXPECT_GE(p.typical_outputs, 1u);
    exceeding += p.exceeds ? 1 : 0;
  }
  // Every category is present twice; the summary's last row is "all".
  ASSERT_EQ(r.categories.size(), 6u);
  for (size_t c = 0; c < 5; ++c) EXPECT_EQ(r.categories[c].pairs, 2u);
  EXPECT_EQ(r.categories.back().category, "all");
  EXPECT_EQ(r.categories.back().exceeding, exceeding);
  ASSERT_EQ(r.deciles.size(), 10u);
  for (const DecileUtility& u : r.deciles) {
    EXPECT_GE(u.words, 2u);
    EXPECT_GT(u.p_unchanged, 0);
    EXPECT_LT(u.p_unchanged, 1);
  }
  // The finding of docs/privacy-audit.md, on the fixture: words reachable
  // only through a rare large k make the certified loss exceed the nominal
  // eps for the sampled pairs.
  std::printf(
      "[stat] audit tg fixture eps 50: %zu of %zu pairs exceed eps; worst lower bound "
      "max %.4g, typical max %.4g\n",
      exceeding, r.pairs.size(), r.categories.back().max_worst, r.categories.back().max_typical);
  EXPECT_GT(exceeding, 0u);
  const nlohmann::json j = AuditReportToJson(r);
  EXPECT_EQ(j["format"], "dpsanitize-audit/1");
  EXPECT_EQ(j["pairs"].size(), 10u);
  EXPECT_NE(FormatAuditTable(r).find("claimed: eps = 50"), std::string::npos);
  EXPECT_NE(AuditGnuplotScript(r, "x.png").find("claimed eps = 50"), std::string::npos);
  // The same seed gives the same pairs and numbers.
  auto again = RunAudit(FixtureInputs(e), opt);
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < r.pairs.size(); ++i) {
    EXPECT_EQ(again->pairs[i].word, r.pairs[i].word);
    EXPECT_EQ(again->pairs[i].worst_lower, r.pairs[i].worst_lower);
  }
}

// The Monte Carlo audit of the noisy-point mechanisms at eps 10 on the
// fixture: mvl, mahalanobis (default lambda; the loss per Euclidean distance
// against the claimed Euclidean eps, docs/mechanism.md) and vickrey (default
// t on mvl's noise; its law draws the coin after the noise as the sampler
// does, and the claim is mvl's eps).
class MonteCarloAuditTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MonteCarloAuditTest, StaysWithinItsProvenEpsilon) {
  Engine& e = FixtureEngine(10, GetParam());
  AuditOptions opt;
  opt.pairs = 5;
  opt.samples = kDraws >= 100000 ? 4000 : 1000;
  opt.utility_words = 1;
  auto report = RunAudit(FixtureInputs(e), opt);
  ASSERT_TRUE(report.ok()) << report.status().message();
  for (const AuditPair& p : report->pairs) {
    SCOPED_TRACE(p.word + " / " + p.word2);
    // The lower confidence bound (simultaneous 95% per pair) of the loss
    // stays below the proven eps: an implementation that broke the noise
    // scale would show here.
    EXPECT_LE(p.worst_lower, 10.0);
    EXPECT_GE(p.worst_lower, 0.0);
    if (std::isfinite(p.typical_estimate)) {
      EXPECT_LE(p.typical_estimate, p.typical_upper + 1e-12);
    }
  }
  EXPECT_EQ(report->categories.back().exceeding, 0u);
}

INSTANTIATE_TEST_SUITE_P(NoisyPoint, MonteCarloAuditTest,
                         ::testing::Values("mvl", "mahalanobis", "vickrey"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST(AuditRunTest, RefusesADepthTooShallowForTypicalOutputs) {
  Engine& e = FixtureEngine(50);
  AuditOptions opt;
  opt.pairs = 5;
  opt.depth = 5;
  auto report = RunAudit(FixtureInputs(e), opt);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kUsage);
}

// ---------------------------------------------------------------------------
// An exact law plugs in through the registry's interfaces alone: the
// exponential mechanism P[M(w) = y] ~ exp(-beta d(w, y)) (2 beta-metric-DP),
// written here from its definition, audited by the unchanged audit.

// ln P[M(w) = y] for every y, and each y's rank in w's (distance, id) order.
void ExpLaw(const VectorSet& vs, WordId w, double beta, std::vector<double>* log_p,
            std::vector<uint64_t>* rank_of) {
  log_p->assign(vs.n, 0.0);
  double top = -std::numeric_limits<double>::infinity();
  for (WordId y = 0; y < vs.n; ++y) {
    (*log_p)[y] = -beta * (y == w ? 0.0 : Distance(vs, w, y));
    top = std::max(top, (*log_p)[y]);
  }
  double z = 0;
  for (double lp : *log_p) z += std::exp(lp - top);
  for (double& lp : *log_p) lp -= top + std::log(z);
  std::vector<Neighbor> list;
  ExactNeighborsScan(vs, w, vs.n - 1, &list);
  rank_of->assign(vs.n, 0);
  for (size_t r = 0; r < list.size(); ++r) (*rank_of)[list[r].id] = r + 1;
}

class ExpBounds : public OutputBounds {
 public:
  ExpBounds(const VectorSet& vs, WordId w, double beta) : listed_(vs.n) {
    for (WordId y = 0; y < vs.n; ++y) listed_[y] = y;
    ExpLaw(vs, w, beta, &log_p_, &rank_of_);
  }
  const std::vector<WordId>& Listed() const override { return listed_; }
  double Estimate(WordId y) const override { return log_p_[y]; }
  LogInterval Interval(WordId y, bool) const override { return {log_p_[y], log_p_[y]}; }
  uint64_t Rank(WordId y) const override { return rank_of_[y]; }

 private:
  std::vector<WordId> listed_;
  std::vector<double> log_p_;
  std::vector<uint64_t> rank_of_;
};

class ExpOutputLaw : public OutputLaw {
 public:
  ExpOutputLaw(VectorSet vs, double beta) : vs_(vs), beta_(beta) {}
  LawKind kind() const override { return LawKind::kExact; }
  StatusOr<WordLaw> Of(WordId w) const override {
    ExpBounds b(vs_, w, beta_);
    WordLaw out;
    out.word = w;
    out.mean_rank = 0;
    for (WordId y = 0; y < vs_.n; ++y) {
      const double p = std::exp(b.Estimate(y));
      out.mean_distance += p * Distance(vs_, w, y);
      out.mean_rank += p * static_cast<double>(b.Rank(y));
    }
    out.p_unchanged = std::exp(b.Estimate(w));
    return out;
  }
  StatusOr<std::unique_ptr<OutputBounds>> Bounds(const WordLaw& law) const override {
    return std::unique_ptr<OutputBounds>(std::make_unique<ExpBounds>(vs_, law.word, beta_));
  }
  LawReport Describe(const LawNumerics&) const override {
    LawReport r;
    r.parameters = {{"beta", beta_}};
    r.text = fmt::format("noise: exponential mechanism, beta = {:g}\n", beta_);
    return r;
  }

 private:
  VectorSet vs_;
  double beta_;
};

// A plan that claims a proven eps and whose law is whatever `law` builds:
// the audit is fed laws written in the test (right or deliberately wrong).
class LawOnlyPlan : public MechanismPlan {
 public:
  using LawFactory = std::function<StatusOr<std::unique_ptr<OutputLaw>>(const LawContext&)>;
  LawOnlyPlan(double eps, std::string detail, LawFactory law)
      : eps_(eps), detail_(std::move(detail)), law_(std::move(law)) {}
  std::optional<double> eps() const override { return eps_; }
  EpsBasis basis() const override { return EpsBasis::kProven; }
  std::string basis_detail() const override { return detail_; }
  std::string statement_clause() const override { return "proven"; }
  std::vector<PlanRow> Rows() const override { return {}; }
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext&) const override {
    return InternalError("test plan: no sampler");
  }
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const override {
    return law_(ctx);
  }

 private:
  double eps_;
  std::string detail_;
  LawFactory law_;
};

TEST(AuditRunTest, AnExactLawPlugsInAndItsLossIsExact) {
  Engine& e = FixtureEngine(50);
  const double eps = 2.0;
  MechanismInfo info;
  info.name = "test-em";
  info.citation = "McSherry and Talwar 2007";
  const LawOnlyPlan plan(eps, "exponential mechanism", [eps](const LawContext& ctx) {
    return StatusOr<std::unique_ptr<OutputLaw>>(
        std::make_unique<ExpOutputLaw>(ctx.vectors, eps / 2));
  });
  AuditInputs in = FixtureInputs(e);
  in.info = &info;
  in.plan = &plan;
  AuditOptions opt;
  opt.pairs = 10;
  opt.utility_words = 1;
  opt.threads = 2;
  auto report = RunAudit(in, opt);
  ASSERT_TRUE(report.ok()) << report.status().message();
  const AuditReport& r = report.value();
  EXPECT_EQ(r.law_kind, LawKind::kExact);
  EXPECT_EQ(r.eps_basis, "proven (McSherry and Talwar 2007)");
  ASSERT_EQ(r.pairs.size(), 10u);
  const VectorSet vs = e.vocab->vectors();
  for (const AuditPair& p : r.pairs) {
    SCOPED_TRACE(p.word + " / " + p.word2);
    // The worst case over all of V, recomputed here.
    std::vector<double> a, b;
    std::vector<uint64_t> ra, rb;
    ExpLaw(vs, p.w, eps / 2, &a, &ra);
    ExpLaw(vs, p.w2, eps / 2, &b, &rb);
    double worst = 0;
    for (WordId y = 0; y < vs.n; ++y) worst = std::max(worst, std::fabs(a[y] - b[y]));
    EXPECT_NEAR(p.worst_lower, worst / p.distance, 1e-12 * worst / p.distance);
    // Exact laws: the typical loss is a point, and the proof holds.
    EXPECT_EQ(p.typical_lower, p.typical_estimate);
    EXPECT_EQ(p.typical_upper, p.typical_estimate);
    EXPECT_LE(p.worst_lower, eps * (1 + 1e-9));
    EXPECT_FALSE(p.exceeds);
    EXPECT_EQ(p.impossible_outputs, 0u);
  }
  EXPECT_EQ(r.categories.back().exceeding, 0u);
  const nlohmann::json j = AuditReportToJson(r);
  EXPECT_EQ(j["parameters"]["beta"], eps / 2);
  EXPECT_FALSE(j["pairs"][0].contains("implementation_impossible_outputs"));
  EXPECT_TRUE(j["pairs"][0].contains("worst_output_ranks"));
  EXPECT_NE(FormatAuditTable(r).find("exact worst case over all outputs"), std::string::npos);
}

// ---------------------------------------------------------------------------
// em and tem: the exact law of exp_mech_law.h, through the real plans.

// ln P[M(w) = y] = ln alpha(y) - beta min(d(w, y), gamma) - ln Z(w) for every
// y, written from the definition (spec section 2b) with a long double sum,
// independently of exp_mech.cpp and exp_mech_law.cpp.
std::vector<double> BruteForceLogLaw(const VectorSet& vs, WordId w, const ExpMechParams& p) {
  std::vector<double> lw(vs.n);
  double top = -std::numeric_limits<double>::infinity();
  for (WordId y = 0; y < vs.n; ++y) {
    const double d = y == w ? 0.0 : Distance(vs, w, y);
    lw[y] = (p.log_alpha ? p.log_alpha[y] : 0.0) - p.beta * std::min(d, p.gamma);
    top = std::max(top, lw[y]);
  }
  long double z = 0;
  for (double l : lw) z += std::exp(static_cast<long double>(l - top));
  const double log_z = top + static_cast<double>(std::log(z));
  for (double& l : lw) l -= log_z;
  return lw;
}

// The exact worst-case loss of a pair, max_y |ln P_w(y) - ln P_w2(y)| / d,
// from two brute-force laws.
double BruteForceLoss(const VectorSet& vs, WordId w, WordId w2, const ExpMechParams& p) {
  const std::vector<double> a = BruteForceLogLaw(vs, w, p);
  const std::vector<double> b = BruteForceLogLaw(vs, w2, p);
  double worst = 0;
  for (WordId y = 0; y < vs.n; ++y) worst = std::max(worst, std::fabs(a[y] - b[y]));
  return worst / Distance(vs, w, w2);
}

struct ExpAuditCase {
  const char* mechanism;
  double eps;
};

class AuditExpMechTest : public ::testing::TestWithParam<ExpAuditCase> {};

// The real em and tem plans (Config mechanism "em" / "tem", tem's default
// gamma), audited by the unchanged audit: every pair's exact worst-case loss
// is within the claimed eps, and it is the loss recomputed here by brute
// force over every output.
TEST_P(AuditExpMechTest, ExactLossIsWithinTheClaimedEps) {
  const ExpAuditCase& c = GetParam();
  Engine& e = FixtureEngine(c.eps, c.mechanism);
  ASSERT_NE(e.plan, nullptr);
  const ExpMechParams params = static_cast<const ExpMechPlan&>(*e.plan).params();
  EXPECT_EQ(params.beta, c.eps / 2);
  AuditOptions opt;
  opt.pairs = 10;
  opt.utility_words = 1;
  opt.threads = 2;
  auto report = RunAudit(FixtureInputs(e), opt);
  ASSERT_TRUE(report.ok()) << report.status().message();
  const AuditReport& r = report.value();
  EXPECT_EQ(r.mechanism, c.mechanism);
  EXPECT_EQ(r.law_kind, LawKind::kExact);
  EXPECT_EQ(r.eps, c.eps);
  EXPECT_EQ(r.eps_basis_kind, "proven");
  EXPECT_LT(r.numerics.max_sum_rule, 1e-13);
  ASSERT_EQ(r.pairs.size(), 10u);
  const VectorSet vs = e.vocab->vectors();
  double largest = 0;
  for (const AuditPair& p : r.pairs) {
    SCOPED_TRACE(p.category + ": " + p.word + " / " + p.word2);
    const double brute = BruteForceLoss(vs, p.w, p.w2, params);
    EXPECT_NEAR(p.worst_lower, brute, 1e-9 * brute);
    EXPECT_LE(p.worst_lower, c.eps);
    EXPECT_FALSE(p.exceeds);
    // At least half of the proof's bound is reached: at y = w (or w') the
    // score term alone is beta s(w, w') (= eps d / 2 for em; tem's score
    // stops at gamma), and ln Z(w') - ln Z(w) adds to one of the directions.
    const double s_pair = std::min(p.distance, params.gamma);
    EXPECT_GE(p.worst_lower, c.eps / 2 * s_pair / p.distance * (1 - 1e-12));
    // An exact law: the typical loss is a point, and never above the worst.
    EXPECT_EQ(p.typical_lower, p.typical_estimate);
    EXPECT_EQ(p.typical_upper, p.typical_estimate);
    EXPECT_LE(p.typical_estimate, p.worst_lower);
    EXPECT_EQ(p.impossible_outputs, 0u);
    largest = std::max(largest, p.worst_lower / c.eps);
  }
  EXPECT_EQ(r.categories.back().exceeding, 0u);
  std::printf("[stat] audit %s fixture eps %g: largest loss/eps %.4f; per category max:",
              c.mechanism, c.eps, largest);
  for (const CategorySummary& s : r.categories) {
    std::printf(" %s %.4f", s.category.c_str(), s.max_worst / c.eps);
  }
  std::printf("\n");
  const nlohmann::json j = AuditReportToJson(r);
  EXPECT_EQ(j["parameters"]["beta"], c.eps / 2);
  EXPECT_EQ(j["parameters"]["eps_bound_2beta"], c.eps);
  EXPECT_NE(FormatAuditTable(r).find("exact worst case over all outputs"), std::string::npos);
  for (const DecileUtility& u : r.deciles) {
    EXPECT_GT(u.p_unchanged, 0);
    EXPECT_LT(u.p_unchanged, 1);
  }
}

std::string ExpAuditCaseName(const ::testing::TestParamInfo<ExpAuditCase>& info) {
  return std::string(info.param.mechanism) + "_eps_" +
         std::to_string(static_cast<int>(info.param.eps));
}

INSTANTIATE_TEST_SUITE_P(AuditFixture, AuditExpMechTest,
                         ::testing::Values(ExpAuditCase{"em", 1}, ExpAuditCase{"em", 3},
                                           ExpAuditCase{"em", 8}, ExpAuditCase{"tem", 1},
                                           ExpAuditCase{"tem", 3}, ExpAuditCase{"tem", 8}),
                         ExpAuditCaseName);

// The negative test: the audit must flag the wrong law. At y = w the
// score term alone is eps d, and ln Z(w') - ln Z(w) adds to one of the two
// directions, so every pair's loss is at least eps, and above it by
// |ln Z(w') - ln Z(w)| / d. That excess is what the audit can see: large
// where the law spreads over many words (eps = 1 on the fixture: up to 1.3
// eps), and below double precision where w takes nearly all the mass
// (eps = 8 with beta = 8: Z(w) = 1 + O(e^-13), so ln Z(w) rounds to 0 and the
// computed loss is eps d / d = eps itself). So violations are required at
// eps = 1 and 3, and at eps = 8 the loss must sit at eps, never below it.
TEST(AuditExpMechWrongLawTest, FlagsExpMinusEpsD) {
  for (double eps : {1.0, 3.0, 8.0}) {
    SCOPED_TRACE(::testing::Message() << "eps = " << eps);
    Engine& e = FixtureEngine(eps, "em");
    // Claims eps, but its law is exp(-eps d) (beta = eps, twice em's): the law
    // of a 2 eps-metric-DP mechanism, as a bug that dropped the 1/2 would give.
    const LawOnlyPlan plan(eps, "a wrong exponential mechanism", [eps](const LawContext& ctx) {
      return MakeExpMechOutputLaw(ExpMechParams{eps, std::numeric_limits<double>::infinity()}, ctx);
    });
    AuditInputs in = FixtureInputs(e);
    in.plan = &plan;
    AuditOptions opt;
    opt.pairs = 10;
    opt.utility_words = 1;
    opt.threads = 2;
    auto report = RunAudit(in, opt);
    ASSERT_TRUE(report.ok()) << report.status().message();
    const AuditReport& r = report.value();
    double smallest = std::numeric_limits<double>::infinity(), largest = 0;
    for (const AuditPair& p : r.pairs) {
      SCOPED_TRACE(p.word + " / " + p.word2);
      EXPECT_GE(p.worst_lower, eps * (1 - 1e-12));
      EXPECT_LE(p.worst_lower, 2 * eps * (1 + 1e-12));
      if (eps < 8) {
        // Clear of rounding: the smallest excess here is about 7e-7 eps.
        EXPECT_GT(p.worst_lower, eps * (1 + 1e-9));
        EXPECT_TRUE(p.exceeds);
      }
      smallest = std::min(smallest, p.worst_lower / eps);
      largest = std::max(largest, p.worst_lower / eps);
    }
    if (eps < 8) {
      EXPECT_EQ(r.categories.back().exceeding, r.pairs.size());
      EXPECT_NE(FormatAuditTable(r).find("  > eps"), std::string::npos);
    }
    std::printf(
        "[stat] audit wrong law exp(-eps d) fixture eps %g: %zu of %zu pairs > eps, loss/eps "
        "%.9f to %.9f\n",
        eps, r.categories.back().exceeding, r.pairs.size(), smallest, largest);
  }
}

// Of() and Bounds() against the definition, by brute force over every
// output: ln P, y's rank in w's (distance, id) order (ExactNeighborsScan),
// P[M(w) = w], E[d], E[rank] and P[one of the 10 nearest].
TEST(ExpMechOutputLawTest, FiguresMatchABruteForceComputation) {
  const Engine& e = FixtureEngine(3, "em");
  const VectorSet vs = e.vocab->vectors();
  // A per-output weight (bem's hook), deterministic and far from uniform.
  std::vector<double> log_alpha(vs.n);
  for (size_t y = 0; y < vs.n; ++y) log_alpha[y] = std::sin(0.37 * static_cast<double>(y)) * 2;
  const double inf = std::numeric_limits<double>::infinity();
  struct Setting {
    const char* name;
    ExpMechParams p;
  };
  const std::vector<Setting> settings = {
      {"em eps 1", EmParams(1)},
      {"em eps 3", EmParams(3)},
      {"em eps 8", EmParams(8)},
      {"em eps 60", EmParams(60)},  // weights down to e^-300 and below
      {"tem eps 3 gamma 4", TemParams(3, 4)},
      {"alpha beta 1.5", ExpMechParams{1.5, inf, log_alpha.data()}},
  };
  LawContext ctx;
  ctx.vectors = vs;
  for (const Setting& s : settings) {
    auto made = MakeExpMechOutputLaw(s.p, ctx);
    ASSERT_TRUE(made.ok()) << made.status().message();
    const OutputLaw& law = *made.value();
    EXPECT_EQ(law.kind(), LawKind::kExact);
    for (const char* text : {"good", "october", "house", "the"}) {
      SCOPED_TRACE(::testing::Message() << s.name << ", " << text);
      const WordId w = e.vocab->Find(text).value();
      auto of = law.Of(w);
      ASSERT_TRUE(of.ok()) << of.status().message();
      const WordLaw& lw = of.value();
      EXPECT_EQ(lw.word, w);
      EXPECT_LT(lw.numerics.max_sum_rule, 1e-13);

      const std::vector<double> brute = BruteForceLogLaw(vs, w, s.p);
      std::vector<Neighbor> order;
      ExactNeighborsScan(vs, w, vs.n - 1, &order);
      std::vector<uint64_t> rank_of(vs.n, 0);
      double mean_rank = 0, mean_distance = 0, near10 = 0;
      for (size_t r = 0; r < order.size(); ++r) {
        rank_of[order[r].id] = r + 1;
        const double p = std::exp(brute[order[r].id]);
        mean_rank += p * static_cast<double>(r + 1);
        mean_distance += p * order[r].dist;
        if (r < 10) near10 += p;
      }
      const double p_w = std::exp(brute[w]);
      EXPECT_NEAR(lw.p_unchanged, p_w, 1e-12 * p_w);
      EXPECT_NEAR(lw.mean_distance, mean_distance, 1e-12 * mean_distance);
      EXPECT_NEAR(lw.mean_rank, mean_rank, 1e-12 * mean_rank + 1e-300);
      EXPECT_NEAR(lw.p_near10, near10, 1e-12 * near10 + 1e-300);

      auto bounds = law.Bounds(lw);
      ASSERT_TRUE(bounds.ok()) << bounds.status().message();
      const OutputBounds& b = *bounds.value();
      ASSERT_EQ(b.Listed().size(), vs.n);
      std::vector<double> lib;
      ExpMechLogLaw(vs, w, s.p, &lib);
      double max_err = 0;
      for (WordId y = 0; y < vs.n; ++y) {
        ASSERT_EQ(b.Listed()[y], y);
        const double l = b.Estimate(y);
        // Bitwise the library's ExpMechLogLaw (same distances, same sum),
        // and the brute force to rounding, however small P is.
        ASSERT_EQ(l, lib[y]) << y;
        ASSERT_TRUE(std::isfinite(l)) << y;
        max_err = std::max(max_err, std::fabs(l - brute[y]) / std::max(1.0, std::fabs(brute[y])));
        const LogInterval iv = b.Interval(y, true);
        ASSERT_EQ(iv.lo, l);
        ASSERT_EQ(iv.hi, l);
      }
      EXPECT_LT(max_err, 1e-13);
      EXPECT_EQ(b.Rank(w), 0u);
      for (WordId y = 0; y < vs.n; y += 37) {
        if (y != w) {
          EXPECT_EQ(b.Rank(y), rank_of[y]) << y;
        }
      }
      for (size_t r = 0; r < 12; ++r) EXPECT_EQ(b.Rank(order[r].id), r + 1);
      EXPECT_EQ(b.Rank(order.back().id), vs.n - 1);
    }
  }
}

// The law refuses parameters without a law, and states its parameters.
TEST(ExpMechOutputLawTest, RefusesBadParametersAndDescribesItself) {
  const Engine& e = FixtureEngine(3, "em");
  LawContext ctx;
  ctx.vectors = e.vocab->vectors();
  EXPECT_FALSE(MakeExpMechOutputLaw(ExpMechParams{-1, 1}, ctx).ok());
  EXPECT_FALSE(MakeExpMechOutputLaw(TemParams(3, 0), ctx).ok());
  EXPECT_FALSE(MakeExpMechOutputLaw(EmParams(3), LawContext{}).ok());
  auto em = MakeExpMechOutputLaw(EmParams(3), ctx);
  ASSERT_TRUE(em.ok());
  const LawReport d = em.value()->Describe(LawNumerics{});
  EXPECT_EQ(d.parameters["beta"], 1.5);
  EXPECT_TRUE(d.parameters["gamma"].is_null());
  EXPECT_EQ(d.parameters["eps_bound_2beta"], 3.0);
  EXPECT_NE(d.text.find("beta = 1.5"), std::string::npos);
  auto tem = MakeExpMechOutputLaw(TemParams(3, 4.5), ctx);
  ASSERT_TRUE(tem.ok());
  const LawReport t = tem.value()->Describe(LawNumerics{});
  EXPECT_EQ(t.parameters["gamma"], 4.5);
  EXPECT_NE(t.text.find("gamma = 4.5"), std::string::npos);
  EXPECT_FALSE(tem.value()->Of(static_cast<WordId>(ctx.vectors.n)).ok());
}

// Of() on many words, on one thread: the cost calibrate pays per word (it
// calls Of() on 1,000 words of the vocabulary). Printed, not asserted: the
// fixture is a tenth of the default vocabulary, so the time per word there
// is about ten times this.
TEST(ExpMechOutputLawTest, TimePerWord) {
  const Engine& e = FixtureEngine(3, "em");
  LawContext ctx;
  ctx.vectors = e.vocab->vectors();
  auto law = MakeExpMechOutputLaw(EmParams(3), ctx);
  ASSERT_TRUE(law.ok());
  const size_t words = std::min<size_t>(200, ctx.vectors.n);
  const auto t0 = std::chrono::steady_clock::now();
  double sum = 0;
  for (WordId w = 0; w < words; ++w) {
    auto of = law.value()->Of(w);
    ASSERT_TRUE(of.ok());
    sum += of->p_unchanged;
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
      static_cast<double>(words);
  std::printf(
      "[stat] exp mech law: Of() %.3f ms per word at |V| = %zu, dim %u (mean P[M(w)=w] "
      "%.3f)\n",
      ms, ctx.vectors.n, ctx.vectors.dim, sum / static_cast<double>(words));
  EXPECT_GT(sum, 0);
}

}  // namespace
}  // namespace dpsanitize
