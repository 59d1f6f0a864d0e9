// Calibration inputs of one (embedding, vocabulary) pair, spec section 2:
// computed once by `prepare` (or at run time) and read by the mechanisms that
// need them. In core so that mechanisms do not depend on the embedding stage.
#ifndef DPSANITIZE_CORE_VOCAB_STATS_H_
#define DPSANITIZE_CORE_VOCAB_STATS_H_

#include <cstdint>

namespace dpsanitize {

// Version of the perturbation-vocabulary filter (which entries are usable).
// Bump it whenever the tokenizer's word definition changes; it is stored
// with everything computed for a vocabulary so stale values are never reused.
inline constexpr uint32_t kFilterVersion = 1;

struct VocabStats {
  uint64_t vocab_size = 0;       // |V|: the first vocab_size usable entries
  double delta_min = 0;          // exact smallest positive distance in V
  double delta_max = 0;          // largest distance in V, or a certified bound
  bool delta_max_exact = false;  // false: 2 * max distance to the centroid
  uint32_t filter_version = kFilterVersion;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_VOCAB_STATS_H_
