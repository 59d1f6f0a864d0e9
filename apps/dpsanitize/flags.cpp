#include "flags.h"

#include <cctype>
#include <charconv>
#include <regex>

#include "dpsanitize/mechanisms/registry.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

CLI::Validator Decimal() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        static const std::regex decimal_pattern(
            R"([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)");
        std::string lower;
        for (char ch : text)
          lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (std::regex_match(text, decimal_pattern) || lower == "inf" || lower == "infinity" ||
            lower == "nan") {
          return "";
        }
        return text + ": not a decimal number";
      },
      "DECIMAL");
}

CLI::Validator Count() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits =
            !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits) return text + ": not a non-negative whole number";
        uint64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size()) {
          return text + ": too large (at most 18446744073709551615)";
        }
        return "";
      },
      "COUNT");
}

void AddEmbeddingFlags(CLI::App& app, Config* c) {
  app.add_option("--embedding", c->embedding,
                 "Embedding (prepared or text); default $DPSANITIZE_EMBEDDING, else " +
                     DefaultEmbeddingPath());
  app.add_option("--vocab-size", c->vocab_size,
                 "Perturbation vocabulary: the N most frequent usable words")
      ->check(Count())
      ->capture_default_str();
}

void AddMechanismFlags(CLI::App& app, MechanismFlags* f) {
  std::vector<std::string> names;
  for (const MechanismInfo& m : Registry()) {
    if (m.cli) names.push_back(m.name);
  }
  app.add_option("--mechanism", f->mechanism,
                 "Mechanism: " + MechanismChoices() + " (see Mechanisms below)")
      ->check(CLI::IsMember(names))
      ->capture_default_str();
  for (const MechanismInfo& m : Registry()) {
    for (const MechanismFlag& flag : m.flags) {
      if (f->options.count(flag.name) != 0) continue;  // shared by two mechanisms
      CLI::Option* o = app.add_option("--" + flag.name, f->values[flag.name], flag.help);
      if (flag.kind == MechanismFlag::Kind::kChoice) o->check(CLI::IsMember(flag.choices));
      // A number: --help says DECIMAL and completion offers no file names;
      // the registry still refuses inf/nan and checks the range.
      if (flag.kind == MechanismFlag::Kind::kNumber) o->check(Decimal());
      if (!flag.default_value.empty()) o->default_str(flag.default_value);
      f->options[flag.name] = o;
    }
  }
}

void ApplyMechanismFlags(const MechanismFlags& f, Config* c) {
  c->mechanism = f.mechanism;
  for (const auto& [name, option] : f.options) {
    if (option->count() > 0) c->mechanism_options[name] = f.values.at(name);
  }
}

// --help lists the options by topic (CLI11 option groups), in the order a
// user meets them: what is read, how it is perturbed, what is guaranteed and
// recorded, what is written, how fast.
namespace {
constexpr const char* kInput = "Input";
constexpr const char* kMechanism = "Mechanism";
constexpr const char* kPrivacy = "Privacy";
constexpr const char* kOutput = "Output";
constexpr const char* kPerformance = "Performance";
}  // namespace

