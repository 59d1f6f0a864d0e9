// dpsanitize: the command line. Parses flags into a Config (CLI11), calls the
// library, and maps the Status to an exit code: 0 ok, 1 runtime or data
// error, 2 usage error, 128+N on signal N (129 SIGHUP, 130 SIGINT, 131
// SIGQUIT, 143 SIGTERM). Errors are one stderr line "dpsanitize: <what>:
// <why>"; stdout carries data only.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "audit_command.h"
#include "cli_errors.h"
#include "dpsanitize/core/log.h"
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/pipeline/calibrate.h"
#include "dpsanitize/pipeline/effect.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/pipeline/prepare.h"
#include "dpsanitize/pipeline/sanitize.h"
#include "dpsanitize/pipeline/verify.h"
#include "dpsanitize/write/atomic_file.h"
#include "dpsanitize/write/signals.h"
#include "dpsanitize/write/std_streams.h"
#include "flags.h"

namespace {

using namespace dpsanitize;

constexpr const char* kVersion = DPSANITIZE_VERSION;

constexpr const char* kFooterTail =
    R"(Epsilon is metric-DP epsilon per unit of Euclidean embedding distance.
Out-of-vocabulary words get no protection from the mechanism: they are masked
by default. Word count, gaps (spaces, punctuation) and case patterns are
released as they are.

Subcommands:
  dpsanitize prepare IN OUT        convert an embedding to the prepared format
  dpsanitize verify EMB            check every byte of a prepared embedding
  dpsanitize calibrate --eps E     print the derived noise parameters
  dpsanitize ledger show|merge|verify  summarise, merge or check ledgers
  dpsanitize audit --eps E         measure the mechanism's actual privacy loss

Exit status: 0 success (also when the reader of stdout goes away, unless a
--ledger was asked for), 1 runtime or data error, 2 usage error, 128+N on
signal N: 129 SIGHUP, 130 SIGINT, 131 SIGQUIT, 143 SIGTERM.)";

int RunSanitize(int argc, char** argv) {
  CLI::App app{
      "dpsanitize: rewrite text with word-level metric differential privacy.\n"
      "IN and OUT may be '-' (stdin / stdout); with OUT '-', give --ledger PATH or --no-ledger."};
  app.footer("\n" + MechanismsHelp() + kFooterTail);
  app.set_version_flag("--version", std::string("dpsanitize ") + kVersion);
  app.get_formatter()->column_width(34);
  SanitizeFlags flags;
  flags.Add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  Config c = flags.Apply();
  if (!flags.shard.empty()) {
    c.shard_text = flags.shard;
    const Status s = ParseShard(flags.shard, &c.shard_index, &c.shard_count);
    if (!s.ok()) return Fail(s);
  }
  c.tool_version = kVersion;
  if (c.quiet) {
    Log().set_level(spdlog::level::err);
  } else if (!flags.log_level.empty()) {
    Log().set_level(spdlog::level::from_str(flags.log_level));
  }
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
  uint32_t neighbors = 64;
  uint32_t clusters = kDefaultTailClusters;
  bool quiet = false;
  app.add_option("IN", in, "Embedding to convert")->required();
  app.add_option("OUT", out, "Prepared embedding to write (atomically)")->required();
  app.add_option("--vocab-size", sizes, "Vocabulary sizes to store calibration inputs for")
      ->check(Count())
      ->capture_default_str();
  app.add_option("--neighbors", neighbors,
                 "Exact neighbours per word to store for the first vocabulary size (0: none)")
      ->check(Count())
      ->capture_default_str();
  app.add_option("--tail-clusters", clusters,
                 "Clusters of the tail bounds stored with the neighbour table (0: none); they "
                 "cut the exponential mechanisms' proposals per word")
      ->check(Count())
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "No progress on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  if (!quiet) Log().set_level(spdlog::level::info);
  PrepareReport r;
  const Status s = Prepare(in, out, sizes, neighbors, clusters, &r);
  if (!s.ok()) return Fail(s);
  if (!quiet) LogPrepareReport(out, r);
  return 0;
}

int RunVerify(int argc, char** argv) {
  CLI::App app{
      "dpsanitize verify: check every byte of a prepared embedding: its structure, the content "
      "SHA-256 against the stored one, the usable flags, and the neighbour table and tail bounds "
      "against a recomputation (one to two minutes for the default embedding). Prints one line; "
      "exit 1 on the first problem found."};
  std::string path;
  bool quiet = false;
  app.add_option("EMB", path, "Prepared embedding (dpsanitize prepare's output)")->required();
  app.add_flag("-q,--quiet", quiet, "No progress on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e, "verify");
  }
  VerifyOptions options;
  options.progress = !quiet && ::isatty(2) == 1;
  VerifyReport r;
  const Status s = VerifyPreparedEmbedding(path, options, &r);
  if (!s.ok()) return Fail(s);
  std::printf("dpsanitize verify: %s: ok (sha256 %s)\n", path.c_str(), r.sha256.c_str());
  return 0;
}

