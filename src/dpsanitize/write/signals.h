// Signals: how a dpsanitize process ends when interrupted.
//
//   InstallSignalHandlers();  // first thing in main()
//
// SIGPIPE is ignored, so a closed stdout shows up as EPIPE from write() (a
// quiet stop, see StdoutOutput). SIGINT and SIGTERM remove every live
// AtomicFile's temporary file and end the process at once with exit status
// 128 + signal (130, 143): no output, ledger or temporary file is left, and
// nothing is printed.
#ifndef DPSANITIZE_WRITE_SIGNALS_H_
#define DPSANITIZE_WRITE_SIGNALS_H_

namespace dpsanitize {

void InstallSignalHandlers();

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_SIGNALS_H_
