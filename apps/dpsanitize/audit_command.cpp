// `dpsanitize audit`: flags -> AuditOptions, RunAudit, then the report on
// stdout (a table, or JSON with --json) and optionally a plot drawn by
// gnuplot (--plot FILE.png|FILE.svg). Errors: one stderr line, exit 2 for
// usage errors (CLI11's included), 1 for runtime and data errors.
#include "audit_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli_errors.h"
#include "dpsanitize/audit/audit.h"
#include "dpsanitize/core/config.h"
#include "dpsanitize/core/log.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/write/atomic_file.h"

namespace {

using namespace dpsanitize;

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The gnuplot executable on PATH, or "".
std::string FindGnuplot() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', start), dirs.size());
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    const std::string exe = dir + "/gnuplot";
    if (::access(exe.c_str(), X_OK) == 0) return exe;
    start = end + 1;
  }
  return "";
}

// Runs gnuplot on `script` (its stdin); its stdout goes to /dev/null (ours
// carries data only), its stderr to a temporary file quoted on failure.
Status RunGnuplot(const std::string& exe, const std::string& script) {
  char err_path[] = "/tmp/dpsanitize-gnuplot.XXXXXX";
  const int err_fd = ::mkstemp(err_path);
  if (err_fd < 0)
    return IoError("--plot: cannot create a temporary file: {}", std::strerror(errno));
  ::unlink(err_path);
  int in[2];
  if (::pipe(in) != 0) {
    ::close(err_fd);
    return IoError("--plot: pipe: {}", std::strerror(errno));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(err_fd);
    ::close(in[0]);
    ::close(in[1]);
    return IoError("--plot: fork: {}", std::strerror(errno));
  }
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(in[0], 0);
    if (devnull >= 0) ::dup2(devnull, 1);
    ::dup2(err_fd, 2);
    ::close(in[0]);
    ::close(in[1]);
    ::execl(exe.c_str(), "gnuplot", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(in[0]);
  Status write = WriteAll(in[1], script, "gnuplot");
  ::close(in[1]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string err;
  char buf[512];
  ::lseek(err_fd, 0, SEEK_SET);
  ssize_t n;
  while ((n = ::read(err_fd, buf, sizeof buf)) > 0 && err.size() < 4096) {
    err.append(buf, static_cast<size_t>(n));
  }
  ::close(err_fd);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !write.ok()) {
    const size_t nl = err.find('\n', err.find_first_not_of(" \n"));
    std::string first = err.substr(0, nl);
    first.erase(0, first.find_first_not_of(" \n"));
    return Status(StatusCode::kIoError,
                  "--plot: gnuplot failed" + (first.empty() ? std::string() : ": " + first));
  }
  return Status::Ok();
}

}  // namespace

int RunAuditCommand(int argc, char** argv) {
  CLI::App app{
      "dpsanitize audit: measure the mechanism's actual privacy loss on the embedding.\n"
      "For sampled word pairs (nearest neighbours, random, distant, densest and sparsest regions)\n"
      "it reports max over outputs y of |ln P[M(w)=y] - ln P[M(w')=y]| / d(w, w') beside the\n"
      "claimed epsilon. tg: exact output laws (numerical integration, exact Poisson tails beyond\n"
      "the integration depth): a certified lower bound on the worst case, and the loss over\n"
      "typical outputs (P >= 1e-6). mvl: Monte Carlo with confidence intervals.\n"
      "Output: a table on stdout, or JSON with --json. See docs/privacy-audit.md."};
  app.name("dpsanitize audit");
  app.set_help_flag("-h,--help", "Print this help message and exit");
  Config c;
  AuditOptions opt;
  std::string mechanism = "tg";
  std::string plot;
  bool json = false;
  bool quiet = false;
  app.add_option("--eps", c.eps, "Claimed metric-DP epsilon per unit of embedding distance")
      ->required();
  app.add_option("--mechanism", mechanism, "tg (truncated Gumbel) or mvl (multivariate Laplace)")
      ->check(CLI::IsMember({"tg", "mvl"}))
      ->capture_default_str();
  app.add_option("--pairs", opt.pairs, "Word pairs to audit [200 for tg, 10 for mvl]")
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  app.add_option("--seed", opt.seed, "Seed of the pair sampling and Monte Carlo draws")
      ->capture_default_str();
  app.add_option("--embedding", c.embedding,
                 "Embedding (prepared or text); default $DPSANITIZE_EMBEDDING, else " +
                     DefaultEmbeddingPath());
  app.add_option("--vocab-size", c.vocab_size,
                 "Perturbation vocabulary: the N most frequent usable words")
      ->capture_default_str();
  app.add_option("--depth", opt.depth, "tg: integration depth K (exact laws of ranks 0..K)")
      ->check(CLI::Range(size_t{1}, size_t{100000}))
      ->capture_default_str();
  app.add_option("--samples", opt.samples, "mvl: Monte Carlo draws per word")
      ->check(CLI::Range(uint64_t{100}, uint64_t{100000000}))
      ->capture_default_str();
  app.add_option("--utility-words", opt.utility_words,
                 "Extra words per density decile for the utility figures [10 for tg, 1 for mvl]")
      ->check(CLI::Range(size_t{1}, size_t{100000}));
  app.add_option("--threads", opt.threads, "Worker threads for tg (0: all cores)")
      ->capture_default_str();
  app.add_flag("--json", json, "Print the report as JSON");
  app.add_option("--plot", plot,
                 "Draw loss against distance with the claimed eps (FILE.png or FILE.svg; "
                 "needs gnuplot)");
  app.add_flag("-q,--quiet", quiet, "No warnings on stderr");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e, "audit");
  }
  std::string gnuplot;
  if (!plot.empty()) {
    if (!EndsWith(plot, ".png") && !EndsWith(plot, ".svg")) {
      return Fail(UsageError("audit: --plot {}: the file name must end in .png or .svg", plot));
    }
    gnuplot = FindGnuplot();
    if (gnuplot.empty()) {
      return Fail(IoError(
          "audit: --plot needs gnuplot, which is not on PATH (Debian package gnuplot-nox)"));
    }
  }
  c.mechanism = mechanism == "mvl" ? MechanismKind::kMvl : MechanismKind::kTg;
  c.no_ledger = true;
  opt.mechanism = c.mechanism;
  Log().set_level(quiet ? spdlog::level::err : spdlog::level::warn);
  auto engine = OpenEngine(c, /*build_mechanism=*/false);
  if (!engine.ok()) return Fail(engine.status());
  const Engine& e = *engine.value();
  // The plot's temporary file first, so that an unwritable --plot fails before the audit.
  std::unique_ptr<AtomicFile> plot_file;
  if (!plot.empty()) {
    auto file = AtomicFile::Create(plot);
    if (!file.ok()) return Fail(file.status());
    plot_file = std::move(file).value();
  }
  auto report = RunAudit(*e.embedding, *e.vocab, e.calibration, opt);
  if (!report.ok()) return Fail(report.status());
  if (plot_file) {
    Status s = RunGnuplot(gnuplot, AuditGnuplotScript(report.value(), plot_file->temp_path()));
    if (s.ok()) s = plot_file->Commit();
    if (!s.ok()) return Fail(s);
  }
  const std::string text =
      json ? AuditReportToJson(report.value()).dump(2) + "\n" : FormatAuditTable(report.value());
  StdoutOutput out;
  const Status s = out.Write(text);
  if (!s.ok()) return Fail(s);
  return 0;
}
