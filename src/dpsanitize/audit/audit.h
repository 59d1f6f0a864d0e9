// Privacy audit (spec section 7): what the mechanism actually does on the
// chosen embedding, next to the epsilon it claims.
//
// For sampled word pairs (w, w') the audit measures the metric-DP privacy loss
//   max over outputs y of |ln P[M(w) = y] - ln P[M(w') = y]| / d(w, w')
// and compares it with the claimed epsilon (a proven bound for mvl, the
// nominal one of Xu et al.'s calibration for tg).
//   * tg: exact output laws by numerical integration (adaptive Gauss-Kronrod,
//     every rank at once), mixed over the truncated Poisson k up to a depth K;
//     beyond it the exact log tail ln P(k >= r) bounds a probability from
//     above and a single-threshold event bounds it from below, so each
//     ln P[M(w) = y] is an interval, and the pair's loss is reported as a
//     certified lower bound (worst case over outputs) and as an interval over
//     typical outputs (probability >= 1e-6 under either word).
//   * mvl: Monte Carlo frequencies of the real sampler with simultaneous
//     Clopper-Pearson intervals (the guarantee is analytic; this checks the
//     implementation).
// Utility: P[M(w) = w] and E[d(w, M(w))] by density decile (nearest-neighbour
// distance of w within the vocabulary).
//
//   AuditOptions opt;  opt.mechanism = MechanismKind::kTg;  opt.pairs = 200;
//   DPS_ASSIGN_OR_RETURN(AuditReport r, RunAudit(*engine->vocab, engine->calibration, opt));
//   std::string text = FormatAuditTable(r);  nlohmann::json j = AuditReportToJson(r);
//
// The building blocks (TruncatedGumbelLaw, PoissonLogLaw, ComputeTgExactLaw,
// TgLogLowerBound, ClopperPearson) are public: the statistical tests use the
// exact law as an oracle for the real sampler.
#ifndef DPSANITIZE_AUDIT_AUDIT_H_
#define DPSANITIZE_AUDIT_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/tg.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

// ---------------------------------------------------------------------------
// Exact laws (log space throughout).

// Max-stable Gumbel(0, b), CDF exp(-exp(-x/b)), conditioned on |x| <= delta.
// Written from the definition, independently of the sampler, in forms that
// neither overflow nor cancel for any delta / b.
class TruncatedGumbelLaw {
 public:
  TruncatedGumbelLaw(double b, double delta);
  double LogPdf(double x) const;       // -inf outside [-delta, delta]
  double LogSurvival(double x) const;  // ln P(G > x)
  double LogCdf(double x) const;       // ln P(G <= x)
  // P(G > x) and the density in linear space (the integrand's hot path).
  double Survival(double x) const;
  double Pdf(double x) const;
  // Both at once (one exponential shared), for x inside (-delta, delta).
  void PdfAndSurvival(double x, double* pdf, double* survival) const;
  double b() const { return b_; }
  double delta() const { return delta_; }

 private:
  double b_;
  double delta_;
  double exp_neg_ratio_;  // e^{-delta/b}
  double log_z_;          // ln(Phi(delta) - Phi(-delta))
  double log_b_z_;        // ln b + log_z_
  double s_scale_;        // Phi(delta) / Z
};

// Poisson(mu) conditioned on k <= kmax: ln pmf and the exact log tail
// ln P(K >= r) for every r (a table built once by log-sum-exp from the top).
class PoissonLogLaw {
 public:
  PoissonLogLaw(double mu, uint64_t kmax);
  double LogPmf(uint64_t k) const;
  double LogTailAtLeast(uint64_t r) const;  // 0 at r = 0, -inf beyond kmax
  double mu() const { return mu_; }
  uint64_t kmax() const { return kmax_; }

 private:
  double mu_;
  uint64_t kmax_;
  double log_norm_;
  std::vector<double> log_tail_;  // log_tail_[r] = ln P(K >= r), r = 0..kmax
};

