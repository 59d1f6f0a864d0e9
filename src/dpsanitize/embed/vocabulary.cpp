#include "dpsanitize/embed/vocabulary.h"

#include <cstring>

namespace dpsanitize {

Vocabulary::Vocabulary(const Embedding& emb, size_t max_size) : emb_(emb), dim_(emb.dim()) {
  if (max_size == 0) max_size = emb.size();
  for (size_t i = 0; i < emb.size() && entries_.size() < max_size; ++i) {
    if (emb.usable(i)) entries_.push_back(i);
  }
  vecs_.resize(entries_.size() * dim_);
  index_.reserve(entries_.size() * 2);
  for (size_t id = 0; id < entries_.size(); ++id) {
    std::memcpy(vecs_.data() + id * dim_, emb.vector(entries_[id]), dim_ * sizeof(float));
    index_.emplace(emb.word(entries_[id]), static_cast<WordId>(id));
  }
}

std::optional<VocabStats> Vocabulary::StoredStats() const {
  for (const VocabStats& s : emb_.stats()) {
    if (s.vocab_size == size() && s.filter_version == kFilterVersion) return s;
  }
  return std::nullopt;
}

}  // namespace dpsanitize
