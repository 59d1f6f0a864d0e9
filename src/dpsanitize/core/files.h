// Reading small whole files (keys, ledgers, cache entries) with a Status for
// every failure. std::ifstream reports a directory or a read error by throwing
// from deep inside the stream buffer (or by a silent short read), so these go
// through open(2)/read(2) instead.
//
//   DPS_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, 64 << 20));
#ifndef DPSANITIZE_CORE_FILES_H_
#define DPSANITIZE_CORE_FILES_H_

#include <cstdint>
#include <string>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

// The bytes of `path` (a regular file, FIFO or device; not a directory), at
// most `max_bytes` of them. Errors are IoErrors "<path>: <why>".
StatusOr<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes);

// The permission bits of `path` when it is a regular file, or -1.
int RegularFileMode(const std::string& path);

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_FILES_H_
