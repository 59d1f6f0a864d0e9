// dpsanitize: the command line. Parses flags into a Config (CLI11), calls the
// library, and maps the Status to an exit code: 0 ok, 1 runtime or data
// error, 2 usage error, 130 interrupted. Errors are one stderr line
// "dpsanitize: <what>: <why>"; stdout carries data only.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "audit_command.h"
#include "cli_errors.h"
#include "dpsanitize/core/config.h"
#include "dpsanitize/core/log.h"
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/pipeline/prepare.h"
#include "dpsanitize/pipeline/sanitize.h"
#include "dpsanitize/write/atomic_file.h"

namespace {

using namespace dpsanitize;

constexpr const char* kVersion = DPSANITIZE_VERSION;

void OnSignal(int sig) {
  RemoveTemporaryFilesForSignal();
  ::_exit(128 + sig);
}

void InstallSignals() {
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void SetLogLevel(const std::string& level, bool quiet) {
  if (quiet) {
    Log().set_level(spdlog::level::err);
  } else if (!level.empty()) {
    Log().set_level(spdlog::level::from_str(level));
  }
}

const std::map<std::string, MechanismKind> kMechanisms{{"tg", MechanismKind::kTg},
                                                       {"mvl", MechanismKind::kMvl}};

constexpr const char* kFooter = R"(
Mechanisms:
  tg   truncated Gumbel (Xu et al., FLAIRS 2021), the default. Its epsilon is
       NOMINAL: the paper's theorem under its calibration, defined only above
       eps_min = (2(1 + ln|V|) + 3) / delta_min for the embedding and vocabulary
       (about 44 for the default 50,000 words; see `dpsanitize calibrate`). It
       is not a verified worst-case bound: an output reachable from one word
       only through a rare large Poisson draw can be likely from a nearby word.
  mvl  multivariate Laplace (Feyisetan et al., WSDM 2020): eps-metric-DP for
       any eps > 0 (a proven bound).
Epsilon is metric-DP epsilon per unit of Euclidean embedding distance.
Out-of-vocabulary words get no protection from the mechanism: they are masked
by default. Word count, gaps (spaces, punctuation) and case patterns are
released as they are.

Subcommands:
  dpsanitize prepare IN OUT        convert an embedding to the prepared format
  dpsanitize calibrate --eps E     print the derived noise parameters
  dpsanitize ledger show|merge     summarise or merge privacy ledgers
  dpsanitize audit --eps E         measure the mechanism's actual privacy loss

Exit status: 0 success, 1 runtime or data error, 2 usage error, 130 interrupted.)";

int RunSanitize(int argc, char** argv) {
  CLI::App app{
      "dpsanitize: rewrite text with word-level metric differential privacy.\n"
      "IN and OUT may be '-' (stdin / stdout); with OUT '-', give --ledger PATH or --no-ledger."};
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("dpsanitize ") + kVersion);
  app.get_formatter()->column_width(34);
  Config c;
  std::string mechanism = "tg", oov = "mask", case_mode = "preserve", mvl_search = "exact";
  std::string log_level;
  app.add_option("IN", c.input, "Input text, UTF-8, one document per line ('-': stdin)")
      ->required();
  app.add_option("OUT", c.output, "Output path, written atomically ('-': stdout)")->required();
  app.add_option("--eps", c.eps, "Metric-DP epsilon per unit of embedding distance (required)");
  app.add_option("--mechanism", mechanism, "tg (truncated Gumbel) or mvl (multivariate Laplace)")
      ->check(CLI::IsMember({"tg", "mvl"}))
      ->capture_default_str();
  app.add_option("--embedding", c.embedding,
                 "Embedding (prepared or text); default $DPSANITIZE_EMBEDDING, else " +
                     DefaultEmbeddingPath());
  app.add_option("--vocab-size", c.vocab_size,
                 "Perturbation vocabulary: the N most frequent usable words")
      ->capture_default_str();
  app.add_option("--gumbel-scale", c.gumbel_scale,
                 "tg expert mode: Gumbel scale b instead of --eps (claims no epsilon)");
  app.add_option("--mu", c.mu, "tg expert mode, with --gumbel-scale: Poisson mean [ln(|V|-1)]");
  app.add_option("--delta-max", c.delta_max,
                 "tg expert mode, with --gumbel-scale: noise bound [certified delta_max]");
  app.add_option("--mvl-search", mvl_search, "mvl nearest-word search: exact or hnsw")
      ->check(CLI::IsMember({"exact", "hnsw"}))
      ->capture_default_str();
  app.add_option("--seed", c.seed,
                 "Reproducible noise for tests; NO privacy guarantee (never stored)");
  app.add_option("--key-file", c.key_file,
                 "Secret key file (>= 32 bytes): same key and input give the same output");
  app.add_option("--first-doc-id", c.first_doc_id, "Id of the first document (for shards)")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "Worker threads (0: all cores)")->capture_default_str();
  app.add_option("--oov", oov, "Out-of-vocabulary words: mask, keep (no guarantee) or drop")
      ->check(CLI::IsMember({"mask", "keep", "drop"}))
      ->capture_default_str();
  app.add_option("--oov-token", c.oov_token, "Placeholder for --oov mask")->capture_default_str();
  app.add_option("--case", case_mode, "preserve (case pattern of the input word) or lower")
      ->check(CLI::IsMember({"preserve", "lower"}))
      ->capture_default_str();
  app.add_option("--max-line", c.max_line, "Longest accepted line in bytes")->capture_default_str();
  app.add_option("--neighbor-depth", c.neighbor_depth,
                 "Neighbours cached per word; deeper draws scan exactly")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off [warn]")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_flag("-q,--quiet", c.quiet, "No warnings or progress on stderr");
  std::string format = "auto", doc = "line", bad = "error";
  bool progress = false;
  app.add_option("--format", format, "Input format: text, jsonl, or auto (.jsonl/.ndjson: jsonl)")
      ->check(CLI::IsMember({"auto", "text", "jsonl"}))
      ->capture_default_str();
  app.add_option("--doc", doc, "Plain text: a document is a line, a paragraph or the file")
      ->check(CLI::IsMember({"line", "paragraph", "file"}))
      ->capture_default_str();
  app.add_option("--text-field", c.text_fields,
                 "JSONL: top-level string field to rewrite (repeat for several)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--id-field", c.id_field,
                 "JSONL: field holding the document id (default: record position)");
  app.add_option("--on-bad-record", bad, "JSONL: error or skip (skipped records are counted)")
      ->check(CLI::IsMember({"error", "skip"}))
      ->capture_default_str();
  app.add_option("--ledger", c.ledger, "Privacy ledger path [OUT.ledger.json]");
  app.add_flag("--no-ledger", c.no_ledger, "Write no privacy ledger");
  app.add_flag("--progress", progress, "Show progress on stderr even when it is not a terminal");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  c.format = format == "text"    ? InputFormat::kText
             : format == "jsonl" ? InputFormat::kJsonl
                                 : InputFormat::kAuto;
  c.doc_mode = doc == "paragraph" ? DocMode::kParagraph
               : doc == "file"    ? DocMode::kFile
                                  : DocMode::kLine;
  c.on_bad_record = bad == "skip" ? BadRecordPolicy::kSkip : BadRecordPolicy::kError;
  c.progress =
      progress ? ProgressMode::kAlways : (c.quiet ? ProgressMode::kNever : ProgressMode::kAuto);
  c.tool_version = kVersion;
  c.mechanism = kMechanisms.at(mechanism);
  c.oov = oov == "mask" ? OovPolicy::kMask : oov == "keep" ? OovPolicy::kKeep : OovPolicy::kDrop;
  c.case_mode = case_mode == "lower" ? CaseMode::kLower : CaseMode::kPreserve;
  c.mvl_search = mvl_search == "exact" ? MvlSearch::kExact : MvlSearch::kHnsw;
  SetLogLevel(log_level, c.quiet);
  RunSummary summary;
  const Status s = Sanitize(c, &summary);
  if (!s.ok()) return Fail(s);
  Log().info("{} documents, {} words: {} perturbed, OOV {} masked, {} kept, {} dropped",
             summary.documents, summary.words, summary.perturbed, summary.oov_masked,
             summary.oov_kept, summary.oov_dropped);
  return 0;
}

