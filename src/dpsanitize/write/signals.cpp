#include "dpsanitize/write/signals.h"

#include <unistd.h>

#include <csignal>

#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {
namespace {

// The handler does all the work itself instead of setting a flag for the
// pipeline to check between batches: a run blocked in read() on a terminal,
// pipe or FIFO that stays open would never get back to such a check (the line
// reader retries EINTR), and a half-written output is worthless anyway.
// unlink() and _exit() are async-signal-safe; destructors, stdio and the
// logger are deliberately skipped.
void OnSignal(int sig) {
  RemoveTemporaryFilesForSignal();
  ::_exit(128 + sig);
}

}  // namespace

void InstallSignalHandlers() {
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace dpsanitize
