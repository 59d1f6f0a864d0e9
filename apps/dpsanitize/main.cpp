// dpsanitize: the command line. Parses flags into a Config (CLI11), calls the
// library, and maps the Status to an exit code: 0 ok, 1 runtime or data
// error, 2 usage error, 128+N on signal N (129 SIGHUP, 130 SIGINT, 131
// SIGQUIT, 143 SIGTERM). Errors are one stderr line "dpsanitize: <what>:
// <why>"; stdout carries data only.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audit_command.h"
#include "cli_errors.h"
#include "command.h"
#include "completion.h"
#include "dpsanitize/core/log.h"
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/pipeline/calibrate.h"
#include "dpsanitize/pipeline/effect.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/pipeline/prepare.h"
#include "dpsanitize/pipeline/sanitize.h"
#include "dpsanitize/pipeline/verify.h"
#include "dpsanitize/pipeline/version.h"
#include "dpsanitize/write/atomic_file.h"
#include "dpsanitize/write/signals.h"
#include "dpsanitize/write/std_streams.h"
#include "flags.h"

namespace {

using namespace dpsanitize;

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

class SanitizeCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.description(
        "dpsanitize: rewrite text with word-level metric differential privacy.\n"
        "IN and OUT may be '-' (stdin / stdout); with OUT '-', give --ledger PATH or "
        "--no-ledger.");
    app.footer("\n" + MechanismsHelp() + kFooterTail);
    app.set_version_flag("--version", VersionLine());
    app.get_formatter()->column_width(34);
    flags_.Add(app);
  }

  int Run() override {
    Config c = flags_.Apply();
    if (!flags_.shard.empty()) {
      c.shard_text = flags_.shard;
      const Status s = ParseShard(flags_.shard, &c.shard_index, &c.shard_count);
      if (!s.ok()) return Fail(s);
    }
    // The ledger records the version --version prints (without the name,
    // which is the ledger's tool.name).
    c.tool_version = VersionString();
    if (c.quiet) {
      Log().set_level(spdlog::level::err);
    } else if (!flags_.log_level.empty()) {
      Log().set_level(spdlog::level::from_str(flags_.log_level));
    }
    RunSummary summary;
    const Status s = Sanitize(c, &summary);
    if (!s.ok()) return Fail(s);
    Log().info("{} documents, {} words: {} perturbed, OOV {} masked, {} kept, {} dropped",
               summary.documents, summary.words, summary.perturbed, summary.oov_masked,
               summary.oov_kept, summary.oov_dropped);
    return 0;
  }

 private:
  SanitizeFlags flags_;
};

class PrepareCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.description(
        "dpsanitize prepare: convert an embedding (GloVe text, .vec text, wink JSON or a "
        "prepared file) into the prepared binary format, with exact delta_min and "
        "certified delta_max for the given vocabulary sizes.\n"
        "(IN may be the GloVe or .vec text of any embedding)");
    app.add_option("IN", in_, "Embedding to convert")->required();
    app.add_option("OUT", out_, "Prepared embedding to write (atomically)")->required();
    app.add_option("--vocab-size", sizes_, "Vocabulary sizes to store calibration inputs for")
        ->check(Count())
        ->capture_default_str();
    app.add_option("--neighbors", neighbors_,
                   "Exact neighbours per word to store for the first vocabulary size (0: none)")
        ->check(Count())
        ->capture_default_str();
    app.add_option("--tail-clusters", clusters_,
                   "Clusters of the tail bounds stored with the neighbour table (0: none); they "
                   "cut the exponential mechanisms' proposals per word")
        ->check(Count())
        ->capture_default_str();
    app.add_flag("-q,--quiet", quiet_, "No progress on stderr");
  }

  int Run() override {
    if (!quiet_) Log().set_level(spdlog::level::info);
    PrepareReport r;
    const Status s = Prepare(in_, out_, sizes_, neighbors_, clusters_, &r);
    if (!s.ok()) return Fail(s);
    if (!quiet_) LogPrepareReport(out_, r);
    return 0;
  }

 private:
  std::string in_, out_;
  std::vector<uint64_t> sizes_{50000};
  uint32_t neighbors_ = 64;
  uint32_t clusters_ = kDefaultTailClusters;
  bool quiet_ = false;
};

class VerifyCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.description(
        "dpsanitize verify: check every byte of a prepared embedding: its structure, the "
        "content SHA-256 against the stored one, the usable flags, and the neighbour table and "
        "tail bounds against a recomputation (one to two minutes for the default embedding). "
        "Prints one line; exit 1 on the first problem found.");
    app.add_option("EMB", path_, "Prepared embedding (dpsanitize prepare's output)")->required();
    app.add_flag("-q,--quiet", quiet_, "No progress on stderr");
  }

  int Run() override {
    VerifyOptions options;
    options.progress = !quiet_ && ::isatty(2) == 1;
    VerifyReport r;
    const Status s = VerifyPreparedEmbedding(path_, options, &r);
    if (!s.ok()) return Fail(s);
    std::printf("dpsanitize verify: %s: ok (sha256 %s)\n", path_.c_str(), r.sha256.c_str());
    return 0;
  }

 private:
  std::string path_;
  bool quiet_ = false;
};

class LedgerCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.description(
        "dpsanitize ledger: work with privacy ledgers.\n"
        "  dpsanitize ledger show L.json\n"
        "  dpsanitize ledger merge A.json B.json ... -o ALL.json\n"
        "  dpsanitize ledger verify L.json [OUT]");
    app.require_subcommand(1);
    show_ = app.add_subcommand("show", "Print a short human summary of a ledger");
    show_->add_option("LEDGER", show_path_, "Ledger file")->required();
    verify_ = app.add_subcommand(
        "verify", "Check that the output(s) a ledger lists have the SHA-256 it records");
    verify_->add_option("LEDGER", verify_path_, "Ledger file")->required();
    verify_->add_option("OUT", verify_out_,
                        "Output to check (default: the name the ledger lists, beside the ledger)");
    auto* merge = app.add_subcommand("merge", "Combine the ledgers of shards of one job");
    merge->add_option("LEDGERS", inputs_, "Shard ledgers")->required();
    merge->add_option("-o,--output", out_, "Merged ledger to write (atomically)")->required();
  }

  int Run() override {
    if (show_->parsed()) {
      auto j = ReadLedger(show_path_);
      if (!j.ok()) return Fail(j.status());
      auto text = ShowLedger(j.value());
      if (!text.ok()) return Fail(text.status());
      std::fputs(text.value().c_str(), stdout);
      return 0;
    }
    if (verify_->parsed()) {
      auto report = VerifyLedgerOutputs(verify_path_, verify_out_);
      if (!report.ok()) return Fail(report.status());
      std::fputs(report.value().c_str(), stdout);
      return 0;
    }
    // A merged ledger is written by this build: it records this build's version.
    return Fail(MergeLedgerFiles(inputs_, out_, VersionString()));
  }

 private:
  CLI::App* show_ = nullptr;
  CLI::App* verify_ = nullptr;
  std::string show_path_, out_, verify_path_, verify_out_;
  std::vector<std::string> inputs_;
};

class CalibrateCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.description(
        "dpsanitize calibrate: print the noise parameters derived from --eps for an "
        "embedding and vocabulary, or why there are none, and what eps does: over the most "
        "frequent words, how often a word is kept, how far it moves and how often it lands "
        "among its 10 nearest neighbours. Takes the mechanism options of a sanitize run.");
    // Not required here: the library asks for it (tg's --gumbel-scale replaces it).
    app.add_option("--eps", c_.eps,
                   "Metric-DP epsilon per unit of embedding distance (required unless tg's "
                   "--gumbel-scale is given)")
        ->check(Decimal());
    AddMechanismFlags(app, &mechanism_);
    AddEmbeddingFlags(app, &c_);
    app.add_option("--effect-words", effect_words_,
                   "What eps does: over this many most frequent words (0: skip)")
        ->check(Count())
        ->capture_default_str();
    app.add_flag("--json", json_, "Print JSON");
    app.add_option("--weights-out", weights_out_,
                   "bem: write word<TAB>ln alpha per vocabulary word (vocabulary order) to FILE");
    app.footer("\n" + MechanismsHelp());  // what --mechanism's help points to
  }

  int Run() override {
    ApplyMechanismFlags(mechanism_, &c_);
    c_.no_ledger = true;  // calibrate writes no output and no ledger
    Log().set_level(spdlog::level::warn);
    auto engine = OpenEngine(c_, /*build_mechanism=*/false);
    if (!engine.ok()) return Fail(engine.status());
    if (!weights_out_.empty()) {
      const Status s = WriteOutputWeights(*engine.value(), weights_out_);
      if (!s.ok()) return Fail(s);
    }
    std::optional<EffectFigures> effect;
    if (effect_words_ > 0) {
      EffectOptions options;
      options.words = effect_words_;
      auto f = ComputeEffect(*engine.value(), options);
      if (!f.ok()) return Fail(f.status());
      effect = std::move(f).value();
    }
    const EffectFigures* fig = effect ? &*effect : nullptr;
    const std::string text = json_ ? CalibrationJson(*engine.value(), fig).dump(2) + "\n"
                                   : CalibrationText(*engine.value(), fig);
    std::fputs(text.c_str(), stdout);
    return 0;
  }

 private:
  Config c_;
  MechanismFlags mechanism_;
  bool json_ = false;
  size_t effect_words_ = kEffectWords;
  std::string weights_out_;
};

