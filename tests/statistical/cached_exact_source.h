// A NeighborSource for the statistical tests of tg's selector and of its audit law
// (tg_distribution_test, audit_test): it serves prefixes of an exact list computed once per word
// by the library's ExactNeighborsScan, and scans for anything deeper. A prefix of an exact
// (distance, id)-sorted list is the exact shorter list, so the laws are unchanged
// (tg_distribution_test's SelectorIsUnchangedByTheCachedSource checks it); scanning the whole
// fixture for each of 100,000 draws would take minutes.
#ifndef DPSANITIZE_TESTS_STATISTICAL_CACHED_EXACT_SOURCE_H_
#define DPSANITIZE_TESTS_STATISTICAL_CACHED_EXACT_SOURCE_H_

#include <unordered_map>
#include <utility>
#include <vector>

#include "dpsanitize/core/vector_set.h"

namespace dpsanitize {

class CachedExactSource : public NeighborSource {
 public:
  CachedExactSource(VectorSet v, size_t depth) : v_(v), depth_(depth) {}
  const Neighbor* Nearest(WordId word, size_t k, std::vector<Neighbor>* scratch) const override {
    if (k > depth_) {
      ExactNeighborsScan(v_, word, k, scratch);
      return scratch->data();
    }
    auto it = lists_.find(word);
    if (it == lists_.end()) {
      std::vector<Neighbor> list;
      ExactNeighborsScan(v_, word, depth_, &list);
      it = lists_.emplace(word, std::move(list)).first;
    }
    return it->second.data();
  }

 private:
  VectorSet v_;
  size_t depth_;
  mutable std::unordered_map<WordId, std::vector<Neighbor>> lists_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_TESTS_STATISTICAL_CACHED_EXACT_SOURCE_H_
