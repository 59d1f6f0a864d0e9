// Exponential-mechanism selectors with a proof (spec section 2b): em, tem,
// and the hook for bem.
//
// For a source word w and every y in V (w included, d(w, w) = 0):
//   P[M(w) = y] = alpha(y) exp(-beta s(w, y)) / Z(w),   s(w, y) = min(d(w, y), gamma),
// which is 2 beta-metric-DP for any alpha > 0 and any gamma > 0 (s is
// 1-Lipschitz in w).
//   * em:  alpha = 1, gamma = +inf, beta = eps / 2 (McSherry & Talwar 2007;
//          SanText, Yue et al., ACL Findings 2021);
//   * tem: alpha = 1, gamma > 0,    beta = eps / 2 (Carvalho et al., SDM 2023);
//   * bem: per-output alpha (log_alpha), gamma = +inf, beta = eps_1 (research).
//
// ExpMechSelector draws exactly from this law without computing Z(w) and
// without a full scan (spec section 2b's suggestion): the head is w and its
// head_k nearest neighbours with their exact weights; every other word is
// bounded by the envelope e = alpha_max exp(-beta s_K). A round picks a head
// word by weight or a uniform non-head word with weight e, and accepts the
// latter with probability (its weight) / e; a rejected round starts afresh.
// With tail bounds (core/tail_bounds.h: clusters of V and a lower bound on the
// distance from w to each cluster) the tail is proposed cluster by cluster
// under a per-cluster envelope, which needs about 5 times fewer proposals at
// eps = 3 on GloVe; the law is the same.
// Every probability the sampler uses is honoured to a *relative* error of a
// few ulps, however small it is (no 2^-53 floor), so the ratio
// P[M(w) = y] / P[M(w') = y] that metric DP bounds is realised as computed
// even for outputs of probability e^-500. See exp_mech.cpp for the draw order.
//
// ExpMechLogLaw computes the exact law (a full O(|V| dim) scan) for the audit,
// `calibrate` and the statistical tests.
#ifndef DPSANITIZE_MECHANISMS_EXP_MECH_H_
#define DPSANITIZE_MECHANISMS_EXP_MECH_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/tail_bounds.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/random/keyed_rng.h"

