// Exact samplers for the exponential-mechanism selectors (spec section 2b).
//
// The law. For source word w, y in V: weight u(y) = alpha(y) exp(-beta s(w, y)),
// s = min(d, gamma), P[M(w) = y] = u(y) / Z(w). All weights are handled as
// logs, lu(y) = ln alpha(y) - beta s(w, y), so nothing underflows at large
// beta (eps = 50 gives beta = 25 and distances reach 20: e^-500).
//
// One round of the sampler (envelope rejection, exact):
//   head H = {w} and its K = min(head_k, |V| - 1) nearest other words, each a
//     component with its own exact log weight; the T = |V| - 1 - K other words
//     form one "tail" component of log weight ln T + ln e, where
//     ln e = ln alpha_max - beta s_K bounds every tail word's log weight
//     (a tail word is at least as far as the K-th neighbour, and s is
//     nondecreasing in d);
//   1. choose a component with probability (its weight) / (sum of all);
//   2. a head word is output; for the tail, draw y uniform over V \ H and
//      output it with probability u(y) / e, else start a new round.
// P[round outputs y] = u(y) / (envelope mass) for every y (head: by weight;
// tail: (T e / mass) (1 / T) (u(y) / e)), the same constant for all y, so the
// accepted output has law u(y) / Z(w). Expected rounds: (envelope mass) / Z(w),
// about 1 when w or its head dominate (large eps), a few at small eps.
//
// Step 1 without a 2^-53 floor. One uniform compared with cumulative sums
// would give every component a probability rounded to multiples of 2^-53, so
// an output of probability e^-60 for w could become impossible for w while
// possible for a neighbour w': an unbounded privacy loss in the
// implementation, though not in the mechanism.
// Instead the components are visited in decreasing weight, and at component j
// one Bernoulli decides "stop here" with probability p_j = u_j / S_j (S_j the
// weight of components j, j+1, ...). When p_j < 1/2 the stop event itself is
// drawn by BernoulliProb(p_j); otherwise its complement, with probability
// q_j = S_{j+1} / S_j <= 1/2, by BernoulliProb(q_j). BernoulliProb is
// accurate to 2^-52 *relative* to its probability, however small (it splits
// p = 2^-k f exactly and draws the 2^-k as k fair bits), so every output's
// probability is a product of factors each accurate to relative ~1e-15. The
// S_j are suffix sums of the weights relative to the heaviest, in linear
// scale while every weight is a normal double there (one exp per component);
// past e^-700 the walk switches to log scale (ln S_j by log-sum-exp,
// BernoulliExp). Descending order keeps the walk short: it stops at the
// first component with probability p_0 (usually w itself, or the tail at
// small eps).
//
// Draw order from the word's stream (WordRng: one ChaCha20 stream per
// (key, document, field, position), spec section 4). Round after round, until
// a round outputs a word:
//   a. the walk: per visited component one Bernoulli (1 stream word when
//      its probability is >= 1/2, else 2: a word of fair bits, then a
//      uniform), none for the last component (its conditional probability
//      is 1);
//   b. if the tail was chosen: UniformBelow(T) (one word, rarely more),
//      mapped to the T words outside H in increasing id order; then one
//      BernoulliExp for the acceptance (none when its probability is 1, e.g.
//      tem with gamma <= s_K and alpha = 1).
// Every round uses fresh stream words, so rounds are independent and
// identically distributed, which is what the rejection argument needs; the
// number of words drawn varies from word to word, which the keyed streams
// allow (each word has its own stream, so nothing is shared between words,
// threads or batches).
//
// Distances: head words use the source's distances (exact, double precision
// by the NeighborSource contract); a tail word's distance is recomputed by
// Distance() in double precision. A tail word tied with the K-th neighbour
// may compute a hair below s_K; its acceptance probability then rounds above
// 1 and is taken as 1, an error of a few ulps.
#include "dpsanitize/mechanisms/exp_mech.h"

#include <algorithm>
#include <cmath>

