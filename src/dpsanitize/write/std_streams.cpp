#include "dpsanitize/write/std_streams.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace dpsanitize {
namespace {

std::array<bool, 3> g_was_closed{};

}  // namespace

void OpenClosedStandardStreams() {
  // In order 0, 1, 2: open() returns the lowest free descriptor, which is the
  // closed one once the ones below it are open.
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    g_was_closed[fd] = true;
    const int got = ::open("/dev/null", O_RDWR);
    if (got >= 0 && got != fd) {
      ::dup2(got, fd);
      ::close(got);
    }
  }
}

bool StandardStreamWasClosed(int fd) {
  return fd >= 0 && fd < 3 && g_was_closed[static_cast<size_t>(fd)];
}

}  // namespace dpsanitize
