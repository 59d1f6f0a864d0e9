// Statistical test of the whole truncated Gumbel selector (spec section 2) on
// the fixture embedding: the output frequencies of TgSelector::Select are
// compared with the exact output distribution, computed here independently
// of the library's samplers by numerical integration.
//
// The exact law. Fix the source word w and its exact candidate list by
// (distance, id): d_0 = 0 (w itself) <= d_1 <= ... For k drawn neighbours,
// candidate c has score d_c + G_c with G_c i.i.d. max-stable Gumbel(0, b)
// truncated to [-D, D] (density f, survival S = 1 - F). Rank i wins when its
// score is the smallest (ties have probability zero), so with v = d_i + G_i
//   P[i wins | k] = integral f(v - d_i) prod_{j <= k, j != i} S(v - d_j) dv,
// and P[i wins] = sum_k pi_k P[i wins | k], pi_k the Poisson(mu) pmf
// conditioned on k <= |V| - 1. Every P[i | k] is integrated at once on a
// common grid in v (a vector-valued adaptive Gauss-Kronrod), over [-D, D]
// (beyond D, S(v - d_0) = 0) split at the kinks v = d_j - D.
//
// Significance. The chi-square tests assert p > kAlpha = 1e-4 and the other
// checks use 5 standard errors. Every draw comes from a fixed seed
// (RunKey::FromSeed("tg-test")), so the test is deterministic and cannot flake
// from run to run; the alpha only guards against a seed that happens to be
// unlucky when the test is first written. The negative controls below show
// that the same test rejects a wrong law (the mirror-image Gumbel, or a
// perturbed probability) with p-values far below alpha.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/calibration.h"
#include "dpsanitize/mechanisms/tg.h"
#include "dpsanitize/random/keyed_rng.h"
#include "statistical/cached_exact_source.h"
#include "statistical/fixture_vocabulary.h"
#include "statistical/goodness_of_fit.h"

namespace dpsanitize {
namespace {

constexpr double kAlpha = 1e-4;
constexpr int kDraws = 100000;
constexpr double kTailBound = 1e-12;  // Poisson mass left out of the mixture

// ---------------------------------------------------------------------------
// Oracle: written from the definitions, sharing no code with the library.

// Max-stable Gumbel(0, b), CDF Phi(x) = exp(-exp(-x/b)), conditioned on
// |x| <= D. `mirror` switches to the mirror image, 1 - exp(-exp(x/b)), for the
// negative control only.
class OracleGumbel {
 public:
  OracleGumbel(double b, double delta, bool mirror = false)
      : b_(b), delta_(delta), mirror_(mirror) {
    z_ = Phi(delta) - Phi(-delta);
  }
  // Untruncated CDF.
  double Phi(double x) const {
    return mirror_ ? -std::expm1(-std::exp(x / b_)) : std::exp(-std::exp(-x / b_));
  }
  double Density(double x) const {
    if (x < -delta_ || x > delta_) return 0.0;
    const double t = mirror_ ? -x / b_ : x / b_;
    return std::exp(-t - std::exp(-t)) / (b_ * z_);  // exp(-t - inf) = 0: no inf * 0
  }
  // S(x) = 1 - F(x) = P(G > x) of the truncated law.
  double Survival(double x) const {
    if (x <= -delta_) return 1.0;
    if (x >= delta_) return 0.0;
    return (Phi(delta_) - Phi(x)) / z_;
  }

