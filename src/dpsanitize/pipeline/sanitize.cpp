// The sanitize loop, one batch of whole lines at a time:
//
//   DocumentSource  lines and their documents           (one thread)
//   Analyze         tokenize, look up, parse JSONL      (a part per worker)
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
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "dpsanitize/core/log.h"
#include "dpsanitize/core/parallel.h"
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

// The ledger is complete before the output takes its final name; both are
// renamed into place only after everything succeeded, so an interrupted or
// failed run leaves neither.
Status CommitRun(const Engine& e, Sink* sink, RunSummary* summary) {
  summary->output_sha256 = sink->Sha256Hex();
  const std::string ledger_path = LedgerPath(e.config);
  std::unique_ptr<AtomicFile> ledger;
  if (!ledger_path.empty()) {
    DPS_RETURN_IF_ERROR(WriteLedger(e, *summary, ledger_path, &ledger));
  }
  DPS_RETURN_IF_ERROR(sink->Commit());
  if (ledger) {
    DPS_RETURN_IF_ERROR(ledger->Commit());
    summary->ledger_path = ledger_path;
  }
  return Status::Ok();
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

// Checks the paths before the (slower) embedding work.
Status CheckPaths(const Config& config) {
  if (config.input != "-" && ::access(config.input.c_str(), R_OK) != 0) {
    return IoError("{}: cannot open input: {}", config.input, std::strerror(errno));
  }
  if (config.input != "-" && config.output != "-" && SameFile(config.input, config.output)) {
    return UsageError("{}: output is the same file as the input; refusing to overwrite it",
                      config.output);
  }
  const std::string ledger = LedgerPath(config);
  if (!ledger.empty() && config.input != "-" && SameFile(config.input, ledger)) {
    return UsageError("{}: the ledger would overwrite the input", ledger);
  }
  return Status::Ok();
}

}  // namespace

Status SanitizeWith(Engine& e, const RunKey& key, RunSummary* summary) {
  const Config& c = e.config;
  const bool jsonl = ResolvedFormat(c) == InputFormat::kJsonl;
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
    ParallelFor(nparts, [&](size_t p) { Analyze(e, batch, jsonl, &parts[p]); });
    DPS_RETURN_IF_ERROR(ordered.Visit(batch, &parts, nparts));
    perturber.Prefetch(parts, nparts);
    ParallelFor(nparts, [&](size_t p) {
      perturber.Perturb(&parts[p]);
      Render(e, batch, jsonl, &parts[p]);
    });
    for (size_t p = 0; p < nparts; ++p) {
      DPS_RETURN_IF_ERROR(sink->Write(parts[p].out));
      AddPartCounts(parts[p], summary);
    }
    progress.Update(source->bytes_read(), summary->documents, summary->words);
  }
  ordered.Finish(source->EmptyFileDocument());
  progress.Finish();
  summary->bytes_in = source->bytes_read();
  return CommitRun(e, sink.get(), summary);
}

Status Sanitize(const Config& config, RunSummary* summary) {
  // Every option check, once, before anything is read or opened.
  DPS_RETURN_IF_ERROR(ValidateConfig(config));
  if (!FindMechanism(config.mechanism)->cli) {
    return UsageError("{} mechanism: not available for sanitizing", config.mechanism);
  }
  DPS_ASSIGN_OR_RETURN(const RunKey key, MakeRunKey(config));
  DPS_RETURN_IF_ERROR(CheckPaths(config));
  DPS_ASSIGN_OR_RETURN(auto engine, OpenValidatedEngine(config, /*build_mechanism=*/true));
  DPS_RETURN_IF_ERROR(SanitizeWith(*engine, key, summary));
  // What eps does, in one line after the output and ledger are committed
  // (pipeline/effect.h), so that a failed run still prints exactly one line.
  if (!config.quiet) StateEffect(*engine);
  return Status::Ok();
}

}  // namespace dpsanitize
