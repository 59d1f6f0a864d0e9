// Privacy audit (spec section 7): what a mechanism actually does on the
// chosen embedding, next to the epsilon it claims.
//
// For sampled word pairs (w, w') the audit measures the metric-DP privacy loss
//   max over outputs y of |ln P[M(w) = y] - ln P[M(w') = y]| / d(w, w')
// and compares it with the claimed epsilon. It knows no mechanism: it reads
// the plan's OutputLaw (mechanisms/output_law.h), whose kind decides how a
// loss is measured:
//   * exact laws (em, tem, bem): ln P for every output, so the worst case is
//     exact;
//   * certified laws (tg): an interval of ln P for every output, so the
//     pair's loss is a certified lower bound on the worst case over all
//     outputs and an interval over typical outputs (P >= 1e-6 under either
//     word);
//   * Monte Carlo laws (mvl): frequencies of the real sampler with
//     simultaneous Clopper-Pearson intervals (the guarantee is analytic; this
//     checks the implementation).
// Utility: P[M(w) = w] and E[d(w, M(w))] by density decile (nearest-neighbour
// distance of w within the vocabulary).
//
//   AuditInputs in;  // from an opened Engine e (pipeline/engine.h), by the caller
//   in.embedding = e.embedding.get();  in.vocab = e.vocab.get();
//   in.info = e.info;  in.plan = e.plan.get();
//   DPS_ASSIGN_OR_RETURN(in.law, MakeLawContext(e));
//   in.neighbors = [&](const auto& words, size_t k, auto* out) {
//     return knn->Neighbors(words, k, out);  // an ExactKnn (neighbors/faiss_index.h)
//   };
//   AuditOptions opt;  opt.pairs = 200;
//   DPS_ASSIGN_OR_RETURN(AuditReport r, RunAudit(in, opt));
//   std::string text = FormatAuditTable(r);  // report.h; AuditReportToJson, plot.h
//
// The jobs live in their own files: pairs.h (which pairs), loss.h (the loss
// of a pair from any law, per category), utility.h (by density decile),
// report.h (table, JSON), plot.h (gnuplot).
#ifndef DPSANITIZE_AUDIT_AUDIT_H_
#define DPSANITIZE_AUDIT_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dpsanitize/audit/pairs.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/output_law.h"
#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

struct AuditOptions {
  size_t pairs = 0;                 // word pairs; 0: 10 for Monte Carlo laws, else 200
  std::string seed = "1";           // pair sampling and Monte Carlo streams
  size_t depth = 128;               // certified laws: outputs computed per word (tg: ranks 0..K)
  double typical_threshold = 1e-6;  // "typical" outputs: P >= this under either word
  size_t far_candidates = 4;     // certified laws: unlisted outputs bounded per pair and direction
  QuadratureOptions quadrature;  // certified laws: numerical integration
  uint64_t samples = 10000;      // Monte Carlo: draws per word
  uint64_t min_count = 20;       // Monte Carlo: point estimates over outputs seen this often
  double alpha = 0.05;           // Monte Carlo: simultaneous level per pair
  size_t utility_words = 0;  // extra words per density decile; 0: 1 for Monte Carlo laws, else 10
  unsigned threads = 0;      // worker threads; 0: all cores
};

// One audited pair. Losses are per unit distance (already divided by d).
struct AuditPair {
  std::string category;  // nearest, random, distant, dense, sparse
  WordId w = 0;
  WordId w2 = 0;
  std::string word, word2;
  double distance = 0;
  // Exact laws: the worst-case loss over all outputs; certified: a certified
  // lower bound on it; Monte Carlo: a lower confidence bound over all
  // observed outputs. The output that gives it, with its ranks in both
  // words' output orders (0 for Monte Carlo).
  double worst_lower = 0;
  std::string worst_output;
  uint64_t worst_rank_w = 0, worst_rank_w2 = 0;
  // Loss over typical outputs: certified (exact, certified laws) or
  // confidence (Monte Carlo) interval; typical_upper may be +inf when a bound
  // is not resolved. NaN where no output is typical.
  double typical_lower = 0;
  double typical_upper = 0;
  double typical_estimate = 0;  // from the computed values; Monte Carlo: frequencies
  size_t typical_outputs = 0;
  std::string typical_output;  // exact, certified: the typical output with the largest estimate
  uint64_t typical_rank_w = 0, typical_rank_w2 = 0;
  // Laws with an ImplementationMaxRank (tg, docs/mechanism.md): an output
  // ranked beyond it in one word's order has probability exactly 0 in the
  // implementation. Outputs possible for one word and impossible for the
  // other, and the larger of the two probabilities (under the law) of
  // drawing such an output: an infinite actual loss.
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
  size_t impossible = 0;              // pairs with implementation-impossible outputs
  double median_impossible_mass = 0;  // median of AuditPair::impossible_mass
};

struct DecileUtility {
  int decile = 0;               // 1 = densest (smallest nearest-neighbour distance)
  double nn_lo = 0, nn_hi = 0;  // nearest-neighbour distance range of the decile
  size_t words = 0;             // audited words in the decile
  double p_unchanged = 0;       // mean P[M(w) = w]
  double mean_distance = 0;     // mean E[d(w, M(w))]
  double mean_rank = 0;         // mean E[rank of the output]; NaN for Monte Carlo laws
};

struct AuditReport {
  std::string mechanism;  // registry name
  LawKind law_kind = LawKind::kCertified;
  std::string embedding;
  std::string embedding_sha256;
  uint64_t vocab_size = 0;
  uint32_t dim = 0;
  double eps = 0;
  std::string eps_basis;       // e.g. "nominal (Xu et al. 2021 truncated Gumbel calibration)"
  std::string eps_basis_kind;  // "proven", "nominal"
  std::string seed;
  std::optional<double> delta_min;  // the vocabulary's, when the plan states it
  // The audited plan's rows, as `calibrate` prints them: what --eps and the
  // mechanism options (--tem-gamma, --lambda, ...) calibrated to.
  std::vector<PlanRow> calibration;
  LawReport law;                                    // the law's own parameters and notes
  LawNumerics numerics;                             // over every audited word
  std::optional<uint64_t> implementation_max_rank;  // OutputLaw::ImplementationMaxRank
  // Monte Carlo laws
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

// What the audit reads, opened by its caller (the audit command, from an
// Engine): the audit itself opens no file and includes no FAISS.
struct AuditInputs {
  const Embedding* embedding = nullptr;  // its path and content hash, for the report
  const Vocabulary* vocab = nullptr;     // the perturbation vocabulary
  const MechanismInfo* info = nullptr;   // the registry entry audited
  const MechanismPlan* plan = nullptr;   // calibrated for `vocab`; must claim an epsilon
  // The engine's objects the plan's law needs (MakeLawContext); RunAudit sets
  // the options' depth, quadrature, typical threshold, samples and seed.
  LawContext law;
  KnnSearch neighbors;  // exact kNN over `vocab`, for the pair sampler
};

// Runs the audit. Usage errors: the plan claims no epsilon, or an option the
// law refuses (tg: --depth too shallow).
StatusOr<AuditReport> RunAudit(const AuditInputs& inputs, const AuditOptions& options);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_AUDIT_H_
