// Registry plans of the noisy-point mechanisms (mvl, mahalanobis, vickrey)
// for the statistical tests: a plan from --eps and options on a vocabulary,
// its sampler's outputs with a given finder, one of its numeric rows.
#ifndef DPSANITIZE_TESTS_STATISTICAL_PLAN_HELPERS_H_
#define DPSANITIZE_TESTS_STATISTICAL_PLAN_HELPERS_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

inline std::unique_ptr<MechanismPlan> PlanFor(const std::string& mechanism, double eps,
                                              const std::map<std::string, std::string>& options,
                                              VectorSet vectors) {
  Config c;
  c.mechanism = mechanism;
  c.eps = eps;
  c.mechanism_options = options;
  const Status valid = ValidateMechanismOptions(c);
  EXPECT_TRUE(valid.ok()) << valid.message();
  PlanInputs in;
  in.vocab_size = vectors.n;
  in.dim = vectors.dim;
  in.vectors = vectors;
  auto plan = FindMechanism(mechanism)->make_plan(c, in);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return std::move(plan).value();
}

// The plan's sampler on `in`, keyed by `seed`, with `finder` as both the
// exact and the approximate nearest-word finder.
inline std::vector<WordId> Outputs(const MechanismPlan& plan, VectorSet vectors,
                                   const NearestWordFinder& finder, const std::vector<WordDraw>& in,
                                   const std::string& seed) {
  BuildContext ctx;
  ctx.vectors = vectors;
  ctx.nearest_finder = [&finder](bool) -> StatusOr<const NearestWordFinder*> { return &finder; };
  auto mech = plan.Build(ctx);
  EXPECT_TRUE(mech.ok());
  std::vector<WordId> out(in.size());
  (*mech)->Perturb(in.data(), in.size(), RunKey::FromSeed(seed), out.data());
  return out;
}

inline double RowNumber(const MechanismPlan& plan, const std::string& key) {
  for (const PlanRow& r : plan.Rows()) {
    if (r.key == key) return r.value.get<double>();
  }
  ADD_FAILURE() << "no row " << key;
  return 0;
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_TESTS_STATISTICAL_PLAN_HELPERS_H_
