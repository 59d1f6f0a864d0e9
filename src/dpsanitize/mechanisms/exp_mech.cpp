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
// The clustered tail (with TailBounds; used for a word when the single
// envelope's tail mass is at least 1/16 of its heaviest head weight, where
// rejections would be many). Cluster c gets the envelope
//   e_c = alpha_max(c) exp(-beta min(max(d_K, bound(w, c)), gamma)),
// valid for all its members outside the head (they are at least as far as
// the K-th neighbour and as the cluster's bound), and the weight W_c = |c| e_c.
// The cluster is drawn by integer quotas, exactly: Q_c = floor(W_c / sum W *
// 2^62) + 1 (at least 1 for every cluster with a word other than w), R =
// sum Q_c, cluster c with probability exactly Q_c / R (UniformBelow(R)), so
// the rounding of W_c to quotas is never a floor on any probability. The tail
// component's weight in step 1 is lambda = max_c W_c R / Q_c (times 1 +
// 2^-40 for the rounding of this very computation), and a member y of c,
// drawn uniformly, is accepted with probability
//   u(y) / (lambda Q_c / (R |c|)) <= u(y) / e_c <= 1;
// a member that is in the head (w included) ends the round unanswered. Then
// P[round outputs y] = (lambda / mass) (Q_c / R) (1 / |c|) u(y) R |c| /
// (lambda Q_c) = u(y) / mass, the same constant as for head words: the law is
// unchanged, only the number of proposals falls. Draw order of a round that
// chose the tail: UniformBelow(R), UniformBelow(|c|), and, unless the member
// is in the head, one BernoulliExp for the acceptance.
//
// Distances: head words use the source's distances (exact, double precision
// by the NeighborSource contract); a tail word's distance is recomputed by
// Distance() in double precision. A tail word tied with the K-th neighbour
// may compute a hair below s_K; its acceptance probability then rounds above
// 1 and is taken as 1, an error of a few ulps.
#include "dpsanitize/mechanisms/exp_mech.h"

#include <algorithm>
#include <cmath>
#include <memory>

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

// Everything about one source word that does not depend on the stream: the
// components in visit order with their suffix sums, the tail's envelope, and
// for the clustered tail the quotas and lambda. Built once per word for the
// most frequent words (kept for the selector's life), per draw for the rest.
struct ExpMechSelector::WordPlan {
  std::vector<Component> comp;
  std::vector<double> suffix;  // S_j, or ln S_j; one extra 0 (or -inf) at the end
  bool linear = true;
  std::vector<WordId> head_ids;  // w and its k neighbours, ascending
  uint64_t tail_count = 0;
  double log_envelope = 0;  // single envelope: ln e
  bool tail_all_truncated = false;
  bool clustered = false;
  double log_lambda = 0;
  std::vector<uint64_t> cum_quota;  // clusters + 1, from 0
};

namespace {

// Words whose plan is kept: ids (frequency ranks) below this. In the IMDb
// bench corpus the 8,192 most frequent vocabulary words are about 80 % of
// the tokens; a plan is at most ~5 kB (64 neighbours, 256 clusters), so the
// cache stays under 40 MB.
constexpr size_t kCachedPlans = 8192;

// Per-thread buffers for words without a kept plan, so that Select allocates
// nothing after warm-up.
struct Workspace {
  std::vector<double> cluster_lw, cluster_w;
};

Workspace& ThreadWorkspace() {
  thread_local Workspace ws;
  return ws;
}

}  // namespace

ExpMechSelector::ExpMechSelector(const ExpMechParams& params, VectorSet vectors,
                                 const NeighborSource& source, size_t head_k,
                                 const TailBounds* bounds)
    : params_(params),
      v_(vectors),
      source_(source),
      head_k_(vectors.n > 0 ? std::min(head_k, vectors.n - 1) : 0),
      log_alpha_max_(0),
      bounds_(bounds != nullptr && bounds->present() && bounds->vocab_size == vectors.n ? bounds
                                                                                        : nullptr),
      cached_(std::min(kCachedPlans, vectors.n)),
      cache_(new std::atomic<WordPlan*>[cached_]) {
  for (size_t i = 0; i < cached_; ++i) cache_[i].store(nullptr, std::memory_order_relaxed);
  if (params_.log_alpha != nullptr && v_.n > 0) {
    log_alpha_max_ = *std::max_element(params_.log_alpha, params_.log_alpha + v_.n);
  }
  if (bounds_ != nullptr) {
    const uint32_t b = bounds_->clusters;
    log_cluster_size_.resize(b);
    cluster_log_alpha_max_.assign(b, params_.log_alpha ? -kInf : 0.0);
    for (uint32_t c = 0; c < b; ++c) {
      log_cluster_size_[c] = std::log(static_cast<double>(bounds_->Size(c)));
      if (params_.log_alpha == nullptr) continue;
      for (uint32_t i = 0; i < bounds_->Size(c); ++i) {
        cluster_log_alpha_max_[c] =
            std::max(cluster_log_alpha_max_[c], params_.log_alpha[bounds_->Members(c)[i]]);
      }
    }
  }
}

