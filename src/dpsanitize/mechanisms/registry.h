// The mechanism registry: one entry per mechanism, the single place that
// knows which mechanisms exist.
//
// The CLI's --mechanism choices, their help and mechanism-specific flags,
// option validation, the engine's calibration and sampler construction, the
// ledger's parameters and statement, `dpsanitize calibrate` and the audit's
// output laws all read an entry of Registry(); nothing else names a
// mechanism. Adding one means: its own files (sampler, plan), one line in
// registry.cpp, its tests (statistical, golden) and its docs.
//
//   const MechanismInfo* info = FindMechanism("tg");
//   DPS_ASSIGN_OR_RETURN(auto plan, info->make_plan(config, inputs));
//   DPS_ASSIGN_OR_RETURN(auto mech, plan->Build(build_context));
//
// This stage depends on core/, random/ and the selectors in this folder only:
// the neighbour search and nearest-word finders it needs are handed in
// through BuildContext, so a selector or plan test never needs FAISS.
#ifndef DPSANITIZE_MECHANISMS_REGISTRY_H_
#define DPSANITIZE_MECHANISMS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/core/tail_bounds.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/core/vocab_stats.h"
#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/mechanisms/output_law.h"

namespace dpsanitize {

// What the epsilon a plan claims rests on (spec section 6).
enum class EpsBasis {
  kProven,   // a proof the code follows (mvl, em, tem)
  kNominal,  // a paper's theorem under its calibration, not a verified bound (tg)
  kNone,     // no epsilon claimed (explicit noise, identity)
};
const char* EpsBasisName(EpsBasis basis);

// A mechanism-specific command-line option, e.g. tg's --gumbel-scale. Its
// value reaches the plan as text in Config::mechanism_options (key: the
// name without dashes); numbers are checked by ValidateMechanismOptions.
struct MechanismFlag {
  enum class Kind { kNumber, kChoice };
  std::string name;  // without the leading "--"
  Kind kind = Kind::kNumber;
  std::string help;                  // one line for --help
  std::vector<std::string> choices;  // kChoice: allowed values
  std::string default_value;         // shown in --help; "" = none (the plan decides)
};

// Exact neighbour lists (spec section 2) and, when they are computed per
// batch, the hook the sampler must call with each batch's distinct words.
struct NeighborAccess {
  const NeighborSource* source = nullptr;
  size_t depth = 0;  // lists up to this many neighbours come without a scan
  std::function<void(const std::vector<WordId>&)> prefetch;  // may be empty
};

// What a plan may use to build its sampler; provided by the pipeline, which
// owns the FAISS-backed objects.
struct BuildContext {
  VectorSet vectors;
  // The prepared table when it matches the vocabulary, else FAISS lists
  // cached per batch.
  std::function<StatusOr<NeighborAccess>()> exact_neighbors;
  // Nearest vocabulary word to arbitrary points (post-processing only):
  // exact (flat) or approximate (HNSW).
  std::function<StatusOr<const NearestWordFinder*>(bool exact)> nearest_finder;
  // Tail bounds of this vocabulary from the prepared file; null when it has
  // none (the exponential mechanisms then use one envelope for the tail).
  const TailBounds* tail_bounds = nullptr;
};

// Everything a sanitize run or `calibrate` states about one calibrated
// mechanism, as ordered rows: the ledger's parameters, calibrate's JSON keys
// and its text lines all come from the same rows.
struct PlanRow {
  static constexpr unsigned kLedger = 1, kJson = 2, kText = 4, kEverywhere = 7;
  std::string key;       // ledger parameter / JSON key, e.g. "delta_min"
  nlohmann::json value;  // a number or a string
  std::string note;      // calibrate's text after the value, e.g. "(Gumbel scale)"
  unsigned where = kEverywhere;
};

// The calibrated mechanism for one (embedding, vocabulary, options): what it
// claims and how to build its sampler. Produced by MechanismInfo::make_plan.
class MechanismPlan {
 public:
  virtual ~MechanismPlan() = default;
  // The epsilon per word claimed, if any, and what it rests on.
  virtual std::optional<double> eps() const = 0;
  virtual EpsBasis basis() const = 0;
  // One line naming the proof or calibration (the ledger's eps_basis_detail).
  virtual std::string basis_detail() const = 0;
  // The guarantee clause of the ledger's per-document statement.
  virtual std::string statement_clause() const = 0;
  // Parameters, for the ledger and `calibrate`.
  virtual std::vector<PlanRow> Rows() const = 0;
  // A ready sampler. Called once per run, after Rows().
  virtual StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext& ctx) const = 0;
  // The mechanism's output law for the audit and the statistical tests:
  // exact (closed form or certified numerics) or Monte Carlo.
  virtual StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const = 0;
  // ln alpha(y) for every vocabulary word when the law weights outputs (bem),
  // else null: `calibrate --weights-out` writes them so that anyone can
  // recompute the guarantee.
  virtual const std::vector<double>* OutputLogWeights() const { return nullptr; }
};