namespace dpsanitize {
namespace {

constexpr double kLn2 = 0.693147180559945309417232121458176568;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ln(1 + e^t), accurate for every t (and +-inf).
double Softplus(double t) {
  if (t > 0) return t + std::log1p(std::exp(-t));
  return std::log1p(std::exp(t));
}

// ln(e^a + e^b), with -inf as the log of 0.
double LogAddExp(double a, double b) {
  if (a < b) std::swap(a, b);
  if (b == -kInf) return a;
  return a + std::log1p(std::exp(b - a));
}

struct Component {
  double lw;  // log weight
  double w;   // weight relative to the heaviest component (linear scale only)
  WordId id;  // head word id; unused for the tail
  bool tail;
  uint32_t order;  // position before sorting, the tie-break
};

// Decreasing log weight, ties by original position: a total order, so the
// visit order (and with it the draws) is the same on every platform.
bool HeavierFirst(const Component& a, const Component& b) {
  return a.lw > b.lw || (a.lw == b.lw && a.order < b.order);
}

// Per-thread buffers, so that Select allocates nothing after warm-up.
struct Workspace {
  std::vector<Component> comp;
  std::vector<double> suffix;    // S_j, or ln S_j; one extra 0 (or -inf) at the end
  std::vector<WordId> head_ids;  // the head's ids, ascending (built when the tail is drawn)
};

Workspace& ThreadWorkspace() {
  thread_local Workspace ws;
  return ws;
}

// True when k fair bits drawn from the stream are all 1 (probability 2^-k),
// k >= 0: one stream word per started block of 64 bits, none for k = 0.
bool FairBitsAllOne(uint64_t k, WordRng& rng) {
  while (k >= 64) {
    if (rng.NextU64() != ~uint64_t{0}) return false;
    k -= 64;
  }
  if (k == 0) return true;
  const uint64_t mask = (uint64_t{1} << k) - 1;
  return (rng.NextU64() & mask) == mask;
}

}  // namespace

bool BernoulliProb(double p, WordRng& rng) {
  if (p >= 1) return true;  // consumes nothing: the draw order says so
  if (!(p > 0)) return false;
  // p = f 2^-k exactly (frexp), f in [1/2, 1): k fair bits must all be 1,
  // then a uniform below f (resolution 2^-53 relative to f >= 1/2).
  int e = 0;
  const double f = std::frexp(p, &e);
  if (!FairBitsAllOne(static_cast<uint64_t>(-e), rng)) return false;
  return rng.Uniform() < f;
}

bool BernoulliExp(double log_p, WordRng& rng) {
  if (log_p >= 0) return true;  // consumes nothing: the draw order says so
  if (log_p == -kInf || std::isnan(log_p)) return false;
  // exp(log_p) = 2^-k exp(r), r in (-ln 2, 0]: k fair bits must all be 1,
  // then a uniform below exp(r) >= 1/2. Unlike exp(log_p) itself, this has
  // no underflow below 1e-308.
  const double k = std::floor(-log_p / kLn2);
  const double r = log_p + k * kLn2;  // rounding may leave r a hair above 0: exp(r) > 1, fine
  // k beyond 2^64 fair bits: false with certainty in any stream we will meet
  // (probability below 2^-(2^64)); not reachable for finite weights here.
  if (!(k < 18446744073709551616.0)) return false;
  if (!FairBitsAllOne(static_cast<uint64_t>(k), rng)) return false;
  return rng.Uniform() < std::exp(r);
}

uint64_t UniformBelow(uint64_t n, WordRng& rng) {
  if (n <= 1) return 0;
  // 2^64 mod n, computed in 64 bits as (2^64 - n) mod n. Words in
  // [threshold, 2^64) are a whole number of copies of 0..n-1.
  const uint64_t threshold = (uint64_t{0} - n) % n;
  while (true) {
    const uint64_t x = rng.NextU64();
    if (x >= threshold) return x % n;
  }
}

Status ValidateExpMechParams(const ExpMechParams& p, size_t vocab_size) {
  if (!(p.beta >= 0) || !std::isfinite(p.beta)) {
    return UsageError("exponential mechanism: beta must be finite and >= 0 (got {})", p.beta);
  }
  if (!(p.gamma > 0)) {
    return UsageError("tem: gamma must be > 0 (got {})", p.gamma);
  }
  if (p.log_alpha != nullptr) {
    for (size_t y = 0; y < vocab_size; ++y) {
      if (!std::isfinite(p.log_alpha[y])) {
        return DataError("exponential mechanism: output weight {} is not finite", y);
      }
    }
  }
  return Status::Ok();
}

StatusOr<double> DefaultTemGamma(double eps, size_t vocab_size, double max_beyond_prob) {
  if (!(eps > 0) || !std::isfinite(eps)) {
    return UsageError("tem: eps must be finite and > 0 (got {})", eps);
  }
  if (!(max_beyond_prob > 0 && max_beyond_prob < 1)) {
    return UsageError("tem: the probability of an output beyond gamma must be in (0, 1) (got {})",
                      max_beyond_prob);
  }
  if (vocab_size < 2) return kInf;
  // ln((|V| - 1)(1 - p) / p), as a sum of logs so that nothing overflows.
  const double log_ratio = std::log(static_cast<double>(vocab_size - 1)) +
                           std::log1p(-max_beyond_prob) - std::log(max_beyond_prob);
  const double gamma = 2.0 / eps * log_ratio;
  if (!(gamma > 0)) {
    return UsageError(
        "tem: the default gamma rule gives gamma = {} <= 0 for |V| = {} and p = {}; choose a "
        "smaller p or set --tem-gamma",
        gamma, vocab_size, max_beyond_prob);
  }
  return gamma;
}

namespace {

// Fills lw[y] = ln alpha(y) - beta min(d(w, y), gamma) for every y; returns
// the maximum.
double LogWeights(VectorSet v, WordId w, const ExpMechParams& p, std::vector<double>* lw) {
  lw->resize(v.n);
  double best = -kInf;
  for (size_t y = 0; y < v.n; ++y) {
    const double d = (y == w) ? 0.0 : Distance(v, w, y);
    const double la = p.log_alpha ? p.log_alpha[y] : 0.0;
    const double l = la - p.beta * std::min(d, p.gamma);
    (*lw)[y] = l;
    best = std::max(best, l);
  }
  return best;
}

// ln sum_y exp(lw[y]) given max = max_y lw[y]; Neumaier-compensated sum of
// exp(lw - max), each term in (0, 1].
double LogSumExp(const std::vector<double>& lw, double max) {
  double sum = 0;
  double comp = 0;
  for (double l : lw) {
    const double t = std::exp(l - max);
    const double s = sum + t;
    comp += (std::abs(sum) >= std::abs(t)) ? (sum - s) + t : (t - s) + sum;
    sum = s;
  }
  return max + std::log(sum + comp);
}

}  // namespace

void ExpMechLogLaw(VectorSet v, WordId w, const ExpMechParams& p, std::vector<double>* log_prob) {
  const double best = LogWeights(v, w, p, log_prob);
  const double log_z = LogSumExp(*log_prob, best);
  for (double& l : *log_prob) l -= log_z;
}

double ExpMechLogZ(VectorSet v, WordId w, const ExpMechParams& p) {
  std::vector<double> lw;
  const double best = LogWeights(v, w, p, &lw);
  return LogSumExp(lw, best);
}

ExpMechSelector::ExpMechSelector(const ExpMechParams& params, VectorSet vectors,
                                 const NeighborSource& source, size_t head_k)
    : params_(params),
      v_(vectors),
      source_(source),
      head_k_(vectors.n > 0 ? std::min(head_k, vectors.n - 1) : 0),
      log_alpha_max_(0) {
  if (params_.log_alpha != nullptr && v_.n > 0) {
    log_alpha_max_ = *std::max_element(params_.log_alpha, params_.log_alpha + v_.n);
  }
}

WordId ExpMechSelector::Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch) const {
  return Select(word, rng, scratch, nullptr);
}

