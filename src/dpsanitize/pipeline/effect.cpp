// What eps does (spec section 2b): mean P[M(w) = w], mean distance moved,
// share of outputs among the 10 nearest, over the most frequent words.
//
// Why the most frequent words: they are most of any corpus's tokens, and
// word ids are frequency ranks, so "ids 0..n-1" is a fixed, public set that
// depends on the embedding only. Nothing here reads a corpus.
//
// Two ways to the figures:
//   * ComputeEffect (calibrate): the plan's OutputLaw, word by word. Exact
//     and certified laws give numbers; a Monte Carlo law gives each word's
//     frequencies, pooled here into 95 % intervals.
//   * ComputeQuickEffect (the sanitize line, a start-up budget of ~0.15 s):
//     a closed-form law (em, tem) over the 20 most frequent words; else a
//     Monte Carlo of the run's own, already built sampler over the 100 most
//     frequent words, 50 draws each, under a fixed public key. Why so few
//     exact words: em's law scans |V| distances per word, about 8 ms of CPU
//     on the default embedding, so 20 words cost ~0.09 s on two cores (the
//     20 give 0.028, 0.41, 0.91 at eps = 2, 3, 4 where the 1,000 give 0.031,
//     0.44, 0.90). Why exact rather than the sampler for em: a Monte Carlo
//     of 5,000 draws still has a +-16 % interval at P = 0.03, and exact
//     figures are the same on every machine. tg's quadrature (~20 ms per
//     word) is too slow, its sampler is not (5,000 draws in ~20-40 ms).
//     mvl's sampler does an exact nearest-word search per draw (a few
//     thousand per second): when a pilot of 4 draws predicts that fewer than
//     10 rounds fit in the budget, the line points to calibrate instead of
//     giving figures with a wide interval.
//
// Intervals of Monte Carlo means. With W words and n draws each, the mean of
// the per-word frequencies is the pooled frequency X / N (N = W n), and X is
// a sum of independent binomials with different p_w, whose variance
// n sum_w p_w (1 - p_w) is at most N pbar (1 - pbar): a binomial interval on
// (X, N) (Wilson's score interval) is conservative. For the mean distance the
// estimator's variance is the mean within-word variance over N, at most the
// pooled variance of all N distances (law of total variance) over N, so the
// normal interval with the pooled variance is conservative too.
#include "dpsanitize/pipeline/effect.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <numeric>
#include <thread>
#include <vector>

#include "dpsanitize/core/log.h"
#include "dpsanitize/core/parallel.h"

