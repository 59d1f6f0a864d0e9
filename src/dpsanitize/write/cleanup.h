// Cleanup on a signal: the files a signal handler removes before the process
// ends (write/signals.h), and the short sections it must not cut through.
//
//   {
//     UninterruptedSection section;     // create a file and register it at once
//     fd = ::mkstemp(name);
//     RegisterForCleanup(name);
//   }
//   ...
//   ::unlink(name);                     // done with it: remove, then forget
//   UnregisterFromCleanup(name);
//
// A signal handler calls CleanUpForSignal() and then _exit(). Paths live in a
// fixed table of C strings, so that the handler can unlink them without
// allocating; unlink() and nanosleep() are async-signal-safe.
#ifndef DPSANITIZE_WRITE_CLEANUP_H_
#define DPSANITIZE_WRITE_CLEANUP_H_

#include <signal.h>

namespace dpsanitize {

// The signals whose handler cleans up and ends the process with 128 + N.
inline constexpr int kCleanupSignals[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM};

// Adds `path` (which must stay valid until it is unregistered) to the files a
// signal handler removes. At most 16 at a time; more are not removed.
void RegisterForCleanup(const char* path);
void UnregisterFromCleanup(const char* path);

// While an UninterruptedSection lives, kCleanupSignals are held on the calling
// thread, and a handler running on another thread waits for the section to
// end before it removes anything. So a file is never created without being
// registered, and the renames of CommitPair (write/atomic_file.h) are never
// left half done by SIGINT, SIGTERM, SIGHUP or SIGQUIT. A held signal is
// delivered when the section ends. Keep sections short: a few system calls.
// If a handler has already begun to end the process, the constructor does not
// return (the process is about to exit with 128 + N).
class UninterruptedSection {
 public:
  UninterruptedSection();
  ~UninterruptedSection();
  UninterruptedSection(const UninterruptedSection&) = delete;
  UninterruptedSection& operator=(const UninterruptedSection&) = delete;

 private:
  sigset_t old_mask_;
};

// For the signal handler: waits until no UninterruptedSection is running,
// keeps new ones from starting, and removes every registered file.
void CleanUpForSignal();

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_CLEANUP_H_
