// A fuzz input as a file for readers that take a path: the bytes in a memfd
// (no disk I/O), opened through /proc/self/fd. Closed on destruction.
//
//   FuzzFile file(data, size);
//   if (!file.ok()) return 0;
//   auto r = Reader(file.path());
#ifndef DPSANITIZE_FUZZ_FUZZ_FILE_H_
#define DPSANITIZE_FUZZ_FUZZ_FILE_H_

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

class FuzzFile {
 public:
  FuzzFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd_ < 0) return;
    size_t written = 0;
    while (written < size) {
      const ssize_t n = write(fd_, data + written, size - written);
      if (n <= 0) {
        close(fd_);
        fd_ = -1;
        return;
      }
      written += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~FuzzFile() {
    if (fd_ >= 0) close(fd_);
  }
  FuzzFile(const FuzzFile&) = delete;
  FuzzFile& operator=(const FuzzFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

#endif  // DPSANITIZE_FUZZ_FUZZ_FILE_H_