void SanitizeFlags::Add(CLI::App& app) {
  Config& c = config;
  app.add_option("IN", c.input,
                 "Input, UTF-8: text, JSONL, CSV or TSV, optionally .gz/.zst ('-': stdin)")
      ->required();
  app.add_option("OUT", c.output,
                 "Output path, written atomically; .gz/.zst compress it ('-': stdout)")
      ->required();

  app.add_option("--format", format,
                 "Input format: text, jsonl, csv, tsv, or auto (by the extension beneath any "
                 ".gz/.zst: .jsonl/.ndjson, .csv, .tsv; else text)")
      ->check(CLI::IsMember({"auto", "text", "jsonl", "csv", "tsv"}))
      ->capture_default_str()
      ->group(kInput);
  app.add_option("--doc", doc, "Plain text: a document is a line, a paragraph or the file")
      ->check(CLI::IsMember({"line", "paragraph", "file"}))
      ->capture_default_str()
      ->group(kInput);
  app.add_option("--text-field", c.text_fields,
                 "JSONL: top-level string field to rewrite (repeat for several)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group(kInput);
  app.add_option("--text-column", c.text_columns,
                 "CSV/TSV: header name of a column to rewrite (repeat for several)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->group(kInput);
  app.add_option("--id-field", c.id_field,
                 "JSONL field or CSV/TSV column holding the document id (default: record "
                 "position)")
      ->group(kInput);
  app.add_option("--on-bad-record", bad,
                 "JSONL/CSV/TSV: error or skip (skipped records are counted)")
      ->check(CLI::IsMember({"error", "skip"}))
      ->capture_default_str()
      ->group(kInput);
  app.add_option("--max-line", c.max_line, "Longest accepted line (record) in bytes")
      ->check(Count())
      ->capture_default_str()
      ->group(kInput);
  app.add_option("--first-doc-id", c.first_doc_id, "Id of the first document (for shards)")
      ->check(Count())
      ->capture_default_str()
      ->group(kInput);
  app.add_option("--shard", shard,
                 "I/N: process only the I-th of N parts of IN (0 <= I < N), split at document "
                 "boundaries; concatenated in order, the N outputs are the whole run's")
      ->group(kInput);

  AddMechanismFlags(app, &mechanism);
  AddEmbeddingFlags(app, &c);
  app.get_option("--mechanism")->group(kMechanism);
  for (const auto& [name, option] : mechanism.options) option->group(kMechanism);
  app.get_option("--embedding")->group(kMechanism);
  app.get_option("--vocab-size")->group(kMechanism);

  app.add_option("--eps", c.eps, "Metric-DP epsilon per unit of embedding distance (required)")
      ->check(Decimal())
      ->group(kPrivacy);
  app.add_option("--oov", oov, "Out-of-vocabulary words: mask, keep (no guarantee) or drop")
      ->check(CLI::IsMember({"mask", "keep", "drop"}))
      ->capture_default_str()
      ->group(kPrivacy);
  app.add_option("--oov-token", c.oov_token, "Placeholder for --oov mask")
      ->capture_default_str()
      ->group(kPrivacy);
  app.add_option("--key-file", c.key_file,
                 "Secret key file (>= 32 bytes): same key and input give the same output")
      ->group(kPrivacy);
  app.add_option("--seed", c.seed,
                 "Reproducible noise for tests; NO privacy guarantee (never stored)")
      ->group(kPrivacy);
  app.add_option("--ledger", c.ledger, "Privacy ledger path [OUT.ledger.json]")->group(kPrivacy);
  app.add_flag("--no-ledger", c.no_ledger, "Write no privacy ledger")->group(kPrivacy);

  app.add_option("--compress", compress,
                 "Compression of OUT: gzip, zstd, none, or auto (by OUT's extension: .gz, .zst)")
      ->check(CLI::IsMember({"auto", "gzip", "zstd", "none"}))
      ->capture_default_str()
      ->group(kOutput);
  app.add_option("--case", case_mode, "preserve (case pattern of the input word) or lower")
      ->check(CLI::IsMember({"preserve", "lower"}))
      ->capture_default_str()
      ->group(kOutput);
  app.add_flag("--skip-done", c.skip_done,
               "If OUT and its ledger exist and match this job (settings, shard, SHA-256), exit 0 "
               "without redoing it")
      ->group(kOutput);
  app.add_flag("-q,--quiet", c.quiet, "No warnings or progress on stderr")->group(kOutput);
  app.add_flag("--progress", progress, "Show progress on stderr even when it is not a terminal")
      ->group(kOutput);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off [warn]")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->group(kOutput);

  app.add_option("--threads", c.threads, "Worker threads (0: all cores)")
      ->check(Count())
      ->capture_default_str()
      ->group(kPerformance);
  app.add_option("--neighbor-depth", c.neighbor_depth,
                 "Neighbours cached per word; deeper draws scan exactly")
      ->check(Count())
      ->capture_default_str()
      ->group(kPerformance);
}

Status ParseShard(const std::string& text, uint64_t* index, uint64_t* count) {
  const size_t slash = text.find('/');
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
  };
  const std::string i = slash == std::string::npos ? "" : text.substr(0, slash);
  const std::string n = slash == std::string::npos ? "" : text.substr(slash + 1);
  if (!digits(i) || !digits(n)) {
    return UsageError("--shard {}: expected I/N with whole numbers 0 <= I < N", text);
  }
  *index = std::stoull(i);
  *count = std::stoull(n);
  if (*count == 0) return UsageError("--shard {}: N must be at least 1", text);
  if (*count > 1000000) return UsageError("--shard {}: N must be at most 1000000", text);
  if (*index >= *count) {
    return UsageError("--shard {}: I must be below N (shards are numbered 0 to N-1)", text);
  }
  return Status::Ok();
}

Config SanitizeFlags::Apply() const {
  Config c = config;
  ApplyMechanismFlags(mechanism, &c);
  c.format = format == "text"    ? InputFormat::kText
             : format == "jsonl" ? InputFormat::kJsonl
             : format == "csv"   ? InputFormat::kCsv
             : format == "tsv"   ? InputFormat::kTsv
                                 : InputFormat::kAuto;
  c.compress = compress == "gzip"   ? Compression::kGzip
               : compress == "zstd" ? Compression::kZstd
               : compress == "none" ? Compression::kNone
                                    : Compression::kAuto;
  c.doc_mode = doc == "paragraph" ? DocMode::kParagraph
               : doc == "file"    ? DocMode::kFile
                                  : DocMode::kLine;
  c.on_bad_record = bad == "skip" ? BadRecordPolicy::kSkip : BadRecordPolicy::kError;
  c.progress =
      progress ? ProgressMode::kAlways : (c.quiet ? ProgressMode::kNever : ProgressMode::kAuto);
  c.oov = oov == "mask" ? OovPolicy::kMask : oov == "keep" ? OovPolicy::kKeep : OovPolicy::kDrop;
  c.case_mode = case_mode == "lower" ? CaseMode::kLower : CaseMode::kPreserve;
  return c;
}

std::string MechanismsHelp() {
  std::string s = "Mechanisms:\n";
  for (const MechanismInfo& m : Registry()) {
    if (!m.cli) continue;
    // The description's lines, indented under the name.
    std::string indented;
    for (char ch : m.description)
      indented += ch == '\n' ? std::string("\n       ") : std::string(1, ch);
    s += "  " + m.name + std::string(m.name.size() < 5 ? 5 - m.name.size() : 1, ' ') + indented +
         "\n";
  }
  return s;
}

}  // namespace dpsanitize
