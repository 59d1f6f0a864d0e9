// The FAISS adapter: the only part of dpsanitize that includes <faiss/...>.
//
// * ExactKnn: exact k-nearest-neighbour lists of vocabulary words. FAISS's
//   IndexFlatL2 ranks in float32 (squared distances as |x|^2 + |y|^2 - 2xy);
//   we take its top k plus a margin, recompute every distance in double
//   precision, re-sort by (distance, id), and accept the list only when the
//   float32 error bound proves no word outside the margin can be nearer
//   (spec section 2, numerical care); otherwise the margin widens, and a
//   double-precision scan is the last resort.
// * NeighborCache: exact lists cached per distinct corpus word (a
//   NeighborSource for the tg mechanism); deeper draws scan exactly.
// * Nearest-word finders for mvl's post-processing: exact (flat) or HNSW.
// * ComputeVocabStats: exact delta_min and the certified delta_max bound.
// FAISS exceptions become Status errors here; FAISS's verbose output (which
// goes to stdout, possibly the corpus) stays off.
#ifndef DPSANITIZE_NEIGHBORS_FAISS_INDEX_H_
#define DPSANITIZE_NEIGHBORS_FAISS_INDEX_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/embed/embedding.h"

namespace dpsanitize {

class ExactKnn {
 public:
  static StatusOr<std::unique_ptr<ExactKnn>> Create(VectorSet v);
  ~ExactKnn();
  // (*out)[i] = the k nearest other words of words[i], exact, by NeighborLess.
  Status Neighbors(const std::vector<WordId>& words, size_t k,
                   std::vector<std::vector<Neighbor>>* out) const;
  // The k nearest other words of every word, in id order, a chunk of words
  // per search: fn(first, lists) gets lists[i] for word first + i. Stops at
  // the first error, fn's or the search's.
  using ChunkFn =
      std::function<Status(WordId first, const std::vector<std::vector<Neighbor>>& lists)>;
  Status ForAllWords(size_t k, const ChunkFn& fn) const;
  // Statistics of the last calls: lists that needed a wider margin or a scan.
  size_t widened() const { return widened_; }

 private:
  explicit ExactKnn(VectorSet v);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  VectorSet v_;
  double max_norm_ = 0;
  mutable size_t widened_ = 0;
};

class NeighborCache : public NeighborSource {
 public:
  // Lists of `depth` neighbours are computed on Prefetch and kept.
  NeighborCache(const ExactKnn& knn, VectorSet v, size_t depth);
  // Computes the lists of the words not cached yet (one batched search).
  Status Prefetch(const std::vector<WordId>& words);
  const Neighbor* Nearest(WordId word, size_t k, std::vector<Neighbor>* scratch) const override;
  size_t depth() const { return depth_; }

 private:
  const ExactKnn& knn_;
  VectorSet v_;
  size_t depth_;
  std::vector<std::unique_ptr<std::vector<Neighbor>>> lists_;
};

// Lists from a prepared neighbour table (memory-mapped, zero copy); draws
// deeper than the table scan exactly.
class TableNeighborSource : public NeighborSource {
 public:
  TableNeighborSource(const NeighborTable& table, VectorSet v) : table_(table), v_(v) {}
  const Neighbor* Nearest(WordId word, size_t k, std::vector<Neighbor>* scratch) const override {
    if (k <= table_.k) return table_.row(word);
    ExactNeighborsScan(v_, word, k, scratch);
    return scratch->data();
  }

 private:
  NeighborTable table_;
  VectorSet v_;
};

enum class NearestSearch { kExact, kHnsw };

// A nearest-word finder over `v` (mvl post-processing).
StatusOr<std::unique_ptr<NearestWordFinder>> MakeNearestWordFinder(VectorSet v, NearestSearch kind);

// Exact delta_min (smallest positive distance) and certified delta_max
// (2 * the largest distance to the centroid) of `v`.
StatusOr<VocabStats> ComputeVocabStats(VectorSet v);

// The FAISS version built against, "1.7.3" (for `dpsanitize --version` and the
// ledger): its headers' FAISS_VERSION_*, as FAISS 1.7.3 has no run-time query.
std::string FaissVersion();

}  // namespace dpsanitize

#endif  // DPSANITIZE_NEIGHBORS_FAISS_INDEX_H_
