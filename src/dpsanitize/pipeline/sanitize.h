// Sanitize: the whole run. Reads documents (lines) in bounded memory,
// tokenizes them, perturbs every in-vocabulary word with the configured
// mechanism on worker threads, applies the OOV policy and case patterns, and
// writes the documents in input order, atomically when the output is a file.
//
//   Config c; c.input = "in.txt"; c.output = "out.txt"; c.eps = 50;
//   RunSummary summary;
//   Status s = Sanitize(c, &summary);
#ifndef DPSANITIZE_PIPELINE_SANITIZE_H_
#define DPSANITIZE_PIPELINE_SANITIZE_H_

#include <cstdint>

#include "dpsanitize/core/config.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

struct RunSummary {
  uint64_t documents = 0;
  uint64_t words = 0;      // words in the input (in and out of vocabulary)
  uint64_t perturbed = 0;  // in-vocabulary words passed through the mechanism
  uint64_t unchanged = 0;  // ... of which the mechanism returned the same word
  uint64_t oov_masked = 0;
  uint64_t oov_kept = 0;
  uint64_t oov_dropped = 0;
  uint64_t max_words_per_document = 0;
  uint64_t bytes_in = 0;
  RandomnessKind randomness = RandomnessKind::kCsprng;
  Calibration calibration;
};

Status Sanitize(const Config& config, RunSummary* summary);

// The same with an engine opened beforehand (tests, benchmarks).
Status SanitizeWith(Engine& engine, const RunKey& key, RunSummary* summary);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_SANITIZE_H_