int RunPrepare(int argc, char** argv) {
  CLI::App app{
      "dpsanitize prepare: convert an embedding (GloVe text, .vec text, wink JSON or a "
      "prepared file) into the prepared binary format, with exact delta_min and "
      "certified delta_max for the given vocabulary sizes.\n"
      "(IN may be the GloVe or .vec text of any embedding)"};
  std::string in, out;
  std::vector<uint64_t> sizes{50000};
  bool quiet = false;
  app.add_option("IN", in, "Embedding to convert")->required();
  app.add_option("OUT", out, "Prepared embedding to write (atomically)")->required();
  app.add_option("--vocab-size", sizes, "Vocabulary sizes to store calibration inputs for")
      ->capture_default_str();
  uint32_t neighbors = 64;
  app.add_option("--neighbors", neighbors,
                 "Exact neighbours per word to store for the first vocabulary size (0: none)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "No progress on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  if (!quiet) Log().set_level(spdlog::level::info);
  PrepareReport r;
  const Status s = Prepare(in, out, sizes, neighbors, &r);
  if (!s.ok()) return Fail(s);
  if (!quiet) {
    Log().info("{}: {} words ({} usable), dimension {}, sha256 {}", out, r.words, r.usable, r.dim,
               r.sha256);
    if (r.table_k > 0) {
      Log().info("  neighbour table: {} nearest words of each of the {} vocabulary words",
                 r.table_k, r.table_vocab_size);
    }
    for (const VocabStats& st : r.stats) {
      Log().info("  |V| = {}: delta_min = {:.6g} (exact), delta_max = {:.6g} (certified bound)",
                 st.vocab_size, st.delta_min, st.delta_max);
    }
  }
  return 0;
}

int RunLedger(int argc, char** argv) {
  CLI::App app{
      "dpsanitize ledger: work with privacy ledgers.\n"
      "  dpsanitize ledger show L.json\n"
      "  dpsanitize ledger merge A.json B.json ... -o ALL.json"};
  app.require_subcommand(1);
  std::string show_path;
  auto* show = app.add_subcommand("show", "Print a short human summary of a ledger");
  show->add_option("LEDGER", show_path, "Ledger file")->required();
  std::vector<std::string> inputs;
  std::string out;
  auto* merge = app.add_subcommand("merge", "Combine the ledgers of shards of one job");
  merge->add_option("LEDGERS", inputs, "Shard ledgers")->required();
  merge->add_option("-o,--output", out, "Merged ledger to write (atomically)")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  if (show->parsed()) {
    auto j = ReadLedger(show_path);
    if (!j.ok()) return Fail(j.status());
    std::fputs(ShowLedger(j.value()).c_str(), stdout);
    return 0;
  }
  std::vector<nlohmann::json> shards;
  for (const std::string& p : inputs) {
    if (SameFile(p, out)) return Fail(UsageError("{}: -o would overwrite an input ledger", out));
    auto j = ReadLedger(p);
    if (!j.ok()) return Fail(j.status());
    shards.push_back(std::move(j).value());
  }
  auto merged = MergeLedgers(shards, inputs, kVersion, NowUtc());
  if (!merged.ok()) return Fail(merged.status());
  auto file = AtomicFile::Create(out);
  if (!file.ok()) return Fail(file.status());
  Status s = file.value()->Write(merged.value().dump(2) + "\n");
  if (s.ok()) s = file.value()->Commit();
  if (!s.ok()) return Fail(s);
  return 0;
}

int RunCalibrate(int argc, char** argv) {
  CLI::App app{
      "dpsanitize calibrate: print the noise parameters derived from --eps for an "
      "embedding and vocabulary, or why there are none."};
  Config c;
  std::string mechanism = "tg";
  bool json = false;
  app.add_option("--eps", c.eps, "Metric-DP epsilon per unit of embedding distance")->required();
  app.add_option("--mechanism", mechanism, "tg or mvl")
      ->check(CLI::IsMember({"tg", "mvl"}))
      ->capture_default_str();
  app.add_option("--embedding", c.embedding, "Embedding (default as for sanitizing)");
  app.add_option("--vocab-size", c.vocab_size, "Perturbation vocabulary size")
      ->capture_default_str();
  app.add_flag("--json", json, "Print JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  c.mechanism = kMechanisms.at(mechanism);
  c.no_ledger = true;  // calibrate writes no output and no ledger
  Log().set_level(spdlog::level::warn);
  auto engine = OpenEngine(c, /*build_mechanism=*/false);
  if (!engine.ok()) return Fail(engine.status());
  const Calibration& cal = engine->get()->calibration;
  const bool tg = c.mechanism == MechanismKind::kTg;
  const NeighborTable& table = engine->get()->embedding->neighbor_table();
  const uint32_t table_k = table.vocab_size == cal.vocab_size ? table.k : 0;
  if (json) {
    nlohmann::json j;
    j["mechanism"] = mechanism;
    j["embedding"] = ResolveEmbeddingPath(c.embedding);
    j["embedding_sha256"] = engine->get()->embedding->content_sha256();
    j["vocab_size"] = cal.vocab_size;
    j["eps"] = *c.eps;
    j["eps_basis"] = tg ? "nominal" : "proven";
    j["neighbor_table_k"] = table_k;
    if (tg) {
      j["delta_min"] = cal.stats.delta_min;
      j["delta_max"] = cal.stats.delta_max;
      j["delta_max_kind"] = cal.stats.delta_max_exact ? "exact" : "certified_bound";
      j["eps_min"] = cal.eps_min;
      j["a"] = cal.tg_calibration->a;
      j["b"] = cal.tg.b;
      j["mu"] = cal.tg.mu;
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("mechanism     %s\n", mechanism.c_str());
  std::printf("embedding     %s\n", ResolveEmbeddingPath(c.embedding).c_str());
  std::printf("vocab_size    %llu\n", static_cast<unsigned long long>(cal.vocab_size));
  std::printf("eps           %.6g (%s)\n", *c.eps, cal.eps_basis.c_str());
  if (tg) {
    std::printf("delta_min     %.6g (exact%s)\n", cal.stats.delta_min,
                cal.stats_stored ? ", stored by prepare" : ", computed now");
    std::printf(
        "delta_max     %.6g (%s)\n", cal.stats.delta_max,
        cal.stats.delta_max_exact ? "exact" : "certified bound: 2 x max distance to centroid");
    std::printf("eps_min       %.6g (calibration defined only for eps > eps_min)\n", cal.eps_min);
    std::printf("a             %.6g\n", cal.tg_calibration->a);
    std::printf("b             %.6g (Gumbel scale)\n", cal.tg.b);
    std::printf("mu            %.6g (Poisson mean, ln(|V| - 1))\n", cal.tg.mu);
    std::printf("neighbours    %u stored per word%s\n", table_k,
                table_k == 0 ? " (none: lists are computed at run time)" : "");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  InstallSignals();
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "prepare") return RunPrepare(argc - 1, argv + 1);
  if (sub == "calibrate") return RunCalibrate(argc - 1, argv + 1);
  if (sub == "ledger") return RunLedger(argc - 1, argv + 1);
  if (sub == "audit") return RunAuditCommand(argc - 1, argv + 1);
  return RunSanitize(argc, argv);
}
