#include "dpsanitize/core/status.h"

namespace dpsanitize {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
    case StatusCode::kBrokenPipe:
      return 0;
    case StatusCode::kUsage:
      return 2;
    case StatusCode::kDataError:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return 1;
  }
  return 1;
}

}  // namespace dpsanitize
