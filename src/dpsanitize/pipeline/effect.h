// What eps does: the utility figures of a calibrated mechanism over the most
// frequent vocabulary words (ids 0..n-1), so that a user picks eps by its
// effect. `dpsanitize calibrate` prints them (ComputeEffect, from the plan's
// output law); a sanitize run states the first two in one line on stderr
// (StateEffect, cheaper: ComputeQuickEffect).
//
//   EffectOptions options;
//   options.words = 1000;
//   DPS_ASSIGN_OR_RETURN(EffectFigures f, ComputeEffect(engine, options));
//   f.p_unchanged_mean;     // mean over the words of P[M(w) = w]
//   f.mean_distance_moved;  // mean of E[d(w, M(w))]
//   AddEffectJson(f, &j);   // calibrate --json's keys
//
// Exact and certified laws (em, tem, tg) give the figures as computed
// numbers; Monte Carlo laws (mvl) give frequencies with 95 % intervals. The
// figures are properties of the mechanism and the embedding: no corpus word
// is involved, and their random draws use fixed streams of their own, never
// a run's key.
#ifndef DPSANITIZE_PIPELINE_EFFECT_H_
#define DPSANITIZE_PIPELINE_EFFECT_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dpsanitize/core/status.h"
#include "dpsanitize/mechanisms/output_law.h"
#include "dpsanitize/mechanisms/registry.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

// Default number of most frequent words `calibrate` computes the figures over.
inline constexpr size_t kEffectWords = 1000;
// Default Monte Carlo draws per word for a Monte Carlo law in `calibrate`:
// 20,000 draws over 1,000 words, a 95 % interval of at most +-0.007 on a
// mean probability. Not fewer: mvl's exact search (FAISS) switches to its
// matrix-multiply path at 20 queries per call, so 10 draws per word cost
// more, not less (measured: 6.2 s against 3.5 s of CPU for 200 words).
inline constexpr uint64_t kEffectDrawsPerWord = 20;
// A 95 % interval [lo, hi].
struct EffectInterval {
  double lo = 0;
  double hi = 0;
};

struct EffectFigures {
  std::string mechanism;
  std::optional<double> eps;
  // --eps as given: what `calibrate` needs to reproduce the plan (bem claims
  // a derived eps below it).
  std::optional<double> requested_eps;
  // The mechanism options given (name without dashes -> text), for the same.
  std::map<std::string, std::string> options;
  EpsBasis basis = EpsBasis::kNone;
  size_t words = 0;  // the figures are means over word ids 0..words-1
  // How they were obtained: kExact and kCertified are computed numbers (a
  // certified law leaves out its unlisted mass, below 1e-9); kMonteCarlo are
  // frequencies of draws, with intervals.
  LawKind kind = LawKind::kExact;
  std::string method;           // one phrase, e.g. "exact law over every output"
  uint64_t draws_per_word = 0;  // kMonteCarlo
  double p_unchanged_mean = 0;
  double mean_distance_moved = 0;
  // Mean P[M(w) is one of w's 10 nearest other words]; NaN when unknown.
  double p_near10_mean = std::numeric_limits<double>::quiet_NaN();
  // kMonteCarlo: 95 % intervals of the three means.
  std::optional<EffectInterval> p_unchanged_ci, mean_distance_ci, p_near10_ci;
  double median_nn_distance = 0;  // median over the words of d(w, nearest other word)
  std::optional<double> inv_eps;  // 1 / eps when an eps is claimed
  double seconds = 0;             // wall time of the computation
};

struct EffectOptions {
  size_t words = kEffectWords;  // clamped to |V|; > 0
  uint64_t draws_per_word = kEffectDrawsPerWord;
  unsigned threads = 0;  // 0: the engine's --threads (0 there = every core)
};

// The figures from the plan's output law: Of() for each word, on several
// threads when the law allows it. Builds the sampler and search objects the
// law needs (MakeLawContext). Errors: the law's.
StatusOr<EffectFigures> ComputeEffect(Engine& engine, const EffectOptions& options = {});

// What the sanitize line computes; the defaults are the line's.
struct QuickEffectOptions {
  size_t exact_words = 20;     // a closed-form (kExact) law: over this many words
  size_t sampled_words = 100;  // otherwise, the sampler: over this many words
  uint64_t max_draws_per_word = 50;
  // Fewer rounds than this within the budget are not stated (the line points
  // to calibrate instead); a pilot of 4 draws predicts it.
  uint64_t min_draws_per_word = 10;
  double budget_seconds = 0.15;  // no Monte Carlo round starts after this
  bool use_law = true;           // false: the sampler even for a closed-form law (tests)
};

// The cheap figures a sanitize run states. When the plan's law is closed-form
// (kExact), the law over the `exact_words` most frequent words. Otherwise a
// Monte Carlo of the run's own sampler (which must be built) under a fixed
// public key over the `sampled_words` most frequent words, one draw per word
// per round, at most `max_draws_per_word` rounds and none started after
// `budget_seconds`; the rounds drawn are in draws_per_word and the figures
// depend only on that number. When a pilot of 4 draws predicts that
// `min_draws_per_word` rounds will not fit in the budget, nothing more is
// drawn and draws_per_word is 0 (no figures).
StatusOr<EffectFigures> ComputeQuickEffect(Engine& engine, const QuickEffectOptions& options);

// calibrate --json's keys: p_unchanged_mean, mean_distance_moved,
// p_near10_mean, *_ci (Monte Carlo), inv_eps, median_nn_distance,
// effect_words, effect_method, effect_draws_per_word (Monte Carlo),
// effect_summary.
void AddEffectJson(const EffectFigures& f, nlohmann::json* j);
// calibrate's text block, headed "what eps does (1,000 most frequent words)".
std::string EffectText(const EffectFigures& f);
// The one line a sanitize run states (without the "dpsanitize: " prefix).
std::string EffectLine(const EffectFigures& f);
// "almost every word is replaced, mostly by unrelated words ..." and the like.
std::string EffectVerdict(const EffectFigures& f);

// Computes the quick figures and logs EffectLine (or, when they cannot be
// computed within the start-up budget, a line pointing to calibrate), at a
// level shown by default and silenced by -q. Never fails the run.
void StateEffect(Engine& engine);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_EFFECT_H_
