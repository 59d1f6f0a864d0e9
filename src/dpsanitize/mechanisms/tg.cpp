// Truncated Gumbel mechanism: Xu, Feyisetan, Aggarwal, Xu, Teissier,
// FLAIRS 2021, Algorithm 1, with the candidate set and noise of spec
// section 2 (exact neighbours, max-stable Gumbel truncated to +-delta_max).
#include "dpsanitize/mechanisms/tg.h"

namespace dpsanitize {

TgSelector::TgSelector(const TgParams& params, size_t vocab_size, const NeighborSource& source)
    : poisson_(params.mu, vocab_size > 0 ? vocab_size - 1 : 0),
      gumbel_(params.b, params.delta_max),
      source_(source) {}

WordId TgSelector::Select(WordId word, WordRng& rng, std::vector<Neighbor>* scratch) const {
  return SelectWith(
      word, [&rng] { return rng.Uniform(); }, scratch);
}

void TgMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const {
  PerturbEachWord(in, n, key, out, [this](WordId w, WordRng& rng, std::vector<Neighbor>* scratch) {
    return selector_.Select(w, rng, scratch);
  });
}

}  // namespace dpsanitize
