// Small shared types for the perturbation vocabulary: a row-major float
// matrix of word vectors, neighbour entries, and the two interfaces through
// which the mechanisms reach neighbour search, so that a mechanism test needs
// neither FAISS nor an embedding file.
#ifndef DPSANITIZE_CORE_VECTOR_SET_H_
#define DPSANITIZE_CORE_VECTOR_SET_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dpsanitize {

// Word id: index into the perturbation vocabulary, 0 = most frequent.
using WordId = uint32_t;

struct VectorSet {
  const float* data = nullptr;  // n * dim floats, row-major
  size_t n = 0;
  uint32_t dim = 0;
  const float* row(size_t i) const { return data + i * dim; }
};

struct Neighbor {
  WordId id;
  double dist;  // Euclidean (not squared), computed in double precision
};

// Exact Euclidean distance between rows i and j, in double precision.
double Distance(const VectorSet& v, size_t i, size_t j);

// Exact k nearest *other* rows of `word`, by double-precision distance, ties
// broken by lower id; a full scan (O(n * dim)). The reference for every
// faster search, and the fallback for a draw deeper than a cache.
void ExactNeighborsScan(const VectorSet& v, WordId word, size_t k, std::vector<Neighbor>* out);

// Orders neighbours by (distance, id), the spec's candidate order.
inline bool NeighborLess(const Neighbor& a, const Neighbor& b) {
  return a.dist < b.dist || (a.dist == b.dist && a.id < b.id);
}

// Source of exact neighbour lists for the tg mechanism.
class NeighborSource {
 public:
  virtual ~NeighborSource() = default;
  // Returns a pointer to the k nearest other words of `word`, sorted by
  // NeighborLess; exact for every k < n. May fill and point into `scratch`.
  virtual const Neighbor* Nearest(WordId word, size_t k, std::vector<Neighbor>* scratch) const = 0;
};

// Nearest vocabulary words to arbitrary points, for the post-processing step
// of the noisy-point mechanisms (mvl, mahalanobis, vickrey; may be
// approximate).
class NearestWordFinder {
 public:
  virtual ~NearestWordFinder() = default;
  // out[i * k + j] = id of the (j+1)-th nearest vocabulary word to
  // queries[i * dim ...], nearest first, by the finder's float distances;
  // 1 <= k <= vocabulary size.
  virtual void FindNearestK(const float* queries, size_t n, size_t k, WordId* out) const = 0;
  // out[i] = id of the vocabulary word nearest to queries[i * dim ...].
  void FindNearest(const float* queries, size_t n, WordId* out) const {
    FindNearestK(queries, n, 1, out);
  }
};

// A NeighborSource that scans the whole vocabulary for each call.
class ScanNeighborSource : public NeighborSource {
 public:
  explicit ScanNeighborSource(VectorSet v) : v_(v) {}
  const Neighbor* Nearest(WordId word, size_t k, std::vector<Neighbor>* scratch) const override {
    ExactNeighborsScan(v_, word, k, scratch);
    return scratch->data();
  }

 private:
  VectorSet v_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_VECTOR_SET_H_