ExpMechSelector::~ExpMechSelector() {
  for (size_t i = 0; i < cached_; ++i) delete cache_[i].load(std::memory_order_relaxed);
}

void ExpMechSelector::BuildPlan(WordId word, std::vector<Neighbor>* scratch, WordPlan* plan) const {
  const size_t k = head_k_;
  const double beta = params_.beta;
  const double gamma = params_.gamma;
  const Neighbor* nb = k > 0 ? source_.Nearest(word, k, scratch) : nullptr;

  const uint64_t tail_count = v_.n - 1 - k;
  plan->tail_count = tail_count;
  // s_K: every tail word y has d(w, y) >= d_K, hence s(w, y) >= s_K. With no
  // neighbour in the head (k = 0), s_K = 0 is the bound.
  const double s_k = k > 0 ? std::min(nb[k - 1].dist, gamma) : 0.0;
  const double log_envelope = log_alpha_max_ - beta * s_k;
  plan->log_envelope = log_envelope;
  // Every tail word has s = gamma when the K-th neighbour is already at or
  // beyond gamma: no distance needs computing then.
  plan->tail_all_truncated = k > 0 && nb[k - 1].dist >= gamma;
  double tail_lw = std::log(static_cast<double>(tail_count)) + log_envelope;

  // The clustered tail, when there are bounds and the single envelope's tail
  // would be drawn often (its mass at least 1/16 of w's weight, ln 16 =
  // 2.77): lambda replaces the tail's weight (see the file comment).
  plan->clustered = bounds_ != nullptr && tail_count > 0 && !plan->tail_all_truncated &&
                    tail_lw >= LogAlpha(word) - 2.772588722239781;
  if (plan->clustered) {
    Workspace& ws = ThreadWorkspace();
    const uint32_t nc = bounds_->clusters;
    const double d_k = k > 0 ? nb[k - 1].dist : 0.0;
    ws.cluster_lw.resize(nc);
    ws.cluster_w.resize(nc);
    plan->cum_quota.resize(nc + 1);
    double top_c = -kInf;
    for (uint32_t c = 0; c < nc; ++c) {
      const double bound = bounds_->Bound(word, c);
      // +inf: the cluster holds no word but w, so nothing to propose.
      const double lw = bound == kInf ? -kInf
                                      : log_cluster_size_[c] + cluster_log_alpha_max_[c] -
                                            beta * std::min(std::max(d_k, bound), gamma);
      ws.cluster_lw[c] = lw;
      top_c = std::max(top_c, lw);
    }
    double total = 0;
    for (uint32_t c = 0; c < nc; ++c) {
      ws.cluster_w[c] = std::exp(ws.cluster_lw[c] - top_c);
      total += ws.cluster_w[c];
    }
    // Quotas: floor(W_c / total 2^62) + 1 for every proposable cluster (so
    // none has probability 0), 0 for clusters holding w alone.
    const double scale = 0x1.0p62 / total;
    plan->cum_quota[0] = 0;
    for (uint32_t c = 0; c < nc; ++c) {
      const uint64_t q =
          ws.cluster_lw[c] == -kInf ? 0 : static_cast<uint64_t>(ws.cluster_w[c] * scale) + 1;
      plan->cum_quota[c + 1] = plan->cum_quota[c] + q;
    }
    const double r = static_cast<double>(plan->cum_quota[nc]);
    double ratio = 0;  // max_c W_c R / Q_c, relative to the heaviest cluster
    for (uint32_t c = 0; c < nc; ++c) {
      const uint64_t q = plan->cum_quota[c + 1] - plan->cum_quota[c];
      if (q > 0) ratio = std::max(ratio, ws.cluster_w[c] * (r / static_cast<double>(q)));
    }
    // A cluster whose relative weight underflowed to 0 (below e^-745) needs
    // no term: its W_c R / Q_c <= e^-745 2^63 < 1 <= ratio.
    plan->log_lambda = top_c + std::log(ratio) + 0x1.0p-40;  // ln(1 + 2^-40) < 2^-40
    tail_lw = plan->log_lambda;
  }

  // Components, heaviest first (HeavierFirst): w (s = 0), its k neighbours,
  // and the tail block if any, whose position before sorting is last.
  std::vector<Component>& comp = plan->comp;
  const size_t m = k + 1 + (tail_count > 0 ? 1 : 0);
  comp.resize(m);
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
  plan->linear = comp[m - 1].lw - top > -700.0;
  std::vector<double>& suffix = plan->suffix;
  suffix.assign(m + 1, plan->linear ? 0.0 : -kInf);
  for (size_t j = m; j-- > 0;) {
    if (plan->linear) {
      comp[j].w = std::exp(comp[j].lw - top);
      suffix[j] = comp[j].w + suffix[j + 1];  // smallest first: no absorption
    } else {
      suffix[j] = LogAddExp(comp[j].lw, suffix[j + 1]);
    }
  }
  // The head's ids in increasing order: the single envelope's tail draw maps
  // an index over the words outside the head through them, and the clustered
  // tail tests membership by binary search.
  plan->head_ids.resize(k + 1);
  plan->head_ids[0] = word;
  for (size_t i = 0; i < k; ++i) plan->head_ids[i + 1] = nb[i].id;
  std::sort(plan->head_ids.begin(), plan->head_ids.end());
}

