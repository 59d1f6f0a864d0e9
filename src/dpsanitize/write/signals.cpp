#include "dpsanitize/write/signals.h"

#include <unistd.h>

#include <csignal>

#include "dpsanitize/write/cleanup.h"

namespace dpsanitize {
namespace {

// The handler does all the work itself instead of setting a flag for the
// pipeline to check between batches: a run blocked in read() on a terminal,
// pipe or FIFO that stays open would never get back to such a check (the line
// reader retries EINTR), and a half-written output is worthless anyway.
// unlink(), nanosleep() and _exit() are async-signal-safe; destructors, stdio
// and the logger are deliberately skipped. SIGHUP (the terminal went away) and
// SIGQUIT (Ctrl-\) are requests to stop like SIGTERM; left at their default
// they ended the process with its temporary files in place (and SIGQUIT with a
// core dump).
void OnSignal(int sig) {
  CleanUpForSignal();
  ::_exit(128 + sig);
}

}  // namespace

void InstallSignalHandlers() {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGXFSZ, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  // One cleanup at a time per thread: the others wait behind the first.
  sigemptyset(&sa.sa_mask);
  for (int s : kCleanupSignals) sigaddset(&sa.sa_mask, s);
  for (int s : kCleanupSignals) sigaction(s, &sa, nullptr);
}

}  // namespace dpsanitize
