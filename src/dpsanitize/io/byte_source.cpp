#include "dpsanitize/io/byte_source.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace dpsanitize {
namespace {

class FdSource : public ByteSource {
 public:
  FdSource(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  StatusOr<size_t> Read(char* buf, size_t cap) override {
    while (true) {
      const ssize_t n = ::read(fd_, buf, cap);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      return IoError("{}: cannot read: {}", name_, std::strerror(errno));
    }
  }
  Compression compression() const override { return Compression::kNone; }
  void set_name(std::string name) override { name_ = std::move(name); }

 private:
  int fd_;
  std::string name_;
};

}  // namespace

std::unique_ptr<ByteSource> RawFdSource(int fd, std::string name) {
  return std::make_unique<FdSource>(fd, std::move(name));
}

StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(int fd, std::string name,
                                                     Compression compression) {
  // TODO(this session): gzip and zstd.
  return RawFdSource(fd, std::move(name));
}

}  // namespace dpsanitize
