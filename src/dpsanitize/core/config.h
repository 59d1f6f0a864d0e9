// Config: every setting of a sanitize run, filled by the CLI (or a test) and
// checked by Validate() before anything is opened. Defaults are the CLI's.
#ifndef DPSANITIZE_CORE_CONFIG_H_
#define DPSANITIZE_CORE_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

enum class OovPolicy { kMask, kKeep, kDrop };
enum class CaseMode { kPreserve, kLower };
enum class InputFormat { kAuto, kText, kJsonl, kCsv, kTsv };
// Compression of a stream. kAuto: by the file name's extension (.gz, .zst);
// for input, also by the stream's first bytes (their magic numbers are never
// valid UTF-8, so no text input is mistaken for them).
enum class Compression { kAuto, kNone, kGzip, kZstd };
enum class DocMode { kLine, kParagraph, kFile };
enum class BadRecordPolicy { kError, kSkip };
enum class ProgressMode { kAuto, kAlways, kNever };

struct Config {
  std::string input = "-";   // path, or "-" for stdin
  std::string output = "-";  // path, or "-" for stdout; written atomically
  std::string embedding;     // prepared/text embedding; empty = default location
  // A mechanism registry name (mechanisms/registry.h): "em" (the default: a
  // proven bound for every eps > 0), "tem", "tg", "mvl".
  std::string mechanism = "em";
  std::optional<double> eps;  // metric-DP epsilon per unit embedding distance
  // Mechanism-specific options as given on the command line, keyed by the
  // flag's name without dashes ("gumbel-scale" -> "2.5"); the registry entry
  // of `mechanism` declares, validates and reads them.
  std::map<std::string, std::string> mechanism_options;
  uint64_t vocab_size = 50000;          // perturbation vocabulary: most frequent N words
  std::optional<std::string> seed;      // reproducible noise; no guarantee
  std::optional<std::string> key_file;  // secret key file; consistent noise
  uint64_t first_doc_id = 0;            // id of the first document (shards)
  // --shard I/N: the I-th of N contiguous parts of a seekable input, split at
  // document boundaries; shard_count 0 means the whole input. `shard_text` is
  // the value as given, for messages.
  uint64_t shard_index = 0, shard_count = 0;
  std::string shard_text;
  bool skip_done = false;  // --skip-done: a finished shard (OUT + matching ledger) is not redone
  unsigned threads = 0;    // worker threads; 0 = all cores
  OovPolicy oov = OovPolicy::kMask;
  std::string oov_token = "<unk>";  // placeholder for --oov mask
  CaseMode case_mode = CaseMode::kPreserve;
  uint64_t max_line = 16u << 20;  // bytes per line (document; CSV: record), excluding newline
  uint64_t neighbor_depth = 64;   // cached neighbours per word (deeper draws scan)
  bool quiet = false;             // no warnings on stderr
  // kAuto: by the input's extension beneath any compression one:
  // .jsonl/.ndjson jsonl, .csv csv, .tsv tsv, else text.
  InputFormat format = InputFormat::kAuto;
  Compression compress = Compression::kAuto;  // of OUT (--compress); kAuto: by OUT's extension
  DocMode doc_mode = DocMode::kLine;          // plain text: what one document is
  std::vector<std::string> text_fields;       // JSONL: top-level string fields to rewrite
  std::vector<std::string> text_columns;      // CSV/TSV: header names of the columns to rewrite
  std::optional<std::string> id_field;  // JSONL field, CSV/TSV column: document id (default: row)
  BadRecordPolicy on_bad_record = BadRecordPolicy::kError;  // JSONL, CSV, TSV: invalid records
  std::optional<std::string> ledger;  // ledger path; default OUT.ledger.json for a file OUT
  bool no_ledger = false;             // write no ledger
  ProgressMode progress = ProgressMode::kAuto;  // progress line on stderr (auto: on a TTY)
  std::string tool_version = "unknown";         // recorded in the ledger
};

// The input format after inference from the input's name.
InputFormat ResolvedFormat(const Config& config);

// `path` without a trailing compression extension (".gz", ".zst"), and that
// compression (kNone when there is none).
std::string StripCompressionExtension(const std::string& path, Compression* compression);

// The output's compression after inference from its name (kNone for "-").
Compression ResolvedOutputCompression(const Config& config);

// The ledger path, or "" when no ledger is written.
std::string LedgerPath(const Config& config);

// Checks the mechanism-independent option values and combinations; usage
// errors name the option. The mechanism's own options are checked by
// ValidateMechanismOptions (mechanisms/registry.h); ValidateConfig
// (pipeline/engine.h) runs both, once per run.
Status Validate(const Config& config);

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_CONFIG_H_
