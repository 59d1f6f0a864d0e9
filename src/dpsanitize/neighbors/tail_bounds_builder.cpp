#include "dpsanitize/neighbors/tail_bounds_builder.h"

#include <faiss/impl/FaissException.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dpsanitize/core/parallel.h"

namespace dpsanitize {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Largest stored step count; kNoOtherMember (0xFFFF) is reserved.
constexpr uint32_t kMaxSteps = 0xFFFE;
// Lloyd iterations on the sample. The partition only has to be good, not
// optimal: any partition gives valid bounds, a better one a tighter envelope.
constexpr int kIterations = 8;
// k-means runs on every kSampleStride-th word (then one pass assigns all):
// a quarter of the cost for about the same envelope.
constexpr size_t kSampleStride = 4;
// Source words per block of the pairwise pass: a 256 x |V| float matrix
// (51 MB at |V| = 50,000).
constexpr size_t kBlock = 256;

double SquaredDistanceTo(const float* a, const double* c, uint32_t dim) {
  double s = 0;
  for (uint32_t d = 0; d < dim; ++d) {
    const double t = static_cast<double>(a[d]) - c[d];
    s += t * t;
  }
  return s;
}

// Index of the nearest centroid (lowest index on ties).
uint32_t NearestCentroid(const float* a, const std::vector<double>& centroids, uint32_t k,
                         uint32_t dim) {
  uint32_t best = 0;
  double best_d = kInf;
  for (uint32_t c = 0; c < k; ++c) {
    const double d = SquaredDistanceTo(a, centroids.data() + static_cast<size_t>(c) * dim, dim);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

// (*out)[i] = nearest centroid of word ids[i]; each word independent, so the
// result does not depend on the thread count.
void Assign(VectorSet v, const std::vector<size_t>& ids, const std::vector<double>& centroids,
            uint32_t k, size_t threads, std::vector<uint32_t>* out) {
  out->resize(ids.size());
  ParallelStrided(ids.size(), threads, [&](size_t i) {
    (*out)[i] = NearestCentroid(v.row(ids[i]), centroids, k, v.dim);
  });
}

// Lloyd's k-means; returns each word's cluster, numbered densely (empty
// clusters dropped), and the number of clusters.
uint32_t Partition(VectorSet v, uint32_t clusters, size_t threads, std::vector<uint32_t>* of) {
  const uint32_t dim = v.dim;
  const uint32_t k = static_cast<uint32_t>(std::min<size_t>(clusters, v.n));
  std::vector<size_t> sample;
  for (size_t i = 0; i < v.n; i += kSampleStride) sample.push_back(i);
  if (sample.size() < k) {
    sample.resize(v.n);
    for (size_t i = 0; i < v.n; ++i) sample[i] = i;
  }
  // Centroids start at evenly spaced ids (frequency ranks), so every region
  // of the vocabulary gets a start, deterministically.
  std::vector<double> centroids(static_cast<size_t>(k) * dim);
  for (uint32_t c = 0; c < k; ++c) {
    const float* r = v.row(static_cast<size_t>(c) * v.n / k);
    std::copy(r, r + dim, centroids.begin() + static_cast<std::ptrdiff_t>(c) * dim);
  }
  std::vector<uint32_t> assign;
  for (int it = 0; it < kIterations; ++it) {
    Assign(v, sample, centroids, k, threads, &assign);
    // Sums in sample order (deterministic); an empty cluster keeps its centroid.
    std::vector<double> sum(centroids.size(), 0.0);
    std::vector<size_t> count(k, 0);
    for (size_t i = 0; i < sample.size(); ++i) {
      const float* r = v.row(sample[i]);
      double* s = sum.data() + static_cast<size_t>(assign[i]) * dim;
      for (uint32_t d = 0; d < dim; ++d) s[d] += r[d];
      ++count[assign[i]];
    }
    for (uint32_t c = 0; c < k; ++c) {
      if (count[c] == 0) continue;
      for (uint32_t d = 0; d < dim; ++d) {
        centroids[static_cast<size_t>(c) * dim + d] =
            sum[static_cast<size_t>(c) * dim + d] / static_cast<double>(count[c]);
      }
    }
  }
  std::vector<size_t> all(v.n);
  for (size_t i = 0; i < v.n; ++i) all[i] = i;
  Assign(v, all, centroids, k, threads, &assign);
  std::vector<uint32_t> size(k, 0);
  for (uint32_t a : assign) ++size[a];
  std::vector<uint32_t> renumber(k, 0);
  uint32_t used = 0;
  for (uint32_t c = 0; c < k; ++c) renumber[c] = size[c] > 0 ? used++ : 0;
  of->resize(v.n);
  for (size_t y = 0; y < v.n; ++y) (*of)[y] = renumber[assign[y]];
  return used;
}

}  // namespace

StatusOr<OwnedTailBounds> ComputeTailBounds(VectorSet v, uint32_t clusters, unsigned threads) {
  if (v.n < 2 || clusters == 0) {
    return UsageError("tail bounds need at least 2 words and 1 cluster (got {} and {})", v.n,
                      clusters);
  }
  const size_t workers = std::max(1u, threads);
  const uint32_t dim = v.dim;

  // 1. The partition, and the members listed cluster by cluster.
  std::vector<uint32_t> cluster_of;
  const uint32_t used = Partition(v, clusters, workers, &cluster_of);
  OwnedTailBounds out;
  out.vocab_size = v.n;
  out.clusters = used;
  out.offsets.assign(used + 1, 0);
  for (size_t y = 0; y < v.n; ++y) ++out.offsets[cluster_of[y] + 1];
  for (uint32_t c = 0; c < used; ++c) out.offsets[c + 1] += out.offsets[c];
  out.members.resize(v.n);
  {
    std::vector<uint32_t> fill(out.offsets.begin(), out.offsets.end() - 1);
    for (size_t y = 0; y < v.n; ++y) out.members[fill[cluster_of[y]]++] = static_cast<uint32_t>(y);
  }

  // 2. The vectors in member order (each cluster a contiguous range of
  // columns), their norms in double, and each cluster's largest norm.
  std::vector<float> permuted(v.n * dim);
  std::vector<double> norm(v.n);
  std::vector<double> cluster_norm(used, 0.0);
  for (size_t i = 0; i < v.n; ++i) {
    const float* r = v.row(out.members[i]);
    std::copy(r, r + dim, permuted.begin() + static_cast<std::ptrdiff_t>(i * dim));
  }
  for (size_t y = 0; y < v.n; ++y) {
    double s = 0;
    for (uint32_t d = 0; d < dim; ++d) s += static_cast<double>(v.row(y)[d]) * v.row(y)[d];
    norm[y] = std::sqrt(s);
    cluster_norm[cluster_of[y]] = std::max(cluster_norm[cluster_of[y]], norm[y]);
  }
  // FAISS computes |q|^2 + |b|^2 - 2 q.b in float (norms, then SGEMM): a sum
  // of dim + 2 terms whose magnitudes add up to at most (|q| + |b|)^2, in
  // any order, plus the norms' own rounding. Its error is at most
  // 2 gamma_{dim+2} (|q| + |b|)^2 with gamma_n = n u / (1 - n u), u = 2^-24
  // (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); we allow
  // twice that, plus the rounding of the comparison itself.
  const double u = std::ldexp(1.0, -24);
  const double gamma = (dim + 2) * u / (1 - (dim + 2) * u);
  const double err_factor = 4 * gamma + 4 * u;

  // 3. Minima, block by block of source words: a member can be the nearest
  // only if its float distance is within the error of the float minimum;
  // those few get Distance() in double, so each bound is the exact minimum
  // of the function the sampler uses, whatever BLAS did.
  std::vector<double> minima(v.n * used, kInf);
  std::vector<float> dis(kBlock * v.n);
  for (size_t w0 = 0; w0 < v.n; w0 += kBlock) {
    const size_t nq = std::min(kBlock, v.n - w0);
    try {
      faiss::pairwise_L2sqr(dim, static_cast<int64_t>(nq), v.row(w0), static_cast<int64_t>(v.n),
                            permuted.data(), dis.data());
    } catch (const faiss::FaissException& e) {
      return InternalError("tail bounds: FAISS pairwise distances failed: {}", e.what());
    }
    ParallelStrided(nq, workers, [&](size_t q) {
      const WordId w = static_cast<WordId>(w0 + q);
      const float* row = dis.data() + q * v.n;
      double* mins = minima.data() + static_cast<size_t>(w) * used;
      for (uint32_t c = 0; c < used; ++c) {
        float fmin = std::numeric_limits<float>::infinity();
        for (uint32_t i = out.offsets[c]; i < out.offsets[c + 1]; ++i) {
          if (out.members[i] != w) fmin = std::min(fmin, row[i]);
        }
        if (fmin == std::numeric_limits<float>::infinity()) continue;  // w alone
        const double reach = norm[w] + cluster_norm[c];
        const double limit = static_cast<double>(fmin) + 2 * err_factor * reach * reach;
        double m = kInf;
        for (uint32_t i = out.offsets[c]; i < out.offsets[c + 1]; ++i) {
          const uint32_t y = out.members[i];
          if (y != w && static_cast<double>(row[i]) <= limit) m = std::min(m, Distance(v, w, y));
        }
        mins[c] = m;
      }
    });
  }

  // 4. Quantise down: step = the smallest power of two with kMaxSteps * step
  // >= the largest minimum, bound = floor(m / step) * step <= m exactly.
  double largest = 0;
  for (double m : minima) {
    if (std::isfinite(m)) largest = std::max(largest, m);
  }
  if (!(largest < 1e300)) return DataError("tail bounds: distances too large ({})", largest);
  out.step = std::ldexp(1.0, -30);
  while (out.step * kMaxSteps < largest) out.step *= 2;
  out.bounds.resize(minima.size());
  for (size_t i = 0; i < minima.size(); ++i) {
    const double m = minima[i];
    out.bounds[i] =
        std::isfinite(m)
            ? static_cast<uint16_t>(std::min<double>(kMaxSteps, std::floor(m / out.step)))
            : kNoOtherMember;
  }
  return out;
}

}  // namespace dpsanitize
