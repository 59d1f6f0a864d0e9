// mvl in the registry: no calibration (the noise scale is 1/eps), a proven
// bound for any eps > 0, and a nearest-word step that is post-processing, so
// it may use an approximate index (--mvl-search).
#include "dpsanitize/mechanisms/mvl_plan.h"

#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/mvl_law.h"

namespace dpsanitize {
namespace {

class MvlPlan : public MechanismPlan {
 public:
  MvlPlan(double eps, bool exact_search) : eps_(eps), exact_search_(exact_search) {}
  std::optional<double> eps() const override { return eps_; }
  EpsBasis basis() const override { return EpsBasis::kProven; }
  std::string basis_detail() const override {
    return "multivariate Laplace, Feyisetan et al. WSDM 2020";
  }
  std::string statement_clause() const override { return "a proven bound (Feyisetan et al. 2020)"; }
  std::vector<PlanRow> Rows() const override {
    return {{"mvl_search", exact_search_ ? "exact" : "hnsw", "(nearest-word step; post-processing)",
             PlanRow::kEverywhere}};
  }
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext& ctx) const override {
    DPS_ASSIGN_OR_RETURN(const NearestWordFinder* finder, ctx.nearest_finder(exact_search_));
    return std::unique_ptr<Mechanism>(std::make_unique<MvlMechanism>(eps_, ctx.vectors, *finder));
  }
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const override {
    return MakeMvlOutputLaw(eps_, ctx);
  }

 private:
  double eps_;
  bool exact_search_;
};

Status ValidateMvl(const Config& c) {
  if (!c.eps) return UsageError("--eps: required");
  return Status::Ok();
}

StatusOr<std::unique_ptr<MechanismPlan>> MakeMvlPlan(const Config& c, const PlanInputs&) {
  return std::unique_ptr<MechanismPlan>(
      std::make_unique<MvlPlan>(*c.eps, OptionText(c, "mvl-search", "exact") == "exact"));
}

}  // namespace

MechanismFlag MvlSearchFlag() {
  return {"mvl-search",
          MechanismFlag::Kind::kChoice,
          "mvl/mahalanobis/vickrey nearest-word search: exact or hnsw",
          {"exact", "hnsw"},
          "exact"};
}

MechanismInfo MvlMechanismInfo() {
  MechanismInfo m;
  m.name = "mvl";
  m.summary = "multivariate Laplace (Feyisetan et al., WSDM 2020); proven epsilon";
  m.description =
      "multivariate Laplace (Feyisetan et al., WSDM 2020): eps-metric-DP for\n"
      "any eps > 0 (a proven bound).";
  m.basis = EpsBasis::kProven;
  m.citation = "Feyisetan et al. 2020";
  m.flags = {MvlSearchFlag()};
  m.validate = ValidateMvl;
  m.make_plan = MakeMvlPlan;
  return m;
}

}  // namespace dpsanitize
