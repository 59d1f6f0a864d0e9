// The audit's plot. gnuplot is a separate program, run by fork/exec with the
// script on its stdin rather than through a shell (no quoting of paths), and
// the image goes to an AtomicFile's temporary path first, so a failed run
// leaves no partial image behind.
#include "dpsanitize/audit/plot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "dpsanitize/audit/pairs.h"
#include "dpsanitize/core/strings.h"

namespace dpsanitize {

std::string AuditGnuplotScript(const AuditReport& r, const std::string& image_path) {
  // Monte Carlo losses are estimates with confidence intervals (error bars);
  // the others are bounds or exact values (points).
  const bool intervals = r.law_kind == LawKind::kMonteCarlo;
  const bool svg = EndsWith(image_path, ".svg");
  auto quote = [](const std::string& x) {
    std::string q = "\"";
    for (char c : x) {
      if (c == '"' || c == '\\') q += '\\';
      q += c;
    }
    return q + "\"";
  };
  std::string s;
  s += svg ? "set terminal svg size 960,720 dynamic font \"sans,11\"\n"
           : "set terminal pngcairo size 960,720 font \"sans,10\"\n";
  s += "set output " + quote(image_path) + "\n";
  s += "set logscale y\nset grid\nset key below maxrows 4\n";
  // The top of the range: above every point and the eps line.
  double top = 4 * r.eps;
  for (const AuditPair& p : r.pairs) {
    for (double v : {p.worst_lower, p.typical_estimate, p.typical_upper}) {
      if (std::isfinite(v)) top = std::max(top, 2 * v);
    }
  }
  s += fmt::format("set yrange [*:{:.6g}]\n", top);
  s += "set xlabel \"d(w, w') (Euclidean embedding distance)\"\n";
  s += "set ylabel \"privacy loss per unit distance\"\n";
  s += "set title " +
       quote(fmt::format("dpsanitize audit: {} at eps = {:g} ({}), |V| = {}, {} pairs", r.mechanism,
                         r.eps, r.eps_basis_kind, r.vocab_size, r.pairs.size())) +
       "\n";
  // Losses of 0 cannot be drawn on a log scale: they are lifted to a floor.
  const double floor = 1e-3 * r.eps;
  for (size_t c = 0; c < kNumPairCategories; ++c) {
    s += fmt::format("$c{} << EOD\n", c);
    for (const AuditPair& p : r.pairs) {
      if (p.category != kPairCategories[c]) continue;
      auto cell = [floor](double x) {
        return std::isnan(x) ? std::string("NaN") : fmt::format("{:.6g}", std::max(floor, x));
      };
      const double up = std::isinf(p.typical_upper) ? p.typical_estimate : p.typical_upper;
      s += fmt::format("{:.6g} {} {} {} {}\n", p.distance, cell(p.worst_lower),
                       cell(p.typical_estimate), cell(p.typical_lower), cell(up));
    }
    s += "EOD\n";
  }
  std::string plot = "plot ";
  for (size_t c = 0; c < kNumPairCategories; ++c) {
    if (!intervals) {
      plot += fmt::format(
          "$c{} using 1:2 with points pt 7 ps 0.8 lc {} title \"{}: worst case "
          "(lower bound)\", ",
          c, c + 1, kPairCategories[c]);
      plot += fmt::format(
          "$c{} using 1:3 with points pt 6 ps 0.8 lc {} title \"{}: typical "
          "outputs\", ",
          c, c + 1, kPairCategories[c]);
    } else {
      plot += fmt::format(
          "$c{} using 1:3:4:5 with yerrorbars pt 7 ps 0.6 lc {} title \"{}: "
          "estimate, confidence interval\", ",
          c, c + 1, kPairCategories[c]);
      plot += fmt::format("$c{} using 1:2 with points pt 8 ps 0.8 lc {} {}, ", c, c + 1,
                          c == 0 ? "title \"lower confidence bounds\"" : "notitle");
    }
  }
  plot += fmt::format("{:g} with lines dt 2 lw 2 lc rgb \"black\" title \"claimed eps = {:g}\"\n",
                      r.eps, r.eps);
  s += plot;
  return s;
}

StatusOr<std::string> FindGnuplotFor(const std::string& image_path) {
  if (!EndsWith(image_path, ".png") && !EndsWith(image_path, ".svg")) {
    return UsageError("audit: --plot {}: the file name must end in .png or .svg", image_path);
  }
  // PATH by hand rather than execvp: a missing gnuplot is then an error
  // before the (long) audit runs, not after it.
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
  return IoError("audit: --plot needs gnuplot, which is not on PATH (Debian package gnuplot-nox)");
}

Status RunGnuplot(const std::string& exe, const std::string& script) {
  // gnuplot's stderr goes to an unlinked temporary file rather than a pipe,
  // so that a chatty gnuplot cannot block on a full pipe while we write its
  // script.
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

Status DrawAuditPlot(const std::string& gnuplot, const AuditReport& report, AtomicFile* file) {
  DPS_RETURN_IF_ERROR(RunGnuplot(gnuplot, AuditGnuplotScript(report, file->temp_path())));
  return file->Commit();
}

}  // namespace dpsanitize
