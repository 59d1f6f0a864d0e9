#include "dpsanitize/write/atomic_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dpsanitize/core/strings.h"
#include "dpsanitize/write/cleanup.h"

namespace dpsanitize {
namespace {

constexpr const char* kTempInfix = ".dpsanitize-tmp-";
constexpr const char* kBackupInfix = ".dpsanitize-old-";

// `.<name><infix>` in the folder of `path`.
std::string HiddenSibling(const std::string& path, const char* infix) {
  return DirName(path) + "/." + BaseName(path) + infix;
}

mode_t CurrentUmask() {
  const mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

std::string ErrnoText(int e) {
  // The size limit (ulimit -f) shows up as EFBIG once SIGXFSZ is ignored
  // (write/signals.cpp); strerror alone does not say which limit it was.
  if (e == EFBIG) return "File too large (the file size limit, ulimit -f, was reached)";
  return std::strerror(e);
}

// A dangling symbolic link, followed by hand to the name it would create:
// realpath() fails on it.
StatusOr<std::string> FollowDanglingLink(const std::string& path) {
  std::string p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    std::vector<char> buf(PATH_MAX + 1);
    const ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size() - 1);
    if (n < 0) return IoError("{}: cannot read the symbolic link: {}", path, std::strerror(errno));
    const std::string next(buf.data(), static_cast<size_t>(n));
    if (next.front() == '/') {
      p = next;
    } else {
      p = DirName(p);
      p += '/';
      p += next;
    }
  }
  return IoError("{}: {}", path, std::strerror(ELOOP));
}

// Directory entries are only durable once their folder is flushed. Errors
// are ignored: the renames are done and visible, and reporting a failure for
// a run whose files are in place would mislead.
void SyncFolder(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& name) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      Status s = IoError("{}: cannot write: {}", name, ErrnoText(e));
      errno = e;  // for StdoutOutput's EPIPE check
      return s;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

StatusOr<WriteTarget> ResolveWriteTarget(const std::string& path) {
  WriteTarget t;
  t.path = path;
  auto replace = [&t](const struct stat& st) {
    t.replaces = true;
    t.mode = st.st_mode;
    t.uid = st.st_uid;
    t.gid = st.st_gid;
  };
  struct stat st {};
  // A new file, or an error that creating it reports in full.
  if (::lstat(path.c_str(), &st) != 0) return t;
  if (S_ISREG(st.st_mode)) {
    replace(st);
    return t;
  }
  if (!S_ISLNK(st.st_mode)) {
    t.in_place = true;
    return t;
  }
  struct stat target {};
  if (::stat(path.c_str(), &target) != 0) {
    if (errno != ENOENT) return IoError("{}: {}", path, std::strerror(errno));
    DPS_ASSIGN_OR_RETURN(t.path, FollowDanglingLink(path));
    return t;
  }
  if (!S_ISREG(target.st_mode)) {
    t.in_place = true;
    return t;
  }
  // Rename onto the file the link leads to, checked to be the one stat()
  // saw: /proc/self/fd/N of a deleted file, say, has no name to rename onto,
  // and is written in place instead.
  char* real = ::realpath(path.c_str(), nullptr);
  struct stat named {};
  if (real != nullptr && ::lstat(real, &named) == 0 && named.st_dev == target.st_dev &&
      named.st_ino == target.st_ino) {
    t.path = real;
    replace(target);
  } else {
    t.in_place = true;
  }
  std::free(real);
  return t;
}

StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path) {
  DPS_ASSIGN_OR_RETURN(const WriteTarget t, ResolveWriteTarget(path));
  if (t.in_place) {
    // As cp does: a device or FIFO is written, not replaced (renaming over
    // /dev/full made it a regular file, and a FIFO's reader waited forever).
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return IoError("{}: cannot open for writing: {}", path, std::strerror(errno));
    return std::unique_ptr<AtomicFile>(new AtomicFile(path, path, path, fd, /*in_place=*/true));
  }
  const std::string templ = HiddenSibling(t.path, kTempInfix) + "XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  std::unique_ptr<AtomicFile> file;
  {
    // Created and registered for a signal's cleanup with no signal between.
    UninterruptedSection section;
    const int fd = ::mkostemp(buf.data(), O_CLOEXEC);
    if (fd < 0) {
      return IoError("{}: cannot create a temporary file in {}: {}", path, DirName(t.path),
                     std::strerror(errno));
    }
    file.reset(new AtomicFile(path, t.path, std::string(buf.data()), fd, /*in_place=*/false));
    RegisterForCleanup(file->temp_path_.c_str());
  }
  if (t.replaces) {
    // The replacement is the same file to its users: a private 0600 output
    // must not become world-readable. Only root can give a file away; the
    // chown comes first because it clears set-id bits.
    if (::geteuid() == 0) (void)::fchown(file->fd_, t.uid, t.gid);
    ::fchmod(file->fd_, t.mode & 0777);
  } else {
    ::fchmod(file->fd_, 0644 & ~CurrentUmask());
  }
  return file;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !in_place_) {
    // Removed before it is forgotten, so that a signal in between still
    // removes it.
    ::unlink(temp_path_.c_str());
    UnregisterFromCleanup(temp_path_.c_str());
  }
}

