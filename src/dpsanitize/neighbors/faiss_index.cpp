#include "dpsanitize/neighbors/faiss_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/FaissException.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <string>

namespace dpsanitize {
namespace {

using FaissId = faiss::Index::idx_t;

constexpr size_t kQueryChunk = 4096;  // queries per FAISS call
constexpr size_t kInitialMargin = 8;

double Norm(const float* x, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; ++i) s += static_cast<double>(x[i]) * x[i];
  return std::sqrt(s);
}

// Runs `f`, turning FAISS and standard exceptions into a Status.
template <typename F>
Status Guard(const char* what, F&& f) {
  try {
    f();
  } catch (const faiss::FaissException& e) {
    return InternalError("FAISS {}: {}", what, e.what());
  } catch (const std::exception& e) {
    return InternalError("{}: {}", what, e.what());
  }
  return Status::Ok();
}

}  // namespace

struct ExactKnn::Impl {
  explicit Impl(uint32_t dim) : index(static_cast<FaissId>(dim)) {}
  faiss::IndexFlatL2 index;
};

ExactKnn::ExactKnn(VectorSet v) : v_(v) {}
ExactKnn::~ExactKnn() = default;

StatusOr<std::unique_ptr<ExactKnn>> ExactKnn::Create(VectorSet v) {
  auto knn = std::unique_ptr<ExactKnn>(new ExactKnn(v));
  Status s = Guard("index", [&] {
    knn->impl_ = std::make_unique<Impl>(v.dim);
    knn->impl_->index.verbose = false;
    knn->impl_->index.add(static_cast<FaissId>(v.n), v.data);
  });
  DPS_RETURN_IF_ERROR(s);
  for (size_t i = 0; i < v.n; ++i) knn->max_norm_ = std::max(knn->max_norm_, Norm(v.row(i), v.dim));
  return knn;
}

Status ExactKnn::Neighbors(const std::vector<WordId>& words, size_t k,
                           std::vector<std::vector<Neighbor>>* out) const {
  out->assign(words.size(), {});
  if (v_.n <= 1 || words.empty()) return Status::Ok();
  k = std::min(k, v_.n - 1);
  const uint32_t dim = v_.dim;
  // Relative error of a float32 dot product of length dim (with the norms
  // it is |x|^2 + |y|^2 - 2xy): (dim + 4) u, u = 2^-24; a factor 2 of slack.
  const double rel = 2.0 * (dim + 4) * std::ldexp(1.0, -24);
  std::vector<size_t> pending(words.size());
  for (size_t i = 0; i < words.size(); ++i) pending[i] = i;
  size_t margin = kInitialMargin;
  std::vector<float> queries;
  std::vector<float> dist;
  std::vector<FaissId> labels;
  std::vector<Neighbor> cand;
  while (!pending.empty()) {
    const size_t kk = std::min(v_.n, k + 1 + margin);  // +1: the word itself
    std::vector<size_t> failed;
    for (size_t start = 0; start < pending.size(); start += kQueryChunk) {
      const size_t m = std::min(kQueryChunk, pending.size() - start);
      queries.resize(m * dim);
      for (size_t i = 0; i < m; ++i) {
        std::copy_n(v_.row(words[pending[start + i]]), dim, queries.data() + i * dim);
      }
      dist.resize(m * kk);
      labels.resize(m * kk);
      DPS_RETURN_IF_ERROR(Guard("search", [&] {
        impl_->index.search(static_cast<FaissId>(m), queries.data(), static_cast<FaissId>(kk),
                            dist.data(), labels.data());
      }));
      for (size_t i = 0; i < m; ++i) {
        const size_t q = pending[start + i];
        const WordId w = words[q];
        cand.clear();
        float fl_max = 0;
        for (size_t j = 0; j < kk; ++j) {
          const FaissId id = labels[i * kk + j];
          if (id < 0) continue;
          fl_max = std::max(fl_max, dist[i * kk + j]);
          if (static_cast<WordId>(id) == w) continue;  // identify self by id, not by 0
          cand.push_back({static_cast<WordId>(id), Distance(v_, w, static_cast<size_t>(id))});
        }
        std::sort(cand.begin(), cand.end(), NeighborLess);
        bool exact = kk >= v_.n && cand.size() >= k;
        if (!exact && cand.size() >= k) {
          const double qn = Norm(v_.row(w), dim);
          const double err = rel * (qn + max_norm_) * (qn + max_norm_);
          const double bound = static_cast<double>(fl_max) - err;  // squared
          const double dk = cand[k - 1].dist;
          exact = bound > 0 && bound > dk * dk;
        }
        if (exact) {
          cand.resize(k);
          (*out)[q] = cand;
        } else {
          failed.push_back(q);
        }
      }
    }
    if (!failed.empty()) widened_ += failed.size();
    pending.swap(failed);
    margin *= 4;
    if (!pending.empty() && k + 1 + margin >= v_.n / 2) {
      for (size_t q : pending) ExactNeighborsScan(v_, words[q], k, &(*out)[q]);
      pending.clear();
    }
  }
  return Status::Ok();
}

