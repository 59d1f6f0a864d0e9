#include "dpsanitize/core/tail_bounds.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dpsanitize {

Status CheckTailBounds(const TailBounds& t) {
  if (t.clusters == 0 || t.vocab_size == 0 || t.vocab_size > 0xFFFFFFFFull) {
    return DataError("tail bounds: {} clusters over {} words", t.clusters, t.vocab_size);
  }
  int e = 0;
  if (!(t.step > 0) || !std::isfinite(t.step) || std::frexp(t.step, &e) != 0.5) {
    return DataError("tail bounds: step {} is not a positive power of two", t.step);
  }
  if (t.offsets[0] != 0 || t.offsets[t.clusters] != t.vocab_size) {
    return DataError("tail bounds: cluster offsets do not span the vocabulary");
  }
  for (uint32_t c = 0; c < t.clusters; ++c) {
    if (t.offsets[c + 1] <= t.offsets[c]) {
      return DataError("tail bounds: cluster {} is empty or out of order", c);
    }
  }
  std::vector<bool> seen(t.vocab_size, false);
  for (uint64_t i = 0; i < t.vocab_size; ++i) {
    const uint32_t y = t.members[i];
    if (y >= t.vocab_size || seen[y]) {
      return DataError("tail bounds: member list is not a permutation of the vocabulary");
    }
    seen[y] = true;
  }
  return Status::Ok();
}

}  // namespace dpsanitize
