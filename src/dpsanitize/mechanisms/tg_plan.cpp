// tg in the registry. The calibration itself is calibration.cpp; this file
// decides between --eps and expert mode, and says what the result claims.
#include "dpsanitize/mechanisms/tg_plan.h"

#include <fmt/format.h>

#include "dpsanitize/mechanisms/tg_law.h"

namespace dpsanitize {
namespace {

// The combinations of --eps and the expert options. The calibration from
// --eps assumes the default mu and the certified delta_max, so --mu and
// --delta-max only make sense with an explicit --gumbel-scale.
Status ValidateTg(const Config& c) {
  const auto b = OptionNumber(c, "gumbel-scale");
  const auto mu = OptionNumber(c, "mu");
  const auto dmax = OptionNumber(c, "delta-max");
  if (b && !(*b > 0))
    return UsageError("--gumbel-scale {}: must be a finite number greater than 0", *b);
  if (dmax && !(*dmax > 0)) {
    return UsageError("--delta-max {}: must be a finite number greater than 0", *dmax);
  }
  if (mu && !(*mu >= 0)) return UsageError("--mu {}: must be a finite number of at least 0", *mu);
  if ((mu || dmax) && !b) {
    return UsageError(
        "--mu/--delta-max: only valid with --gumbel-scale (the calibration from --eps assumes "
        "the default mu and the certified delta_max)");
  }
  if (b && c.eps) return UsageError("--eps and --gumbel-scale: give one or the other, not both");
  if (!b && !c.eps) return UsageError("--eps: required (or --gumbel-scale for explicit noise)");
  return Status::Ok();
}

StatusOr<std::unique_ptr<MechanismPlan>> MakeTgPlan(const Config& c, const PlanInputs& in) {
  // tg needs delta_min (its calibration domain) and delta_max (the noise
  // bound) even in expert mode, where delta_max is the default bound.
  DPS_ASSIGN_OR_RETURN(const VocabStats stats, in.stats());
  TgParams params;
  std::optional<TgCalibration> cal;
  if (const auto b = OptionNumber(c, "gumbel-scale")) {
    params.b = *b;
    params.mu = OptionNumber(c, "mu").value_or(DefaultMu(in.vocab_size));
    params.delta_max = OptionNumber(c, "delta-max").value_or(stats.delta_max);
  } else {
    DPS_ASSIGN_OR_RETURN(cal, CalibrateTg(*c.eps, in.vocab_size, stats.delta_min, stats.delta_max));
    params.b = cal->b;
    params.mu = cal->mu;
    params.delta_max = cal->delta_max;
  }
  return std::unique_ptr<MechanismPlan>(
      std::make_unique<TgPlan>(in.vocab_size, stats, in.stats_stored, params, cal,
                               OptionNumber(c, "delta-max").has_value()));
}

}  // namespace

MechanismInfo TgMechanismInfo() {
  MechanismInfo m;
  m.name = "tg";
  m.summary = "truncated Gumbel (Xu et al., FLAIRS 2021); nominal epsilon";
  m.description =
      "truncated Gumbel (Xu et al., FLAIRS 2021), the seed paper's mechanism.\n"
      "Its epsilon is NOMINAL: the paper's theorem under its calibration, defined\n"
      "only above eps_min = (2(1 + ln|V|) + 3) / delta_min (about 44 for the\n"
      "default 50,000 words; see `dpsanitize calibrate`). dpsanitize's exact audit\n"
      "measured its actual loss at 10^3 to 10^5 times the nominal epsilon\n"
      "(docs/privacy-audit.md): an output reachable from one word only through a\n"
      "rare large Poisson draw can be likely from a nearby word.";
  m.basis = EpsBasis::kNominal;
  m.citation = "Xu et al. 2021 truncated Gumbel calibration";
  m.flags = {
      {"gumbel-scale",
       MechanismFlag::Kind::kNumber,
       "tg expert mode: Gumbel scale b instead of --eps (claims no epsilon)",
       {},
       ""},
      {"mu",
       MechanismFlag::Kind::kNumber,
       "tg expert mode, with --gumbel-scale: Poisson mean [ln(|V|-1)]",
       {},
       ""},
      {"delta-max",
       MechanismFlag::Kind::kNumber,
       "tg expert mode, with --gumbel-scale: noise bound [certified delta_max]",
       {},
       ""},
  };
  m.validate = ValidateTg;
  m.make_plan = MakeTgPlan;
  return m;
}

TgPlan::TgPlan(uint64_t vocab_size, const VocabStats& stats, bool stats_stored,
               const TgParams& params, std::optional<TgCalibration> calibration,
               bool explicit_delta_max)
    : vocab_size_(vocab_size),
      stats_(stats),
      stats_stored_(stats_stored),
      params_(params),
      calibration_(calibration),
      explicit_delta_max_(explicit_delta_max) {}

std::optional<double> TgPlan::eps() const {
  if (calibration_) return calibration_->eps;
  return std::nullopt;
}

EpsBasis TgPlan::basis() const { return calibration_ ? EpsBasis::kNominal : EpsBasis::kNone; }

std::string TgPlan::basis_detail() const {
  return calibration_ ? "truncated Gumbel calibration of Xu et al. FLAIRS 2021 (MLDP form, domain "
                        "eps > eps_min)"
                      : "explicit noise parameters (--gumbel-scale)";
}

// What dpsanitize's own exact audit found (docs/privacy-audit.md), stated
// wherever tg's epsilon is: the ledger's statement and `calibrate`.
constexpr const char* kTgAuditFinding =
    "dpsanitize's exact privacy audit measured tg's actual worst-case loss at 10^3 to 10^5 times "
    "this nominal epsilon on the default embedding, and unbounded for outputs beyond the Poisson "
    "depth (docs/privacy-audit.md)";

std::string TgPlan::statement_clause() const {
  return std::string(
             "nominal: the theorem of Xu et al. 2021 under its calibration, not a verified "
             "worst-case bound; ") +
         kTgAuditFinding;
}

std::vector<PlanRow> TgPlan::Rows() const {
  std::vector<PlanRow> rows;
  rows.push_back({"delta_min", stats_.delta_min,
                  stats_stored_ ? "(exact, stored by prepare)" : "(exact, computed now)"});
  rows.push_back({"delta_min_kind", "exact", "", PlanRow::kLedger});
  rows.push_back({"delta_max", params_.delta_max,
                  explicit_delta_max_      ? "(explicit)"
                  : stats_.delta_max_exact ? "(exact)"
                                           : "(certified bound: 2 x max distance to centroid)"});
  rows.push_back({"delta_max_kind",
                  explicit_delta_max_      ? "explicit"
                  : stats_.delta_max_exact ? "exact"
                                           : "certified_bound",
                  "", PlanRow::kLedger | PlanRow::kJson});
  if (calibration_) {
    rows.push_back(
        {"eps_min", calibration_->eps_min, "(calibration defined only for eps > eps_min)"});
    rows.push_back({"a", calibration_->a, ""});
  }
  rows.push_back({"b", params_.b, "(Gumbel scale)"});
  rows.push_back({"mu", params_.mu, "(Poisson mean, ln(|V| - 1))"});
  if (calibration_) {
    rows.push_back({"audit_finding", kTgAuditFinding, "", PlanRow::kJson | PlanRow::kText});
  }
  rows.push_back({"neighbours", "exact (double-precision re-rank of FAISS IndexFlatL2)", "",
                  PlanRow::kLedger});
  return rows;
}

StatusOr<std::unique_ptr<Mechanism>> TgPlan::Build(const BuildContext& ctx) const {
  DPS_ASSIGN_OR_RETURN(NeighborAccess nb, ctx.exact_neighbors());
  return std::unique_ptr<Mechanism>(
      std::make_unique<TgMechanism>(params_, vocab_size_, *nb.source, std::move(nb.prefetch)));
}

StatusOr<std::unique_ptr<OutputLaw>> TgPlan::Law(const LawContext& ctx) const {
  return MakeTgOutputLaw(params_, vocab_size_, ctx);
}

}  // namespace dpsanitize
