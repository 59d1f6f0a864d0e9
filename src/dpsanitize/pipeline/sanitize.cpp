// The sanitize loop, one batch of whole lines at a time:
//
//   DocumentSource  lines and their documents           (one thread)
//   Analyze         tokenize, look up, parse records    (a part per worker)
//   OrderedPass     checks, positions, document counts  (one thread, input order)
//   Perturber       Prefetch (one thread), Perturb      (a part per worker)
//   Render          output bytes                        (same workers)
//   Sink            write in input order and hash       (one thread)
//
// and, after the last batch, the ledger. Each stage is in its own file; this
// one only wires them. Parts are contiguous runs of lines, so writing them in
// order keeps the output in input order whatever the thread count, and the
// keyed noise (random/keyed_rng.h) makes the output independent of it too.

#include "dpsanitize/pipeline/sanitize.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "dpsanitize/core/log.h"
#include "dpsanitize/core/parallel.h"
#include "dpsanitize/core/strings.h"
#include "dpsanitize/pipeline/analyze.h"
#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/document_source.h"
#include "dpsanitize/pipeline/effect.h"
#include "dpsanitize/pipeline/ledger_facts.h"
#include "dpsanitize/pipeline/ordered_pass.h"
#include "dpsanitize/pipeline/perturb.h"
#include "dpsanitize/pipeline/progress.h"
#include "dpsanitize/pipeline/render.h"
#include "dpsanitize/pipeline/sink.h"
#include "dpsanitize/write/atomic_file.h"
#include "dpsanitize/write/std_streams.h"
#include "dpsanitize/write/target_lock.h"

namespace dpsanitize {
namespace {

size_t WorkerCount(const Config& c) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  return c.threads == 0 ? hw : c.threads;
}

void AddPartCounts(const Part& part, RunSummary* s) {
  s->perturbed += part.perturbed;
  s->oov_masked += part.masked;
  s->oov_kept += part.kept;
  s->oov_dropped += part.dropped;
}

// The ledger is complete before either file takes its final name, and the
// two are renamed as a pair (Sink::Commit, CommitPair in write/atomic_file.h):
// an interrupted or failed run leaves the old output with the old ledger,
// never the new output with the old ledger.
Status CommitRun(const Engine& e, Sink* sink, RunSummary* summary) {
  DPS_RETURN_IF_ERROR(sink->Finish());
  summary->output_sha256 = sink->Sha256Hex();
  const std::string ledger_path = LedgerPath(e.config);
  std::unique_ptr<AtomicFile> ledger;
  if (!ledger_path.empty()) {
    DPS_RETURN_IF_ERROR(WriteLedger(e, *summary, ledger_path, &ledger));
  }
  DPS_RETURN_IF_ERROR(sink->Commit(ledger.get()));
  if (ledger) summary->ledger_path = ledger_path;
  return Status::Ok();
}

// The reader of stdout went away (`| head`). Without a ledger that is a quiet
// stop, as for any filter. With one it is an error (exit 1): the ledger would
// describe an output nobody received in full, so it is not written, and a
// script that goes on to read it must learn that (under `set -o pipefail`
// too; without pipefail the pipeline's status is head's anyway).
Status WriteOut(const Config& c, Sink* sink, const std::string& data) {
  Status s = sink->Write(data);
  if (s.code() == StatusCode::kBrokenPipe && !LedgerPath(c).empty()) {
    return IoError(
        "<stdout>: the reader went away, so the output is cut short and no ledger was written to "
        "{}",
        LedgerPath(c));
  }
  return s;
}

StatusOr<RunKey> MakeRunKey(const Config& config) {
  if (config.seed) {
    RunKey key = RunKey::FromSeed(*config.seed);
    if (!config.quiet) {
      Log().warn(
          "--seed: the noise is reproducible by anyone who knows or guesses the seed; "
          "this output carries no privacy guarantee");
    }
    return key;
  }
  if (config.key_file) return RunKey::FromFile(*config.key_file);
  return RunKey::Fresh();
}

// The name a rename would replace for `path`, made absolute, to compare two
// paths that need not exist yet ("out.txt" and "./out.txt"); "" if unknown.
std::string ReplacedName(const std::string& path) {
  auto target = ResolveWriteTarget(path);
  if (!target.ok()) return "";
  const std::string& p = target->path;
  const size_t slash = p.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return "";
  std::string name = std::string(real) + "/" + BaseName(p);
  std::free(real);
  return name;
}

// Checks the paths before the (slower) embedding work; SanitizeWith checks
// again, for its callers skip Sanitize() and files can move meanwhile.
Status CheckPaths(const Config& config) {
  // Descriptors 0 and 1 are /dev/null then (write/std_streams.h): reading it
  // would make an empty output, writing it would lose the output.
  if (config.input == "-" && StandardStreamWasClosed(0)) {
    return IoError("-: standard input is closed");
  }
  if (config.output == "-" && StandardStreamWasClosed(1)) {
    return IoError("-: standard output is closed");
  }
  if (config.input != "-" && ::access(config.input.c_str(), R_OK) != 0) {
    return IoError("{}: cannot open input: {}", config.input, std::strerror(errno));
  }
  // For "-", the input is whatever stdin was redirected from: `- in.txt <
  // in.txt` would replace in.txt with the output of reading it.
  auto is_input = [&config](const std::string& path) {
    return config.input == "-" ? SameFileAsDescriptor(0, path) : SameFile(config.input, path);
  };
  if (config.output != "-" && is_input(config.output)) {
    return UsageError("{}: output is the same file as the input; refusing to overwrite it",
                      config.output);
  }
  const std::string ledger = LedgerPath(config);
  if (!ledger.empty() && is_input(ledger)) {
    return UsageError("{}: the ledger would overwrite the input", ledger);
  }
  // Validate() compares the strings; "./out.txt" or a link to it would
  // replace the output with its own ledger.
  if (!ledger.empty() && config.output != "-" &&
      (SameFile(ledger, config.output) ||
       (!ReplacedName(ledger).empty() && ReplacedName(ledger) == ReplacedName(config.output)))) {
    return UsageError("--ledger {}: must be a path other than the input and the output", ledger);
  }
  return Status::Ok();
}

// Locks the files the run replaces (write/target_lock.h), so that a second
// run writing the same output or ledger is refused, not interleaved: before
// the engine's set-up, which can take minutes, so that it is refused at once.
StatusOr<std::vector<std::unique_ptr<TargetLock>>> LockOutputs(const Config& config) {
  std::vector<std::unique_ptr<TargetLock>> locks;
  for (const std::string& path :
       {config.output == "-" ? std::string() : config.output, LedgerPath(config)}) {
    if (path.empty()) continue;
    DPS_ASSIGN_OR_RETURN(std::unique_ptr<TargetLock> lock, TargetLock::Acquire(path));
    if (lock) locks.push_back(std::move(lock));
  }
  return locks;
}

// The loop, with the outputs checked and locked.
Status Run(Engine& e, const RunKey& key, RunSummary* summary) {
  const Config& c = e.config;
  DPS_ASSIGN_OR_RETURN(auto source, DocumentSource::Open(c));
  DPS_ASSIGN_OR_RETURN(auto sink, Sink::Open(c));
  *summary = RunSummary();
  summary->randomness = key.kind;
  ProgressMeter progress(ProgressEnabled(c), source->total_bytes());
  const size_t nthreads = WorkerCount(c);
  std::vector<Part> parts(nthreads);
  Batch batch;
  OrderedPass ordered(c, source->name(), summary);
  Perturber perturber(e, key);
  while (true) {
    DPS_ASSIGN_OR_RETURN(const bool more, source->Next(&batch));
    if (!more) break;
    const size_t nparts = std::min(nthreads, batch.lines());
    SplitBatch(batch, nparts, &parts);
    // The layout is complete once the first batch (CSV/TSV: the header) is read.
    const InputLayout& layout = source->layout();
    ParallelFor(nparts, [&](size_t p) { Analyze(e, batch, layout, &parts[p]); });
    DPS_RETURN_IF_ERROR(ordered.Visit(batch, &parts, nparts));
    perturber.Prefetch(parts, nparts);
    ParallelFor(nparts, [&](size_t p) {
      perturber.Perturb(&parts[p]);
      Render(e, batch, layout, &parts[p]);
    });
    for (size_t p = 0; p < nparts; ++p) {
      DPS_RETURN_IF_ERROR(WriteOut(c, sink.get(), parts[p].out));
      AddPartCounts(parts[p], summary);
    }
    progress.Update(source->file_bytes_read(), summary->documents, summary->words);
  }
  ordered.Finish(source->EmptyFileDocument());
  progress.Finish();
  summary->bytes_in = source->bytes_read();
  return CommitRun(e, sink.get(), summary);
}

}  // namespace