// Every command, for dispatch and for the completion script. `error_name` is
// the command that parse errors point at ("see dpsanitize <it> --help").
struct CommandEntry {
  const char* name;  // argv[1]; "" = sanitizing (no subcommand)
  const char* error_name;
  std::unique_ptr<Command> (*make)();
};

template <typename T>
std::unique_ptr<Command> Make() {
  return std::make_unique<T>();
}

const CommandEntry kCommands[] = {
    {"", "", Make<SanitizeCommand>},            // first: what runs without a subcommand
    {"prepare", "", Make<PrepareCommand>},      // an embedding to the prepared format
    {"verify", "verify", Make<VerifyCommand>},  // every byte of a prepared embedding
    {"calibrate", "", Make<CalibrateCommand>},  // what --eps does
    {"ledger", "", Make<LedgerCommand>},        // show, merge, verify
    {"audit", "audit", Make<AuditCommand>},     // the measured privacy loss
};

// `dpsanitize completion bash` (hidden: the build runs it to generate the
// installed script): every command's App, defined but not parsed, walked by
// BashCompletion.
class CompletionCommand : public Command {
 public:
  void Define(CLI::App& app) override {
    app.description("dpsanitize completion: print a shell completion script for dpsanitize.");
    app.add_option("SHELL", shell_, "Shell")->check(CLI::IsMember({"bash"}))->required();
  }

  int Run() override {
    std::vector<std::unique_ptr<Command>> commands;
    std::vector<std::unique_ptr<CLI::App>> apps;
    std::vector<NamedApp> walked;
    for (const CommandEntry& entry : kCommands) {
      commands.push_back(entry.make());
      apps.push_back(std::make_unique<CLI::App>());
      commands.back()->Define(*apps.back());
      walked.push_back({entry.name, apps.back().get()});
    }
    auto script = BashCompletion(walked);
    if (!script.ok()) return Fail(script.status());
    StdoutOutput out;
    return Fail(out.Write(script.value()));
  }

 private:
  std::string shell_;
};

}  // namespace

int main(int argc, char** argv) {
  // Before anything opens a file: a closed 0, 1 or 2 would be handed out.
  OpenClosedStandardStreams();
  InstallSignalHandlers();
  // Nothing may escape main: an unexpected exception is one error line too.
  try {
    const std::string sub = argc > 1 ? argv[1] : "";
    if (sub == "completion") {
      CompletionCommand completion;
      return ParseAndRun(completion, argc - 1, argv + 1, "completion");
    }
    // Sanitizing (kCommands[0]) unless argv[1] names a subcommand.
    const CommandEntry* chosen = &kCommands[0];
    for (const CommandEntry& entry : kCommands) {
      if (*entry.name != '\0' && sub == entry.name) chosen = &entry;
    }
    const int skip = *chosen->name == '\0' ? 0 : 1;
    const std::unique_ptr<Command> command = chosen->make();
    return ParseAndRun(*command, argc - skip, argv + skip, chosen->error_name);
  } catch (const std::exception& e) {
    return Fail(InternalError("unexpected error: {}", e.what()));
  }
}