 private:
  double b_;
  double delta_;
  bool mirror_;
  double z_;
};

// ln pmf of Poisson(mu) conditioned on k <= kmax (lgamma), as a vector up to
// the first K with sum_{k > K} pi_k < kTailBound.
std::vector<double> OraclePoissonPmf(double mu, uint64_t kmax, double* tail) {
  auto log_term = [mu](uint64_t k) {
    const double kk = static_cast<double>(k);
    return k == 0 ? -mu : kk * std::log(mu) - mu - std::lgamma(kk + 1.0);
  };
  // Normalising constant: sum over k <= kmax, stopping once the terms past the
  // mode are below 1e-300 relative (they cannot change the sum).
  std::vector<double> logs;
  for (uint64_t k = 0; k <= kmax; ++k) {
    logs.push_back(log_term(k));
    if (static_cast<double>(k) > mu && logs.back() < -700) break;
  }
  double norm = 0;
  for (double l : logs) norm += std::exp(l);
  std::vector<double> pmf;
  for (size_t k = 0; k < logs.size(); ++k) {
    pmf.push_back(std::exp(logs[k]) / norm);
    // The remaining tail, summed directly (not 1 - the sum so far, which rounds).
    double rest = 0;
    for (size_t j = k + 1; j < logs.size(); ++j) rest += std::exp(logs[j]) / norm;
    if (rest < kTailBound) {
      *tail = rest;
      return pmf;
    }
  }
  *tail = 0;
  return pmf;
}

// A vector that Boost's Gauss-Kronrod integrator can integrate component-wise:
// it needs +, -, products with scalars, construction from the literal 0, and
// abs() (here the max-norm, so the error control covers every component). An
// empty vector stands for zero.
class Vec {
 public:
  Vec() = default;
  Vec(int /*zero*/) {}  // NOLINT(runtime/explicit): the integrator writes `K x = 0`
  explicit Vec(std::vector<double> v) : v_(std::move(v)) {}
  const std::vector<double>& values() const { return v_; }
  double operator[](size_t i) const { return v_.empty() ? 0.0 : v_[i]; }

  Vec& operator+=(const Vec& o) {
    if (o.v_.empty()) return *this;
    if (v_.empty()) v_.assign(o.v_.size(), 0.0);
    for (size_t i = 0; i < v_.size(); ++i) v_[i] += o.v_[i];
    return *this;
  }
  Vec& operator*=(double s) {
    for (double& x : v_) x *= s;
    return *this;
  }
  friend Vec operator+(Vec a, const Vec& b) { return a += b; }
  friend Vec operator-(Vec a, const Vec& b) { return a += -b; }
  friend Vec operator-(Vec a) { return a *= -1.0; }
  friend Vec operator*(Vec a, double s) { return a *= s; }
  friend Vec operator*(double s, Vec a) { return a *= s; }
  friend double abs(const Vec& a) {
    double m = 0;
    for (double x : a.v_) m = std::max(m, std::abs(x));
    return m;
  }

