// `dpsanitize calibrate`: what --eps gives for a mechanism on an embedding and
// vocabulary, as JSON or as aligned text lines. Everything mechanism-specific
// comes from the plan's rows (mechanisms/registry.h); "what eps does" (the
// utility figures over the most frequent words) from pipeline/effect.h.
//
//   DPS_ASSIGN_OR_RETURN(EffectFigures f, ComputeEffect(engine));
//   std::string text = CalibrationText(engine, &f);  // nullptr: parameters only
#ifndef DPSANITIZE_PIPELINE_CALIBRATE_H_
#define DPSANITIZE_PIPELINE_CALIBRATE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "dpsanitize/pipeline/effect.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

nlohmann::json CalibrationJson(const Engine& engine, const EffectFigures* effect = nullptr);
std::string CalibrationText(const Engine& engine, const EffectFigures* effect = nullptr);

// `calibrate --weights-out FILE`: one line per vocabulary word in vocabulary
// order, word<TAB>ln alpha (17 significant digits, so the doubles round-trip),
// written atomically, so that anyone can recompute Z and L independently.
// Usage error when the plan has no output weights (only bem has).
Status WriteOutputWeights(const Engine& engine, const std::string& path);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_CALIBRATE_H_
