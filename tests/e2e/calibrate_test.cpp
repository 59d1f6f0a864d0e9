// `dpsanitize calibrate` states what eps does (the utility figures over the
// most frequent words), and a sanitize run states the first two in one line
// on stderr: shown by default, silent with -q, never holding a corpus word.
// calibrate takes the mechanism options of a sanitize run (--lambda,
// --tem-gamma, ...) and refuses them as a sanitize run does.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

class CalibrateTest : public E2eTest {
 protected:
  RunResult Run(const std::vector<std::string>& args) { return RunBinary(args, {dir_.path()}); }

  nlohmann::json CalibrateJson(const std::string& mechanism, const std::string& eps,
                               std::vector<std::string> more = {}) {
    std::vector<std::string> args{"calibrate", "--mechanism", mechanism,   "--eps",
                                  eps,         "--embedding", Embedding(), "--json"};
    args.insert(args.end(), more.begin(), more.end());
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_THAT(r.err, IsEmpty());
    nlohmann::json j;
    EXPECT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
    return j;
  }
};

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(CalibrateTest, JsonStatesWhatEpsDoes) {
  const nlohmann::json j = CalibrateJson("em", "2");
  for (const char* key :
       {"mechanism", "eps", "eps_basis", "p_unchanged_mean", "mean_distance_moved", "p_near10_mean",
        "inv_eps", "median_nn_distance", "effect_words", "effect_method"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["mechanism"], "em");
  EXPECT_EQ(j["eps"], 2.0);
  EXPECT_EQ(j["eps_basis"], "proven");
  EXPECT_EQ(j["effect_words"], 1000);
  EXPECT_EQ(j["effect_method"], "exact");
  EXPECT_DOUBLE_EQ(j["inv_eps"].get<double>(), 0.5);
  const double p = j["p_unchanged_mean"].get<double>();
  const double near = j["p_near10_mean"].get<double>();
  EXPECT_GT(p, 0);
  EXPECT_LT(p, 1);
  EXPECT_GE(near, 0);
  EXPECT_LE(p + near, 1 + 1e-12);
  EXPECT_GT(j["mean_distance_moved"].get<double>(), 0);
  EXPECT_GT(j["median_nn_distance"].get<double>(), 0);
  EXPECT_FALSE(j.contains("p_unchanged_ci")) << "exact figures carry no interval";
}

TEST_F(CalibrateTest, EveryMechanismReportsTheFigures) {
  struct Case {
    const char* mechanism;
    const char* eps;
    const char* method;
  };
  for (const Case& c :
       {Case{"tem", "3", "exact"}, Case{"tg", "50", "certified"}, Case{"mvl", "10", "monte_carlo"},
        Case{"mahalanobis", "10", "monte_carlo"}, Case{"vickrey", "10", "monte_carlo"}}) {
    SCOPED_TRACE(c.mechanism);
    const nlohmann::json j = CalibrateJson(c.mechanism, c.eps, {"--effect-words", "100"});
    EXPECT_EQ(j["mechanism"], c.mechanism);
    EXPECT_EQ(j["effect_words"], 100);
    EXPECT_EQ(j["effect_method"], c.method);
    ASSERT_TRUE(j["p_unchanged_mean"].is_number());
    ASSERT_TRUE(j["mean_distance_moved"].is_number());
    ASSERT_TRUE(j["p_near10_mean"].is_number());
    const double p = j["p_unchanged_mean"].get<double>();
    EXPECT_GE(p, 0);
    EXPECT_LE(p, 1);
    if (std::string(c.method) == "monte_carlo") {
      EXPECT_GT(j["effect_draws_per_word"].get<int>(), 0);
      for (const char* key : {"p_unchanged_ci", "p_near10_ci", "mean_distance_moved_ci"}) {
        ASSERT_TRUE(j[key].is_array()) << key;
        ASSERT_EQ(j[key].size(), 2u) << key;
        EXPECT_LE(j[key][0].get<double>(), j[key][1].get<double>()) << key;
      }
      EXPECT_LE(j["p_unchanged_ci"][0].get<double>(), p);
      EXPECT_GE(j["p_unchanged_ci"][1].get<double>(), p);
    }
  }
}

TEST_F(CalibrateTest, EmKeepsMoreWordsAsEpsGrows) {
  double last = -1;
  for (const char* eps : {"1", "2", "3", "5", "8"}) {
    SCOPED_TRACE(eps);
    const double p =
        CalibrateJson("em", eps, {"--effect-words", "200"})["p_unchanged_mean"].get<double>();
    EXPECT_GT(p, last);
    last = p;
  }
}

TEST_F(CalibrateTest, TextHasOneWhatEpsDoesBlock) {
  const RunResult r =
      Run({"calibrate", "--mechanism", "em", "--eps", "2", "--embedding", Embedding()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Count(r.out, "what eps does (1,000 most frequent words)\n"), 1u) << r.out;
  EXPECT_THAT(r.out, HasSubstr("a word is kept as it is with probability"));
  EXPECT_THAT(r.out, HasSubstr("on average"));
  EXPECT_THAT(r.out, HasSubstr("1/eps is 0.5"));
  EXPECT_THAT(r.out, HasSubstr("in short: "));
}

TEST_F(CalibrateTest, EffectWordsZeroLeavesTheFiguresOut) {
  const nlohmann::json j = CalibrateJson("em", "2", {"--effect-words", "0"});
  EXPECT_FALSE(j.contains("p_unchanged_mean"));
  EXPECT_EQ(j["mechanism"], "em");
}

// ---------------------------------------------------------------- mechanism options

// The registry's options reach calibrate's plan as they reach a sanitize run's.
TEST_F(CalibrateTest, LambdaReachesTheMahalanobisPlan) {
  const nlohmann::json d = CalibrateJson("mahalanobis", "10", {"--effect-words", "0"});
  const nlohmann::json one =
      CalibrateJson("mahalanobis", "10", {"--effect-words", "0", "--lambda", "1"});
  EXPECT_EQ(d["lambda"], 0.2);
  EXPECT_EQ(one["lambda"], 1.0);
  for (const nlohmann::json* j : {&d, &one}) {
    // eps_r = eps sqrt(lambda_min_bound) (docs/mechanism.md), whatever lambda is.
    const double mu = (*j)["lambda_min_bound"].get<double>();
    EXPECT_GT(mu, 0);
    EXPECT_NEAR((*j)["eps_r"].get<double>(), 10.0 * std::sqrt(mu), 1e-12 * 10.0 * std::sqrt(mu))
        << j->dump();
  }
  // Sigma_lambda moves towards Sigma, whose smallest eigenvalue is far below 1 on the fixture.
  EXPECT_LT(one["lambda_min_bound"].get<double>(), d["lambda_min_bound"].get<double>());
  EXPECT_LT(one["eps_r"].get<double>(), d["eps_r"].get<double>());

  const RunResult text = Run({"calibrate", "--mechanism", "mahalanobis", "--eps", "10",
                              "--embedding", Embedding(), "--lambda", "1", "--effect-words", "0"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_THAT(text.out, HasSubstr("\nlambda        1 (--lambda: "));
}

TEST_F(CalibrateTest, TemGammaReachesThePlan) {
  const nlohmann::json d = CalibrateJson("tem", "3", {"--effect-words", "0"});
  const nlohmann::json g = CalibrateJson("tem", "3", {"--effect-words", "0", "--tem-gamma", "2.5"});
  EXPECT_EQ(g["gamma"], 2.5);
  EXPECT_EQ(g["gamma_rule"], "explicit");
  EXPECT_EQ(d["gamma_rule"], "default p = 0.001");
  EXPECT_NE(d["gamma"], 2.5);
  // The figures are the chosen gamma's: a shorter truncation keeps fewer words.
  const nlohmann::json fd = CalibrateJson("tem", "3", {"--effect-words", "100"});
  const nlohmann::json fg =
      CalibrateJson("tem", "3", {"--effect-words", "100", "--tem-gamma", "0.5"});
  EXPECT_NE(fd["p_unchanged_mean"], fg["p_unchanged_mean"]);
}

// tg's explicit noise: --gumbel-scale instead of --eps, as in a sanitize run.
TEST_F(CalibrateTest, TgExplicitNoiseNeedsNoEps) {
  const RunResult r = Run({"calibrate", "--mechanism", "tg", "--gumbel-scale", "2", "--embedding",
                           Embedding(), "--effect-words", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["eps"].is_null());
  EXPECT_EQ(j["b"], 2.0);
  EXPECT_EQ(j["eps_basis"], "none");
}

// One stderr line naming the flag, exit 2, nothing on stdout: as sanitize.
void ExpectUsageError(const RunResult& r, const std::string& flag, const std::string& says) {
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(Count(r.err, "\n"), 1u) << r.err;
  EXPECT_THAT(r.err, StartsWith("dpsanitize: " + flag));
  EXPECT_THAT(r.err, HasSubstr(says));
}

TEST_F(CalibrateTest, RefusesMechanismOptionsAsSanitizeDoes) {
  const std::vector<std::string> base{"calibrate", "--embedding", Embedding(), "--eps", "3"};
  auto with = [&base](std::vector<std::string> more) {
    std::vector<std::string> args = base;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  ExpectUsageError(Run(with({"--mechanism", "em", "--lambda", "0.5"})),
                   "--lambda: ", "only valid with --mechanism mahalanobis, not em");
  ExpectUsageError(Run(with({"--lambda", "0.5"})), "--lambda: ", ", not em");  // em: the default
  ExpectUsageError(Run(with({"--mechanism", "mahalanobis", "--lambda", "2"})), "--lambda 2",
                   "between 0 and 1");
  ExpectUsageError(Run(with({"--mechanism", "tem", "--tem-gamma", "0"})), "--tem-gamma 0",
                   "greater than 0");
  ExpectUsageError(Run(with({"--mechanism", "tg", "--gumbel-scale", "2"})), "--eps and --gumbel",
                   "not both");
  // The same message a sanitize run gives.
  dir_.Write("in.txt", "a b\n");
  const RunResult sanitize = Run({"--embedding", Embedding(), "--eps", "3", "--mechanism", "em",
                                  "--lambda", "0.5", "--no-ledger", "in.txt", "-"});
  EXPECT_EQ(sanitize.exit_code, 2);
  EXPECT_EQ(Run(with({"--mechanism", "em", "--lambda", "0.5"})).err, sanitize.err);
  // Without --eps (and no explicit noise), the library asks for it.
  ExpectUsageError(Run({"calibrate", "--embedding", Embedding(), "--mechanism", "em"}), "--eps",
                   "required");
}

// ---------------------------------------------------------------- the sanitize line

class EffectLineTest : public CalibrateTest {
 protected:
  // The mechanism is always named (em is the default, but Arguments() adds
  // tg when none is given).
  RunResult Sanitize(const std::string& text, std::vector<std::string> more,
                     const std::string& mechanism = "em", const std::string& eps = "2") {
    dir_.Write("in.txt", text);
    std::vector<std::string> args{"--embedding", Embedding(), "--eps",      eps,
                                  "--mechanism", mechanism,   "--no-ledger"};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {"in.txt", "-"});
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r;
  }
};

TEST_F(EffectLineTest, ShownByDefaultOnceAndSilentWithQuiet) {
  const RunResult r = Sanitize(RepeatSample(20), {});
  EXPECT_EQ(Count(r.err, "\n"), 1u) << r.err;
  EXPECT_THAT(r.err, StartsWith("dpsanitize: em at eps 2: on the 20 most frequent words a word "
                                "is kept with probability "));
  EXPECT_THAT(r.err, HasSubstr(" on average (median nearest-neighbour distance "));
  EXPECT_THAT(r.err, HasSubstr("; see dpsanitize calibrate --mechanism em --eps 2\n"));

  const RunResult quiet = Sanitize(RepeatSample(20), {"-q"});
  EXPECT_THAT(quiet.err, IsEmpty());
  const RunResult error_level = Sanitize(RepeatSample(20), {"--log-level", "error"});
  EXPECT_THAT(error_level.err, IsEmpty());
}

TEST_F(EffectLineTest, HoldsNoCorpusWord) {
  const std::string secret =
      "Zebulon visited the hospital in Boston with fever and quartz.\n"
      "Patients reported migraine, insomnia and nausea at the clinic.\n";
  const RunResult a = Sanitize(secret, {});
  const RunResult b = Sanitize(RepeatSample(5), {});
  // The line depends on the mechanism, eps and embedding only.
  EXPECT_EQ(a.err, b.err);
  for (const char* word : {"zebulon", "visited", "hospital", "boston", "fever", "quartz",
                           "patients", "migraine", "insomnia", "nausea", "clinic"}) {
    std::string lower = a.err;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_THAT(lower, Not(HasSubstr(word))) << a.err;
  }
}

// The hint reproduces the run's plan: its mechanism options too.
TEST_F(EffectLineTest, PointsToCalibrateWithTheMechanismOptions) {
  const RunResult r = Sanitize(RepeatSample(5), {"--tem-gamma", "4"}, "tem", "3");
  EXPECT_THAT(r.err,
              HasSubstr("; see dpsanitize calibrate --mechanism tem --eps 3 --tem-gamma 4\n"));
}

TEST_F(EffectLineTest, EveryMechanismStatesOrPointsToCalibrate) {
  for (const char* mechanism : {"tem", "tg", "mvl"}) {
    SCOPED_TRACE(mechanism);
    const std::string eps = std::string(mechanism) == "tg" ? "50" : "4";
    const RunResult r = Sanitize(RepeatSample(5), {}, mechanism, eps);
    EXPECT_EQ(Count(r.err, "\n"), 1u) << r.err;
    EXPECT_THAT(r.err, StartsWith(std::string("dpsanitize: ") + mechanism + " at eps " + eps));
    EXPECT_THAT(r.err, HasSubstr("see dpsanitize calibrate --mechanism " + std::string(mechanism)));
  }
}

}  // namespace
}  // namespace dps_e2e
