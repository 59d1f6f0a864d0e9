#include "dpsanitize/mechanisms/mvl.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "dpsanitize/mechanisms/samplers.h"

namespace dpsanitize {

// The draw order is the spec's: the Gaussians first, then the Gamma's
// uniforms.
double MvlNoise(uint32_t dim, double eps, WordRng& rng, double* dir) {
  thread_local std::vector<double> g;
  g.resize(dim + 1);
  for (uint32_t i = 0; i < dim; i += 2)
    GaussianPair(rng.Uniform(), rng.Uniform(), &g[i], &g[i + 1]);
  double norm2 = 0;
  for (uint32_t i = 0; i < dim; ++i) norm2 += g[i] * g[i];
  const double inv = 1.0 / std::sqrt(norm2);
  for (uint32_t i = 0; i < dim; ++i) dir[i] = g[i] * inv;
  // Radius: Gamma(dim, 1/eps).
  return SampleGammaUnitScale(static_cast<double>(dim), rng) / eps;
}

void MvlNoisyPoint(const float* phi, uint32_t dim, double eps, WordRng& rng, float* z) {
  thread_local std::vector<double> dir;
  dir.resize(dim);
  const double r = MvlNoise(dim, eps, rng, dir.data());
  for (uint32_t i = 0; i < dim; ++i) {
    z[i] = static_cast<float>(static_cast<double>(phi[i]) + r * dir[i]);
  }
}

MvlStableScan::MvlStableScan(VectorSet vectors) : vs_(vectors) {
  double max_norm2 = 0;
  half_norm2_.resize(vs_.n);
  for (size_t v = 0; v < vs_.n; ++v) {
    const float* x = vs_.row(v);
    double n2 = 0;
    for (uint32_t i = 0; i < vs_.dim; ++i) n2 += static_cast<double>(x[i]) * x[i];
    half_norm2_[v] = n2 / 2;
    max_norm2 = std::max(max_norm2, n2);
  }
  // Below this radius the float search's rounding (about 1e-7 (r + |v|)^2)
  // stays far below the gaps between candidates; above it the scan's cost
  // (|V| dim per draw) buys the right word.
  stable_radius_ = kStableRadiusFactor * std::max(1.0, std::sqrt(max_norm2));
}

MvlNearestBatch::MvlNearestBatch(double eps, VectorSet vectors, const NearestWordFinder& finder,
                                 const MvlStableScan& scan)
    : eps_(eps), vs_(vectors), finder_(finder), scan_(scan), dir_(vectors.dim) {}

void MvlNearestBatch::Add(const float* phi, WordRng& rng, WordId* slot) {
  const double r = MvlNoise(vs_.dim, eps_, rng, dir_.data());
  AddPoint(phi, dir_.data(), r, slot);
}

void MvlNearestBatch::AddPoint(const float* phi, const double* dir, double r, WordId* slot) {
  const uint32_t dim = vs_.dim;
  if (scan_.Applies(r)) {
    *slot = scan_.Nearest(phi, dir, r);
    return;
  }
  const size_t k = slots_.size();
  z_.resize((k + 1) * dim);
  for (uint32_t i = 0; i < dim; ++i) {
    z_[k * dim + i] = static_cast<float>(static_cast<double>(phi[i]) + r * dir[i]);
  }
  slots_.push_back(slot);
}

void MvlNearestBatch::Flush() {
  if (slots_.empty()) return;
  found_.resize(slots_.size());
  finder_.FindNearest(z_.data(), slots_.size(), found_.data());
  for (size_t k = 0; k < slots_.size(); ++k) *slots_[k] = found_[k];
  slots_.clear();
  z_.clear();
}

double MvlStableScan::Score(const float* phi, const double* dir, double inv_r, size_t v) const {
  // One pass for both dot products, in double: Nearest() and NearestTwo()
  // must rank words identically (vickrey with t = 0 is mvl draw for draw).
  const float* x = vs_.row(v);
  double uv = 0, pv = 0;
  for (uint32_t i = 0; i < vs_.dim; ++i) {
    uv += dir[i] * x[i];
    pv += static_cast<double>(phi[i]) * x[i];
  }
  return uv + (pv - half_norm2_[v]) * inv_r;
}

WordId MvlStableScan::Nearest(const float* phi, const double* dir, double r) const {
  // ||v - z||^2 = ||z||^2 - 2 (phi.v + r u.v - ||v||^2/2): the nearest v
  // maximises u.v + (phi.v - ||v||^2/2) / r, whose terms stay of the size
  // of the vectors however large r is. Ties: the lower id, as the scans.
  const double inv_r = 1.0 / r;
  WordId best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (size_t v = 0; v < vs_.n; ++v) {
    const double score = Score(phi, dir, inv_r, v);
    if (score > best_score) {
      best_score = score;
      best = static_cast<WordId>(v);
    }
  }
  return best;
}

void MvlStableScan::NearestTwo(const float* phi, const double* dir, double r, WordId ids[2],
                               double dist[2]) const {
  // The same score as Nearest(), keeping the best two. Their distances follow
  // from ||z - v||^2 = ||z||^2 - 2 r score(v), with ||z||^2 = ||phi||^2 +
  // 2 r phi.u + r^2: every term is of size r^2 or r |v|, so the difference
  // keeps its relative accuracy however large r is (a float ||z - v|| would
  // not), and d1 / d2 is right where it matters, near 1.
  const double inv_r = 1.0 / r;
  double best[2] = {-std::numeric_limits<double>::infinity(),
                    -std::numeric_limits<double>::infinity()};
  ids[0] = ids[1] = 0;
  for (size_t v = 0; v < vs_.n; ++v) {
    const double score = Score(phi, dir, inv_r, v);
    // Strict comparisons: of equal scores the lower id (seen first) ranks first.
    if (score > best[0]) {
      best[1] = best[0];
      ids[1] = ids[0];
      best[0] = score;
      ids[0] = static_cast<WordId>(v);
    } else if (score > best[1]) {
      best[1] = score;
      ids[1] = static_cast<WordId>(v);
    }
  }
  double pp = 0, pu = 0;
  for (uint32_t i = 0; i < vs_.dim; ++i) {
    pp += static_cast<double>(phi[i]) * phi[i];
    pu += static_cast<double>(phi[i]) * dir[i];
  }
  const double zz = pp + 2 * r * pu + r * r;
  for (int j = 0; j < 2; ++j) dist[j] = std::sqrt(std::max(0.0, zz - 2 * r * best[j]));
}

void MvlMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const {
  constexpr size_t kChunk = 256;
  MvlNearestBatch batch(eps_, vectors_, finder_, scan_);
  // Noise is drawn word by word from its own stream; the nearest-word search
  // runs kChunk noisy points at a time (one FAISS call amortises the scan).
  ForEachWordStream(in, n, key, [&](size_t i, WordRng& rng) {
    batch.Add(vectors_.row(in[i].word), rng, out + i);
    if (batch.queued() == kChunk) batch.Flush();
  });
  batch.Flush();
}

}  // namespace dpsanitize