struct QuadratureOptions {
  double rel_tol = 1e-10;  // per component: sum of |K15 - G7| <= rel_tol * value
  size_t max_panels = 1u << 16;
};

// The output law of tg for one source word over ranks 0..K of its exact
// candidate list, with the Poisson mixture cut at k <= K:
//   L_i = sum_{k=i..K} pi_k P[rank i wins | k]
//       = int f(v - d_i) prod_{j<i} S(v - d_j) sum_{k=i..K} pi_k prod_{j=i+1..k} S(v - d_j) dv,
// so P[M(w) = rank i] lies in [L_i, L_i + P(k > K)] (up to quadrature error).
struct TgExactLaw {
  std::vector<double> log_p;    // ln L_i, i = 0..K; -inf where not resolved (< 1e-250)
  std::vector<double> rel_err;  // estimated relative quadrature error of L_i
  double log_tail = 0;          // ln P(k > K), the mass the L_i leave out
  double sum_rule = 0;          // |sum_i L_i - P(k <= K)|, a check of the quadrature
  double max_rel_err = 0;       // max of rel_err over resolved ranks
  size_t panels = 0;            // Gauss-Kronrod panels used
  bool converged = true;        // every component met rel_tol
  size_t depth() const { return log_p.size() - 1; }
};

// `dist` holds d_0 = 0, d_1 <= ... <= d_K: the source word and its K nearest
// other words (K <= poisson.kmax()).
StatusOr<TgExactLaw> ComputeTgExactLaw(const std::vector<double>& dist,
                                       const TruncatedGumbelLaw& gumbel,
                                       const PoissonLogLaw& poisson,
                                       const QuadratureOptions& quad = {});

// A rigorous lower bound on ln P[M(w) = rank r] for any rank r, with no
// quadrature: the event {k = r, G_r <= x - d_r, G_j > x - d_j for all j < r}
// implies that rank r wins, so P >= pi_r F(x - d_r) prod_{j<r} S(x - d_j) for
// every x; maximised over a grid of x. Distances past the first 64 ranks are
// grouped, each group using its smallest distance (which only lowers the
// bound). `dist` holds d_0 = 0, d_1, ..., at least r + 1 entries.
double TgLogLowerBound(const double* dist, size_t r, const TruncatedGumbelLaw& gumbel,
                       const PoissonLogLaw& poisson);

// Two-sided Clopper-Pearson interval for a binomial proportion (count of n)
// at confidence 1 - alpha.
struct Interval {
  double lo = 0;
  double hi = 1;
};
StatusOr<Interval> ClopperPearson(uint64_t count, uint64_t n, double alpha);

// ---------------------------------------------------------------------------
// The audit.

struct AuditOptions {
  MechanismKind mechanism = MechanismKind::kTg;
  size_t pairs = 0;                 // word pairs; 0: 200 for tg, 10 for mvl
  std::string seed = "1";           // pair sampling and Monte Carlo streams
  size_t depth = 128;               // tg: integration depth K (ranks 0..K)
  double typical_threshold = 1e-6;  // "typical" outputs: P >= this under either word
  size_t far_candidates = 4;        // tg: outputs past the depth bounded per pair and direction
  QuadratureOptions quadrature;
  uint64_t samples = 10000;  // mvl: Monte Carlo draws per word
  uint64_t min_count = 20;   // mvl: point estimates over outputs seen this often
  double alpha = 0.05;       // mvl: simultaneous level per pair
  size_t utility_words = 0;  // extra words per density decile; 0: 10 tg, 1 mvl
  unsigned threads = 0;      // worker threads (tg); 0: all cores
};

