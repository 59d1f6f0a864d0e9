// An exact nearest-word finder for the statistical tests of the noisy-point
// mechanisms (mvl, mahalanobis, vickrey): every vocabulary word's distance to
// the float query in double, nearest first, ties to the lower id. Independent
// of FAISS, so a test of a law does not share the library's search.
#ifndef DPSANITIZE_TESTS_STATISTICAL_BRUTE_FORCE_FINDER_H_
#define DPSANITIZE_TESTS_STATISTICAL_BRUTE_FORCE_FINDER_H_

#include <algorithm>
#include <utility>
#include <vector>

#include "dpsanitize/core/vector_set.h"

namespace dpsanitize {

class BruteForceFinder : public NearestWordFinder {
 public:
  explicit BruteForceFinder(VectorSet v) : v_(v) {}
  void FindNearestK(const float* queries, size_t n, size_t k, WordId* out) const override {
    std::vector<std::pair<double, WordId>> d(v_.n);
    for (size_t q = 0; q < n; ++q) {
      const float* z = queries + q * v_.dim;
      for (size_t w = 0; w < v_.n; ++w) {
        double s = 0;
        for (uint32_t i = 0; i < v_.dim; ++i) {
          const double t = static_cast<double>(z[i]) - v_.row(w)[i];
          s += t * t;
        }
        d[w] = {s, static_cast<WordId>(w)};
      }
      std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
      for (size_t j = 0; j < k; ++j) out[q * k + j] = d[j].second;
    }
  }

 private:
  VectorSet v_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_TESTS_STATISTICAL_BRUTE_FORCE_FINDER_H_
