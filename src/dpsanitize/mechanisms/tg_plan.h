// tg's registry entry and plan: calibration from --eps (Xu et al. 2021, MLDP
// form) or explicit noise (--gumbel-scale, --mu, --delta-max), the ledger's
// parameters, the sampler (tg.h) and its exact output law (tg_law.h).
#ifndef DPSANITIZE_MECHANISMS_TG_PLAN_H_
#define DPSANITIZE_MECHANISMS_TG_PLAN_H_

#include <optional>

#include "dpsanitize/mechanisms/calibration.h"
#include "dpsanitize/mechanisms/registry.h"
#include "dpsanitize/mechanisms/tg.h"

namespace dpsanitize {

MechanismInfo TgMechanismInfo();

class TgPlan : public MechanismPlan {
 public:
  TgPlan(uint64_t vocab_size, const VocabStats& stats, bool stats_stored, const TgParams& params,
         std::optional<TgCalibration> calibration, bool explicit_delta_max);
  std::optional<double> eps() const override;
  EpsBasis basis() const override;
  std::string basis_detail() const override;
  std::string statement_clause() const override;
  std::vector<PlanRow> Rows() const override;
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext& ctx) const override;
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const override;

  // The noise actually used, and the calibration it came from (none in
  // expert mode); for benchmarks and tests.
  const TgParams& params() const { return params_; }
  const std::optional<TgCalibration>& calibration() const { return calibration_; }
  const VocabStats& stats() const { return stats_; }

 private:
  uint64_t vocab_size_;
  VocabStats stats_;
  bool stats_stored_;
  TgParams params_;
  std::optional<TgCalibration> calibration_;
  bool explicit_delta_max_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_TG_PLAN_H_
