// em and tem in the registry. Neither needs calibration constants: the proof
// (spec section 2b) gives eps-metric-DP with beta = eps / 2 for every eps > 0
// and, for tem, every gamma > 0; the ledger's basis is "proven".
#include "dpsanitize/mechanisms/em_plan.h"

#include <fmt/format.h>

#include <cmath>

#include "dpsanitize/mechanisms/exp_mech_law.h"

namespace dpsanitize {
namespace {

Status ValidateEm(const Config& c) {
  if (!c.eps) return UsageError("--eps: required");
  return Status::Ok();
}

Status ValidateTem(const Config& c) {
  if (!c.eps) return UsageError("--eps: required");
  if (const auto g = OptionNumber(c, "tem-gamma"); g && !(*g > 0)) {
    return UsageError("--tem-gamma {}: must be a finite number greater than 0", *g);
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<MechanismPlan>> MakeEmPlan(const Config& c, const PlanInputs&) {
  return std::unique_ptr<MechanismPlan>(
      std::make_unique<ExpMechPlan>("em", *c.eps, EmParams(*c.eps), false));
}

StatusOr<std::unique_ptr<MechanismPlan>> MakeTemPlan(const Config& c, const PlanInputs& in) {
  const auto given = OptionNumber(c, "tem-gamma");
  double gamma = 0;
  if (given) {
    gamma = *given;
  } else {
    DPS_ASSIGN_OR_RETURN(gamma, DefaultTemGamma(*c.eps, in.vocab_size));
  }
  return std::unique_ptr<MechanismPlan>(
      std::make_unique<ExpMechPlan>("tem", *c.eps, TemParams(*c.eps, gamma), !given));
}

}  // namespace

MechanismInfo EmMechanismInfo() {
  MechanismInfo m;
  m.name = "em";
  m.summary = "exponential mechanism over the whole vocabulary; proven epsilon";
  m.description =
      "exponential mechanism over every vocabulary word (McSherry & Talwar\n"
      "2007; as in SanText, Yue et al. 2021): P[M(w) = y] proportional to\n"
      "exp(-eps d(w, y) / 2). eps-metric-DP for any eps > 0 (a proven bound);\n"
      "exact sampler, no approximate search, no dropped tail. Run\n"
      "`dpsanitize calibrate --mechanism em --eps E` to see what E does.";
  m.basis = EpsBasis::kProven;
  m.citation = "exponential mechanism, McSherry & Talwar 2007";
  m.validate = ValidateEm;
  m.make_plan = MakeEmPlan;
  return m;
}

MechanismInfo TemMechanismInfo() {
  MechanismInfo m;
  m.name = "tem";
  m.summary = "truncated exponential mechanism (Carvalho et al. 2023); proven epsilon";
  m.description =
      "truncated exponential mechanism (Carvalho et al., SDM 2023): em with the\n"
      "score min(d, gamma), so words farther than gamma share one weight.\n"
      "eps-metric-DP for any eps > 0 and gamma > 0 (a proven bound). Default\n"
      "gamma = (2/eps) ln((|V|-1)(1-p)/p) with p = 0.001: at most 0.1 % of any\n"
      "word's output mass lies beyond gamma.";
  m.basis = EpsBasis::kProven;
  m.citation = "truncated exponential mechanism, Carvalho et al. 2023";
  m.flags = {{"tem-gamma",
              MechanismFlag::Kind::kNumber,
              "tem: truncation distance gamma > 0 [(2/eps) ln((|V|-1)(1-p)/p), p = 0.001]",
              {},
              ""}};
  m.validate = ValidateTem;
  m.make_plan = MakeTemPlan;
  return m;
}

ExpMechPlan::ExpMechPlan(std::string name, double eps, const ExpMechParams& params,
                         bool default_gamma)
    : name_(std::move(name)), eps_(eps), params_(params), default_gamma_(default_gamma) {}

std::string ExpMechPlan::basis_detail() const {
  return name_ == "em"
             ? "exponential mechanism over the whole vocabulary, beta = eps/2 (McSherry & Talwar "
               "2007; SanText, Yue et al. 2021)"
             : "truncated exponential mechanism, beta = eps/2, score min(d, gamma) (Carvalho et "
               "al. 2023)";
}

std::string ExpMechPlan::statement_clause() const {
  return name_ == "em" ? "a proven bound (exponential mechanism, McSherry & Talwar 2007)"
                       : "a proven bound (truncated exponential mechanism, Carvalho et al. 2023)";
}

std::vector<PlanRow> ExpMechPlan::Rows() const {
  std::vector<PlanRow> rows;
  rows.push_back({"beta", params_.beta, "(eps / 2: P[M(w) = y] ~ exp(-beta s(w, y)))"});
  if (std::isfinite(params_.gamma)) {
    rows.push_back(
        {"gamma", params_.gamma,
         default_gamma_ ? "(default: (2/eps) ln((|V|-1)(1-p)/p), p = 0.001)" : "(--tem-gamma)"});
    rows.push_back({"gamma_rule", default_gamma_ ? "default p = 0.001" : "explicit", "",
                    PlanRow::kLedger | PlanRow::kJson});
  }
  rows.push_back({"law", "exact over the whole vocabulary (rejection sampling, no dropped tail)",
                  "", PlanRow::kLedger});
  return rows;
}

StatusOr<std::unique_ptr<Mechanism>> ExpMechPlan::Build(const BuildContext& ctx) const {
  DPS_ASSIGN_OR_RETURN(NeighborAccess nb, ctx.exact_neighbors());
  // The head is as deep as the lists that come without a scan: a deeper head
  // would scan per word, a shallower one would reject more tail draws. The
  // prepared tail bounds, when present, tighten the tail's envelope (same law).
  return std::unique_ptr<Mechanism>(std::make_unique<ExpMechMechanism>(
      params_, ctx.vectors, *nb.source, nb.depth, std::move(nb.prefetch), ctx.tail_bounds));
}

StatusOr<std::unique_ptr<OutputLaw>> ExpMechPlan::Law(const LawContext& ctx) const {
  return MakeExpMechOutputLaw(params_, ctx);
}

}  // namespace dpsanitize