WordId ExpMechSelector::Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch,
                               uint64_t* rounds) const {
  if (rounds) *rounds = 0;
  if (v_.n <= 1) return word;
  const size_t k = head_k_;
  const double beta = params_.beta;
  const double gamma = params_.gamma;
  const Neighbor* nb = k > 0 ? source_.Nearest(word, k, scratch) : nullptr;

  const uint64_t tail_count = v_.n - 1 - k;
  // s_K: every tail word y has d(w, y) >= d_K, hence s(w, y) >= s_K. With no
  // neighbour in the head (k = 0), s_K = 0 is the bound.
  const double s_k = k > 0 ? std::min(nb[k - 1].dist, gamma) : 0.0;
  const double log_envelope = log_alpha_max_ - beta * s_k;
  // Every tail word has s = gamma when the K-th neighbour is already at or
  // beyond gamma: no distance needs computing then.
  const bool tail_all_truncated = k > 0 && nb[k - 1].dist >= gamma;
  const double tail_lw = std::log(static_cast<double>(tail_count)) + log_envelope;

  // Components, heaviest first (HeavierFirst): w (s = 0), its k neighbours,
  // and the tail block if any, whose position before sorting is last.
  Workspace& ws = ThreadWorkspace();
  std::vector<Component>& comp = ws.comp;
  const size_t m = k + 1 + (tail_count > 0 ? 1 : 0);
  comp.resize(m);
  ws.head_ids.clear();
  const Component tail_comp{tail_lw, 0, 0, true, static_cast<uint32_t>(k + 1)};
  if (params_.log_alpha == nullptr) {
    // alpha = 1: w and the neighbours are already in decreasing weight (the
    // source sorts by distance; s is nondecreasing in d), so only the tail
    // block needs its place: before the first head entry strictly lighter.
    size_t out = 0;
    bool tail_placed = tail_count == 0;
    for (size_t i = 0; i <= k; ++i) {
      const double l = i == 0 ? 0.0 : -beta * std::min(nb[i - 1].dist, gamma);
      if (!tail_placed && tail_lw > l) {
        comp[out++] = tail_comp;
        tail_placed = true;
      }
      comp[out++] = {l, 0, i == 0 ? word : nb[i - 1].id, false, static_cast<uint32_t>(i)};
    }
    if (!tail_placed) comp[out++] = tail_comp;
  } else {
    comp[0] = {LogAlpha(word), 0, word, false, 0};
    for (size_t i = 0; i < k; ++i) {
      const double l = LogAlpha(nb[i].id) - beta * std::min(nb[i].dist, gamma);
      comp[i + 1] = {l, 0, nb[i].id, false, static_cast<uint32_t>(i + 1)};
    }
    if (tail_count > 0) comp[k + 1] = tail_comp;
    std::sort(comp.begin(), comp.end(), HeavierFirst);
  }
  // Suffix sums S_j. In linear scale, relative to the heaviest component,
  // when every weight is a normal double there (one exp per component: the
  // common case); in log scale otherwise (weights e^-700 apart and beyond,
  // e.g. eps in the hundreds), where ln S_j comes from log-sum-exps.
  const double top = comp[0].lw;
  const bool linear = comp[m - 1].lw - top > -700.0;
  std::vector<double>& suffix = ws.suffix;
  suffix.assign(m + 1, linear ? 0.0 : -kInf);
  for (size_t j = m; j-- > 0;) {
    if (linear) {
      comp[j].w = std::exp(comp[j].lw - top);
      suffix[j] = comp[j].w + suffix[j + 1];  // smallest first: no absorption
    } else {
      suffix[j] = LogAddExp(comp[j].lw, suffix[j + 1]);
    }
  }
  // Stop at component j, given that the walk reached it: probability
  // p_j = u_j / S_j, drawn as itself when below 1/2, else as the complement
  // of q_j = S_{j+1} / S_j (so the Bernoulli always draws the rarer event).
  auto stop_at = [&](size_t j) {
    if (linear) {
      const double p = comp[j].w / suffix[j];
      return p < 0.5 ? BernoulliProb(p, rng) : !BernoulliProb(suffix[j + 1] / suffix[j], rng);
    }
    if (suffix[j + 1] == -kInf) return true;  // nothing left after j
    const double delta = comp[j].lw - suffix[j + 1];
    const double log_p = -Softplus(-delta);  // ln(u_j / S_j)
    return log_p < -kLn2 ? BernoulliExp(log_p, rng) : !BernoulliExp(-Softplus(delta), rng);
  };

  while (true) {
    if (rounds) ++*rounds;
    // a. The walk, heaviest component first; the last one needs no draw.
    size_t j = 0;
    while (j + 1 < m && !stop_at(j)) ++j;
    const Component& c = comp[j];
    if (!c.tail) return c.id;

    // b. A uniform word of V outside the head: the j-th of the T words not in
    // the head, in increasing id order, for j uniform below T (exact, one
    // draw whatever the head's size), then the acceptance test.
    std::vector<WordId>& head_ids = ws.head_ids;
    if (head_ids.size() != k + 1) {
      head_ids.resize(k + 1);
      head_ids[0] = word;
      for (size_t i = 0; i < k; ++i) head_ids[i + 1] = nb[i].id;
      std::sort(head_ids.begin(), head_ids.end());
    }
    uint64_t y = UniformBelow(tail_count, rng);
    for (const WordId h : head_ids) {
      if (h > y) break;
      ++y;  // skip the head word at or below the candidate
    }
    const WordId tail_word = static_cast<WordId>(y);
    const double s = tail_all_truncated ? gamma : std::min(Distance(v_, word, tail_word), gamma);
    const double log_accept = LogAlpha(tail_word) - beta * s - log_envelope;
    if (BernoulliExp(log_accept, rng)) return tail_word;
  }
}

void ExpMechMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const {
  PerturbEachWord(in, n, key, out, [this](WordId w, WordRng& rng, std::vector<Neighbor>* scratch) {
    return selector_.Select(w, rng, scratch);
  });
}

}  // namespace dpsanitize
