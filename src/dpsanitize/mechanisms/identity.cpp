// The identity "mechanism": no privacy at all. Library-only (benchmarks
// measure what dpsanitize costs without noise; tests); the CLI never offers
// it, and its ledger claims no epsilon.
#include "dpsanitize/mechanisms/identity.h"

namespace dpsanitize {
namespace {

class IdentityPlan : public MechanismPlan {
 public:
  std::optional<double> eps() const override { return std::nullopt; }
  EpsBasis basis() const override { return EpsBasis::kNone; }
  std::string basis_detail() const override { return "identity: no privacy"; }
  std::string statement_clause() const override { return "no privacy"; }
  std::vector<PlanRow> Rows() const override { return {}; }
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext&) const override {
    return std::unique_ptr<Mechanism>(std::make_unique<IdentityMechanism>());
  }
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext&) const override {
    return UsageError("audit: the identity mechanism has no privacy to audit");
  }
};

}  // namespace

MechanismInfo IdentityMechanismInfo() {
  MechanismInfo m;
  m.name = "identity";
  m.summary = "no perturbation (library only: benchmarks and tests)";
  m.description = "no perturbation; no privacy.";
  m.basis = EpsBasis::kNone;
  m.citation = "none";
  m.cli = false;
  m.validate = [](const Config&) { return Status::Ok(); };
  m.make_plan = [](const Config&, const PlanInputs&) -> StatusOr<std::unique_ptr<MechanismPlan>> {
    return std::unique_ptr<MechanismPlan>(std::make_unique<IdentityPlan>());
  };
  return m;
}

}  // namespace dpsanitize