// One audited pair. Losses are per unit distance (already divided by d).
struct AuditPair {
  std::string category;  // nearest, random, distant, dense, sparse
  WordId w = 0;
  WordId w2 = 0;
  std::string word, word2;
  double distance = 0;
  // tg: certified lower bound on the worst-case loss over all outputs, and
  // the output that gives it with its ranks in both candidate lists.
  // mvl: lower confidence bound over all observed outputs.
  double worst_lower = 0;
  std::string worst_output;
  uint64_t worst_rank_w = 0, worst_rank_w2 = 0;
  // Loss over typical outputs: certified (tg) or confidence (mvl) interval;
  // tg: typical_upper may be +inf when a bound is not resolved.
  double typical_lower = 0;
  double typical_upper = 0;
  double typical_estimate = 0;  // tg: exact where both sides are integrated; mvl: MC
  size_t typical_outputs = 0;
  std::string typical_output;  // tg: the typical output with the largest estimate
  uint64_t typical_rank_w = 0, typical_rank_w2 = 0;
  // tg, the implementation's resolution (docs/mechanism.md): the sampler never
  // draws k above implementation_k_max, so an output ranked beyond it in one
  // word's list has probability exactly 0 there. Outputs possible for one word
  // and impossible for the other, and the larger of the two probabilities
  // (under the exact law) of drawing such an output: an infinite actual loss.
  size_t impossible_outputs = 0;
  double impossible_mass = 0;
  bool exceeds = false;          // worst_lower > claimed eps
  bool typical_exceeds = false;  // typical_lower > claimed eps
};

struct CategorySummary {
  std::string category;
  size_t pairs = 0;
  double median_distance = 0;
  double median_worst = 0, max_worst = 0;
  double median_typical = 0, max_typical = 0;  // of typical_estimate
  size_t exceeding = 0, typical_exceeding = 0;
  size_t impossible = 0;              // tg: pairs with implementation-impossible outputs
  double median_impossible_mass = 0;  // tg: median of AuditPair::impossible_mass
};

struct DecileUtility {
  int decile = 0;               // 1 = densest (smallest nearest-neighbour distance)
  double nn_lo = 0, nn_hi = 0;  // nearest-neighbour distance range of the decile
  size_t words = 0;             // audited words in the decile
  double p_unchanged = 0;       // mean P[M(w) = w]
  double mean_distance = 0;     // mean E[d(w, M(w))]
  double mean_rank = 0;         // tg: mean E[rank of the output]
};

struct AuditReport {
  std::string mechanism;
  std::string embedding;
  std::string embedding_sha256;
  uint64_t vocab_size = 0;
  uint32_t dim = 0;
  double eps = 0;
  std::string eps_basis;
  std::string seed;
  // tg parameters and numerics
  double b = 0, mu = 0, delta_max = 0, delta_min = 0;
  size_t depth = 0;
  double log_tail_beyond_depth = 0;   // ln P(k > K)
  uint64_t implementation_k_max = 0;  // the largest k TruncatedPoisson::Sample can return
  double quad_rel_tol = 0;
  double max_quad_rel_err = 0;  // over every audited word and rank
  double max_sum_rule = 0;      // max |sum_i L_i - P(k <= K)|
  bool quad_converged = true;
  // mvl
  uint64_t samples = 0;
  double alpha = 0;
  uint64_t min_count = 0;
  // results
  std::vector<AuditPair> pairs;
  std::vector<CategorySummary> categories;  // per category, then "all"
  std::vector<DecileUtility> deciles;
  size_t audited_words = 0;
  double seconds_setup = 0, seconds_laws = 0, seconds_pairs = 0, seconds_total = 0;
};

// Runs the audit on an opened engine's vocabulary and calibration (from
// OpenEngine(config, false); the calibration's mechanism must match).
StatusOr<AuditReport> RunAudit(const Embedding& embedding, const Vocabulary& vocab,
                               const Calibration& calibration, const AuditOptions& options);

nlohmann::json AuditReportToJson(const AuditReport& report);
std::string FormatAuditTable(const AuditReport& report);
// A gnuplot script drawing the per-pair losses against distance with the
// claimed epsilon as a line, writing `image_path` (.png: pngcairo, .svg).
std::string AuditGnuplotScript(const AuditReport& report, const std::string& image_path);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_AUDIT_H_
