// The audit's word pairs and utility words (spec section 7): which (w, w')
// the losses are measured on, and the density deciles of the vocabulary.
//
//   DPS_ASSIGN_OR_RETURN(SampledPairs s, SamplePairs(vocab.vectors(), knn, "1", 200, 10));
//   for (const PairSpec& p : s.pairs) ... kPairCategories[p.category] ...
//
// Pairs come in five categories, pairs / 5 each (the first pairs % 5
// categories get one more): nearest (w' is w's nearest neighbour), random,
// distant (w' among the farthest 1% from w), dense and sparse (w from the
// densest or sparsest decile, w' among its 10 nearest). Draws come from
// streams keyed by the seed, so a seed gives the same pairs on any machine.
#ifndef DPSANITIZE_AUDIT_PAIRS_H_
#define DPSANITIZE_AUDIT_PAIRS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"

namespace dpsanitize {

inline constexpr size_t kNumPairCategories = 5;
inline constexpr const char* kPairCategories[kNumPairCategories] = {"nearest", "random", "distant",
                                                                    "dense", "sparse"};

// Exact k nearest other words of each of `words` ((*out)[i] for words[i],
// by NeighborLess, distances in double precision), e.g. ExactKnn::Neighbors.
using KnnSearch = std::function<Status(const std::vector<WordId>& words, size_t k,
                                       std::vector<std::vector<Neighbor>>* out)>;

struct PairSpec {
  size_t category = 0;  // index into kPairCategories
  WordId w = 0, w2 = 0;
};

struct SampledPairs {
  std::vector<PairSpec> pairs;  // by category, in kPairCategories order
  std::vector<WordId> utility;  // utility_words per decile, densest first
  std::vector<int> decile;      // per word id: 1 (densest) .. 10 by nearest-neighbour distance
  std::vector<std::pair<double, double>> decile_range;  // [min, max] NN distance per decile
};

// Samples `pairs` pairs of words with distinct vectors and `utility_words`
// words per density decile of `vs`, whose exact neighbours `knn` finds. Data
// error when a category has no such pair.
StatusOr<SampledPairs> SamplePairs(const VectorSet& vs, const KnnSearch& knn,
                                   const std::string& seed, size_t pairs, size_t utility_words);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_PAIRS_H_
