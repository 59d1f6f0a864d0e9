// The registry entries of the exponential-mechanism selectors with a proof
// (spec section 2b): em (the exponential mechanism over the whole vocabulary)
// and tem (its truncated form, Carvalho et al.). Sampler: exp_mech.h.
#ifndef DPSANITIZE_MECHANISMS_EM_PLAN_H_
#define DPSANITIZE_MECHANISMS_EM_PLAN_H_

#include "dpsanitize/mechanisms/exp_mech.h"
#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

MechanismInfo EmMechanismInfo();
MechanismInfo TemMechanismInfo();

// The calibrated plan of em or tem; params() for the audit, tests, benchmarks.
class ExpMechPlan : public MechanismPlan {
 public:
  ExpMechPlan(std::string name, double eps, const ExpMechParams& params, bool default_gamma);
  std::optional<double> eps() const override { return eps_; }
  EpsBasis basis() const override { return EpsBasis::kProven; }
  std::string basis_detail() const override;
  std::string statement_clause() const override;
  std::vector<PlanRow> Rows() const override;
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext& ctx) const override;
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const override;
  const ExpMechParams& params() const { return params_; }

 private:
  std::string name_;  // "em" or "tem"
  double eps_;
  ExpMechParams params_;
  bool default_gamma_;  // tem: gamma from DefaultTemGamma
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_EM_PLAN_H_