namespace dpsanitize {

struct ExpMechParams {
  // Inverse temperature: eps / 2 for em and tem, eps_1 for bem. >= 0, finite.
  double beta = 0;
  // Truncation of the score, s = min(d, gamma); +inf for em. > 0.
  double gamma = std::numeric_limits<double>::infinity();
  // Optional ln alpha(y) for every y in V (|V| finite values); nullptr means
  // alpha = 1. Not owned: must outlive every selector and law using it.
  const double* log_alpha = nullptr;
};

// em at `eps`: beta = eps / 2, no truncation.
inline ExpMechParams EmParams(double eps) {
  return {eps / 2, std::numeric_limits<double>::infinity()};
}
// tem at `eps` with threshold `gamma`: beta = eps / 2, s = min(d, gamma).
inline ExpMechParams TemParams(double eps, double gamma) { return {eps / 2, gamma}; }

// Checks that `p` defines a law over a vocabulary of `vocab_size` words:
// beta finite and >= 0, gamma > 0 (NaN rejected), every log_alpha finite.
Status ValidateExpMechParams(const ExpMechParams& p, size_t vocab_size);

// Default bound on the probability that tem's output lies beyond gamma; see
// DefaultTemGamma.
inline constexpr double kDefaultTemBeyondProb = 1e-3;

// tem's default threshold (Carvalho, Vasiloudis, Feyisetan, Wang, "TEM: High
// utility metric differential privacy on text", SDM 2023, arXiv:2107.07928):
//   gamma = (2 / eps) ln((|V| - 1)(1 - p) / p),   p = max_beyond_prob.
// Why: the words beyond gamma (TEM's "⊥" set, at most |V| - 1 of them) carry
// total weight at most (|V| - 1) e^{-eps gamma / 2} = p / (1 - p), and w
// itself carries weight 1, so for EVERY source word the output lies beyond
// gamma with probability at most p. Since tem and em share every weight
// within gamma (and so their laws given "within gamma"), tem's law is within
// total variation p of em's at the same eps. p = 0.001 is the value the
// public TEM implementations use; gamma shrinks as 1 / eps (35.5 / eps for
// |V| = 50,000: beyond GloVe 6B's certified diameter 24.7 below eps ~ 1.4,
// where tem is em exactly). Any gamma > 0 keeps the proof: the rule affects
// utility only, never the guarantee. Errors: eps not finite and
// > 0, p not in (0, 1), or a rule that gives gamma <= 0 (p too large for this
// |V|). |V| < 2 returns +inf (there is nothing to truncate).
StatusOr<double> DefaultTemGamma(double eps, size_t vocab_size,
                                 double max_beyond_prob = kDefaultTemBeyondProb);

// Fills (*log_prob)[y] = ln P[M(w) = y] for every y in V: a full scan in
// double precision (distances as Distance(v, w, y), d(w, w) = 0), normalised
// by log-sum-exp. Entries are finite for finite beta.
void ExpMechLogLaw(VectorSet v, WordId w, const ExpMechParams& p, std::vector<double>* log_prob);
// ln Z(w) = ln sum_y alpha(y) exp(-beta s(w, y)) (absolute, not relative to
// the best score), by the same scan.
double ExpMechLogZ(VectorSet v, WordId w, const ExpMechParams& p);

// Building blocks, exposed for the statistical tests.
//
// True with probability p (p >= 1: always, without a draw; p <= 0 or NaN:
// never), to a relative error of 2^-52 for every p, however small: p is
// split exactly (frexp) into 2^-k f, f in [1/2, 1); k fair bits must all be
// 1, then a 53-bit uniform must fall below f. Uses 1 stream word when
// p >= 1/2, else 2 (plus one per further 64 fair bits, for p < 2^-64).
bool BernoulliProb(double p, WordRng& rng);
// True with probability exp(log_p) (log_p <= 0; >= 0 is always true, -inf
// never), to a relative error of about |log_p| 2^-52 for every log_p: the
// factor 2^-k is drawn as k fair bits and only the rest, in [1/2, 1], is
// compared with a 53-bit uniform. Uses 1 stream word, or 2 when exp(log_p)
// < 1/2 (plus one per further 64 bits below 2^-64; none at all below
// 2^-(2^64), which is taken as 0).
bool BernoulliExp(double log_p, WordRng& rng);
// Uniform on {0, ..., n - 1}, n >= 1, exactly (no modulo bias): 64-bit words
// below 2^64 mod n are rejected (probability < n / 2^64 each), the rest taken
// mod n.
uint64_t UniformBelow(uint64_t n, WordRng& rng);

class ExpMechSelector {
 public:
  // `vectors` is the perturbation vocabulary; `source` gives exact neighbour
  // lists of it (at least min(head_k, |V| - 1) deep). head_k >= |V| - 1 makes
  // the head the whole vocabulary (no tail, no rejection). `params` must pass
  // ValidateExpMechParams. `bounds` (may be null: the single envelope) must
  // be over the same vocabulary. `vectors`, `source`, `bounds` and
  // params.log_alpha are borrowed.
  ExpMechSelector(const ExpMechParams& params, VectorSet vectors, const NeighborSource& source,
                  size_t head_k, const TailBounds* bounds = nullptr);
  ~ExpMechSelector();
  ExpMechSelector(const ExpMechSelector&) = delete;
  ExpMechSelector& operator=(const ExpMechSelector&) = delete;
  // One exact draw of M(word) from `rng` (thread-safe; `scratch` is the
  // caller's buffer for the neighbour source).
  WordId Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch) const;
  // The same, also reporting the number of rounds (1 + rejections).
  WordId Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch, uint64_t* rounds) const;

  const ExpMechParams& params() const { return params_; }
  size_t head_k() const { return head_k_; }

 private:
  struct WordPlan;  // exp_mech.cpp

  double LogAlpha(WordId y) const { return params_.log_alpha ? params_.log_alpha[y] : 0.0; }
  void BuildPlan(WordId word, std::vector<Neighbor>* scratch, WordPlan* plan) const;
  // The word's plan: kept for the most frequent words, else rebuilt in a
  // thread-local buffer (valid until the thread's next call).
  const WordPlan& PlanFor(WordId word, std::vector<Neighbor>* scratch) const;

  ExpMechParams params_;
  VectorSet v_;
  const NeighborSource& source_;
  size_t head_k_;             // min(requested head_k, |V| - 1)
  double log_alpha_max_;      // max_y ln alpha(y), 0 when alpha = 1
  const TailBounds* bounds_;  // null: one envelope for the whole tail
  // Per cluster: ln |c| and max over its members of ln alpha (0 when alpha = 1).
  std::vector<double> log_cluster_size_, cluster_log_alpha_max_;
  // Plans of words with id < cached_, built on first use (thread-safe).
  size_t cached_;
  std::unique_ptr<std::atomic<WordPlan*>[]> cache_;
};

// Adapts ExpMechSelector to the pipeline: one WordRng(key, doc_id, field,
// position) per word, so the output depends only on those coordinates, never
// on threads or batches. `prefetch` (may be empty) gets each batch's distinct
// words (e.g. NeighborCache::Prefetch).
class ExpMechMechanism : public Mechanism {
 public:
  ExpMechMechanism(const ExpMechParams& params, VectorSet vectors, const NeighborSource& source,
                   size_t head_k, std::function<void(const std::vector<WordId>&)> prefetch = {},
                   const TailBounds* bounds = nullptr)
      : selector_(params, vectors, source, head_k, bounds), prefetch_(std::move(prefetch)) {}
  void Prefetch(const std::vector<WordId>& words) override {
    if (prefetch_) prefetch_(words);
  }
  void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const override;
  const ExpMechSelector& selector() const { return selector_; }

 private:
  ExpMechSelector selector_;
  std::function<void(const std::vector<WordId>&)> prefetch_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_EXP_MECH_H_
