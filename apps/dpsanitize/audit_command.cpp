// `dpsanitize audit`: flags -> Config and AuditOptions, open the engine, run
// the audit (src/dpsanitize/audit/), then the report on stdout (a table, or
// JSON with --json) and optionally a plot drawn by gnuplot (--plot
// FILE.png|FILE.svg). Errors: one stderr line, exit 2 for usage errors
// (CLI11's included), 1 for runtime and data errors.
#include "audit_command.h"

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli_errors.h"
#include "dpsanitize/audit/audit.h"
#include "dpsanitize/audit/plot.h"
#include "dpsanitize/audit/report.h"
#include "dpsanitize/core/config.h"
#include "dpsanitize/core/log.h"
#include "dpsanitize/neighbors/faiss_index.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/write/atomic_file.h"
#include "flags.h"

namespace dpsanitize {

void AuditCommand::Define(CLI::App& app) {
  app.description(
      "dpsanitize audit: measure the mechanism's actual privacy loss on the embedding.\n"
      "For sampled word pairs (nearest neighbours, random, distant, densest and sparsest regions)\n"
      "it reports max over outputs y of |ln P[M(w)=y] - ln P[M(w')=y]| / d(w, w') beside the\n"
      "claimed epsilon, from the mechanism's output law: exact (closed form: the loss itself),\n"
      "certified (tg: numerical integration, exact Poisson tails beyond the integration depth:\n"
      "a certified lower bound on the worst case, and the loss over typical outputs, P >= 1e-6)\n"
      "or Monte Carlo (mvl: frequencies with confidence intervals).\n"
      "The mechanism options set the plan audited, as in a sanitize run; the report states its\n"
      "calibration. Output: a table on stdout, or JSON with --json. See docs/privacy-audit.md.");
  app.name("dpsanitize audit");
  app.set_help_flag("-h,--help", "Print this help message and exit");
  app.add_option("--eps", config_.eps, "Claimed metric-DP epsilon per unit of embedding distance")
      ->check(Decimal())
      ->required();
  AddMechanismFlags(app, &mechanism_);
  app.add_option("--pairs", options_.pairs,
                 "Word pairs to audit [200; 10 for Monte Carlo laws (mvl)]")
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  app.add_option("--seed", options_.seed, "Seed of the pair sampling and Monte Carlo draws")
      ->capture_default_str();
  AddEmbeddingFlags(app, &config_);
  app.add_option("--depth", options_.depth,
                 "Certified laws (tg): integration depth K (exact laws of ranks 0..K)")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str();
  app.add_option("--samples", options_.samples, "Monte Carlo laws (mvl): draws per word")
      ->check(CLI::Range(uint64_t{100}, uint64_t{100000000}))
      ->capture_default_str();
  app.add_option("--utility-words", options_.utility_words,
                 "Extra words per density decile for the utility figures [10; 1 for Monte Carlo "
                 "laws]")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  app.add_option("--threads", options_.threads, "Worker threads (0: all cores)")
      ->check(Count())
      ->capture_default_str();
  app.add_flag("--json", json_, "Print the report as JSON");
  app.add_option("--plot", plot_,
                 "Draw loss against distance with the claimed eps (FILE.png or FILE.svg; "
                 "needs gnuplot)");
  app.add_flag("-q,--quiet", quiet_, "No warnings on stderr");
  app.footer("\n" + MechanismsHelp());
}

int AuditCommand::Run() {
  // A bad --plot fails before the audit, which can take minutes.
  std::string gnuplot;
  if (!plot_.empty()) {
    auto found = FindGnuplotFor(plot_);
    if (!found.ok()) return Fail(found.status());
    gnuplot = std::move(found).value();
  }
  ApplyMechanismFlags(mechanism_, &config_);
  config_.no_ledger = true;
  Log().set_level(quiet_ ? spdlog::level::err : spdlog::level::warn);
  auto engine = OpenEngine(config_, /*build_mechanism=*/false);
  if (!engine.ok()) return Fail(engine.status());
  Engine& e = *engine.value();
  // The plot's temporary file first, so that an unwritable --plot fails before the audit.
  std::unique_ptr<AtomicFile> plot_file;
  if (!plot_.empty()) {
    auto file = AtomicFile::Create(plot_);
    if (!file.ok()) return Fail(file.status());
    plot_file = std::move(file).value();
  }
  auto in = MakeAuditInputs(e);
  if (!in.ok()) return Fail(in.status());
  auto report = RunAudit(in.value(), options_);
  if (!report.ok()) return Fail(report.status());
  if (plot_file) {
    const Status s = DrawAuditPlot(gnuplot, report.value(), plot_file.get());
    if (!s.ok()) return Fail(s);
  }
  const std::string text =
      json_ ? AuditReportToJson(report.value()).dump(2) + "\n" : FormatAuditTable(report.value());
  StdoutOutput out;
  const Status s = out.Write(text);
  if (!s.ok()) return Fail(s);
  return 0;
}

}  // namespace dpsanitize
