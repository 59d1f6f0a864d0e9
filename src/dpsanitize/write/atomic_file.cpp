#include "dpsanitize/write/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dpsanitize/core/strings.h"

namespace dpsanitize {
namespace {

// A fixed table of live temporary paths, so a signal handler can unlink them
// without allocating.
constexpr int kMaxLive = 16;
std::array<std::atomic<const char*>, kMaxLive> g_live{};

void Register(const char* p) {
  for (auto& slot : g_live) {
    const char* expected = nullptr;
    if (slot.compare_exchange_strong(expected, p)) return;
  }
}
void Unregister(const char* p) {
  for (auto& slot : g_live) {
    const char* expected = p;
    if (slot.compare_exchange_strong(expected, nullptr)) return;
  }
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status WriteAll(int fd, std::string_view data, const std::string& name) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("{}: cannot write: {}", name, std::strerror(errno));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path) {
  std::string templ = DirName(path) + "/." + BaseName(path) + ".tmp-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  const int fd = ::mkstemp(buf.data());
  if (fd < 0) {
    return IoError("{}: cannot create a temporary file in {}: {}", path, DirName(path),
                   std::strerror(errno));
  }
  ::fchmod(
      fd, 0644 & ~[] {
        const mode_t m = ::umask(0);
        ::umask(m);
        return m;
      }());
  auto file = std::unique_ptr<AtomicFile>(new AtomicFile(path, std::string(buf.data()), fd));
  Register(file->temp_path_.c_str());
  return file;
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    Unregister(temp_path_.c_str());
    ::unlink(temp_path_.c_str());
  }
}

Status AtomicFile::Write(std::string_view data) { return WriteAll(fd_, data, path_); }

Status AtomicFile::Commit() {
  if (::fsync(fd_) != 0) return IoError("{}: cannot flush: {}", path_, std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    return IoError("{}: cannot close: {}", path_, std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return IoError("{}: cannot rename the temporary file into place: {}", path_,
                   std::strerror(errno));
  }
  committed_ = true;
  Unregister(temp_path_.c_str());
  return Status::Ok();
}

Status StdoutOutput::Write(std::string_view data) {
  Status s = WriteAll(1, data, "<stdout>");
  if (!s.ok() && errno == EPIPE) return Status(StatusCode::kBrokenPipe, "broken pipe");
  return s;
}

void RemoveTemporaryFilesForSignal() {
  for (auto& slot : g_live) {
    const char* p = slot.load();
    if (p != nullptr) ::unlink(p);
  }
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace dpsanitize
