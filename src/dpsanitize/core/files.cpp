#include "dpsanitize/core/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dpsanitize {

StatusOr<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes) {
  // O_CLOEXEC: a key file's descriptor must not leak into gnuplot or any
  // other child the tool starts.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    const int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    return IoError("{}: cannot read: {}", path, std::strerror(err));
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return IoError("{}: cannot read: {}", path, std::strerror(err));
    }
    // Checked before appending so that a FIFO or /dev/zero cannot make the
    // tool allocate without bound.
    if (data.size() + static_cast<uint64_t>(n) > max_bytes) {
      ::close(fd);
      return IoError("{}: larger than {} bytes", path, max_bytes);
    }
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

int RegularFileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

}  // namespace dpsanitize
