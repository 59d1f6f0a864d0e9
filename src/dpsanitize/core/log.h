// The library's logger: spdlog, to stderr only (stdout carries data), lines
// prefixed "dpsanitize: ". Never give it corpus text, at any level.
#ifndef DPSANITIZE_CORE_LOG_H_
#define DPSANITIZE_CORE_LOG_H_

#include <spdlog/spdlog.h>

namespace dpsanitize {

spdlog::logger& Log();

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_LOG_H_