 private:
  std::vector<double> v_;
};

// Index of P[i | k] in the integrand vector: k(k+1)/2 + i, 0 <= i <= k.
size_t Slot(size_t k, size_t i) { return k * (k + 1) / 2 + i; }

struct ExactLaw {
  std::vector<double> p_rank;       // P[rank i wins], i = 0..K
  std::vector<double> sum_given_k;  // sum_i P[i | k], should be 1 for every k
  double missing = 0;               // Poisson mass beyond K (unassigned)
  double quad_error = 0;            // the integrator's error estimate
};

// The exact output law over ranks 0..K for candidate distances `d` (d[0] = 0,
// nondecreasing, at least K + 1 entries).
ExactLaw ComputeExactLaw(const std::vector<double>& d, double mu, uint64_t kmax, double b,
                         double delta, bool mirror = false) {
  ExactLaw law;
  const std::vector<double> pmf = OraclePoissonPmf(mu, kmax, &law.missing);
  const size_t kk = pmf.size() - 1;  // K
  const OracleGumbel g(b, delta, mirror);
  // The integrand at v: every f(v - d_i) prod_{j <= k, j != i} S(v - d_j),
  // times `jacobian`.
  const size_t slots = Slot(kk + 1, 0) + 1;
  auto integrand = [&](double v, double jacobian) {
    std::vector<double> s(kk + 1);
    std::vector<double> out(slots, 0.0);
    for (size_t j = 0; j <= kk; ++j) s[j] = g.Survival(v - d[j]);
    double prefix = jacobian;  // jacobian * prod_{j < i} S(v - d_j)
    for (size_t i = 0; i <= kk; ++i) {
      double r = prefix * g.Density(v - d[i]);
      for (size_t k = i; k <= kk && r != 0; ++k) {
        out[Slot(k, i)] = r;
        if (k + 1 <= kk) r *= s[k + 1];
      }
      prefix *= s[i];
      if (prefix == 0) break;
    }
    // A constant 1 in the last slot. Boost's error control is relative to
    // the largest component; the constant makes it absolute (about 1e-12),
    // so pieces where the integrand is all but zero (values near 1e-320, with
    // few significant bits) are not refined to the maximal depth for nothing.
    out[slots - 1] = 1.0;
    return Vec(std::move(out));
  };
  // Pieces of [-D, D] between the kinks d_j - D.
  std::vector<double> cuts = {-delta, delta};
  for (size_t j = 1; j <= kk; ++j) {
    if (d[j] - delta > -delta && d[j] - delta < delta) cuts.push_back(d[j] - delta);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  Vec total;
  for (size_t p = 0; p + 1 < cuts.size(); ++p) {
    // Each piece is mapped onto [-1, 1] here: Boost 1.74's adaptive
    // Gauss-Kronrod compares its error estimate on [-1, 1] with a tolerance
    // on the piece's own scale, so a short piece (the kinks can be 1e-4
    // apart) would otherwise be refined to the maximal depth.
    const double mid = (cuts[p] + cuts[p + 1]) / 2;
    const double half = (cuts[p + 1] - cuts[p]) / 2;
    double err = 0;
    total += boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
        [&](double t) { return integrand(mid + half * t, half); }, -1.0, 1.0, 15, 1e-12, &err);
    law.quad_error += err;
  }
  law.p_rank.assign(kk + 1, 0.0);
  law.sum_given_k.assign(kk + 1, 0.0);
  for (size_t k = 0; k <= kk; ++k) {
    for (size_t i = 0; i <= k; ++i) {
      law.sum_given_k[k] += total[Slot(k, i)];
      law.p_rank[i] += pmf[k] * total[Slot(k, i)];
    }
  }
  return law;
}

// ---------------------------------------------------------------------------
// The fixture: embedding, vocabulary, and its calibration inputs, all computed
// here by brute force.

struct Fixture : FixtureVocabulary {
  double delta_min = 0;     // exact smallest positive pairwise distance
  double delta_max = 0;     // certified bound: 2 * max distance to the centroid
  double mu = 0;            // ln(|V| - 1)
  double b_calibrated = 0;  // CalibrateTg at kCalibratedEps
  double eps_min = 0;
};

constexpr double kCalibratedEps = 50;

double DistanceSquaredPruned(const float* a, const float* b, uint32_t dim, double bound) {
  double s = 0;
  for (uint32_t d = 0; d < dim; ++d) {
    const double t = static_cast<double>(a[d]) - static_cast<double>(b[d]);
    s += t * t;
    if ((d & 15) == 15 && s >= bound) return s;  // already too far
  }
  return s;
}

double ExactDistance(const VectorSet& v, size_t i, size_t j) {
  return std::sqrt(
      DistanceSquaredPruned(v.row(i), v.row(j), v.dim, std::numeric_limits<double>::infinity()));
}

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    auto* f = new Fixture;
    if (!OpenFixtureVocabulary(f)) return f;
    const VectorSet& v = f->vectors;
    // Certified delta_max (the default --delta-max): 2 max ||phi - centroid||.
    std::vector<double> centroid(v.dim, 0.0);
    for (size_t i = 0; i < v.n; ++i) {
      for (uint32_t d = 0; d < v.dim; ++d) centroid[d] += v.row(i)[d];
    }
    for (double& c : centroid) c /= static_cast<double>(v.n);
    double rmax = 0;
    for (size_t i = 0; i < v.n; ++i) {
      double s = 0;
      for (uint32_t d = 0; d < v.dim; ++d)
        s += (v.row(i)[d] - centroid[d]) * (v.row(i)[d] - centroid[d]);
      rmax = std::max(rmax, std::sqrt(s));
    }
    f->delta_max = 2 * rmax;
    // Exact delta_min over all pairs (partial sums pruned against the best).
    double best2 = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < v.n; ++i) {
      for (size_t j = i + 1; j < v.n; ++j) {
        const double s = DistanceSquaredPruned(v.row(i), v.row(j), v.dim, best2);
        if (s > 0 && s < best2) best2 = s;
      }
    }
    f->delta_min = std::sqrt(best2);
    f->mu = std::log(static_cast<double>(v.n - 1));
    auto cal = CalibrateTg(kCalibratedEps, v.n, f->delta_min, f->delta_max);
    f->eps_min = TgEpsMin(v.n, f->delta_min);
    if (cal.ok()) f->b_calibrated = cal->b;
    std::printf(
        "[stat] fixture |V| = %zu, delta_min = %.6f, delta_max (certified) = %.4f, "
        "eps_min = %.3f, b(eps = %g) = %.4f\n",
        v.n, f->delta_min, f->delta_max, f->eps_min, kCalibratedEps, f->b_calibrated);
    return f;
  }();
  return *fixture;
}

