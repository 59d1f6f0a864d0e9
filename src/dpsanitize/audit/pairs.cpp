// The audit's pair sampler. Pairs include distant ones, not only neighbours
// (spec section 7): a mechanism whose loss is fine between neighbours can
// still exceed its epsilon per unit distance far away, where outputs are
// reachable from one word only through rare noise. Densities come from the
// exact nearest-neighbour distance of every word (one FAISS flat search).
#include "dpsanitize/audit/pairs.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "dpsanitize/random/keyed_rng.h"

namespace dpsanitize {
namespace {

constexpr uint64_t kPairDoc = 0x617564697400ULL;  // random streams of the pair sampling
constexpr size_t kDenseNeighbors = 10;            // dense/sparse pairs: w' among w's 10 nearest

size_t UniformIndex(WordRng& rng, size_t n) {
  const double u = rng.Uniform();
  return std::min(n - 1, static_cast<size_t>(u * static_cast<double>(n)));
}

}  // namespace

StatusOr<SampledPairs> SamplePairs(const VectorSet& vs, const KnnSearch& knn,
                                   const std::string& seed, size_t pairs, size_t utility_words) {
  const size_t n = vs.n;
  SampledPairs out;
  std::vector<WordId> all(n);
  std::iota(all.begin(), all.end(), 0);
  std::vector<std::vector<Neighbor>> nn;
  DPS_RETURN_IF_ERROR(knn(all, 1, &nn));
  // Density deciles by nearest-neighbour distance (1 = densest).
  std::vector<WordId> order(all);
  std::sort(order.begin(), order.end(), [&](WordId a, WordId b) {
    return nn[a][0].dist < nn[b][0].dist || (nn[a][0].dist == nn[b][0].dist && a < b);
  });
  out.decile.assign(n, 0);
  std::vector<std::vector<WordId>> members(10);
  out.decile_range.assign(10, {std::numeric_limits<double>::infinity(), 0.0});
  for (size_t r = 0; r < n; ++r) {
    const int dec = static_cast<int>(std::min<size_t>(9, r * 10 / n));
    out.decile[order[r]] = dec + 1;
    members[dec].push_back(order[r]);
    auto& range = out.decile_range[dec];
    range.first = std::min(range.first, nn[order[r]][0].dist);
    range.second = std::max(range.second, nn[order[r]][0].dist);
  }
  const RunKey key = RunKey::FromSeed(seed);
  std::vector<Neighbor> scratch;
  for (size_t c = 0; c < kNumPairCategories; ++c) {
    const size_t count = pairs / kNumPairCategories + (c < pairs % kNumPairCategories ? 1 : 0);
    WordRng rng(key, kPairDoc, static_cast<uint32_t>(c), 0);
    for (size_t i = 0; i < count; ++i) {
      PairSpec p{c, 0, 0};
      // Redraw while the two words share a vector: their loss per unit
      // distance is undefined.
      for (int attempt = 0; attempt < 1000; ++attempt) {
        switch (c) {
          case 0:  // nearest
            p.w = static_cast<WordId>(UniformIndex(rng, n));
            p.w2 = nn[p.w][0].id;
            break;
          case 1:  // random
            p.w = static_cast<WordId>(UniformIndex(rng, n));
            p.w2 = static_cast<WordId>(UniformIndex(rng, n));
            break;
          case 2: {  // distant: among the farthest 1% of w's list
            p.w = static_cast<WordId>(UniformIndex(rng, n));
            ExactNeighborsScan(vs, p.w, n - 1, &scratch);
            const size_t far = std::max<size_t>(1, (n - 1 + 99) / 100);
            p.w2 = scratch[n - 1 - far + UniformIndex(rng, far)].id;
            break;
          }
          default: {  // dense (decile 1) / sparse (decile 10): w' among w's nearest
            const auto& pool = members[c == 3 ? 0 : 9];
            p.w = pool[UniformIndex(rng, pool.size())];
            std::vector<std::vector<Neighbor>> lists;
            const size_t k = std::min(kDenseNeighbors, n - 1);
            DPS_RETURN_IF_ERROR(knn({p.w}, k, &lists));
            p.w2 = lists[0][UniformIndex(rng, lists[0].size())].id;
            break;
          }
        }
        if (p.w != p.w2 && Distance(vs, p.w, p.w2) > 0) break;
      }
      if (p.w == p.w2 || Distance(vs, p.w, p.w2) == 0) {
        return DataError("audit: cannot find {} pairs of distinct vectors", kPairCategories[c]);
      }
      out.pairs.push_back(p);
    }
  }
  WordRng urng(key, kPairDoc, 100, 0);
  for (size_t dec = 0; dec < 10; ++dec) {
    for (size_t i = 0; i < utility_words && !members[dec].empty(); ++i) {
      out.utility.push_back(members[dec][UniformIndex(urng, members[dec].size())]);
    }
  }
  return out;
}

}  // namespace dpsanitize
