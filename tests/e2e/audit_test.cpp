// `dpsanitize audit` end to end: it takes the mechanism options of a sanitize
// run (--lambda, --tem-gamma, ...), refuses them as a sanitize run does, and
// its report states the plan they calibrated. Small audits (a pair or two, a
// word per density decile, few Monte Carlo draws) on the prepared fixture:
// the audit's numbers are tested in tests/statistical/audit_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

class AuditCommandTest : public E2eTest {
 protected:
  // audit --embedding <fixture> --eps eps --mechanism mechanism, as small as
  // the options allow, then `more`.
  RunResult Audit(const std::string& mechanism, const std::string& eps,
                  const std::vector<std::string>& more) {
    std::vector<std::string> args{"audit", "--embedding",     Embedding(), "--eps",
                                  eps,     "--mechanism",     mechanism,   "--pairs",
                                  "2",     "--utility-words", "1",         "--samples",
                                  "100",   "--threads",       "2"};
    args.insert(args.end(), more.begin(), more.end());
    return RunBinary(args, {dir_.path()});
  }
};

// One stderr line naming the flag, exit 2, nothing on stdout.
void ExpectUsageError(const RunResult& r, const std::string& flag, const std::string& says) {
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_THAT(r.err, StartsWith("dpsanitize: " + flag));
  EXPECT_THAT(r.err, HasSubstr(says));
}

TEST_F(AuditCommandTest, LambdaReachesTheAuditedPlan) {
  const RunResult r = Audit("mahalanobis", "10", {"--lambda", "0.5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mechanism"], "mahalanobis");
  const nlohmann::json& c = j["calibration"];
  EXPECT_EQ(c["lambda"], 0.5) << c.dump();
  // The plan calibrated at lambda 0.5: eps_r = eps sqrt(lambda_min_bound), and
  // lambda_min(0.5 Sigma + 0.5 I) > 0.5.
  const double mu = c["lambda_min_bound"].get<double>();
  EXPECT_GT(mu, 0.5);
  EXPECT_NEAR(c["eps_r"].get<double>(), 10.0 * std::sqrt(mu), 1e-12 * 10.0 * std::sqrt(mu));
  EXPECT_EQ(j["claimed"]["eps"], 10.0);
  EXPECT_FALSE(j["pairs"].empty());
}

TEST_F(AuditCommandTest, TableStatesTheTemGammaItAudited) {
  const RunResult r = Audit("tem", "3", {"--tem-gamma", "2.5"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, HasSubstr("\ncalibration:\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  gamma         2.5 (--tem-gamma)\n"));
  // The law audited is the one with that gamma.
  EXPECT_THAT(r.out, HasSubstr("gamma = 2.5 (2 beta = 3"));
}

TEST_F(AuditCommandTest, RefusesMechanismOptionsAsSanitizeDoes) {
  ExpectUsageError(Audit("em", "3", {"--lambda", "0.5"}),
                   "--lambda: ", "only valid with --mechanism mahalanobis, not em");
  ExpectUsageError(Audit("mahalanobis", "10", {"--lambda", "2"}), "--lambda 2", "between 0 and 1");
  ExpectUsageError(Audit("tem", "3", {"--tem-gamma", "-1"}), "--tem-gamma -1", "greater than 0");
}

}  // namespace
}  // namespace dps_e2e