// Exact neighbour list of `word` by (distance, id), written here: all other
// words, sorted.
std::vector<Neighbor> BruteForceNeighbors(const VectorSet& v, WordId word) {
  std::vector<Neighbor> all;
  all.reserve(v.n);
  for (size_t j = 0; j < v.n; ++j) {
    if (j != word) all.push_back({static_cast<WordId>(j), ExactDistance(v, word, j)});
  }
  std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
  });
  return all;
}

// ---------------------------------------------------------------------------
// One configuration: a source word and a noise scale.

struct TgCase {
  const char* word;
  double b;         // <= 0: the calibrated b at kCalibratedEps
  uint64_t doc_id;  // document id of the case's random streams
};

void PrintTo(const TgCase& c, std::ostream* os) {
  *os << c.word << ", b = " << (c.b > 0 ? std::to_string(c.b) : "calibrated");
}

std::string CaseName(const ::testing::TestParamInfo<TgCase>& info) {
  std::string b = info.param.b <= 0 ? "calibrated" : std::to_string(info.param.b);
  for (char& c : b) {
    if (c == '.') c = '_';
  }
  b.erase(b.find_last_not_of('0') + 1);
  if (!b.empty() && b.back() == '_') b.pop_back();
  return std::string(info.param.word) + "_b_" + b;
}

// Counts of output ranks 0..K over kDraws seeded draws, plus a last cell for
// every output beyond rank K.
std::vector<double> DrawRankCounts(const Fixture& fx, WordId word, const TgParams& params,
                                   const std::vector<Neighbor>& exact, size_t kk, uint64_t doc_id) {
  CachedExactSource source(fx.vectors, 256);
  TgSelector selector(params, fx.vectors.n, source);
  std::unordered_map<WordId, size_t> rank_of = {{word, 0}};
  for (size_t r = 0; r < kk; ++r) rank_of[exact[r].id] = r + 1;
  std::vector<double> counts(kk + 2, 0.0);
  const RunKey key = RunKey::FromSeed("tg-test");
  std::vector<Neighbor> scratch;
  for (int i = 0; i < kDraws; ++i) {
    WordRng rng(key, doc_id, 0, static_cast<uint64_t>(i));
    const WordId out = selector.Select(word, rng, &scratch);
    auto it = rank_of.find(out);
    counts[it == rank_of.end() ? kk + 1 : it->second] += 1;
  }
  return counts;
}

class TgDistributionTest : public ::testing::TestWithParam<TgCase> {};