Status SanitizeWith(Engine& e, const RunKey& key, RunSummary* summary) {
  DPS_RETURN_IF_ERROR(CheckPaths(e.config));
  DPS_ASSIGN_OR_RETURN(const auto locks, LockOutputs(e.config));
  return Run(e, key, summary);
}

Status Sanitize(const Config& config, RunSummary* summary) {
  // Every option check, once, before anything is read or opened.
  DPS_RETURN_IF_ERROR(ValidateConfig(config));
  if (!FindMechanism(config.mechanism)->cli) {
    return UsageError("{} mechanism: not available for sanitizing", config.mechanism);
  }
  DPS_ASSIGN_OR_RETURN(const RunKey key, MakeRunKey(config));
  DPS_RETURN_IF_ERROR(CheckPaths(config));
  DPS_ASSIGN_OR_RETURN(const auto locks, LockOutputs(config));
  DPS_ASSIGN_OR_RETURN(auto engine, OpenValidatedEngine(config, /*build_mechanism=*/true));
  if (config.skip_done) {
    DPS_ASSIGN_OR_RETURN(const bool done, AlreadyDone(*engine, key.kind));
    if (done) return Status::Ok();
  }
  DPS_RETURN_IF_ERROR(CheckPaths(config));  // files can move during the set-up
  DPS_RETURN_IF_ERROR(Run(*engine, key, summary));
  // What eps does, in one line after the output and ledger are committed
  // (pipeline/effect.h), so that a failed run still prints exactly one line.
  if (!config.quiet) StateEffect(*engine);
  return Status::Ok();
}

}  // namespace dpsanitize
