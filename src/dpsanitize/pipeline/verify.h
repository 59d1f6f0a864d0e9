// Verify: the full check of a prepared embedding (`dpsanitize verify FILE`).
//
// Opening a prepared file checks its structure only (Embedding::Open: every
// offset, id and size in range, O(entries), milliseconds); a run never hashes
// it. Verify reads every byte and recomputes what prepare derived:
//   1. the structural checks of Embedding::Open (and the header checksum,
//      which covers the header and the stats records);
//   2. the content SHA-256 against the stored one (vectors, word offsets,
//      words), every usable flag from its word, zero padding
//      (Embedding::VerifyStoredContent);
//   3. the neighbour table: every stored distance against Distance() of its
//      pair, then every row against a fresh exact search (ExactKnn);
//   4. the tail bounds: recomputed (ComputeTailBounds) and compared.
// So a single flipped byte anywhere in the file is an error. The stats
// (delta_min, delta_max: all pairs) are not recomputed; the header checksum
// covers them. Time on the default embedding: docs/embedding-format.md.
//
//   VerifyReport r;
//   DPS_RETURN_IF_ERROR(VerifyPreparedEmbedding(path, {}, &r));
#ifndef DPSANITIZE_PIPELINE_VERIFY_H_
#define DPSANITIZE_PIPELINE_VERIFY_H_

#include <cstdint>
#include <string>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

struct VerifyOptions {
  unsigned threads = 0;   // 0: all cores
  bool progress = false;  // a stage line on stderr
};

struct VerifyReport {
  std::string sha256;             // the content SHA-256, recomputed and equal to the stored one
  uint64_t words = 0;             // entries
  uint32_t dim = 0;               // dimension
  uint64_t table_vocab_size = 0;  // 0: no neighbour table
  uint32_t table_k = 0;
  uint32_t tail_clusters = 0;  // 0: no tail bounds
};

// Ok when every check passes; otherwise the first failure, a DataError
// naming the file and the section (an IoError when it cannot be read).
Status VerifyPreparedEmbedding(const std::string& path, const VerifyOptions& options,
                               VerifyReport* report);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_VERIFY_H_