TEST_P(TgDistributionTest, OutputFrequenciesMatchExactLaw) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const TgCase& c = GetParam();
  const std::optional<WordId> word = fx.vocab->Find(c.word);
  ASSERT_TRUE(word.has_value()) << c.word;
  const double b = c.b > 0 ? c.b : fx.b_calibrated;
  ASSERT_GT(b, 0) << "calibration at eps = " << kCalibratedEps << " failed (eps_min " << fx.eps_min
                  << ")";
  const TgParams params{fx.mu, b, fx.delta_max};
  const uint64_t kmax = fx.vectors.n - 1;

  // The exact law over ranks, from the brute-force candidate distances.
  const std::vector<Neighbor> exact = BruteForceNeighbors(fx.vectors, *word);
  std::vector<double> d = {0.0};
  for (const Neighbor& nb : exact) d.push_back(nb.dist);
  const ExactLaw law = ComputeExactLaw(d, fx.mu, kmax, b, fx.delta_max);
  const size_t kk = law.p_rank.size() - 1;
  for (size_t k = 0; k <= kk; ++k) {
    ASSERT_NEAR(law.sum_given_k[k], 1.0, 1e-8) << "k = " << k;
  }
  double total = 0;
  for (double p : law.p_rank) total += p;
  EXPECT_NEAR(total, 1.0, 1e-6);
  EXPECT_LT(law.quad_error, 1e-9);

  // The draws.
  const std::vector<double> observed = DrawRankCounts(fx, *word, params, exact, kk, c.doc_id);
  std::vector<double> expected(kk + 2, 0.0);
  for (size_t i = 0; i <= kk; ++i) expected[i] = kDraws * law.p_rank[i];
  expected[kk + 1] = kDraws * std::max(0.0, 1.0 - total);
  const ChiSquareResult r = ChiSquareTest(observed, expected);

  const size_t top = std::max_element(law.p_rank.begin(), law.p_rank.end()) - law.p_rank.begin();
  const double p_top = law.p_rank[top];
  const double se_top = std::sqrt(p_top * (1 - p_top) / kDraws);
  const double freq_top = observed[top] / kDraws;
  std::printf(
      "[stat] tg %-8s b = %-8.4g K = %2zu P(rank0) = %.4f top rank %zu: exact %.5f, "
      "observed %.5f (%.2f SE); chi2 = %.2f df = %d p = %.4f; quad err %.1e\n",
      c.word, b, kk, law.p_rank[0], top, p_top, freq_top, (freq_top - p_top) / se_top, r.stat, r.df,
      r.p, law.quad_error);
  EXPECT_GT(r.p, kAlpha) << "chi2 = " << r.stat << ", df = " << r.df;
  EXPECT_NEAR(freq_top, p_top, 5 * se_top);
}

INSTANTIATE_TEST_SUITE_P(FixtureWords, TgDistributionTest,
                         ::testing::Values(TgCase{"october", 0.5, 1}, TgCase{"october", 2.0, 2},
                                           TgCase{"october", 0.0, 3}, TgCase{"good", 0.5, 4},
                                           TgCase{"good", 2.0, 5}, TgCase{"good", 0.0, 6},
                                           TgCase{"house", 0.5, 7}, TgCase{"house", 2.0, 8},
                                           TgCase{"house", 0.0, 9}),
                         CaseName);

