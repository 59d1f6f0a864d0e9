// `dpsanitize calibrate`: what --eps gives for a mechanism on an embedding and
// vocabulary, as JSON or as aligned text lines. Everything mechanism-specific
// comes from the plan's rows (mechanisms/registry.h).
#ifndef DPSANITIZE_PIPELINE_CALIBRATE_H_
#define DPSANITIZE_PIPELINE_CALIBRATE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

nlohmann::json CalibrationJson(const Engine& engine);
std::string CalibrationText(const Engine& engine);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_CALIBRATE_H_
