// mvl (Feyisetan, Balle, Drake, Diethe, WSDM 2020) for the audit: Monte Carlo
// with the library's noise sampler (MvlNoisyPoint) and an exact nearest-word
// search. The audit turns the counts into exact binomial intervals
// (audit/loss.cpp); this file only draws and counts.
#include "dpsanitize/mechanisms/mvl_law.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/vickrey.h"
#include "dpsanitize/random/keyed_rng.h"

namespace dpsanitize {
namespace {

// Document ids of the audit's streams: kMvlDoc + word id, far from any real
// document id's keyed stream (and the key is the audit's seed anyway).
constexpr uint64_t kMvlDoc = 0x6d766c0000000000ULL;
// Draws per batched nearest-word search.
constexpr size_t kChunk = 4096;

class NoisyPointOutputLaw : public OutputLaw {
 public:
  NoisyPointOutputLaw(NoisyPointDraw draw, uint64_t doc_base, std::optional<double> vickrey_t,
                      VectorSet vectors, const NearestWordFinder& finder,
                      const NeighborSource* neighbors, uint64_t samples, const std::string& seed)
      : draw_(std::move(draw)),
        doc_base_(doc_base),
        vickrey_t_(vickrey_t),
        vs_(vectors),
        finder_(finder),
        neighbors_(neighbors),
        samples_(samples),
        key_(RunKey::FromSeed(seed)),
        scan_(vectors) {}

  LawKind kind() const override { return LawKind::kMonteCarlo; }
  // The nearest-word search is batched and parallel inside (FAISS).
  bool concurrent() const override { return false; }

  StatusOr<WordLaw> Of(WordId w) const override {
    // Chunks of draws share one batched search; the draw i of word w always
    // comes from stream (doc_base + w, 0, i), whatever the chunking.
    std::vector<WordId> nearest(kChunk);
    std::unordered_map<WordId, uint64_t> counts;
    double sum_dist = 0;
    // The same nearest-word step as the mechanism (MvlNearestBatch, or
    // VickreyBatch): the audit measures what a run does, including its
    // small-eps scan.
    MvlNearestBatch batch(1.0, vs_, finder_, scan_);  // eps unused by AddPoint
    VickreyBatch vickrey(vickrey_t_.value_or(0), vs_, finder_, scan_);
    std::vector<double> dir(vs_.dim);
    for (uint64_t start = 0; start < samples_; start += kChunk) {
      const size_t m = static_cast<size_t>(std::min<uint64_t>(kChunk, samples_ - start));
      for (size_t i = 0; i < m; ++i) {
        WordRng rng(key_, doc_base_ + w, 0, start + i);
        const double r = draw_(rng, dir.data());
        if (vickrey_t_) {
          const double coin = rng.Uniform();  // after the noise, as VickreyMechanism
          vickrey.AddPoint(vs_.row(w), dir.data(), r, coin, &nearest[i]);
        } else {
          batch.AddPoint(vs_.row(w), dir.data(), r, &nearest[i]);
        }
      }
      try {
        batch.Flush();
        vickrey.Flush();
      } catch (const std::exception& e) {
        return InternalError("audit: nearest-word search: {}", e.what());
      }
      for (size_t i = 0; i < m; ++i) {
        ++counts[nearest[i]];
        sum_dist += Distance(vs_, w, nearest[i]);
      }
    }
    // w's 10 nearest other words, in the same (distance, id) order as the
    // exact laws use, for the frequency of "an output among the 10 nearest"
    // (calibrate's figure; the interval is computed from the counts there).
    std::vector<Neighbor> scratch;
    const size_t near = std::min<size_t>(10, vs_.n > 0 ? vs_.n - 1 : 0);
    const Neighbor* nb = nullptr;
    if (near > 0) {
      if (neighbors_ != nullptr) {
        nb = neighbors_->Nearest(w, near, &scratch);
      } else {
        ExactNeighborsScan(vs_, w, near, &scratch);
        nb = scratch.data();
      }
    }
    uint64_t near_count = 0;
    for (size_t i = 0; i < near; ++i) {
      auto it = counts.find(nb[i].id);
      if (it != counts.end()) near_count += it->second;
    }
    WordLaw out;
    out.word = w;
    out.draws = samples_;
    std::vector<std::pair<WordId, uint64_t>> sorted(counts.begin(), counts.end());
    std::sort(sorted.begin(), sorted.end());
    for (const auto& [y, c] : sorted) {
      out.outputs.push_back(y);
      out.counts.push_back(c);
    }
    const double n = static_cast<double>(samples_);
    auto it = counts.find(w);
    out.p_unchanged = it == counts.end() ? 0.0 : static_cast<double>(it->second) / n;
    out.mean_distance = sum_dist / n;
    out.p_near10 = static_cast<double>(near_count) / n;
    return out;
  }

  LawReport Describe(const LawNumerics&) const override {
    LawReport r;
    r.parameters = {{"samples_per_word", samples_}};
    return r;
  }

 private:
  NoisyPointDraw draw_;
  uint64_t doc_base_;
  std::optional<double> vickrey_t_;  // set: Vickrey's choice of the two nearest
  VectorSet vs_;
  const NearestWordFinder& finder_;
  const NeighborSource* neighbors_;  // may be null: exact scans instead
  uint64_t samples_;
  RunKey key_;
  MvlStableScan scan_;
};

}  // namespace

StatusOr<std::unique_ptr<OutputLaw>> MakeNoisyPointOutputLaw(NoisyPointDraw draw, uint64_t doc_base,
                                                             const LawContext& ctx,
                                                             std::optional<double> vickrey_t) {
  if (ctx.samples == 0) return UsageError("audit: --samples must be positive");
  if (ctx.nearest == nullptr)
    return InternalError("Monte Carlo output law: no nearest-word finder");
  return std::unique_ptr<OutputLaw>(
      std::make_unique<NoisyPointOutputLaw>(std::move(draw), doc_base, vickrey_t, ctx.vectors,
                                            *ctx.nearest, ctx.neighbors, ctx.samples, ctx.seed));
}

StatusOr<std::unique_ptr<OutputLaw>> MakeMvlOutputLaw(double eps, const LawContext& ctx) {
  if (!(eps > 0) || !std::isfinite(eps)) {
    return InternalError("mvl output law: eps {} is not a finite positive number", eps);
  }
  const uint32_t dim = ctx.vectors.dim;
  return MakeNoisyPointOutputLaw(
      [eps, dim](WordRng& rng, double* dir) { return MvlNoise(dim, eps, rng, dir); }, kMvlDoc, ctx);
}

}  // namespace dpsanitize
