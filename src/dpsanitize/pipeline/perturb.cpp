#include "dpsanitize/pipeline/perturb.h"

namespace dpsanitize {

Perturber::Perturber(const Engine& engine, const RunKey& key)
    : mechanism_(*engine.mechanism), key_(key), seen_(engine.vocab->size(), 0) {}

// A flag per vocabulary word, cleared again after use, dedups in O(draws)
// without hashing; the order (first occurrence in input order) is the order
// the mechanism sees.
void Perturber::Prefetch(const std::vector<Part>& parts, size_t nparts) {
  distinct_.clear();
  for (size_t p = 0; p < nparts; ++p) {
    for (const WordDraw& d : parts[p].draws) {
      if (!seen_[d.word]) {
        seen_[d.word] = 1;
        distinct_.push_back(d.word);
      }
    }
  }
  for (WordId w : distinct_) seen_[w] = 0;
  mechanism_.Prefetch(distinct_);
}

void Perturber::Perturb(Part* part) const {
  part->outs.resize(part->draws.size());
  mechanism_.Perturb(part->draws.data(), part->draws.size(), key_, part->outs.data());
}

}  // namespace dpsanitize