int RunLedger(int argc, char** argv) {
  CLI::App app{
      "dpsanitize ledger: work with privacy ledgers.\n"
      "  dpsanitize ledger show L.json\n"
      "  dpsanitize ledger merge A.json B.json ... -o ALL.json\n"
      "  dpsanitize ledger verify L.json [OUT]"};
  app.require_subcommand(1);
  std::string show_path, out, verify_path, verify_out;
  std::vector<std::string> inputs;
  auto* show = app.add_subcommand("show", "Print a short human summary of a ledger");
  show->add_option("LEDGER", show_path, "Ledger file")->required();
  auto* verify = app.add_subcommand(
      "verify", "Check that the output(s) a ledger lists have the SHA-256 it records");
  verify->add_option("LEDGER", verify_path, "Ledger file")->required();
  verify->add_option("OUT", verify_out,
                     "Output to check (default: the name the ledger lists, beside the ledger)");
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
    auto text = ShowLedger(j.value());
    if (!text.ok()) return Fail(text.status());
    std::fputs(text.value().c_str(), stdout);
    return 0;
  }
  if (verify->parsed()) {
    auto report = VerifyLedgerOutputs(verify_path, verify_out);
    if (!report.ok()) return Fail(report.status());
    std::fputs(report.value().c_str(), stdout);
    return 0;
  }
  return Fail(MergeLedgerFiles(inputs, out, kVersion));
}

int RunCalibrate(int argc, char** argv) {
  CLI::App app{
      "dpsanitize calibrate: print the noise parameters derived from --eps for an "
      "embedding and vocabulary, or why there are none, and what eps does: over the most "
      "frequent words, how often a word is kept, how far it moves and how often it lands "
      "among its 10 nearest neighbours."};
  Config c;
  MechanismFlags mechanism;
  bool json = false;
  size_t effect_words = kEffectWords;
  app.add_option("--eps", c.eps, "Metric-DP epsilon per unit of embedding distance")
      ->check(Decimal())
      ->required();
  AddMechanismFlags(app, &mechanism, /*with_options=*/false);
  AddEmbeddingFlags(app, &c);
  app.add_option("--effect-words", effect_words,
                 "What eps does: over this many most frequent words (0: skip)")
      ->check(Count())
      ->capture_default_str();
  app.add_flag("--json", json, "Print JSON");
  std::string weights_out;
  app.add_option("--weights-out", weights_out,
                 "bem: write word<TAB>ln alpha per vocabulary word (vocabulary order) to FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e);
  }
  ApplyMechanismFlags(mechanism, &c);
  c.no_ledger = true;  // calibrate writes no output and no ledger
  Log().set_level(spdlog::level::warn);
  auto engine = OpenEngine(c, /*build_mechanism=*/false);
  if (!engine.ok()) return Fail(engine.status());
  if (!weights_out.empty()) {
    const Status s = WriteOutputWeights(*engine.value(), weights_out);
    if (!s.ok()) return Fail(s);
  }
  std::optional<EffectFigures> effect;
  if (effect_words > 0) {
    EffectOptions options;
    options.words = effect_words;
    auto f = ComputeEffect(*engine.value(), options);
    if (!f.ok()) return Fail(f.status());
    effect = std::move(f).value();
  }
  const EffectFigures* fig = effect ? &*effect : nullptr;
  const std::string text = json ? CalibrationJson(*engine.value(), fig).dump(2) + "\n"
                                : CalibrationText(*engine.value(), fig);
  std::fputs(text.c_str(), stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything opens a file: a closed 0, 1 or 2 would be handed out.
  OpenClosedStandardStreams();
  InstallSignalHandlers();
  // Nothing may escape main: an unexpected exception is one error line too.
  try {
    const std::string sub = argc > 1 ? argv[1] : "";
    if (sub == "prepare") return RunPrepare(argc - 1, argv + 1);
    if (sub == "calibrate") return RunCalibrate(argc - 1, argv + 1);
    if (sub == "verify") return RunVerify(argc - 1, argv + 1);
    if (sub == "ledger") return RunLedger(argc - 1, argv + 1);
    if (sub == "audit") return RunAuditCommand(argc - 1, argv + 1);
    return RunSanitize(argc, argv);
  } catch (const std::exception& e) {
    return Fail(InternalError("unexpected error: {}", e.what()));
  }
}
