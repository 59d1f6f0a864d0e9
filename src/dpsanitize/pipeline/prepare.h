// Prepare: converts an embedding in any supported format into the prepared
// binary format, with the calibration inputs (exact delta_min, certified
// delta_max) of the perturbation vocabularies of the given sizes, and the
// exact neighbour table of the first of them.
#ifndef DPSANITIZE_PIPELINE_PREPARE_H_
#define DPSANITIZE_PIPELINE_PREPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/embed/embedding.h"

namespace dpsanitize {

struct PrepareReport {
  uint64_t words = 0;
  uint32_t dim = 0;
  uint64_t usable = 0;
  std::vector<VocabStats> stats;
  std::string sha256;
  uint32_t table_k = 0;           // neighbours per word in the stored table (0: none)
  uint64_t table_vocab_size = 0;  // the vocabulary the table belongs to
  uint32_t tail_clusters = 0;     // clusters of the stored tail bounds (0: none)
};

// Clusters of the tail bounds `prepare` stores with the neighbour table: at
// eps = 3, 256 cut em's distance computations per token about 5-fold on the
// IMDb bench corpus; 1,024 cut proposals further but made runs slower (each
// uncached word's plan costs 4 times more) and the file 77 MB larger;
// docs/performance.md.
inline constexpr uint32_t kDefaultTailClusters = 256;

// Stores calibration inputs for each of `vocab_sizes` and, when
// `neighbor_k` > 0, the exact `neighbor_k`-neighbour table of the first one
// and (when `tail_clusters` > 0) its tail bounds.
Status Prepare(const std::string& in, const std::string& out,
               const std::vector<uint64_t>& vocab_sizes, uint32_t neighbor_k,
               uint32_t tail_clusters, PrepareReport* report);

// The info lines `prepare` prints about what it wrote (stderr, via the log).
void LogPrepareReport(const std::string& out, const PrepareReport& r);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_PREPARE_H_
