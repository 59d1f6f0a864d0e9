// `dpsanitize calibrate`'s two forms. The JSON keys and text lines about the
// mechanism come from the plan's rows, so no mechanism is named here; the
// effect figures are appended after them (the text as its own block, so that
// the parameters stay one aligned column).
#include "dpsanitize/pipeline/calibrate.h"

#include <fmt/format.h>

#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

nlohmann::json CalibrationJson(const Engine& e, const EffectFigures* effect) {
  const MechanismPlan& plan = *e.plan;
  nlohmann::json j;
  j["mechanism"] = e.info->name;
  j["embedding"] = ResolveEmbeddingPath(e.config.embedding);
  j["embedding_sha256"] = e.embedding->content_sha256();
  j["vocab_size"] = e.vocab->size();
  j["eps"] = plan.eps() ? nlohmann::json(*plan.eps()) : nlohmann::json(nullptr);
  j["eps_basis"] = EpsBasisName(plan.basis());
  j["neighbor_table_k"] = e.stored_neighbors();
  j["tail_clusters"] = e.tail_bounds() ? e.tail_bounds()->clusters : 0;
  for (const PlanRow& r : plan.Rows()) {
    if (r.where & PlanRow::kJson) j[r.key] = r.value;
  }
  if (effect != nullptr) AddEffectJson(*effect, &j);
  return j;
}

std::string CalibrationText(const Engine& e, const EffectFigures* effect) {
  const MechanismPlan& plan = *e.plan;
  std::string s;
  // One "name  value (note)" line per fact, names padded to one column.
  auto line = [&s](const std::string& name, const std::string& value) {
    s += fmt::format("{:<13} {}\n", name, value);
  };
  line("mechanism", e.info->name);
  line("embedding", ResolveEmbeddingPath(e.config.embedding));
  line("vocab_size", std::to_string(e.vocab->size()));
  line("eps", plan.eps() ? fmt::format("{:.6g} ({} ({}))", *plan.eps(), EpsBasisName(plan.basis()),
                                       e.info->citation)
                         : std::string("none (") + plan.basis_detail() + ")");
  for (const PlanRow& r : plan.Rows()) {
    if (!(r.where & PlanRow::kText)) continue;
    const std::string value = r.value.is_number() ? fmt::format("{:.6g}", r.value.get<double>())
                                                  : r.value.get<std::string>();
    line(r.key, r.note.empty() ? value : value + " " + r.note);
  }
  const uint32_t k = e.stored_neighbors();
  line("neighbours", fmt::format("{} stored per word{}", k,
                                 k == 0 ? " (none: lists are computed at run time)" : ""));
  if (effect != nullptr) s += EffectText(*effect);
  return s;
}

Status WriteOutputWeights(const Engine& e, const std::string& path) {
  const std::vector<double>* w = e.plan->OutputLogWeights();
  if (w == nullptr) {
    return UsageError("--weights-out: --mechanism {} has no output weights (bem has)",
                      e.info->name);
  }
  DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(path));
  std::string chunk;
  for (size_t i = 0; i < w->size(); ++i) {
    chunk += e.vocab->word(static_cast<WordId>(i));
    chunk += fmt::format("\t{:.17g}\n", (*w)[i]);
    if (chunk.size() >= (1 << 16)) {
      DPS_RETURN_IF_ERROR(file->Write(chunk));
      chunk.clear();
    }
  }
  DPS_RETURN_IF_ERROR(file->Write(chunk));
  return file->Commit();
}

}  // namespace dpsanitize
