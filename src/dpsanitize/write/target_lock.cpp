#include "dpsanitize/write/target_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dpsanitize/core/strings.h"
#include "dpsanitize/write/atomic_file.h"
#include "dpsanitize/write/cleanup.h"

namespace dpsanitize {

StatusOr<std::unique_ptr<TargetLock>> TargetLock::Acquire(const std::string& path) {
  DPS_ASSIGN_OR_RETURN(const WriteTarget target, ResolveWriteTarget(path));
  if (target.in_place) return std::unique_ptr<TargetLock>();
  const std::string dir = DirName(target.path);
  const std::string lock_path = dir + "/." + BaseName(target.path) + ".dpsanitize-lock";
  // A few rounds at most: each one means another run removed the file
  // between our open and our lock.
  for (int round = 0; round < 100; ++round) {
    // Created and registered for a signal's cleanup with no signal between.
    UninterruptedSection section;
    // Read-only is enough for flock, so a lock file left by another user
    // (SIGKILL) still serves. O_NOFOLLOW: never create through a planted link.
    const int fd =
        ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) {
      return IoError("{}: cannot create a lock file in {}: {}", path, dir, std::strerror(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      ::close(fd);
      if (e == EWOULDBLOCK) return IoError("{}: another dpsanitize run is writing it", path);
      return IoError("{}: cannot lock {}: {}", path, lock_path, std::strerror(e));
    }
    struct stat held {};
    struct stat named {};
    if (::fstat(fd, &held) == 0 && ::lstat(lock_path.c_str(), &named) == 0 &&
        held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
      auto lock = std::unique_ptr<TargetLock>(new TargetLock(lock_path, fd));
      RegisterForCleanup(lock->lock_path_.c_str());
      return lock;
    }
    ::close(fd);
  }
  return IoError("{}: cannot lock {}: it keeps being replaced", path, lock_path);
}

TargetLock::~TargetLock() {
  // Removed while still held (see the header), and before it is forgotten,
  // so that a signal in between still removes it.
  ::unlink(lock_path_.c_str());
  UnregisterFromCleanup(lock_path_.c_str());
  ::close(fd_);
}

}  // namespace dpsanitize
