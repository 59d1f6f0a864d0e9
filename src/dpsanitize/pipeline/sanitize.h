// Sanitize: the whole run. Reads the input in batches of whole lines in
// bounded memory; splits each batch into documents (lines, paragraphs, the
// whole file, or JSONL records with their text fields); tokenizes and looks
// up words and perturbs every in-vocabulary word with the configured
// mechanism on worker threads; applies the OOV policy and case patterns; and
// writes the output in input order, atomically when it is a file, followed by
// the privacy ledger.
//
//   Config c; c.input = "in.txt"; c.output = "out.txt"; c.eps = 50;
//   RunSummary summary;
//   Status s = Sanitize(c, &summary);
#ifndef DPSANITIZE_PIPELINE_SANITIZE_H_
#define DPSANITIZE_PIPELINE_SANITIZE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "dpsanitize/core/config.h"
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

struct RunSummary {
  uint64_t documents = 0;
  uint64_t words = 0;      // words in the input (in and out of vocabulary)
  uint64_t perturbed = 0;  // in-vocabulary words passed through the mechanism
  uint64_t oov_masked = 0;
  uint64_t oov_kept = 0;
  uint64_t oov_dropped = 0;
  uint64_t bad_records_skipped = 0;
  uint64_t documents_with_kept_oov = 0;
  std::map<uint64_t, uint64_t> words_per_document;  // word count -> documents
  DocumentIds document_ids;                         // which documents were released
  uint64_t bytes_in = 0;
  std::optional<std::string> output_sha256;  // hex, when the output is a file
  RandomnessKind randomness = RandomnessKind::kCsprng;
  std::string ledger_path;  // "" when none was written
};

Status Sanitize(const Config& config, RunSummary* summary);

// The same with an engine opened beforehand (tests, benchmarks).
Status SanitizeWith(Engine& engine, const RunKey& key, RunSummary* summary);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_SANITIZE_H_
