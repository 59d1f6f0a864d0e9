// `dpsanitize --version` and the ledgers' tool.version (pipeline/version.h):
// one line naming the project version, the git commit (12 hex digits, or
// "unknown" without a checkout) and the libraries; every ledger, a run's and
// `ledger merge`'s, records the same string (the ledger's tool.name holds the
// "dpsanitize" that starts the line).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

// The --version line without its '\n'.
std::string VersionLine() {
  const RunResult r = RunBinary({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(CountLines(r.out), 1u) << r.out;
  return r.out.empty() ? "" : r.out.substr(0, r.out.size() - 1);
}

// tool.name + " " + tool.version of a ledger file.
std::string LedgerTool(const std::string& path) {
  const nlohmann::json j = nlohmann::json::parse(ReadFile(path));
  return j.at("tool").at("name").get<std::string>() + " " +
         j.at("tool").at("version").get<std::string>();
}

TEST(VersionTest, IsOneLineWithTheCommitAndTheLibraries) {
  const std::string line = VersionLine();
  static const std::regex kPattern(
      R"(dpsanitize [0-9]+\.[0-9]+\.[0-9]+ \(git ([0-9a-f]{12}(, dirty)?|unknown); )"
      R"(FAISS [0-9.]+, libsodium [0-9.]+, zlib [0-9.]+, zstd [0-9.]+, libcsv [0-9.]+\))");
  EXPECT_TRUE(std::regex_match(line, kPattern)) << line;
}

TEST_F(E2eTest, LedgersRecordTheVersionLine) {
  const std::string line = VersionLine();
  dir_.Write("in.txt", "The quick brown fox jumps over the lazy dog.\n");
  const RunResult r =
      RunBinary(Arguments({"--mechanism", "em", "-q", "in.txt", "out.txt"}, "3"), {dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(LedgerTool(dir_.File("out.txt.ledger.json")), line);

  const RunResult m =
      RunBinary({"ledger", "merge", "out.txt.ledger.json", "-o", "all.ledger.json"}, {dir_.path()});
  ASSERT_EQ(m.exit_code, 0) << m.Describe();
  EXPECT_EQ(LedgerTool(dir_.File("all.ledger.json")), line);
}

}  // namespace
}  // namespace dps_e2e
