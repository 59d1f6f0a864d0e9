// `--mechanism bem` end to end: the run claims the derived eps_1 + L (never
// the target), calibrate reports how it was derived and writes the weights,
// and the weights cache is reused, and recomputed (with a warning) when it is
// corrupt.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class BemTest : public E2eTest {
 protected:
  RunResult Run(const std::vector<std::string>& args, const std::string& cache_home = "") {
    RunOptions o(dir_.path());
    o.cache_home = cache_home;
    return RunBinary(args, o);
  }
  nlohmann::json Calibrate(const std::string& eps, const std::string& cache_home = "",
                           std::string* err = nullptr, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"calibrate",   "--mechanism", "bem",    "--eps",          eps,
                                  "--embedding", Embedding(),   "--json", "--effect-words", "200"};
    args.insert(args.end(), more.begin(), more.end());
    const RunResult r = Run(args, cache_home);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    if (err != nullptr) *err = r.err;
    nlohmann::json j;
    EXPECT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
    return j;
  }
};

TEST_F(BemTest, CalibrateReportsTheDerivedGuarantee) {
  std::string err;
  const nlohmann::json j = Calibrate("2.5", "", &err);
  EXPECT_THAT(err, IsEmpty());
  for (const char* key : {"eps", "eps_requested", "eps1", "lipschitz_log_z", "iterations",
                          "log_z_spread", "eps1_rounds", "solver_version", "p_unchanged_mean",
                          "mean_distance_moved", "p_near10_mean"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["mechanism"], "bem");
  EXPECT_EQ(j["eps_basis"], "proven");
  EXPECT_EQ(j["eps_requested"], 2.5);
  const double eps = j["eps"].get<double>();
  const double eps1 = j["eps1"].get<double>();
  const double l = j["lipschitz_log_z"].get<double>();
  EXPECT_DOUBLE_EQ(eps, eps1 + l) << "the claim is derived, not the target";
  EXPECT_LE(eps, 2.5);
  EXPECT_GT(eps1, 0);
  EXPECT_GT(l, 0);
  EXPECT_GE(j["log_z_spread"].get<double>(), 0);
}

TEST_F(BemTest, RunClaimsWhatCalibrateDerived) {
  const nlohmann::json c = Calibrate("3");
  dir_.Write("in.txt", RepeatSample(5));
  const RunResult r =
      Run({"--mechanism", "bem", "--embedding", Embedding(), "--eps", "3", "in.txt", "out.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(WithoutEffectLine(r.err), IsEmpty());
  // The effect line's hint repeats the --eps given (which keys the cache),
  // not the derived eps.
  EXPECT_THAT(r.err, HasSubstr("calibrate --mechanism bem --eps 3"));
  const auto ledger = nlohmann::json::parse(dir_.Read("out.txt.ledger.json"));
  const auto& m = ledger["mechanism"];
  EXPECT_EQ(m["name"], "bem");
  EXPECT_EQ(m["eps_basis"], "proven");
  EXPECT_EQ(m["eps_per_word"], c["eps"]);
  EXPECT_EQ(m["parameters"]["eps1"], c["eps1"]);
  EXPECT_EQ(m["parameters"]["lipschitz_log_z"], c["lipschitz_log_z"]);
  EXPECT_LE(m["eps_per_word"].get<double>(), 3.0);
  EXPECT_EQ(CountLines(dir_.Read("out.txt")), CountLines(dir_.Read("in.txt")));
}

TEST_F(BemTest, WeightsOutWritesOneLinePerVocabularyWord) {
  const RunResult r = Run({"calibrate", "--mechanism", "bem", "--eps", "2.5", "--embedding",
                           Embedding(), "--json", "--effect-words", "0", "--weights-out", "w.tsv"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const std::vector<std::string> lines = SplitLines(dir_.Read("w.tsv"));
  ASSERT_EQ(lines.size(), j["vocab_size"].get<size_t>());
  double top = -1e300;
  for (const std::string& line : lines) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    ASSERT_GT(tab, 0u) << line;
    char* end = nullptr;
    const double a = std::strtod(line.c_str() + tab + 1, &end);
    ASSERT_EQ(std::string(end), "\n") << line;
    ASSERT_LE(a, 0) << line;
    top = std::max(top, a);
  }
  EXPECT_EQ(top, 0.0) << "the weights are normalised to max alpha = 1";
  EXPECT_EQ(lines[0].substr(0, 4), "the\t") << "vocabulary order: most frequent first";
}

TEST_F(BemTest, WeightsOutIsAUsageErrorForMechanismsWithoutWeights) {
  const RunResult r = Run({"calibrate", "--mechanism", "em", "--eps", "2", "--embedding",
                           Embedding(), "--weights-out", "w.tsv"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("dpsanitize: --weights-out"));
  EXPECT_FALSE(Exists(dir_.File("w.tsv")));
}

TEST_F(BemTest, CorruptCacheIsRecomputedWithAWarning) {
  TempDir cache;
  // 1,000 words: this test computes the weights twice in a private cache.
  const std::vector<std::string> small{"--vocab-size", "1000"};
  const nlohmann::json first = Calibrate("2.5", cache.path(), nullptr, small);
  std::vector<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(cache.File("dpsanitize/calibration"))) {
    entries.push_back(e.path().string());
  }
  ASSERT_EQ(entries.size(), 1u);
  std::string data = ReadFile(entries[0]);
  ASSERT_GT(data.size(), 100u);
  data[data.size() - 3] = static_cast<char>(data[data.size() - 3] ^ 0x40);  // inside a weight
  cache.Write("dpsanitize/calibration/" + std::filesystem::path(entries[0]).filename().string(),
              data);
  std::string err;
  const nlohmann::json second = Calibrate("2.5", cache.path(), &err, small);
  EXPECT_THAT(err, HasSubstr("checksum mismatch"));
  EXPECT_THAT(err, HasSubstr("recomputing"));
  EXPECT_EQ(second["eps"], first["eps"]) << "recomputed: the same weights";
  // The recomputed entry replaced the corrupt one.
  const nlohmann::json third = Calibrate("2.5", cache.path(), &err, small);
  EXPECT_THAT(err, IsEmpty());
  EXPECT_EQ(third["eps"], first["eps"]);
}

// A cold cache with --progress: the weights' stages are shown (counts and
// stage names only), and the line is cleared before the run's own output.
TEST_F(BemTest, ProgressShowsTheWeightStages) {
  TempDir cache;
  dir_.Write("in.txt", RepeatSample(2));
  const RunResult r =
      Run({"--mechanism", "bem", "--embedding", Embedding(), "--eps", "2.5", "--vocab-size", "1000",
           "--progress", "--no-ledger", "in.txt", "out.txt"},
          cache.path());
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("dpsanitize: calibrating bem: round 1, eps_1 = "));
  EXPECT_THAT(r.err, HasSubstr("exact L over all pairs"));
}

}  // namespace
}  // namespace dps_e2e
