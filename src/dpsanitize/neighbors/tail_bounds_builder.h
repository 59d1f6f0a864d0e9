// Builds the tail bounds (core/tail_bounds.h) of a vocabulary: a k-means
// partition and, for every word and cluster, the exact minimum Distance() to
// the cluster's other members, rounded down to a power-of-two step.
#ifndef DPSANITIZE_NEIGHBORS_TAIL_BOUNDS_BUILDER_H_
#define DPSANITIZE_NEIGHBORS_TAIL_BOUNDS_BUILDER_H_

#include <cstdint>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/tail_bounds.h"
#include "dpsanitize/core/vector_set.h"

namespace dpsanitize {

// Partitions `v` into at most `clusters` clusters (Lloyd's k-means in double
// precision on every 4th word from centroids at evenly spaced ids, 8
// iterations, then every word to its nearest centroid; empty clusters
// dropped) and computes every bound over all |V|^2 pairs: squared distances
// in float by BLAS (through FAISS) select, per word and cluster, the members
// that can be nearest given a rigorous bound on the float error, and only
// those get Distance() in double. The result depends only on the vectors,
// never on `threads` or on BLAS's summation order. Errors: |V| < 2,
// clusters < 1, distances too large for 16-bit steps, a FAISS failure.
StatusOr<OwnedTailBounds> ComputeTailBounds(VectorSet v, uint32_t clusters, unsigned threads);

}  // namespace dpsanitize

#endif  // DPSANITIZE_NEIGHBORS_TAIL_BOUNDS_BUILDER_H_