Status ExactKnn::ForAllWords(size_t k, const ChunkFn& fn) const {
  // One search per 8192 words: large enough to amortise FAISS's blocked
  // scan, small enough that the lists (8192 k neighbours) stay small.
  constexpr size_t kChunk = 8192;
  std::vector<WordId> words;
  std::vector<std::vector<Neighbor>> lists;
  for (size_t start = 0; start < v_.n; start += kChunk) {
    words.clear();
    for (size_t w = start; w < std::min(v_.n, start + kChunk); ++w) {
      words.push_back(static_cast<WordId>(w));
    }
    DPS_RETURN_IF_ERROR(Neighbors(words, k, &lists));
    DPS_RETURN_IF_ERROR(fn(static_cast<WordId>(start), lists));
  }
  return Status::Ok();
}

NeighborCache::NeighborCache(const ExactKnn& knn, VectorSet v, size_t depth)
    : knn_(knn), v_(v), depth_(std::min(depth, v.n > 0 ? v.n - 1 : 0)), lists_(v.n) {}

Status NeighborCache::Prefetch(const std::vector<WordId>& words) {
  std::vector<WordId> missing;
  for (WordId w : words) {
    if (!lists_[w]) missing.push_back(w);
  }
  if (missing.empty()) return Status::Ok();
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  std::vector<std::vector<Neighbor>> lists;
  DPS_RETURN_IF_ERROR(knn_.Neighbors(missing, depth_, &lists));
  for (size_t i = 0; i < missing.size(); ++i) {
    lists_[missing[i]] = std::make_unique<std::vector<Neighbor>>(std::move(lists[i]));
  }
  return Status::Ok();
}

const Neighbor* NeighborCache::Nearest(WordId word, size_t k,
                                       std::vector<Neighbor>* scratch) const {
  const auto& list = lists_[word];
  if (list && k <= list->size()) return list->data();
  // Deeper than the cache (or not prefetched): an exact double-precision scan.
  ExactNeighborsScan(v_, word, k, scratch);
  return scratch->data();
}

namespace {

// The nearest word of each query by one batched search of `index` (flat or
// HNSW); FAISS's -1 for "no result" cannot occur with a non-empty index but
// is clamped rather than turned into a huge id.
void SearchNearest(const faiss::Index& index, const float* queries, size_t n, size_t k,
                   WordId* out) {
  std::vector<float> d(n * k);
  std::vector<FaissId> l(n * k);
  index.search(static_cast<FaissId>(n), queries, static_cast<FaissId>(k), d.data(), l.data());
  // FAISS marks a missing result with -1 (HNSW may find fewer than k): word 0
  // then, as before, rather than an out-of-range id.
  for (size_t i = 0; i < n * k; ++i) out[i] = static_cast<WordId>(std::max<FaissId>(0, l[i]));
}

class FlatFinder : public NearestWordFinder {
 public:
  explicit FlatFinder(uint32_t dim) : index_(static_cast<FaissId>(dim)) {}
  faiss::IndexFlatL2& index() { return index_; }
  void FindNearestK(const float* queries, size_t n, size_t k, WordId* out) const override {
    SearchNearest(index_, queries, n, k, out);
  }

