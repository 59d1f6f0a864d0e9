// The privacy ledger (spec section 6; schema in docs/ledger.md).
//
// A JSON document written next to every output that states what guarantee
// the output has: mechanism and every parameter with the basis of epsilon,
// embedding identity, randomness kind, input settings, totals, the
// per-document statement with the words-per-document distribution, and the
// SHA-256 of the output. It never holds input words, the original -> output
// mapping, a hash of the input, the seed or the key.
//
//   nlohmann::json j = BuildLedger(facts);          // after a run
//   DPS_ASSIGN_OR_RETURN(auto all, MergeLedgers({a, b}));  // shards of one job
//   DPS_ASSIGN_OR_RETURN(std::string text, ShowLedger(j));
#ifndef DPSANITIZE_LEDGER_LEDGER_H_
#define DPSANITIZE_LEDGER_LEDGER_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

inline constexpr const char* kLedgerFormat = "dpsanitize-ledger/1";

// The ledger fields that identify a job: shards merge only when they agree,
// and --skip-done redoes a run whose ledger differs in any of them.
inline constexpr const char* kLedgerJobFields[] = {"mechanism", "embedding", "randomness", "input"};

// Which documents a run released, so that `ledger merge` can refuse shards
// that overlap (the per-document statement assumes each document was released
// once). Positional ids (line, paragraph or record numbers) are stored
// exactly as ranges; --id-field ids, which need not be contiguous, as a
// bottom-k sketch: the kIdSketchSize smallest of a 64-bit one-way hash of
// each id (docs/ledger.md states what it detects).
inline constexpr size_t kIdSketchSize = 1024;
struct DocumentIds {
  bool sketch = false;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // inclusive, increasing, disjoint
  uint64_t count = 0;                                 // sketch: ids hashed
  std::vector<uint64_t> smallest;                     // sketch: sorted, at most kIdSketchSize
};

// The sketch's hash of a document id: the first 8 bytes of
// SHA-256("dpsanitize/doc-id/v1" || id as 8 little-endian bytes). Unkeyed on
// purpose: shards with fresh CSPRNG keys must still compare.
uint64_t DocumentIdHash(uint64_t id);

// Everything a ledger states, gathered by the pipeline (no text in here).
struct LedgerFacts {
  std::string tool_version;
  std::string created_utc;  // ISO 8601
  // Mechanism.
  std::string mechanism;  // registry name: "tg", "mvl", ...
  std::optional<double> eps;
  std::string eps_basis;         // "nominal", "proven" or "none"
  std::string eps_basis_detail;  // e.g. the calibration's name
  std::string statement_clause;  // what epsilon rests on, for the per-document statement
  std::map<std::string, double> parameters;            // mu, b, a, delta_min, delta_max, eps_min...
  std::map<std::string, std::string> parameter_notes;  // delta_max_kind, mvl_search...
  // Embedding.
  std::string embedding_name;
  std::string embedding_sha256;
  uint64_t embedding_entries = 0;
  uint64_t vocab_size = 0;
  uint32_t dim = 0;
  // Randomness: "csprng", "seeded" or "keyed".
  std::string randomness;
  // Input settings.
  std::map<std::string, nlohmann::json> input;
  // Totals.
  uint64_t documents = 0;
  uint64_t words = 0;
  uint64_t words_perturbed = 0;
  uint64_t oov_masked = 0;
  uint64_t oov_kept = 0;
  uint64_t oov_dropped = 0;
  uint64_t bad_records_skipped = 0;
  uint64_t documents_with_kept_oov = 0;
  // Words per document: number of documents with each word count.
  std::map<uint64_t, uint64_t> words_per_document;
  DocumentIds document_ids;
  std::optional<std::string> output_sha256;  // when the output is a file
  std::string output_name;                   // file name (no folder), or "-"
  std::string output_shard;                  // "I/N" for a --shard run, else ""
  std::string output_compression;  // "gzip" or "zstd" (the SHA-256 is of those bytes), else ""
};

nlohmann::json BuildLedger(const LedgerFacts& facts);

// Combines shard ledgers of one job; refuses ledgers whose mechanism,
// parameters, embedding, randomness kind or input settings differ, and
// ledgers whose document ids overlap (naming the ids or the sketch match).
StatusOr<nlohmann::json> MergeLedgers(const std::vector<nlohmann::json>& shards,
                                      const std::vector<std::string>& names,
                                      const std::string& tool_version,
                                      const std::string& created_utc);

// Reads the ledgers `inputs`, merges them and writes the result to `out`
// atomically; refuses an `out` that is one of the inputs.
Status MergeLedgerFiles(const std::vector<std::string>& inputs, const std::string& out,
                        const std::string& tool_version);

// Checks each output a ledger lists against its recorded SHA-256. `out`
// names the output file for a one-output ledger (default: the listed name in
// the ledger's folder). Returns one "NAME: ok (sha256 ...)" line per output.
StatusOr<std::string> VerifyLedgerOutputs(const std::string& ledger_path, const std::string& out);

// Reads and checks a ledger file.
StatusOr<nlohmann::json> ReadLedger(const std::string& path);

// A short human summary.
StatusOr<std::string> ShowLedger(const nlohmann::json& ledger);

// Current UTC time, ISO 8601.
std::string NowUtc();

}  // namespace dpsanitize

#endif  // DPSANITIZE_LEDGER_LEDGER_H_
