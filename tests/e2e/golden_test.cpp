// Golden outputs: the exact bytes each mechanism writes for the committed
// fixture corpora under the committed test key (tests/golden/test.key), and
// their ledgers with the fields that change from run to run or release to
// release (created_utc, tool.version) removed. Any change of a mechanism's
// law, its draw order, the tokenizer, the renderer or the ledger shows up
// here as a readable diff.
//
// Goldens change only on purpose: run the test with DPS_UPDATE_GOLDEN=1 (or
// scripts/update-golden.sh), look at `git diff tests/golden`, and commit the
// change with the reason.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

struct GoldenCase {
  std::string name;   // golden file stem under tests/golden/
  std::string input;  // fixture under tests/golden/
  std::string eps;    // --eps
  std::vector<std::string> flags;
};

std::string GoldenPath(const std::string& name) { return SourcePath("tests/golden/" + name); }

bool Updating() {
  const char* v = std::getenv("DPS_UPDATE_GOLDEN");
  return v != nullptr && std::string(v) == "1";
}

// The ledger without the fields that legitimately differ between runs.
std::string NormalisedLedger(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text);
  j.erase("created_utc");
  if (j.contains("tool")) j["tool"].erase("version");
  return j.dump(2) + "\n";
}

class GoldenTest : public E2eTest, public ::testing::WithParamInterface<GoldenCase> {};

TEST_P(GoldenTest, OutputAndLedgerMatchTheCommittedFiles) {
  const GoldenCase& g = GetParam();
  const std::string ext = g.input.substr(g.input.rfind('.'));
  const std::string out = dir_.File("out" + ext);
  std::vector<std::string> args{"--embedding",          Embedding(), "--eps", g.eps, "--key-file",
                                GoldenPath("test.key"), "--threads", "2"};
  args.insert(args.end(), g.flags.begin(), g.flags.end());
  args.push_back(GoldenPath(g.input));
  args.push_back(out);
  const RunResult r = RunBinary(args, {dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string output = ReadFile(out);
  const std::string ledger = NormalisedLedger(ReadFile(out + ".ledger.json"));
  const std::string out_golden = GoldenPath(g.name + ext);
  const std::string ledger_golden = GoldenPath(g.name + ".ledger.json");
  if (Updating()) {
    WriteFile(out_golden, output);
    WriteFile(ledger_golden, ledger);
    GTEST_SKIP() << "golden files rewritten: " << g.name;
  }
  ASSERT_TRUE(Exists(out_golden)) << out_golden << " missing; run with DPS_UPDATE_GOLDEN=1";
  EXPECT_TRUE(SameText(output, ReadFile(out_golden))) << g.name << ": output";
  EXPECT_TRUE(SameText(ledger, ReadFile(ledger_golden))) << g.name << ": ledger";
  // The run is a real perturbation, not a copy: a golden equal to its input
  // would pin nothing about the mechanism.
  EXPECT_NE(output, ReadFile(GoldenPath(g.input)));
}

// The same output with one thread: the goldens do not depend on threads.
TEST_F(E2eTest, GoldenOutputIsTheSameWithOneThread) {
  if (Updating()) GTEST_SKIP();
  const std::string out = dir_.File("out.txt");
  const RunResult r = RunBinary(
      {"--embedding", Embedding(), "--mechanism", "tg", "--eps", "50", "--key-file",
       GoldenPath("test.key"), "--threads", "1", "--no-ledger", GoldenPath("corpus.txt"), out},
      {dir_.path()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(SameText(ReadFile(out), ReadFile(GoldenPath("tg.txt"))));
}

const GoldenCase kCases[] = {
    {"tg", "corpus.txt", "50", {"--mechanism", "tg"}},
    {"mvl", "corpus.txt", "10", {"--mechanism", "mvl"}},
    {"tg-paragraph-lower-drop",
     "corpus.txt",
     "50",
     {"--mechanism", "tg", "--doc", "paragraph", "--case", "lower", "--oov", "drop"}},
    {"mvl-keep", "corpus.txt", "10", {"--mechanism", "mvl", "--oov", "keep"}},
    {"tg-jsonl",
     "corpus.jsonl",
     "50",
     {"--mechanism", "tg", "--text-field", "text", "--text-field", "title", "--id-field", "id",
      "--on-bad-record", "skip"}},
    {"mvl-jsonl", "corpus.jsonl", "10", {"--mechanism", "mvl", "--text-field", "text"}},
    // em, the default: at eps 3 (the transition: some words kept, most moved)
    // and eps 8 (most kept); tem with its default gamma and an explicit one.
    {"em", "corpus.txt", "3", {}},
    {"em-eps8-paragraph", "corpus.txt", "8", {"--mechanism", "em", "--doc", "paragraph"}},
    {"em-jsonl", "corpus.jsonl", "3", {"--text-field", "text", "--id-field", "id"}},
    // CSV: quoted fields with commas, quotes and line breaks, CRLF and LF,
    // a blank line, an empty text, a bad row (skipped), string and integer ids.
    {"em-csv",
     "corpus.csv",
     "3",
     {"--text-column", "text", "--text-column", "title", "--id-field", "id", "--on-bad-record",
      "skip"}},
    {"tem", "corpus.txt", "3", {"--mechanism", "tem"}},
    {"tem-gamma", "corpus.txt", "3", {"--mechanism", "tem", "--tem-gamma", "4"}},
    // bem at a total eps of 3 (eps_1 and the weights solved for the fixture).
    {"bem", "corpus.txt", "3", {"--mechanism", "bem"}},
    // mahalanobis at its default lambda (0.2) and at lambda 1 (Sigma itself).
    {"mahalanobis", "corpus.txt", "10", {"--mechanism", "mahalanobis"}},
    {"mahalanobis-lambda1", "corpus.txt", "10", {"--mechanism", "mahalanobis", "--lambda", "1"}},
    // vickrey at its default t (0.75) on mvl's noise, and on Mahalanobis noise.
    {"vickrey", "corpus.txt", "10", {"--mechanism", "vickrey"}},
    {"vickrey-mahalanobis",
     "corpus.txt",
     "10",
     {"--mechanism", "vickrey", "--vickrey-noise", "mahalanobis", "--lambda", "0.5", "--vickrey-t",
      "0.5"}},
};

INSTANTIATE_TEST_SUITE_P(Mechanisms, GoldenTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<GoldenCase>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace dps_e2e
