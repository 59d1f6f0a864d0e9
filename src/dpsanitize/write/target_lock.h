// TargetLock: keeps two dpsanitize runs from writing the same file at once,
// so that an output and its ledger cannot end up from different runs.
//
//   DPS_ASSIGN_OR_RETURN(auto lock, TargetLock::Acquire("out.txt"));
//   ... write and commit out.txt (write/atomic_file.h) ...
//   // the destructor removes the lock file and releases the lock
//
// The lock is flock(2) on `.<name>.dpsanitize-lock` next to the file that a
// rename replaces (symbolic links resolved, so two runs that reach one file
// through a link conflict too). Why a separate lock file: the output itself
// is replaced by rename, so a lock on it would stay with the old inode while
// the next run locks the new one, and a new output has no inode to lock yet;
// a lock on the folder would also refuse unrelated outputs that share it (the
// shards of one job). The kernel releases a flock however the process ends,
// so the file a SIGKILL leaves behind locks nothing: the next run takes it
// over and removes it. The holder removes the file while it still holds the
// lock, and a run that locked a file just removed (it opened it a moment
// before) sees that the name no longer leads to it and starts again. Outputs
// written in place (devices, FIFOs) have no rename to protect and are not
// locked.
#ifndef DPSANITIZE_WRITE_TARGET_LOCK_H_
#define DPSANITIZE_WRITE_TARGET_LOCK_H_

#include <memory>
#include <string>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

class TargetLock {
 public:
  // Locks the file `path` leads to; nullptr when it is written in place.
  // kIoError "<path>: another dpsanitize run is writing it" when another
  // process holds the lock (no waiting).
  static StatusOr<std::unique_ptr<TargetLock>> Acquire(const std::string& path);
  ~TargetLock();
  TargetLock(const TargetLock&) = delete;
  TargetLock& operator=(const TargetLock&) = delete;

  const std::string& lock_path() const { return lock_path_; }

 private:
  TargetLock(std::string lock_path, int fd) : lock_path_(std::move(lock_path)), fd_(fd) {}
  std::string lock_path_;
  int fd_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_WRITE_TARGET_LOCK_H_