const ExpMechSelector::WordPlan& ExpMechSelector::PlanFor(WordId word,
                                                          std::vector<Neighbor>* scratch) const {
  if (word < cached_) {
    WordPlan* p = cache_[word].load(std::memory_order_acquire);
    if (p != nullptr) return *p;
    // Two threads may build the same plan; the first to publish wins and the
    // other's copy is dropped (both are identical: a plan depends only on the
    // word and the selector).
    auto fresh = std::make_unique<WordPlan>();
    BuildPlan(word, scratch, fresh.get());
    WordPlan* expected = nullptr;
    if (cache_[word].compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
      return *fresh.release();
    }
    return *expected;
  }
  thread_local WordPlan local;
  BuildPlan(word, scratch, &local);
  return local;
}

WordId ExpMechSelector::Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch) const {
  return Select(word, rng, scratch, nullptr);
}

WordId ExpMechSelector::Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch,
                               uint64_t* rounds) const {
  if (rounds) *rounds = 0;
  if (v_.n <= 1) return word;
  const double beta = params_.beta;
  const double gamma = params_.gamma;
  const WordPlan& plan = PlanFor(word, scratch);
  const std::vector<Component>& comp = plan.comp;
  const std::vector<double>& suffix = plan.suffix;
  const size_t m = comp.size();
  const bool linear = plan.linear;

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
  auto in_head = [&](WordId y) {
    return std::binary_search(plan.head_ids.begin(), plan.head_ids.end(), y);
  };

  while (true) {
    if (rounds) ++*rounds;
    // a. The walk, heaviest component first; the last one needs no draw.
    size_t j = 0;
    while (j + 1 < m && !stop_at(j)) ++j;
    const Component& c = comp[j];
    if (!c.tail) return c.id;

    if (plan.clustered) {
      // b'. The clustered tail: a cluster by quota, a uniform member, and
      // the acceptance against lambda Q_c / (R |c|).
      const uint64_t r = plan.cum_quota.back();
      const uint64_t x = UniformBelow(r, rng);
      const uint32_t cl = static_cast<uint32_t>(
          std::upper_bound(plan.cum_quota.begin() + 1, plan.cum_quota.end(), x) -
          (plan.cum_quota.begin() + 1));
      const uint64_t q = plan.cum_quota[cl + 1] - plan.cum_quota[cl];
      const WordId y = bounds_->Members(cl)[UniformBelow(bounds_->Size(cl), rng)];
      if (in_head(y)) continue;  // a head word (or w): no output this round
      const double s = std::min(Distance(v_, word, y), gamma);
      const double log_env = plan.log_lambda +
                             std::log(static_cast<double>(q) / static_cast<double>(r)) -
                             log_cluster_size_[cl];
      if (BernoulliExp(LogAlpha(y) - beta * s - log_env, rng)) return y;
      continue;
    }

    // b. A uniform word of V outside the head: the j-th of the T words not in
    // the head, in increasing id order, for j uniform below T (exact, one
    // draw whatever the head's size), then the acceptance test.
    uint64_t y = UniformBelow(plan.tail_count, rng);
    for (const WordId h : plan.head_ids) {
      if (h > y) break;
      ++y;  // skip the head word at or below the candidate
    }
    const WordId tail_word = static_cast<WordId>(y);
    const double s =
        plan.tail_all_truncated ? gamma : std::min(Distance(v_, word, tail_word), gamma);
    const double log_accept = LogAlpha(tail_word) - beta * s - plan.log_envelope;
    if (BernoulliExp(log_accept, rng)) return tail_word;
  }
}

void ExpMechMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const {
  PerturbEachWord(in, n, key, out, [this](WordId w, WordRng& rng, std::vector<Neighbor>* scratch) {
    return selector_.Select(w, rng, scratch);
  });
}

}  // namespace dpsanitize