// A keyed store for calibration results that are slow to compute (bem's
// weights: minutes for 50,000 words). Entries are checksummed; a corrupt or
// mismatched entry is reported (a warning) and treated as missing, never
// trusted. The pipeline's implementation keeps files under
// ${XDG_CACHE_HOME:-~/.cache}/dpsanitize/ (pipeline/calibration_cache.h).
class CalibrationCache {
 public:
  virtual ~CalibrationCache() = default;
  // The payload stored under `key`, or nullopt.
  virtual std::optional<std::string> Load(const std::string& key) = 0;
  // Stores atomically; a failure costs only the next run's time, so callers
  // warn and go on.
  virtual Status Store(const std::string& key, const std::string& payload) = 0;
};

// Calibration inputs of one (embedding, vocabulary) pair.
struct PlanInputs {
  uint64_t vocab_size = 0;
  uint32_t dim = 0;
  // The vocabulary's vectors and exact neighbour lists, for mechanisms whose
  // calibration depends on the whole geometry (bem). The lists' prefetch hook,
  // if any, must be called before Nearest() for speed.
  VectorSet vectors;
  std::function<StatusOr<NeighborAccess>()> exact_neighbors;
  std::string embedding_sha256;       // content hash: part of every cache key
  unsigned threads = 1;               // for calibrations that scan |V|^2 pairs
  CalibrationCache* cache = nullptr;  // may be null: nothing is cached
  // A stage of a long calibration, for a progress line (counts and stage
  // names only). May be empty.
  std::function<void(const std::string& stage)> progress;
  // Exact delta_min and certified delta_max of the vocabulary (stored by
  // `prepare` or computed on first call, which scans |V|^2 pairs: only the
  // mechanisms that need them ask).
  std::function<StatusOr<VocabStats>()> stats;
  // True when stats() comes from the prepared file (calibrate says so).
  bool stats_stored = false;
};

struct MechanismInfo {
  std::string name;                    // --mechanism value, ledger "name"
  std::string summary;                 // one line for --mechanism's help and `calibrate`
  std::string description;             // a paragraph for --help: what it is, what its epsilon is
  EpsBasis basis = EpsBasis::kProven;  // basis when calibrated from --eps
  std::string citation;                // paper(s)
  bool cli = true;                     // false: library-only (identity)
  std::vector<MechanismFlag> flags;    // mechanism-specific options
  // Checks the combination of --eps and this mechanism's options.
  std::function<Status(const Config&)> validate;
  // Calibrates: parameters from --eps (or expert options) and the vocabulary.
  std::function<StatusOr<std::unique_ptr<MechanismPlan>>(const Config&, const PlanInputs&)>
      make_plan;
};

// Every mechanism, in --help order; the first CLI entry is not implied to be
// the default (Config's default names it).
const std::vector<MechanismInfo>& Registry();
// The entry named `name`, or nullptr.
const MechanismInfo* FindMechanism(std::string_view name);
// "tg, mvl" style list of the CLI mechanisms.
std::string MechanismChoices();

// Checks Config::mechanism and Config::mechanism_options against the
// registry: known mechanism, every option belongs to it, numbers parse and
// are finite; then the entry's own validate(). Usage errors name the flag.
Status ValidateMechanismOptions(const Config& config);

// The number given for --`name`, if any (validated before plans run).
std::optional<double> OptionNumber(const Config& config, const std::string& name);
// The text given for --`name`, or `fallback`.
std::string OptionText(const Config& config, const std::string& name, const std::string& fallback);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_REGISTRY_H_
