// Perturb: the mechanism stage of the sanitize loop. Once per batch, on one
// thread, Prefetch() gives the mechanism the batch's distinct words; then
// each worker's Perturb() replaces its part's in-vocabulary words (draws)
// with the mechanism's output words (outs).
#ifndef DPSANITIZE_PIPELINE_PERTURB_H_
#define DPSANITIZE_PIPELINE_PERTURB_H_

#include <cstdint>
#include <vector>

#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

class Perturber {
 public:
  Perturber(const Engine& engine, const RunKey& key);

  // Single-threaded: the distinct words of the first `nparts` parts.
  void Prefetch(const std::vector<Part>& parts, size_t nparts);

  // Thread-safe for distinct parts: fills part->outs.
  void Perturb(Part* part) const;

 private:
  Mechanism& mechanism_;
  const RunKey& key_;
  std::vector<uint8_t> seen_;  // per vocabulary word; all 0 between calls
  std::vector<WordId> distinct_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_PERTURB_H_
