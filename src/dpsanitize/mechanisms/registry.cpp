// The registry's one list, and the checks every mechanism shares.
#include "dpsanitize/mechanisms/registry.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "dpsanitize/mechanisms/bem_plan.h"
#include "dpsanitize/mechanisms/em_plan.h"
#include "dpsanitize/mechanisms/identity.h"
#include "dpsanitize/mechanisms/mahalanobis_plan.h"
#include "dpsanitize/mechanisms/mvl_plan.h"
#include "dpsanitize/mechanisms/tg_plan.h"
#include "dpsanitize/mechanisms/vickrey_plan.h"

namespace dpsanitize {

const char* EpsBasisName(EpsBasis basis) {
  switch (basis) {
    case EpsBasis::kProven:
      return "proven";
    case EpsBasis::kNominal:
      return "nominal";
    case EpsBasis::kNone:
      return "none";
  }
  return "none";  // unreachable: the switch is exhaustive (-Werror=switch)
}

const std::vector<MechanismInfo>& Registry() {
  // One line per mechanism. Built once, on first use (thread-safe static).
  static const std::vector<MechanismInfo> registry{
      EmMechanismInfo(),           // em_plan.cpp: the default
      TemMechanismInfo(),          // em_plan.cpp
      BemMechanismInfo(),          // bem_plan.cpp
      TgMechanismInfo(),           // tg_plan.cpp
      MvlMechanismInfo(),          // mvl_plan.cpp
      MahalanobisMechanismInfo(),  // mahalanobis_plan.cpp
      VickreyMechanismInfo(),      // vickrey_plan.cpp
      IdentityMechanismInfo(),     // identity.cpp: library only
  };
  return registry;
}

const MechanismInfo* FindMechanism(std::string_view name) {
  for (const MechanismInfo& m : Registry()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string MechanismChoices() {
  std::string s;
  for (const MechanismInfo& m : Registry()) {
    if (!m.cli) continue;
    if (!s.empty()) s += ", ";
    s += m.name;
  }
  return s;
}

namespace {

// strtod over the whole text, finite only: "1e400", "nan", "2x" are refused.
std::optional<double> ParseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

const MechanismFlag* FindFlag(const std::string& name, const MechanismInfo** owner) {
  for (const MechanismInfo& m : Registry()) {
    for (const MechanismFlag& f : m.flags) {
      if (f.name == name) {
        *owner = &m;
        return &f;
      }
    }
  }
  return nullptr;
}

}  // namespace

Status ValidateMechanismOptions(const Config& c) {
  const MechanismInfo* info = FindMechanism(c.mechanism);
  if (info == nullptr) {
    return UsageError("--mechanism {}: unknown (choose one of {})", c.mechanism,
                      MechanismChoices());
  }
  for (const auto& [name, value] : c.mechanism_options) {
    const MechanismInfo* owner = nullptr;
    const MechanismFlag* flag = FindFlag(name, &owner);
    if (flag == nullptr) return InternalError("--{}: not a mechanism option", name);
    bool mine = false;
    for (const MechanismFlag& f : info->flags) mine |= f.name == name;
    if (!mine) {
      return UsageError("--{}: only valid with --mechanism {}, not {}", name, owner->name,
                        info->name);
    }
    switch (flag->kind) {
      case MechanismFlag::Kind::kNumber:
        if (!ParseNumber(value)) {
          return UsageError("--{} {}: not a finite number", name, value);
        }
        break;
      case MechanismFlag::Kind::kChoice: {
        bool known = false;
        for (const std::string& ch : flag->choices) known |= ch == value;
        if (!known) return UsageError("--{} {}: not one of the allowed values", name, value);
        break;
      }
    }
  }
  return info->validate(c);
}

std::optional<double> OptionNumber(const Config& c, const std::string& name) {
  const auto it = c.mechanism_options.find(name);
  if (it == c.mechanism_options.end()) return std::nullopt;
  return ParseNumber(it->second);
}

std::string OptionText(const Config& c, const std::string& name, const std::string& fallback) {
  const auto it = c.mechanism_options.find(name);
  return it == c.mechanism_options.end() ? fallback : it->second;
}

}  // namespace dpsanitize
