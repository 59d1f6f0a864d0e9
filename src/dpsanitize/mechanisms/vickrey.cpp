// Vickrey's selection between the two nearest words (Xu et al. 2021) on top
// of the noise of mvl or of the Mahalanobis mechanism.
#include "dpsanitize/mechanisms/vickrey.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace dpsanitize {
namespace {

// Float candidates per point. The float search ranks words by ||z||^2 +
// ||v||^2 - 2 z.v in float, whose rounding can swap near-ties; four
// candidates re-ranked in double make the top two right unless the third and
// fourth are also within that rounding. Either way the choice is a
// deterministic function of the noisy point: post-processing.
constexpr size_t kCandidates = 4;

double SquaredDistance(const double* z, const float* v, uint32_t dim) {
  double s = 0;
  for (uint32_t i = 0; i < dim; ++i) {
    const double d = z[i] - static_cast<double>(v[i]);
    s += d * d;
  }
  return s;
}

}  // namespace

double VickreySecondProbability(double t, double d1, double d2) {
  const double num = t * d1;
  const double den = num + (1 - t) * d2;
  return den > 0 ? num / den : t;
}

VickreyBatch::VickreyBatch(double t, VectorSet vectors, const NearestWordFinder& finder,
                           const MvlStableScan& scan)
    : t_(t),
      vs_(vectors),
      finder_(finder),
      scan_(scan),
      candidates_(std::min<size_t>(kCandidates, vectors.n)) {}

WordId VickreyBatch::Choose(WordId first, WordId second, double d1, double d2, double coin) const {
  // coin is uniform on (0, 1): P[coin < p] = p exactly, also at p = 0 and 1.
  return coin < VickreySecondProbability(t_, d1, d2) ? second : first;
}

void VickreyBatch::AddPoint(const float* phi, const double* dir, double r, double coin,
                            WordId* slot) {
  const uint32_t dim = vs_.dim;
  if (scan_.Applies(r)) {
    WordId ids[2];
    double dist[2];
    scan_.NearestTwo(phi, dir, r, ids, dist);
    *slot = Choose(ids[0], ids[1], dist[0], dist[1], coin);
    return;
  }
  const size_t k = slots_.size();
  zd_.resize((k + 1) * dim);
  z_.resize((k + 1) * dim);
  for (uint32_t i = 0; i < dim; ++i) {
    const double zi = static_cast<double>(phi[i]) + r * dir[i];
    zd_[k * dim + i] = zi;
    z_[k * dim + i] = static_cast<float>(zi);
  }
  coins_.push_back(coin);
  slots_.push_back(slot);
}

void VickreyBatch::Flush() {
  if (slots_.empty()) return;
  const uint32_t dim = vs_.dim;
  const size_t m = candidates_;
  found_.resize(slots_.size() * m);
  finder_.FindNearestK(z_.data(), slots_.size(), m, found_.data());
  std::vector<std::pair<double, WordId>> ranked;
  for (size_t q = 0; q < slots_.size(); ++q) {
    const double* z = &zd_[q * dim];
    ranked.clear();
    for (size_t j = 0; j < m; ++j) {
      const WordId v = found_[q * m + j];
      bool seen = false;
      for (const auto& c : ranked) seen |= c.second == v;
      if (!seen) ranked.emplace_back(SquaredDistance(z, vs_.row(v), dim), v);
    }
    if (ranked.size() < 2) {
      // An approximate index may return fewer than two words (FAISS pads with
      // -1): scan the vocabulary for this point instead.
      ranked.clear();
      for (size_t v = 0; v < vs_.n; ++v) {
        ranked.emplace_back(SquaredDistance(z, vs_.row(v), dim), static_cast<WordId>(v));
      }
    }
    // (distance, id) order: ties to the lower id, as every scan here.
    std::partial_sort(ranked.begin(), ranked.begin() + 2, ranked.end());
    *slots_[q] = Choose(ranked[0].second, ranked[1].second, std::sqrt(ranked[0].first),
                        std::sqrt(ranked[1].first), coins_[q]);
  }
  slots_.clear();
  coins_.clear();
  z_.clear();
  zd_.clear();
}

void VickreyMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const {
  constexpr size_t kChunk = 256;
  VickreyBatch batch(t_, vectors_, finder_, scan_);
  std::vector<double> scratch(vectors_.dim), dir(vectors_.dim);
  ForEachWordStream(in, n, key, [&](size_t i, WordRng& rng) {
    // The base noise first (mvl's draw when shape_.identity), then the coin.
    const double r = MahalanobisNoise(shape_, eps_noise_, rng, scratch.data(), dir.data());
    const double coin = rng.Uniform();
    batch.AddPoint(vectors_.row(in[i].word), dir.data(), r, coin, out + i);
    if (batch.queued() == kChunk) batch.Flush();
  });
  batch.Flush();
}

}  // namespace dpsanitize