 private:
  faiss::IndexFlatL2 index_;
};

class HnswFinder : public NearestWordFinder {
 public:
  explicit HnswFinder(uint32_t dim) : index_(static_cast<int>(dim), 32) {
    index_.hnsw.efConstruction = 80;
    index_.hnsw.efSearch = 256;  // recall@1 measured in docs/mechanism.md
    index_.verbose = false;
  }
  faiss::IndexHNSWFlat& index() { return index_; }
  void FindNearestK(const float* queries, size_t n, size_t k, WordId* out) const override {
    SearchNearest(index_, queries, n, k, out);
  }

 private:
  faiss::IndexHNSWFlat index_;
};

}  // namespace

StatusOr<std::unique_ptr<NearestWordFinder>> MakeNearestWordFinder(VectorSet v,
                                                                   NearestSearch kind) {
  std::unique_ptr<NearestWordFinder> finder;
  DPS_RETURN_IF_ERROR(Guard("index", [&] {
    if (kind == NearestSearch::kExact) {
      auto f = std::make_unique<FlatFinder>(v.dim);
      f->index().add(static_cast<FaissId>(v.n), v.data);
      finder = std::move(f);
    } else {
      auto f = std::make_unique<HnswFinder>(v.dim);
      f->index().add(static_cast<FaissId>(v.n), v.data);
      finder = std::move(f);
    }
  }));
  return finder;
}

StatusOr<VocabStats> ComputeVocabStats(VectorSet v) {
  if (v.n < 2) return DataError("vocabulary has {} words; at least 2 are needed", v.n);
  VocabStats s;
  s.vocab_size = v.n;
  // Certified delta_max: every pairwise distance is at most twice the
  // largest distance to the centroid (triangle inequality).
  std::vector<double> centroid(v.dim, 0.0);
  for (size_t i = 0; i < v.n; ++i) {
    for (uint32_t d = 0; d < v.dim; ++d) centroid[d] += v.row(i)[d];
  }
  for (double& c : centroid) c /= static_cast<double>(v.n);
  double rmax = 0;
  for (size_t i = 0; i < v.n; ++i) {
    double t = 0;
    for (uint32_t d = 0; d < v.dim; ++d) {
      const double x = v.row(i)[d] - centroid[d];
      t += x * x;
    }
    rmax = std::max(rmax, std::sqrt(t));
  }
  s.delta_max = 2 * rmax;
  s.delta_max_exact = false;
  // Exact delta_min: each word's nearest other word at positive distance.
  DPS_ASSIGN_OR_RETURN(auto knn, ExactKnn::Create(v));
  std::vector<WordId> all(v.n);
  for (size_t i = 0; i < v.n; ++i) all[i] = static_cast<WordId>(i);
  std::vector<std::vector<Neighbor>> lists;
  DPS_RETURN_IF_ERROR(knn->Neighbors(all, 4, &lists));
  double dmin = INFINITY;
  std::vector<Neighbor> scratch;
  for (size_t i = 0; i < v.n; ++i) {
    const Neighbor* hit = nullptr;
    for (const Neighbor& nb : lists[i]) {
      if (nb.dist > 0) {
        hit = &nb;
        break;
      }
    }
    if (hit == nullptr) {  // four or more exact duplicates: scan
      ExactNeighborsScan(v, static_cast<WordId>(i), v.n - 1, &scratch);
      for (const Neighbor& nb : scratch) {
        if (nb.dist > 0) {
          hit = &nb;
          break;
        }
      }
    }
    if (hit != nullptr) dmin = std::min(dmin, hit->dist);
  }
  if (!std::isfinite(dmin)) return DataError("all vocabulary vectors are identical");
  s.delta_min = dmin;
  return s;
}

std::string FaissVersion() {
  return std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) + "." +
         std::to_string(FAISS_VERSION_PATCH);
}

}  // namespace dpsanitize
