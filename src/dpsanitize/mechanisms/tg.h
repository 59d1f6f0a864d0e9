// The truncated Gumbel mechanism (tg), spec section 2:
//   1. k ~ Poisson(mu) conditioned on k <= |V| - 1;
//   2. candidates: the word itself and its k nearest other words (exact,
//      ties by lower id);
//   3. G_c ~ Gumbel(0, b) conditioned on |G_c| <= delta_max, independently;
//   4. output argmin_c d(w, c) + G_c, ties to the lower rank.
// Xu et al., FLAIRS 2021. Draw order from the word's stream: one uniform for
// k, then one per candidate in rank order (rank 0 = the word itself).
#ifndef DPSANITIZE_MECHANISMS_TG_H_
#define DPSANITIZE_MECHANISMS_TG_H_

#include <functional>

#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/mechanisms/samplers.h"

namespace dpsanitize {

struct TgParams {
  double mu = 0;         // Poisson mean
  double b = 0;          // Gumbel scale
  double delta_max = 0;  // truncation bound of the noise
};

class TgSelector {
 public:
  TgSelector(const TgParams& params, size_t vocab_size, const NeighborSource& source);
  // One draw of the mechanism for `word` from `rng`.
  WordId Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch) const;
  // The same with explicit uniforms (tests): u[0] for k, u[1 + r] for rank r.
  template <typename Uniforms>
  WordId SelectWith(WordId word, Uniforms&& next_uniform, std::vector<Neighbor>* scratch) const;
  const TruncatedPoisson& poisson() const { return poisson_; }
  const TruncatedGumbel& gumbel() const { return gumbel_; }

 private:
  TruncatedPoisson poisson_;
  TruncatedGumbel gumbel_;
  const NeighborSource& source_;
};

template <typename Uniforms>
WordId TgSelector::SelectWith(WordId word, Uniforms&& next_uniform,
                              std::vector<Neighbor>* scratch) const {
  const uint64_t k = poisson_.Sample(next_uniform());
  WordId best_id = word;
  double best = gumbel_.Sample(next_uniform());  // rank 0: d(w, w) = 0
  if (k == 0) return word;
  const Neighbor* nb = source_.Nearest(word, k, scratch);
  for (uint64_t r = 0; r < k; ++r) {
    const double v = nb[r].dist + gumbel_.Sample(next_uniform());
    if (v < best) {
      best = v;
      best_id = nb[r].id;
    }
  }
  return best_id;
}

// Adapts TgSelector to the pipeline's Mechanism interface. `prefetch` (may
// be empty) is called with each batch's distinct words.
class TgMechanism : public Mechanism {
 public:
  TgMechanism(const TgParams& params, size_t vocab_size, const NeighborSource& source,
              std::function<void(const std::vector<WordId>&)> prefetch)
      : selector_(params, vocab_size, source), prefetch_(std::move(prefetch)) {}
  void Prefetch(const std::vector<WordId>& words) override {
    if (prefetch_) prefetch_(words);
  }
  void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const override;

 private:
  TgSelector selector_;
  std::function<void(const std::vector<WordId>&)> prefetch_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_TG_H_
