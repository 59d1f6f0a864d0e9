// vickrey in the registry. The choice between the two nearest words is a
// function of the noisy point, the public vocabulary and an independent
// uniform, so the mechanism keeps its base noise's guarantee: --eps E is
// mvl's proven E (Feyisetan et al. 2020), or with --vickrey-noise mahalanobis
// the Mahalanobis mechanism's Euclidean E (eps_r = E sqrt(mu), as
// mahalanobis_plan.cpp derives). t changes utility only, never the claim.
#include "dpsanitize/mechanisms/vickrey_plan.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dpsanitize/mechanisms/mahalanobis_plan.h"
#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/mvl_law.h"
#include "dpsanitize/mechanisms/mvl_plan.h"
#include "dpsanitize/mechanisms/vickrey.h"

namespace dpsanitize {
namespace {

// Document ids of the audit's streams ("vck" + word id), apart from mvl's
// and mahalanobis's.
constexpr uint64_t kVickreyDoc = 0x76636b0000000000ULL;

class VickreyPlan : public MechanismPlan {
 public:
  VickreyPlan(double eps, double t, bool t_given, std::optional<MahalanobisNoiseSetup> mahalanobis,
              std::shared_ptr<const MahalanobisShape> shape, bool exact_search)
      : eps_(eps),
        t_(t),
        t_given_(t_given),
        mahalanobis_(std::move(mahalanobis)),
        shape_(std::move(shape)),
        eps_noise_(mahalanobis_ ? eps * std::sqrt(mahalanobis_->bound.mu) : eps),
        exact_search_(exact_search) {}
  std::optional<double> eps() const override { return eps_; }
  EpsBasis basis() const override { return EpsBasis::kProven; }
  std::string basis_detail() const override {
    const std::string base =
        mahalanobis_
            ? "the regularised Mahalanobis mechanism, Xu et al. PrivateNLP 2020 (eps_r "
              "d_R-private; "
              "Euclidean eps = eps_r / sqrt(mu), mu a certified lower bound on the smallest "
              "eigenvalue of Sigma_lambda)"
            : "multivariate Laplace, Feyisetan et al. WSDM 2020";
    return "Vickrey choice of the nearest or second-nearest word, Xu et al. PrivateNLP 2021: "
           "post-processing of the noisy point of " +
           base;
  }
  std::string statement_clause() const override {
    return mahalanobis_ ? "a proven bound (Xu et al. 2020 noise, via the smallest eigenvalue of "
                          "Sigma_lambda; Vickrey's choice is post-processing)"
                        : "a proven bound (Feyisetan et al. 2020 noise; Vickrey's choice is "
                          "post-processing)";
  }
  std::vector<PlanRow> Rows() const override {
    std::vector<PlanRow> rows = {
        {"vickrey_t", t_,
         t_given_ ? "(--vickrey-t: P[second-nearest] = t d1 / (t d1 + (1 - t) d2))"
                  : "(default: P[second-nearest] = t d1 / (t d1 + (1 - t) d2))"},
        {"vickrey_noise", mahalanobis_ ? "mahalanobis" : "mvl", "(the base noise)"},
    };
    if (mahalanobis_) {
      for (PlanRow& r : MahalanobisNoiseRows(*mahalanobis_, eps_noise_)) rows.push_back(r);
    }
    rows.push_back(
        {"mvl_search", exact_search_ ? "exact" : "hnsw", "(nearest-words step; post-processing)"});
    return rows;
  }
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext& ctx) const override {
    DPS_ASSIGN_OR_RETURN(const NearestWordFinder* finder, ctx.nearest_finder(exact_search_));
    return std::unique_ptr<Mechanism>(
        std::make_unique<VickreyMechanism>(t_, eps_noise_, *shape_, ctx.vectors, *finder));
  }
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const override {
    // The law is used from one thread (not concurrent), so one scratch buffer.
    auto scratch = std::make_shared<std::vector<double>>(shape_->dim);
    return MakeNoisyPointOutputLaw(
        [shape = shape_, eps = eps_noise_, scratch](WordRng& rng, double* dir) {
          return MahalanobisNoise(*shape, eps, rng, scratch->data(), dir);
        },
        kVickreyDoc, ctx, t_);
  }

