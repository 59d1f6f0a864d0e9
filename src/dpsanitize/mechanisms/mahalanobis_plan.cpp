// mahalanobis in the registry. --eps E is Euclidean, as for every other
// mechanism: the paper's mechanism is eps_R d_R-private, and since
// d_R(x, y) = ||Sigma_lambda^{-1/2} (x - y)|| <= ||x - y|| / sqrt(lambda_min),
// eps_R = E sqrt(mu), mu <= lambda_min(Sigma_lambda) certified, makes it
// E-metric-DP in the Euclidean distance (a proven bound). Sigma_lambda, its
// factor and mu are computed once per run from the perturbation vocabulary.
#include "dpsanitize/mechanisms/mahalanobis_plan.h"

#include <fmt/format.h>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dpsanitize/mechanisms/covariance.h"
#include "dpsanitize/mechanisms/mahalanobis.h"
#include "dpsanitize/mechanisms/mvl.h"
#include "dpsanitize/mechanisms/mvl_law.h"
#include "dpsanitize/mechanisms/mvl_plan.h"

namespace dpsanitize {
namespace {

// Document ids of the audit's streams ("mhl" + word id), apart from mvl's.
constexpr uint64_t kMahalanobisDoc = 0x6d686c0000000000ULL;

class MahalanobisPlan : public MechanismPlan {
 public:
  MahalanobisPlan(double eps, MahalanobisNoiseSetup setup, bool exact_search)
      : eps_(eps),
        setup_(std::move(setup)),
        eps_r_(eps * std::sqrt(setup_.bound.mu)),
        exact_search_(exact_search) {}
  std::optional<double> eps() const override { return eps_; }
  EpsBasis basis() const override { return EpsBasis::kProven; }
  std::string basis_detail() const override {
    return "regularised Mahalanobis mechanism, Xu et al. PrivateNLP 2020: eps_r d_R-private, "
           "d_R(x, y) = ||Sigma_lambda^(-1/2) (x - y)||; Euclidean eps = eps_r / sqrt(mu), mu a "
           "certified lower bound on the smallest eigenvalue of Sigma_lambda";
  }
  std::string statement_clause() const override {
    return "a proven bound (Xu et al. 2020, via the smallest eigenvalue of Sigma_lambda)";
  }
  std::vector<PlanRow> Rows() const override {
    std::vector<PlanRow> rows = MahalanobisNoiseRows(setup_, eps_r_);
    rows.push_back(
        {"mvl_search", exact_search_ ? "exact" : "hnsw", "(nearest-word step; post-processing)"});
    return rows;
  }
  StatusOr<std::unique_ptr<Mechanism>> Build(const BuildContext& ctx) const override {
    DPS_ASSIGN_OR_RETURN(const NearestWordFinder* finder, ctx.nearest_finder(exact_search_));
    return std::unique_ptr<Mechanism>(
        std::make_unique<MahalanobisMechanism>(eps_r_, *setup_.shape, ctx.vectors, *finder));
  }
  StatusOr<std::unique_ptr<OutputLaw>> Law(const LawContext& ctx) const override {
    // The law is used from one thread (not concurrent), so one scratch buffer.
    auto scratch = std::make_shared<std::vector<double>>(setup_.shape->dim);
    return MakeNoisyPointOutputLaw(
        [shape = setup_.shape, eps_r = eps_r_, scratch](WordRng& rng, double* dir) {
          return MahalanobisNoise(*shape, eps_r, rng, scratch->data(), dir);
        },
        kMahalanobisDoc, ctx);
  }

