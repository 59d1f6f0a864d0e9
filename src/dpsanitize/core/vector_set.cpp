#include "dpsanitize/core/vector_set.h"

#include <algorithm>
#include <cmath>

namespace dpsanitize {

double Distance(const VectorSet& v, size_t i, size_t j) {
  const float* a = v.row(i);
  const float* b = v.row(j);
  double s = 0;
  for (uint32_t d = 0; d < v.dim; ++d) {
    const double t = static_cast<double>(a[d]) - static_cast<double>(b[d]);
    s += t * t;
  }
  return std::sqrt(s);
}

void ExactNeighborsScan(const VectorSet& v, WordId word, size_t k, std::vector<Neighbor>* out) {
  out->clear();
  if (v.n <= 1) return;
  k = std::min(k, v.n - 1);
  out->reserve(v.n - 1);
  for (size_t j = 0; j < v.n; ++j) {
    if (j == word) continue;
    out->push_back({static_cast<WordId>(j), Distance(v, word, j)});
  }
  std::partial_sort(out->begin(), out->begin() + static_cast<std::ptrdiff_t>(k), out->end(),
                    NeighborLess);
  out->resize(k);
}

}  // namespace dpsanitize
