#include "dpsanitize/core/config.h"

#include <cmath>

#include "dpsanitize/core/strings.h"

namespace dpsanitize {

namespace {
Status CheckPositive(const std::optional<double>& v, const char* flag) {
  if (v && (!std::isfinite(*v) || *v <= 0)) {
    return UsageError("{} {}: must be a finite number greater than 0", flag, *v);
  }
  return Status::Ok();
}
// CSV/TSV: columns are named with --text-column (a header name), never
// --text-field (a JSON key); a row is one document.
Status ValidateTable(const Config& c, InputFormat format) {
  const char* kind = format == InputFormat::kCsv ? "CSV" : "TSV";
  if (!c.text_fields.empty()) {
    return UsageError("--text-field: only for --format jsonl; name {} columns with --text-column",
                      kind);
  }
  if (c.text_columns.empty()) {
    return UsageError(
        "--text-column: required for {} input (the header names of the columns to rewrite)", kind);
  }
  for (size_t i = 0; i < c.text_columns.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (c.text_columns[i] == c.text_columns[j]) {
        return UsageError("--text-column {}: given twice", c.text_columns[i]);
      }
    }
    if (c.id_field && c.text_columns[i] == *c.id_field) {
      return UsageError("--id-field {}: is also a --text-column", *c.id_field);
    }
  }
  if (c.doc_mode != DocMode::kLine) {
    return UsageError("--doc: only for plain text; a {} row is one document", kind);
  }
  // A TSV field has no quoting, so nothing in it may end the field or the
  // row. Words never hold a tab or line break, and gaps are the input's own
  // bytes; the placeholder is the one thing a run adds.
  if (format == InputFormat::kTsv && c.oov == OovPolicy::kMask &&
      c.oov_token.find_first_of("\t\r") != std::string::npos) {
    return UsageError(
        "--oov-token: must not contain a tab or carriage return for TSV input (a TSV field "
        "cannot hold one)");
  }
  return Status::Ok();
}

}  // namespace

std::string StripCompressionExtension(const std::string& path, Compression* compression) {
  *compression = Compression::kNone;
  if (EndsWith(path, ".gz")) {
    *compression = Compression::kGzip;
    return path.substr(0, path.size() - 3);
  }
  if (EndsWith(path, ".zst")) {
    *compression = Compression::kZstd;
    return path.substr(0, path.size() - 4);
  }
  return path;
}

InputFormat ResolvedFormat(const Config& c) {
  if (c.format != InputFormat::kAuto) return c.format;
  // corpus.jsonl.zst is JSONL compressed with zstd: the format is named by
  // the extension beneath the compression one.
  Compression ignored;
  const std::string name = StripCompressionExtension(c.input, &ignored);
  if (EndsWith(name, ".jsonl") || EndsWith(name, ".ndjson")) return InputFormat::kJsonl;
  if (EndsWith(name, ".csv")) return InputFormat::kCsv;
  if (EndsWith(name, ".tsv")) return InputFormat::kTsv;
  return InputFormat::kText;
}

Compression ResolvedOutputCompression(const Config& c) {
  if (c.compress != Compression::kAuto) return c.compress;
  if (c.output == "-") return Compression::kNone;
  Compression by_name;
  StripCompressionExtension(c.output, &by_name);
  return by_name;
}

std::string LedgerPath(const Config& c) {
  if (c.no_ledger) return "";
  if (c.ledger) return *c.ledger;
  if (c.output == "-") return "";
  return c.output + ".ledger.json";
}

Status Validate(const Config& c) {
  DPS_RETURN_IF_ERROR(CheckPositive(c.eps, "--eps"));
  if (c.seed && c.key_file) return UsageError("--seed and --key-file: give at most one");
  if (c.vocab_size < 2) return UsageError("--vocab-size {}: must be at least 2", c.vocab_size);
  if (c.max_line == 0) return UsageError("--max-line 0: must be at least 1");
  if (c.max_line > (uint64_t{1} << 31)) {
    return UsageError("--max-line {}: at most 2147483648 bytes", c.max_line);
  }
  if (c.first_doc_id >= (uint64_t{1} << 62)) {
    return UsageError("--first-doc-id {}: must be below 2^62", c.first_doc_id);
  }
  if (c.threads > 1024) return UsageError("--threads {}: at most 1024", c.threads);
  if (c.shard_count > 0) {
    if (c.input == "-") {
      return UsageError("--shard {}: needs an input file to seek in, not standard input",
                        c.shard_text);
    }
    if (ResolvedFormat(c) == InputFormat::kText && c.doc_mode == DocMode::kFile) {
      return UsageError("--shard {}: --doc file makes the whole input one document", c.shard_text);
    }
    if (c.output == "-") {
      return UsageError("--shard {}: each shard needs its own output file, not standard output",
                        c.shard_text);
    }
  }
  if (c.skip_done && c.output == "-") {
    return UsageError("--skip-done: needs an output file to recognise a finished run");
  }
  if (c.skip_done && c.no_ledger) {
    return UsageError("--skip-done: a finished run is recognised by its ledger; drop --no-ledger");
  }
  if (c.neighbor_depth == 0) return UsageError("--neighbor-depth 0: must be at least 1");
  if (c.oov == OovPolicy::kMask && c.oov_token.find('\n') != std::string::npos) {
    return UsageError("--oov-token: must not contain a newline");
  }
  const InputFormat format = ResolvedFormat(c);
  const bool table = format == InputFormat::kCsv || format == InputFormat::kTsv;
  if (table) {
    DPS_RETURN_IF_ERROR(ValidateTable(c, format));
  } else if (!c.text_columns.empty()) {
    return UsageError("--text-column: only for --format csv or tsv");
  }
  if (format == InputFormat::kJsonl) {
    if (c.text_fields.empty()) {
      return UsageError("--text-field: required for JSONL input (the string fields to rewrite)");
    }
    if (c.doc_mode != DocMode::kLine) {
      return UsageError("--doc: only for plain text; a JSONL record is one document");
    }
    for (const std::string& f : c.text_fields) {
      if (c.id_field && f == *c.id_field) {
        return UsageError("--id-field {}: is also a --text-field", f);
      }
    }
  } else if (!table) {
    if (!c.text_fields.empty()) return UsageError("--text-field: only for --format jsonl");
    if (c.id_field) return UsageError("--id-field: only for --format jsonl, csv or tsv");
  }
  if (c.ledger && c.no_ledger) return UsageError("--ledger and --no-ledger: give at most one");
  if (c.output == "-" && !c.ledger && !c.no_ledger) {
    return UsageError("--ledger PATH or --no-ledger: one is required when the output is stdout");
  }
  if (c.ledger && (*c.ledger == c.input || *c.ledger == c.output || c.ledger->empty())) {
    return UsageError("--ledger {}: must be a path other than the input and the output", *c.ledger);
  }
  if (c.input != "-" && c.input.empty()) return UsageError("input: empty path");
  if (c.output.empty()) return UsageError("output: empty path");
  return Status::Ok();
}

}  // namespace dpsanitize