 private:
  double eps_;
  MahalanobisNoiseSetup setup_;
  double eps_r_;
  bool exact_search_;
};

Status ValidateMahalanobis(const Config& c) {
  if (!c.eps) return UsageError("--eps: required");
  return ValidateLambda(c);
}

StatusOr<std::unique_ptr<MechanismPlan>> MakeMahalanobisPlan(const Config& c,
                                                             const PlanInputs& in) {
  DPS_ASSIGN_OR_RETURN(MahalanobisNoiseSetup setup, SetUpMahalanobisNoise(c, in));
  const bool exact = OptionText(c, "mvl-search", "exact") == "exact";
  return std::unique_ptr<MechanismPlan>(
      std::make_unique<MahalanobisPlan>(*c.eps, std::move(setup), exact));
}

}  // namespace

MechanismFlag LambdaFlag() {
  return {"lambda",
          MechanismFlag::Kind::kNumber,
          "mahalanobis, vickrey: regularisation lambda in [0, 1] (0: mvl's noise; 1: Sigma)",
          {},
          fmt::format("{}", kDefaultMahalanobisLambda)};
}

Status ValidateLambda(const Config& c) {
  if (const auto l = OptionNumber(c, "lambda"); l && !(*l >= 0 && *l <= 1)) {
    return UsageError("--lambda {}: must be between 0 and 1", *l);
  }
  return Status::Ok();
}

StatusOr<MahalanobisNoiseSetup> SetUpMahalanobisNoise(const Config& c, const PlanInputs& in) {
  const auto given = OptionNumber(c, "lambda");
  MahalanobisNoiseSetup s;
  s.lambda = given ? *given : kDefaultMahalanobisLambda;
  s.lambda_given = given.has_value();
  auto shape = std::make_shared<MahalanobisShape>();
  shape->dim = in.vectors.dim;
  if (s.lambda == 0) {
    // Sigma_lambda = I: no covariance needed, and the noise is mvl's bit for
    // bit (MahalanobisNoise skips the factor), so the output equals mvl's.
    s.bound.mu = s.bound.min_est = s.bound.max_est = 1;
    s.bound.identity = true;
    shape->identity = true;
  } else {
    if (in.progress) {
      in.progress(fmt::format("covariance of {} vocabulary vectors", in.vectors.n));
    }
    DPS_ASSIGN_OR_RETURN(SymMatrix sigma, VocabularyCovariance(in.vectors));
    const SymMatrix reg = RegularisedCovariance(sigma, s.lambda);
    DPS_ASSIGN_OR_RETURN(s.bound, CertifiedMinEigenvalue(reg));
    shape->identity = s.bound.identity;
    if (!Cholesky(reg, &shape->factor)) {
      return InternalError("mahalanobis: Cholesky of Sigma_lambda failed after certification");
    }
  }
  s.shape = std::move(shape);
  return s;
}

std::vector<PlanRow> MahalanobisNoiseRows(const MahalanobisNoiseSetup& s, double eps_r) {
  return {
      {"lambda", s.lambda,
       s.lambda_given ? "(--lambda: Sigma_lambda = lambda Sigma + (1 - lambda) I)"
                      : "(default: Sigma_lambda = lambda Sigma + (1 - lambda) I)"},
      {"eps_r", eps_r, "(the paper's eps, per unit of d_R: eps sqrt(lambda_min_bound))"},
      {"lambda_min_bound", s.bound.mu,
       s.bound.identity ? "(Sigma_lambda = I exactly)"
                        : "(certified lower bound on the smallest eigenvalue of Sigma_lambda)"},
      {"lambda_min_estimate", s.bound.min_est, "(Jacobi)", PlanRow::kLedger | PlanRow::kJson},
      {"lambda_max_estimate", s.bound.max_est, "(Jacobi)", PlanRow::kLedger | PlanRow::kJson},
      {"sigma",
       s.lambda == 0 ? "not used (lambda = 0)"
                     : "centred covariance of the vocabulary's vectors (divisor |V|), scaled "
                       "to trace n",
       "", PlanRow::kLedger | PlanRow::kJson},
      {"noise", "Gamma(n, 1/eps_r) A X, A A^T = Sigma_lambda (Cholesky), not renormalised", "",
       PlanRow::kLedger},
  };
}

MechanismInfo MahalanobisMechanismInfo() {
  MechanismInfo m;
  m.name = "mahalanobis";
  m.summary = "regularised Mahalanobis noise (Xu et al., PrivateNLP 2020); proven epsilon";
  m.description =
      "regularised Mahalanobis mechanism (Xu et al., PrivateNLP 2020): mvl's\n"
      "noise shaped by Sigma_lambda = lambda Sigma + (1 - lambda) I (Sigma: the\n"
      "vocabulary's covariance, trace n), then the nearest word. --eps is\n"
      "Euclidean like every mechanism's: the paper's eps_r = eps sqrt(lambda_min)\n"
      "makes it eps-metric-DP (a proven bound). At equal eps it adds more noise\n"
      "than mvl in every direction, so expect less utility than mvl.";
  m.basis = EpsBasis::kProven;
  m.citation = "Xu et al. 2020";
  m.flags = {LambdaFlag(), MvlSearchFlag()};
  m.validate = ValidateMahalanobis;
  m.make_plan = MakeMahalanobisPlan;
  return m;
}

}  // namespace dpsanitize