namespace dpsanitize {
namespace {

constexpr double kZ95 = 1.959963984540054;
constexpr size_t kNear = 10;  // "among the word's 10 nearest other words"
// Document ids of the quick Monte Carlo's streams (under a fixed public key,
// never a run's): one per round.
constexpr uint64_t kEffectDoc = 0x6566666563740000ULL;  // "effect"
constexpr const char* kEffectSeed = "dpsanitize: what eps does";
// The pilot's draws (speed only) come from a stream of their own.
constexpr uint64_t kEffectPilotDoc = kEffectDoc - 1;
constexpr size_t kPilotDraws = 4;

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

size_t Workers(const Engine& e, unsigned threads) {
  unsigned t = threads != 0 ? threads : e.config.threads;
  if (t == 0) t = std::max(1u, std::thread::hardware_concurrency());
  return t;
}

// One word's contribution. Exact laws fill the probabilities; Monte Carlo
// fills the counts and sums (and the probabilities as frequencies).
struct WordFigures {
  double p_unchanged = 0;
  double mean_distance = 0;
  double p_near10 = 0;
  uint64_t draws = 0;
  uint64_t unchanged = 0;
  uint64_t near = 0;
  double sum_d = 0;
  double sum_d2 = 0;
  double nn_distance = 0;
};

EffectInterval Wilson(uint64_t successes, uint64_t n) {
  if (n == 0) return {0, 1};
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(successes) / nn;
  const double z2 = kZ95 * kZ95;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = kZ95 * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

// The means over the words, summed in id order so that the figures do not
// depend on the thread count; Monte Carlo intervals from the pooled counts.
void Aggregate(const std::vector<WordFigures>& per_word, bool monte_carlo, EffectFigures* f) {
  const double w = static_cast<double>(per_word.size());
  double pu = 0, md = 0, pn = 0;
  uint64_t draws = 0, unchanged = 0, near = 0;
  double sum_d = 0, sum_d2 = 0;
  std::vector<double> nn;
  nn.reserve(per_word.size());
  for (const WordFigures& x : per_word) {
    pu += x.p_unchanged;
    md += x.mean_distance;
    pn += x.p_near10;
    draws += x.draws;
    unchanged += x.unchanged;
    near += x.near;
    sum_d += x.sum_d;
    sum_d2 += x.sum_d2;
    nn.push_back(x.nn_distance);
  }
  f->words = per_word.size();
  f->p_unchanged_mean = pu / w;
  f->mean_distance_moved = md / w;
  f->p_near10_mean = pn / w;  // NaN when a law did not compute it
  std::sort(nn.begin(), nn.end());
  const size_t m = nn.size();
  f->median_nn_distance = m == 0 ? 0 : (m % 2 ? nn[m / 2] : 0.5 * (nn[m / 2 - 1] + nn[m / 2]));
  if (monte_carlo && draws > 0) {
    const double n = static_cast<double>(draws);
    f->p_unchanged_ci = Wilson(unchanged, draws);
    if (std::isfinite(f->p_near10_mean)) f->p_near10_ci = Wilson(near, draws);
    const double mean = sum_d / n;
    const double var = draws > 1 ? std::max(0.0, (sum_d2 - n * mean * mean) / (n - 1)) : 0.0;
    const double half = kZ95 * std::sqrt(var / n);
    f->mean_distance_ci = EffectInterval{std::max(0.0, mean - half), mean + half};
  }
}

EffectFigures Header(const Engine& e) {
  EffectFigures f;
  f.mechanism = e.info->name;
  f.eps = e.plan->eps();
  f.requested_eps = e.config.eps;
  f.options = e.config.mechanism_options;
  f.basis = e.plan->basis();
  if (f.eps && *f.eps > 0) f.inv_eps = 1.0 / *f.eps;
  return f;
}

// Distance to the nearest other word, from the exact lists.
double NearestDistance(const NeighborSource& source, WordId w, std::vector<Neighbor>* scratch) {
  return source.Nearest(w, 1, scratch)[0].dist;
}

// The figures from `law`, word by word. `source` gives exact neighbour lists
// (prefetched for the words when it computes them per batch).
Status LawFigures(const OutputLaw& law, const VectorSet& vs, const NeighborSource& source,
                  size_t workers, std::vector<WordFigures>* per_word) {
  const bool monte_carlo = law.kind() == LawKind::kMonteCarlo;
  return ForEachItem(per_word->size(), law.concurrent() ? workers : 1, [&](size_t i) -> Status {
    const WordId w = static_cast<WordId>(i);
    DPS_ASSIGN_OR_RETURN(WordLaw lw, law.Of(w));
    WordFigures& x = (*per_word)[i];
    x.p_unchanged = lw.p_unchanged;
    x.mean_distance = lw.mean_distance;
    x.p_near10 = lw.p_near10;
    thread_local std::vector<Neighbor> scratch;
    x.nn_distance = NearestDistance(source, w, &scratch);
    if (monte_carlo) {
      // The law gives frequencies; the pooled intervals need the counts and
      // the second moment of the distance, from its output counts.
      x.draws = lw.draws;
      const double n = static_cast<double>(lw.draws);
      x.near =
          std::isfinite(lw.p_near10) ? static_cast<uint64_t>(std::llround(lw.p_near10 * n)) : 0;
      for (size_t k = 0; k < lw.outputs.size(); ++k) {
        const double c = static_cast<double>(lw.counts[k]);
        if (lw.outputs[k] == w) x.unchanged += lw.counts[k];
        const double d = lw.outputs[k] == w ? 0.0 : Distance(vs, w, lw.outputs[k]);
        x.sum_d += c * d;
        x.sum_d2 += c * d * d;
      }
    }
    return Status::Ok();
  });
}

std::string Grouped(size_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string Prob(double p) {
  if (p > 0.999 && p < 1) return "> 0.999";
  if (p > 0 && p < 0.001) return "< 0.001";
  return fmt::format("{:.2g}", p);
}

std::string Num(double x) { return fmt::format("{:.3g}", x); }

std::string Eps(const EffectFigures& f) { return f.eps ? fmt::format("{:g}", *f.eps) : "none"; }

std::string CalibrateHint(const EffectFigures& f) {
  const std::optional<double> eps = f.requested_eps ? f.requested_eps : f.eps;
  std::string hint = fmt::format("dpsanitize calibrate --mechanism {}", f.mechanism);
  if (eps) hint += fmt::format(" --eps {:g}", *eps);
  // Validated numbers and choices: nothing to quote.
  for (const auto& [name, value] : f.options) hint += fmt::format(" --{} {}", name, value);
  return hint;
}

nlohmann::json Number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }

nlohmann::json Interval(const std::optional<EffectInterval>& iv) {
  return iv ? nlohmann::json::array({iv->lo, iv->hi}) : nlohmann::json();
}

const char* MethodKey(LawKind kind) {
  switch (kind) {
    case LawKind::kExact:
      return "exact";
    case LawKind::kCertified:
      return "certified";
    case LawKind::kMonteCarlo:
      return "monte_carlo";
  }
  return "exact";  // unreachable: the switch is exhaustive (-Werror=switch)
}

}  // namespace

StatusOr<EffectFigures> ComputeEffect(Engine& e, const EffectOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  EffectFigures f = Header(e);
  const size_t n = std::min<size_t>(options.words, e.vocab->size());
  if (n == 0) return UsageError("--effect-words: must be positive");
  if (options.draws_per_word == 0)
    return UsageError("Monte Carlo draws per word: must be positive");
  DPS_ASSIGN_OR_RETURN(LawContext ctx, MakeLawContext(e));
  // Fixed public streams: the same figures on every call.
  ctx.samples = options.draws_per_word;
  ctx.seed = kEffectSeed;
  DPS_ASSIGN_OR_RETURN(NeighborAccess nb, e.ExactNeighbors());
  std::vector<WordId> ids(n);
  std::iota(ids.begin(), ids.end(), WordId{0});
  // Lists computed per batch (no prepared table): one batched search now
  // instead of a scan per word later.
  if (nb.prefetch) nb.prefetch(ids);
  DPS_ASSIGN_OR_RETURN(std::unique_ptr<OutputLaw> law, e.plan->Law(ctx));
  f.kind = law->kind();
  switch (f.kind) {
    case LawKind::kExact:
      f.method = "exact law over every output";
      break;
    case LawKind::kCertified:
      // A certified law refuses a depth whose unlisted mass is not below a
      // thousandth of the typical-output threshold (output_law.h).
      f.method = fmt::format(
          "certified numerical law over each word's {} nearest outputs (the others carry a mass "
          "below {:g})",
          std::min<size_t>(ctx.depth, e.vocab->size() - 1) + 1, ctx.typical_threshold * 1e-3);
      break;
    case LawKind::kMonteCarlo:
      f.draws_per_word = options.draws_per_word;
      f.method = fmt::format("Monte Carlo, {} draws per word ({} in all); 95 % intervals",
                             options.draws_per_word, Grouped(n * options.draws_per_word));
      break;
  }
  std::vector<WordFigures> per_word(n);
  DPS_RETURN_IF_ERROR(
      LawFigures(*law, ctx.vectors, *nb.source, Workers(e, options.threads), &per_word));
  Aggregate(per_word, f.kind == LawKind::kMonteCarlo, &f);
  f.seconds = Seconds(t0);
  return f;
}

StatusOr<EffectFigures> ComputeQuickEffect(Engine& e, const QuickEffectOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  EffectFigures f = Header(e);
  if (!e.mechanism) return InternalError("what eps does: the sampler is not built");
  DPS_ASSIGN_OR_RETURN(NeighborAccess nb, e.ExactNeighbors());
  const VectorSet vs = e.vocab->vectors();
  // A closed-form law first. No nearest-word finder in its context: creating
  // one costs start-up time, and only a Monte Carlo law needs it (that case
  // takes the sampler path below).
  LawContext ctx;
  ctx.vectors = vs;
  ctx.neighbors = nb.source;
  ctx.mechanism = e.mechanism.get();
  auto law = options.use_law ? e.plan->Law(ctx) : StatusOr<std::unique_ptr<OutputLaw>>(nullptr);
  if (law.ok() && law.value() && law.value()->kind() == LawKind::kExact) {
    const size_t n = std::min<size_t>(options.exact_words, e.vocab->size());
    if (n == 0) return InternalError("what eps does: nothing to compute");
    std::vector<WordId> ids(n);
    std::iota(ids.begin(), ids.end(), WordId{0});
    if (nb.prefetch) nb.prefetch(ids);
    std::vector<WordFigures> per_word(n);
    DPS_RETURN_IF_ERROR(LawFigures(*law.value(), vs, *nb.source, Workers(e, 0), &per_word));
    f.kind = LawKind::kExact;
    f.method = "exact law over every output";
    Aggregate(per_word, false, &f);
    f.seconds = Seconds(t0);
    return f;
  }
  const size_t n = std::min<size_t>(options.sampled_words, e.vocab->size());
  const uint64_t max_draws_per_word = options.max_draws_per_word;
  const double budget_seconds = options.budget_seconds;
  if (n == 0 || max_draws_per_word == 0) return InternalError("what eps does: nothing to compute");
  std::vector<WordId> ids(n);
  std::iota(ids.begin(), ids.end(), WordId{0});
  // Lists computed per batch (no prepared table): one batched search.
  if (nb.prefetch) nb.prefetch(ids);
  std::vector<WordFigures> per_word(n);
  std::vector<std::vector<WordId>> near(n);
  std::vector<Neighbor> scratch;
  for (size_t i = 0; i < n; ++i) {
    const size_t k = std::min<size_t>(kNear, vs.n - 1);
    const Neighbor* list = nb.source->Nearest(ids[i], k, &scratch);
    per_word[i].nn_distance = list[0].dist;
    for (size_t j = 0; j < k; ++j) near[i].push_back(list[j].id);
  }
  // Monte Carlo of the run's own sampler under a fixed public key: round r
  // draws each word once from stream (kEffectDoc + r, 0, word), so the
  // figures are the same on every run that draws the same rounds.
  e.mechanism->Prefetch(ids);
  const RunKey key = RunKey::FromSeed(kEffectSeed);
  std::vector<WordDraw> draws(n);
  std::vector<WordId> out(n);
  const size_t parts = std::max<size_t>(1, std::min(Workers(e, 0), n));
  // A pilot of a few draws (from streams of their own, not counted) first:
  // a sampler too slow to draw min_draws_per_word rounds within the budget
  // is not run further, so that it costs the start-up a few draws rather
  // than a round (mvl's exact search: 100 draws take ~0.1 s).
  {
    const size_t m = std::min(kPilotDraws, n);
    std::vector<WordDraw> pilot(m);
    for (size_t i = 0; i < m; ++i) pilot[i] = {ids[i], 0, kEffectPilotDoc, i};
    const auto tp = std::chrono::steady_clock::now();
    e.mechanism->Perturb(pilot.data(), m, key, out.data());
    const double per_draw = Seconds(tp) / static_cast<double>(m);
    const double projected = Seconds(t0) + per_draw *
                                               static_cast<double>(n * options.min_draws_per_word) /
                                               static_cast<double>(parts);
    if (projected > budget_seconds) {
      f.kind = LawKind::kMonteCarlo;
      f.words = n;
      f.draws_per_word = 0;
      f.method = fmt::format("not drawn: about {:.0f} us per draw", per_draw * 1e6);
      f.seconds = Seconds(t0);
      return f;
    }
  }
  uint64_t rounds = 0;
  while (rounds < max_draws_per_word) {
    for (size_t i = 0; i < n; ++i) draws[i] = {ids[i], 0, kEffectDoc + rounds, i};
    ParallelFor(parts, [&](size_t p) {
      const size_t begin = n * p / parts, end = n * (p + 1) / parts;
      e.mechanism->Perturb(draws.data() + begin, end - begin, key, out.data() + begin);
    });
    for (size_t i = 0; i < n; ++i) {
      WordFigures& x = per_word[i];
      const WordId y = out[i];
      const double d = y == ids[i] ? 0.0 : Distance(vs, ids[i], y);
      ++x.draws;
      if (y == ids[i]) ++x.unchanged;
      if (std::find(near[i].begin(), near[i].end(), y) != near[i].end()) ++x.near;
      x.sum_d += d;
      x.sum_d2 += d * d;
    }
    ++rounds;
    // At least one round; no more once the start-up budget is spent (the
    // caller decides whether the rounds drawn are enough to state).
    if (Seconds(t0) > budget_seconds) break;
  }
  for (WordFigures& x : per_word) {
    const double m = static_cast<double>(x.draws);
    x.p_unchanged = static_cast<double>(x.unchanged) / m;
    x.p_near10 = static_cast<double>(x.near) / m;
    x.mean_distance = x.sum_d / m;
  }
  f.kind = LawKind::kMonteCarlo;
  f.draws_per_word = rounds;
  f.method = fmt::format("Monte Carlo of the run's sampler, {} draws per word", rounds);
  Aggregate(per_word, true, &f);
  f.seconds = Seconds(t0);
  return f;
}

std::string EffectVerdict(const EffectFigures& f) {
  const double p = f.p_unchanged_mean;
  // Among the words that are replaced, the share that land among their 10
  // nearest: "near neighbours" or "unrelated words".
  std::string by;
  if (std::isfinite(f.p_near10_mean) && p < 0.999) {
    const double near_share = f.p_near10_mean / (1 - p);
    by = near_share >= 0.5 ? "near neighbours (among its 10 nearest)"
                           : "unrelated words (outside its 10 nearest)";
  }
  if (p >= 0.95) return "almost every word is kept as it is";
  if (p >= 0.5) {
    return by.empty() ? "most words are kept as they are"
                      : "most words are kept as they are; the others are replaced mostly by " + by;
  }
  const std::string what = p >= 0.1 ? "most words are replaced" : "almost every word is replaced";
  return by.empty() ? what : what + ", mostly by " + by;
}

std::string EffectLine(const EffectFigures& f) {
  const bool mc = f.kind == LawKind::kMonteCarlo;
  std::string kept = fmt::format("{}{}", mc ? "about " : "", Prob(f.p_unchanged_mean));
  std::string moves = fmt::format("{}{}", mc ? "about " : "", Num(f.mean_distance_moved));
  if (mc && f.p_unchanged_ci) {
    kept += fmt::format(" (95 % interval {} to {}, Monte Carlo)", Prob(f.p_unchanged_ci->lo),
                        Prob(f.p_unchanged_ci->hi));
  }
  return fmt::format(
      "{} at eps {}: on the {} most frequent words a word is kept with probability {} and moves "
      "{} on average (median nearest-neighbour distance {}): {}; see {}",
      f.mechanism, Eps(f), Grouped(f.words), kept, moves, Num(f.median_nn_distance),
      EffectVerdict(f), CalibrateHint(f));
}

std::string EffectText(const EffectFigures& f) {
  const bool mc = f.kind == LawKind::kMonteCarlo;
  auto ci = [mc](const std::optional<EffectInterval>& iv, bool prob) {
    if (!mc || !iv) return std::string();
    return prob ? fmt::format(" (95 % interval {} to {})", Prob(iv->lo), Prob(iv->hi))
                : fmt::format(" (95 % interval {} to {})", Num(iv->lo), Num(iv->hi));
  };
  std::string s = fmt::format("\nwhat eps does ({} most frequent words)\n", Grouped(f.words));
  s += fmt::format("  a word is kept as it is with probability {}{} (mean P[M(w) = w])\n",
                   Prob(f.p_unchanged_mean), ci(f.p_unchanged_ci, true));
  s += fmt::format("  it moves {}{} on average (mean distance E[d(w, M(w))])\n",
                   Num(f.mean_distance_moved), ci(f.mean_distance_ci, false));
  s += fmt::format("  for scale: a word's nearest other word is {} away (median){}\n",
                   Num(f.median_nn_distance),
                   f.inv_eps ? fmt::format(", and 1/eps is {}", Num(*f.inv_eps)) : std::string());
  if (std::isfinite(f.p_near10_mean)) {
    s += fmt::format(
        "  the output is one of the word's 10 nearest other words with probability {}{}\n",
        Prob(f.p_near10_mean), ci(f.p_near10_ci, true));
  }
  s += fmt::format("  in short: {}\n", EffectVerdict(f));
  s += fmt::format("  computed by: {}\n", f.method);
  return s;
}

void AddEffectJson(const EffectFigures& f, nlohmann::json* j) {
  nlohmann::json& o = *j;
  o["effect_words"] = f.words;
  o["effect_method"] = MethodKey(f.kind);
  if (f.kind == LawKind::kMonteCarlo) o["effect_draws_per_word"] = f.draws_per_word;
  o["p_unchanged_mean"] = Number(f.p_unchanged_mean);
  o["mean_distance_moved"] = Number(f.mean_distance_moved);
  o["p_near10_mean"] = Number(f.p_near10_mean);
  if (f.kind == LawKind::kMonteCarlo) {
    o["p_unchanged_ci"] = Interval(f.p_unchanged_ci);
    o["mean_distance_moved_ci"] = Interval(f.mean_distance_ci);
    o["p_near10_ci"] = Interval(f.p_near10_ci);
  }
  o["inv_eps"] = f.inv_eps ? nlohmann::json(*f.inv_eps) : nlohmann::json();
  o["median_nn_distance"] = Number(f.median_nn_distance);
  o["effect_summary"] = EffectVerdict(f);
}

void StateEffect(Engine& e) {
  // Shown at the default level (warn), silent with -q (err): the default
  // keeps stderr for problems, but a run at an eps that replaces almost
  // every word by an unrelated one is exactly what a user must see before
  // trusting the output, and it costs one line. spdlog's pattern shows no
  // level, so the line reads as information, not as an alarm. When the
  // line would not be shown, nothing is computed.
  if (!Log().should_log(spdlog::level::warn)) return;
  const EffectFigures header = Header(e);
  auto f = ComputeQuickEffect(e, QuickEffectOptions{});
  if (!f.ok()) {
    // Figures are advice: a failure to compute them never fails the run.
    Log().warn("{} at eps {}: what eps does was not computed ({}); see {}", header.mechanism,
               Eps(header), f.status().message(), CalibrateHint(header));
    return;
  }
  Log().debug("what eps does: {} in {:.3f} s", f.value().method, f.value().seconds);
  if (f.value().kind == LawKind::kMonteCarlo &&
      f.value().draws_per_word < QuickEffectOptions{}.min_draws_per_word) {
    // A slow sampler (mvl with its exact nearest-word search, a few thousand
    // words per second) would give a wide interval, or cost seconds:
    // calibrate computes the figures instead.
    Log().warn(
        "{} at eps {}: what eps does is not stated here (its sampler is too slow for the "
        "start-up budget); see {}",
        header.mechanism, Eps(header), CalibrateHint(header));
    return;
  }
  Log().warn("{}", EffectLine(f.value()));
}

}  // namespace dpsanitize
