// Issue 15, defects 6, 10 and 11 (values): option values that were wrapped,
// read as hex or let an exception out are refused with exit 2 and one line;
// a vocabulary larger than the embedding is capped with a notice; statistics
// computed for a vocabulary size `prepare` did not store are cached.
#include <gtest/gtest.h>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

class BadValuesTest : public E2eTest {};

TEST_F(BadValuesTest, MalformedNumbersAreUsageErrors) {
  dir_.Write("in.txt", "the house\n");
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--vocab-size", "-5"}, "--vocab-size: -5: not a non-negative whole number"},
      {{"--vocab-size", "18446744073709551616"}, "18446744073709551616: too large"},
      {{"--first-doc-id", "-1"}, "--first-doc-id: -1: not a non-negative whole number"},
      {{"--threads", "-2"}, "--threads: -2: not a non-negative whole number"},
      {{"--max-line", "1e3"}, "--max-line: 1e3: not a non-negative whole number"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.end(), {"--no-ledger", "in.txt", "out.txt"});
    const RunResult r = RunBinary(Arguments(args), {dir_.path()});
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_EQ(CountLines(r.err), 1u) << r.err;
    EXPECT_FALSE(dir_.Has("out.txt"));
  }
  // --eps takes decimal numbers only: strtod would read 0x50 as 80.
  for (const char* eps : {"0x50", "0X1p4", "5e", "1,5", "ten"}) {
    const RunResult r =
        RunBinary(Arguments({"--no-ledger", "in.txt", "out.txt"}, eps), {dir_.path()});
    EXPECT_EQ(r.exit_code, 2) << eps << ": " << r.Describe();
    EXPECT_NE(r.err.find(std::string(eps) + ": not a decimal number"), std::string::npos) << r.err;
  }
  for (const char* eps : {"50", "5e1", "50.", "+50.0", "5E+1"}) {
    const RunResult r =
        RunBinary(Arguments({"--no-ledger", "in.txt", "out.txt"}, eps), {dir_.path()});
    EXPECT_EQ(r.exit_code, 0) << eps << ": " << r.Describe();
  }
  RunResult r = RunBinary({"calibrate", "--eps", "0x50", "--embedding", Embedding()});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
}

// Boost's Lambert W threw on an overflowing argument: exit 134 before main
// caught exceptions, "unexpected error" after; now a usage error naming eps.
TEST_F(BadValuesTest, HugeEpsilonForTgIsAUsageError) {
  dir_.Write("in.txt", "the house\n");
  RunResult r = RunBinary(Arguments({"--no-ledger", "in.txt", "out.txt"}, "1e308"), {dir_.path()});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_NE(r.err.find("--eps 1e+308: too large for the truncated Gumbel calibration"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(dir_.Has("out.txt"));
  r = RunBinary({"calibrate", "--mechanism", "tg", "--eps", "1e308", "--embedding", Embedding()});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  // The other mechanisms take it (almost every word is kept).
  r = RunBinary(Arguments({"--mechanism", "em", "--no-ledger", "in.txt", "out.txt"}, "1e308"),
                {dir_.path()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
}

TEST_F(BadValuesTest, VocabularyAboveTheEmbeddingIsCappedWithANotice) {
  dir_.Write("in.txt", "the house\n");
  const RunResult r = RunBinary(Arguments({"--mechanism", "em", "--vocab-size", "1000000000",
                                           "--no-ledger", "in.txt", "out.txt"},
                                          "3"),
                                {dir_.path()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("--vocab-size 1000000000: fixture.dpsemb has 4971 usable words; using all "
                       "of them"),
            std::string::npos)
      << r.err;
}

// tg needs delta_min and delta_max; for a size `prepare` did not store they
// cost an all-pairs scan, paid once and then read from the cache.
TEST_F(BadValuesTest, VocabularyStatisticsAreComputedOnce) {
  dir_.Write("in.txt", "the house\n");
  TempDir cache;
  RunOptions options(dir_.path());
  options.cache_home = cache.path();
  const std::vector<std::string> args =
      Arguments({"--vocab-size", "3000", "--log-level", "info", "--no-ledger", "in.txt", "-"});
  RunResult first = RunBinary(args, options);
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  EXPECT_NE(first.err.find("computing delta_min and delta_max for a 3000-word"), std::string::npos)
      << first.err;
  RunResult second = RunBinary(args, options);
  ASSERT_EQ(second.exit_code, 0) << second.Describe();
  EXPECT_EQ(second.err.find("computing delta_min"), std::string::npos) << second.err;
  // Same calibration either way: the run's tg parameters do not depend on
  // where delta_min/delta_max came from.
  const RunResult a =
      RunBinary({"calibrate", "--mechanism", "tg", "--eps", "50", "--vocab-size", "3000", "--json",
                 "--effect-words", "0", "--embedding", Embedding()},
                options);
  TempDir other;
  RunOptions fresh(dir_.path());
  fresh.cache_home = other.path();
  const RunResult b =
      RunBinary({"calibrate", "--mechanism", "tg", "--eps", "50", "--vocab-size", "3000", "--json",
                 "--effect-words", "0", "--embedding", Embedding()},
                fresh);
  ASSERT_EQ(a.exit_code, 0) << a.Describe();
  EXPECT_EQ(a.out, b.out);
}

}  // namespace
}  // namespace dps_e2e