 private:
  double eps_;
  double t_;
  bool t_given_;
  std::optional<MahalanobisNoiseSetup> mahalanobis_;  // set: Mahalanobis noise
  std::shared_ptr<const MahalanobisShape> shape_;     // identity for mvl's noise
  double eps_noise_;                                  // mvl's eps, or eps_r
  bool exact_search_;
};

Status ValidateVickrey(const Config& c) {
  if (!c.eps) return UsageError("--eps: required");
  if (const auto t = OptionNumber(c, "vickrey-t"); t && !(*t >= 0 && *t <= 1)) {
    return UsageError("--vickrey-t {}: must be between 0 and 1", *t);
  }
  if (OptionNumber(c, "lambda") && OptionText(c, "vickrey-noise", "mvl") != "mahalanobis") {
    return UsageError("--lambda: only valid with --vickrey-noise mahalanobis");
  }
  return ValidateLambda(c);
}

StatusOr<std::unique_ptr<MechanismPlan>> MakeVickreyPlan(const Config& c, const PlanInputs& in) {
  const auto given = OptionNumber(c, "vickrey-t");
  const double t = given ? *given : kDefaultVickreyT;
  std::optional<MahalanobisNoiseSetup> mahalanobis;
  std::shared_ptr<const MahalanobisShape> shape;
  if (OptionText(c, "vickrey-noise", "mvl") == "mahalanobis") {
    DPS_ASSIGN_OR_RETURN(MahalanobisNoiseSetup s, SetUpMahalanobisNoise(c, in));
    shape = s.shape;
    mahalanobis = std::move(s);
  } else {
    // mvl's noise: MahalanobisNoise with the identity shape draws MvlNoise.
    auto id = std::make_shared<MahalanobisShape>();
    id->dim = in.vectors.dim;
    id->identity = true;
    shape = std::move(id);
  }
  const bool exact = OptionText(c, "mvl-search", "exact") == "exact";
  return std::unique_ptr<MechanismPlan>(std::make_unique<VickreyPlan>(
      *c.eps, t, given.has_value(), std::move(mahalanobis), std::move(shape), exact));
}

}  // namespace

MechanismInfo VickreyMechanismInfo() {
  MechanismInfo m;
  m.name = "vickrey";
  m.summary =
      "Vickrey: nearest or second-nearest word (Xu et al., PrivateNLP 2021); proven epsilon";
  m.description =
      "Vickrey mechanism (Xu et al., PrivateNLP 2021): mvl's noise (or, with\n"
      "--vickrey-noise mahalanobis, the Mahalanobis mechanism's), then the\n"
      "second-nearest word to the noisy point with probability\n"
      "t d1 / (t d1 + (1 - t) d2), else the nearest. The choice is\n"
      "post-processing, so eps is the base noise's (a proven bound) for every t.";
  m.basis = EpsBasis::kProven;
  m.citation = "Xu et al. 2021";
  m.flags = {{"vickrey-t",
              MechanismFlag::Kind::kNumber,
              "vickrey: t in [0, 1], P[second-nearest] at a tie (0: the base mechanism)",
              {},
              fmt::format("{}", kDefaultVickreyT)},
             {"vickrey-noise",
              MechanismFlag::Kind::kChoice,
              "vickrey: base noise, mvl or mahalanobis (then --lambda applies)",
              {"mvl", "mahalanobis"},
              "mvl"},
             LambdaFlag(),
             MvlSearchFlag()};
  m.validate = ValidateVickrey;
  m.make_plan = MakeVickreyPlan;
  return m;
}

}  // namespace dpsanitize
