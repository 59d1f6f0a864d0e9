#include "dpsanitize/core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace dpsanitize {

spdlog::logger& Log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("dpsanitize", sink);
    l->set_pattern("dpsanitize: %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return *logger;
}

}  // namespace dpsanitize
