// OutputLaw: a mechanism's output distribution, as the privacy audit (spec
// section 7) and the statistical tests read it. Each registry entry provides
// one through MechanismPlan::Law(); the audit computes losses from it without
// knowing which mechanism it audits.
//
// A law is one of three kinds, by what can be known about ln P[M(w) = y]:
//   * kExact: a closed form for every y in V (em, tem, bem). The audit's
//     worst-case loss over all outputs is then exact, not a bound.
//   * kCertified: computed numerically for the outputs the law lists (tg:
//     ranks 0..K of the candidate list, by quadrature with an error
//     estimate) and bounded for every other output. Each value is an
//     interval that holds the probability, so the audit reports certified
//     bounds on the loss.
//   * kMonteCarlo: output frequencies of the real sampler (mvl); the audit
//     turns the counts into simultaneous Clopper-Pearson intervals.
//
// How the audit uses a law (audit/audit.cpp):
//   DPS_ASSIGN_OR_RETURN(std::unique_ptr<OutputLaw> law, plan.Law(ctx));
//   // once per audited word, on several threads when law->concurrent():
//   DPS_ASSIGN_OR_RETURN(WordLaw lw, law->Of(w));
//   // per pair (w, w'), exact and certified laws:
//   DPS_ASSIGN_OR_RETURN(auto bw, law->Bounds(lw));  // every output y of V
//   bw->Listed(), bw->Estimate(y), bw->Interval(y, need_lower), bw->Rank(y);
//   law->FarOutputs(*bw2, *bw, n);  // certified: outputs no law listed
//   // Monte Carlo laws: lw.outputs and lw.counts of both words.
//   LawReport about = law->Describe(numerics);  // the report's law section
//
// An exact law (em, tem, bem) implements kind() = kExact, Of() (the utility
// figures; `outputs` may stay empty), Bounds() (Listed() = every word of V,
// Estimate(y) = ln P, Interval(y) = [ln P, ln P], Rank(y) = y's place in w's
// (distance, id) order) and Describe(); the defaults of concurrent(),
// FarOutputs() and ImplementationMaxRank() fit it. Nothing in audit/ changes.
#ifndef DPSANITIZE_MECHANISMS_OUTPUT_LAW_H_
#define DPSANITIZE_MECHANISMS_OUTPUT_LAW_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/mechanisms/mechanism.h"

namespace dpsanitize {

enum class LawKind {
  kExact,       // closed form for every output
  kCertified,   // numerics for the listed outputs, certified bounds for all
  kMonteCarlo,  // frequencies of the real sampler
};

// Adaptive numerical integration of a certified law (tg).
struct QuadratureOptions {
  double rel_tol = 1e-10;  // per component: sum of |K15 - G7| <= rel_tol * value
  size_t max_panels = 1u << 16;
};

// What a law may use. The engine's objects are filled by the caller (the
// audit command: MakeLawContext in pipeline/engine.h; FAISS stays there);
// the audit options by RunAudit from its AuditOptions.
struct LawContext {
  VectorSet vectors;
  const NeighborSource* neighbors = nullptr;   // exact neighbour lists
  const NearestWordFinder* nearest = nullptr;  // exact nearest-word finder (mvl's Monte Carlo)
  const Mechanism* mechanism = nullptr;        // the real sampler (Monte Carlo laws)

