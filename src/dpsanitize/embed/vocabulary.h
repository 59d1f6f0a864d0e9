// Vocabulary: the perturbation vocabulary of spec section 1.
//
// The first `max_size` usable entries of an embedding (usable = read back by
// the tokenizer as exactly one word, in lookup form), in the embedding's
// order (frequency order for GloVe). Word ids are positions in this list.
// Holds a contiguous copy of their vectors for neighbour search.
#ifndef DPSANITIZE_EMBED_VOCABULARY_H_
#define DPSANITIZE_EMBED_VOCABULARY_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/embed/embedding.h"

namespace dpsanitize {

class Vocabulary {
 public:
  // `max_size` 0 means all usable entries.
  Vocabulary(const Embedding& emb, size_t max_size);

  size_t size() const { return entries_.size(); }
  uint32_t dim() const { return dim_; }
  VectorSet vectors() const { return {vecs_.data(), entries_.size(), dim_}; }
  std::string_view word(WordId id) const { return emb_.word(entries_[id]); }
  // Id of the word whose lookup key is `key`, if it is in the vocabulary.
  std::optional<WordId> Find(std::string_view key) const {
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }
  // Stored calibration inputs for this vocabulary, if the embedding has them.
  std::optional<VocabStats> StoredStats() const;

 private:
  const Embedding& emb_;
  uint32_t dim_;
  std::vector<uint64_t> entries_;  // embedding indices
  std::vector<float> vecs_;
  std::unordered_map<std::string_view, WordId> index_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_EMBED_VOCABULARY_H_