// Negative controls: the same pipeline of checks must reject a wrong law.
// (1) the oracle with the mirror-image Gumbel; (2) the correct oracle with the
// top rank's probability moved by 2% of its value to the next rank.
TEST(TgDistributionControlTest, RejectsMirrorImageGumbelAndPerturbedLaw) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  const WordId word = fx.vocab->Find("good").value();
  const double b = 2.0;
  const TgParams params{fx.mu, b, fx.delta_max};
  const std::vector<Neighbor> exact = BruteForceNeighbors(fx.vectors, word);
  std::vector<double> d = {0.0};
  for (const Neighbor& nb : exact) d.push_back(nb.dist);
  const ExactLaw law = ComputeExactLaw(d, fx.mu, fx.vectors.n - 1, b, fx.delta_max);
  const ExactLaw mirror =
      ComputeExactLaw(d, fx.mu, fx.vectors.n - 1, b, fx.delta_max, /*mirror=*/true);
  const size_t kk = law.p_rank.size() - 1;
  ASSERT_EQ(mirror.p_rank.size(), kk + 1);
  const std::vector<double> observed = DrawRankCounts(fx, word, params, exact, kk, 777);
  auto test_against = [&](std::vector<double> p) {
    std::vector<double> expected(kk + 2, 0.0);
    double total = 0;
    for (size_t i = 0; i <= kk; ++i) {
      expected[i] = kDraws * p[i];
      total += p[i];
    }
    expected[kk + 1] = kDraws * std::max(0.0, 1.0 - total);
    return ChiSquareTest(observed, expected);
  };
  const ChiSquareResult right = test_against(law.p_rank);
  const ChiSquareResult wrong_gumbel = test_against(mirror.p_rank);
  std::vector<double> perturbed = law.p_rank;
  const size_t top = std::max_element(perturbed.begin(), perturbed.end()) - perturbed.begin();
  const double shift = 0.02 * perturbed[top];
  perturbed[top] -= shift;
  perturbed[top + 1] += shift;
  const ChiSquareResult wrong_p = test_against(perturbed);
  std::printf(
      "[stat] control good b = 2: exact law p = %.4f; mirror-image Gumbel p = %.3g "
      "(chi2 %.1f); 2%% perturbed p = %.3g (chi2 %.1f)\n",
      right.p, wrong_gumbel.p, wrong_gumbel.stat, wrong_p.p, wrong_p.stat);
  EXPECT_GT(right.p, kAlpha);
  EXPECT_LT(wrong_gumbel.p, 1e-10);
  EXPECT_LT(wrong_p.p, 1e-10);
}

// The test's own exact neighbour lists agree with the library's scan, and the
// cached source changes nothing: the selector gives the same output for the
// same stream with ScanNeighborSource.
TEST(TgDistributionControlTest, SelectorIsUnchangedByTheCachedSource) {
  const Fixture& fx = GetFixture();
  ASSERT_NE(fx.vocab, nullptr);
  for (const char* w : {"october", "good", "house"}) {
    SCOPED_TRACE(w);
    const WordId word = fx.vocab->Find(w).value();
    const std::vector<Neighbor> mine = BruteForceNeighbors(fx.vectors, word);
    std::vector<Neighbor> lib;
    ExactNeighborsScan(fx.vectors, word, 300, &lib);
    ASSERT_EQ(lib.size(), 300u);
    for (size_t r = 0; r < lib.size(); ++r) {
      ASSERT_EQ(lib[r].id, mine[r].id) << "rank " << r + 1;
      ASSERT_NEAR(lib[r].dist, mine[r].dist, 1e-12) << "rank " << r + 1;
    }
    ScanNeighborSource scan(fx.vectors);
    CachedExactSource cached(fx.vectors, 256);
    // A large b spreads the outputs over many ranks.
    const TgParams params{fx.mu, 5.0, fx.delta_max};
    TgSelector with_scan(params, fx.vectors.n, scan);
    TgSelector with_cache(params, fx.vectors.n, cached);
    const RunKey key = RunKey::FromSeed("tg-test");
    std::vector<Neighbor> s1;
    std::vector<Neighbor> s2;
    for (uint64_t i = 0; i < 300; ++i) {
      WordRng r1(key, 999, 0, i);
      WordRng r2(key, 999, 0, i);
      ASSERT_EQ(with_scan.Select(word, r1, &s1), with_cache.Select(word, r2, &s2)) << "draw " << i;
    }
  }
}

}  // namespace
}  // namespace dpsanitize