  // Audit options the law's numerics depend on.
  size_t depth = 128;            // certified laws: outputs computed per word (tg: ranks 0..depth)
  QuadratureOptions quadrature;  // certified laws: numerical integration
  // The audit's "typical" outputs have P >= this under one of the two words;
  // a certified law refuses a depth that leaves a mass not small against it
  // unlisted (a usage error naming --depth).
  double typical_threshold = 1e-6;
  uint64_t samples = 10000;  // Monte Carlo laws: draws per word (> 0)
  std::string seed = "1";    // Monte Carlo laws: random streams (RunKey::FromSeed)
};

// [lo, hi] bounds of a log-probability; lo = -inf: no lower bound known.
struct LogInterval {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = 0;
};

// How well a law's numbers were computed (certified laws; the others keep
// the defaults).
struct LawNumerics {
  double max_rel_err = 0;   // largest estimated relative error of a computed probability
  double max_sum_rule = 0;  // largest |sum of the listed probabilities - their known total|
  bool converged = true;    // every computation met its tolerance
};

// The law of M(w) for one word w: what the audit keeps per audited word.
struct WordLaw {
  WordId word = 0;
  // The outputs the law lists, in its order. kCertified: by rank (outputs[r]
  // has rank r, outputs[0] = w), ranks 0..depth. kMonteCarlo: every output
  // drawn, by increasing id. kExact: may stay empty (Bounds() lists all).
  std::vector<WordId> outputs;
  // kCertified (and kExact when listed): ln P[M(w) = outputs[i]] as
  // computed; -inf where the numerics do not resolve it.
  std::vector<double> log_p;
  // kCertified: estimated relative error of exp(log_p[i]).
  std::vector<double> rel_err;
  // kCertified: ln of the probability the listed values leave out (tg: the
  // Poisson mass ln P(k > depth)).
  double log_unlisted = -std::numeric_limits<double>::infinity();
  // kMonteCarlo: how often each output was drawn, of `draws`.
  std::vector<uint64_t> counts;
  uint64_t draws = 0;
  // Utility of M(w).
  double p_unchanged = 0;    // P[M(w) = w]
  double mean_distance = 0;  // E[d(w, M(w))]
  // P[M(w) is one of w's 10 nearest other words] (calibrate's "what eps
  // does"); NaN where a law does not compute it.
  double p_near10 = std::numeric_limits<double>::quiet_NaN();
  // E[rank of M(w) in w's output order]; NaN for laws without ranks (Monte Carlo).
  double mean_rank = std::numeric_limits<double>::quiet_NaN();
  LawNumerics numerics;
};

// The law of M(w) over every output y of V, for one pair's loss (exact and
// certified laws). May hold O(|V|) data: built per pair, then dropped.
class OutputBounds {
 public:
  virtual ~OutputBounds() = default;
  // The outputs whose probability the law computed, in its order (certified:
  // ranks 0..depth; exact: every word of V).
  virtual const std::vector<WordId>& Listed() const = 0;
  // ln P[M(w) = y] as computed; -inf where it was not computed or not
  // resolved (Interval() still bounds it).
  virtual double Estimate(WordId y) const = 0;
  // A certified interval of ln P[M(w) = y], for any y in V. With need_lower
  // false a costly lower bound may be skipped (lo = -inf).
  virtual LogInterval Interval(WordId y, bool need_lower) const = 0;
  // y's place in w's output order (0 = w; tg: candidate rank by (distance,
  // id)), reported beside the losses.
  virtual uint64_t Rank(WordId y) const = 0;
};

// An output outside the lists of a pair, with a certified lower bound of ln P
// under one word and an upper bound under the other.
struct FarOutput {
  WordId y = 0;
  double log_lower = -std::numeric_limits<double>::infinity();
  double log_upper = 0;
};

// What the audit report states about the law itself, beside the losses.
struct LawReport {
  nlohmann::json parameters = nlohmann::json::object();  // the JSON report's "parameters"
  nlohmann::json sections = nlohmann::json::object();    // further top-level JSON members
  std::string text;  // the table's header lines about the law, each ending in '\n'
  // With ImplementationMaxRank(): the table's paragraph introducing the
  // per-category counts of outputs the implementation cannot give.
  std::string implementation_note;
};

class OutputLaw {
 public:
  virtual ~OutputLaw() = default;
  virtual LawKind kind() const = 0;
  // Whether Of() may run on several threads at once; false when it
  // parallelises inside (mvl: batched nearest-word search).
  virtual bool concurrent() const { return true; }
  // The law of M(w).
  virtual StatusOr<WordLaw> Of(WordId w) const = 0;
  // Exact and certified laws: the law of M(w) over every output, from Of()'s
  // result, which must outlive it. Thread-safe.
  virtual StatusOr<std::unique_ptr<OutputBounds>> Bounds(const WordLaw& law) const {
    return InternalError("output law: no bounds over all outputs (a Monte Carlo law)");
  }
  // Certified laws: up to n outputs not listed by `low` whose lower bound
  // under `low` may be far above their upper bound under `up`, with both
  // bounds. `low` and `up` come from this law's Bounds(). Exact laws list
  // every output: none.
  virtual StatusOr<std::vector<FarOutput>> FarOutputs(const OutputBounds& low,
                                                      const OutputBounds& up, size_t n) const {
    return std::vector<FarOutput>{};
  }
  // The largest rank the implementation can output when it is below |V| - 1
  // (tg: the sampler never draws k above it), which makes outputs ranked
  // beyond it for one word and within it for the other an infinite actual
  // loss; the audit counts them. nullopt: every output is possible.
  virtual std::optional<uint64_t> ImplementationMaxRank() const { return std::nullopt; }
  // The report's description of the law, given the numerics over every
  // audited word.
  virtual LawReport Describe(const LawNumerics& numerics) const = 0;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_OUTPUT_LAW_H_
