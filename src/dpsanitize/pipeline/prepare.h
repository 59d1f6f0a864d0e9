// Prepare: converts an embedding in any supported format into the prepared
// binary format, with the calibration inputs (exact delta_min, certified
// delta_max) of the perturbation vocabularies of the given sizes.
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
};

Status Prepare(const std::string& in, const std::string& out,
               const std::vector<uint64_t>& vocab_sizes, PrepareReport* report);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_PREPARE_H_