Status AtomicFile::Write(std::string_view data) { return WriteAll(fd_, data, path_); }

Status AtomicFile::Flush() {
  if (fd_ < 0) return Status::Ok();
  // Devices and FIFOs cannot be synced (EINVAL): nothing is buffered for them.
  if (::fsync(fd_) != 0 && !(in_place_ && (errno == EINVAL || errno == EROFS))) {
    return IoError("{}: cannot flush: {}", path_, ErrnoText(errno));
  }
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return IoError("{}: cannot close: {}", path_, ErrnoText(errno));
  return Status::Ok();
}

void AtomicFile::MarkCommitted() {
  committed_ = true;
  if (!in_place_) UnregisterFromCleanup(temp_path_.c_str());
}

Status AtomicFile::Commit() {
  DPS_RETURN_IF_ERROR(Flush());
  if (!in_place_ && ::rename(temp_path_.c_str(), target_.c_str()) != 0) {
    return IoError("{}: cannot rename the temporary file into place: {}", path_,
                   std::strerror(errno));
  }
  MarkCommitted();
  return Status::Ok();
}

Status CommitPair(AtomicFile* output, AtomicFile* ledger) {
  if (ledger == nullptr) return output->Commit();
  DPS_RETURN_IF_ERROR(output->Flush());
  DPS_RETURN_IF_ERROR(ledger->Flush());
  // Nothing of an output written in place can be taken back, and a ledger
  // written in place is out already: one rename is left, no pair to keep.
  if (output->in_place_ || ledger->in_place_) {
    DPS_RETURN_IF_ERROR(output->Commit());
    return ledger->Commit();
  }
  const std::string& out = output->target_;
  const std::string& out_temp = output->temp_path_;
  const std::string& led = ledger->target_;
  const std::string& led_temp = ledger->temp_path_;
  {
    UninterruptedSection section;
    // The previous output, kept under a second name until the ledger is in
    // place. A hard link keeps `out` present throughout; where the file
    // system has none, the previous output is renamed aside instead, and
    // `out` is missing for the moment between the two renames.
    std::string backup;
    bool linked = false, moved_aside = false;
    struct stat st {};
    if (::lstat(out.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      // Named after the temporary file's random part; a stale backup of a
      // killed run with the same part gets a number.
      const std::string base =
          HiddenSibling(out, kBackupInfix) + out_temp.substr(out_temp.size() - 6);
      backup = base;
      for (int i = 1; i < 100 && !linked; ++i) {
        if (::link(out.c_str(), backup.c_str()) == 0) {
          linked = true;
        } else if (errno == EEXIST) {
          backup = base + "-" + std::to_string(i);
        } else {
          break;
        }
      }
      if (!linked) {
        backup = base;
        if (::rename(out.c_str(), backup.c_str()) != 0) {
          return IoError("{}: cannot keep the previous file as {}: {}", output->path_, backup,
                         std::strerror(errno));
        }
        moved_aside = true;
      }
    }
    if (::rename(out_temp.c_str(), out.c_str()) != 0) {
      const int e = errno;
      if (linked) ::unlink(backup.c_str());
      if (moved_aside) ::rename(backup.c_str(), out.c_str());
      return IoError("{}: cannot rename the temporary file into place: {}", output->path_,
                     std::strerror(e));
    }
    // The temporary name is gone; the new output is `out` now.
    output->MarkCommitted();
    if (::rename(led_temp.c_str(), led.c_str()) != 0) {
      const int e = errno;
      // Back to the previous output, or to none if there was none.
      const bool restored = (linked || moved_aside) ? ::rename(backup.c_str(), out.c_str()) == 0
                                                    : ::unlink(out.c_str()) == 0;
      if (!restored) {
        const int undo = errno;
        return IoError(
            "{}: cannot rename the temporary file into place: {}; and {} could not be put back "
            "({}): the new output is in place, the previous one is {}",
            ledger->path_, std::strerror(e), output->path_, std::strerror(undo),
            backup.empty() ? std::string("gone (there was none)") : backup);
      }
      return IoError("{}: cannot rename the temporary file into place: {}; {} is left as it was",
                     ledger->path_, std::strerror(e), output->path_);
    }
    ledger->MarkCommitted();
    if (linked || moved_aside) ::unlink(backup.c_str());
  }
  SyncFolder(DirName(out));
  if (DirName(led) != DirName(out)) SyncFolder(DirName(led));
  return Status::Ok();
}

Status StdoutOutput::Write(std::string_view data) {
  Status s = WriteAll(1, data, "<stdout>");
  if (!s.ok() && errno == EPIPE) return Status(StatusCode::kBrokenPipe, "broken pipe");
  return s;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool SameFileAsDescriptor(int fd, const std::string& path) {
  struct stat sf {};
  struct stat sp {};
  if (::fstat(fd, &sf) != 0 || !S_ISREG(sf.st_mode) || ::stat(path.c_str(), &sp) != 0) {
    return false;
  }
  return sf.st_dev == sp.st_dev && sf.st_ino == sp.st_ino;
}

}  // namespace dpsanitize
