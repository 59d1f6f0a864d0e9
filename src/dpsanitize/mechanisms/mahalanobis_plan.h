// mahalanobis's registry entry: the regularised Mahalanobis mechanism (Xu et
// al. 2020), the sampler in mahalanobis.h, Sigma_lambda and its certified
// smallest eigenvalue in covariance.h, a Monte Carlo output law like mvl's.
#ifndef DPSANITIZE_MECHANISMS_MAHALANOBIS_PLAN_H_
#define DPSANITIZE_MECHANISMS_MAHALANOBIS_PLAN_H_

#include <memory>
#include <vector>

#include "dpsanitize/mechanisms/covariance.h"
#include "dpsanitize/mechanisms/mahalanobis.h"
#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

// Default regularisation: MLDP's constructor default (docs/mechanism.md).
inline constexpr double kDefaultMahalanobisLambda = 0.2;

// The Mahalanobis noise of one run: Sigma_lambda's factor and its certified
// smallest eigenvalue, from --lambda (or the default) and the vocabulary.
// Shared by mahalanobis and vickrey's --vickrey-noise mahalanobis.
struct MahalanobisNoiseSetup {
  double lambda = 0;
  bool lambda_given = false;
  MinEigenBound bound;
  std::shared_ptr<const MahalanobisShape> shape;
};
StatusOr<MahalanobisNoiseSetup> SetUpMahalanobisNoise(const Config& c, const PlanInputs& in);
// --lambda, shared with vickrey (--vickrey-noise mahalanobis).
MechanismFlag LambdaFlag();
// Checks --lambda (usage error naming it).
Status ValidateLambda(const Config& c);
// The ledger/calibrate rows of that noise at eps_r (lambda, eps_r, the bound).
std::vector<PlanRow> MahalanobisNoiseRows(const MahalanobisNoiseSetup& s, double eps_r);

MechanismInfo MahalanobisMechanismInfo();

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MAHALANOBIS_PLAN_H_
