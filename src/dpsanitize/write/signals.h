// Signals: how a dpsanitize process ends when interrupted.
//
//   InstallSignalHandlers();  // first thing in main()
//
// SIGPIPE is ignored, so a closed stdout shows up as EPIPE from write() (see
// StdoutOutput). SIGXFSZ is ignored, so a file-size limit (ulimit -f) shows
// up as EFBIG from write() and takes the normal error path: one error line,
// exit 1, no temporary file left. SIGHUP, SIGINT, SIGQUIT and SIGTERM remove
// every live temporary and lock file (write/cleanup.h) and end the process at
// once with exit status 128 + signal (129, 130, 131, 143): a run leaves no
// temporary file, and its output and ledger are the old pair or the new pair
// (a signal during their commit waits for it, write/atomic_file.h). Nothing is
// printed.
#ifndef DPSANITIZE_WRITE_SIGNALS_H_
#define DPSANITIZE_WRITE_SIGNALS_H_

namespace dpsanitize {

void InstallSignalHandlers();

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_SIGNALS_H_
