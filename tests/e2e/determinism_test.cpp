// End-to-end tests of the randomness rules (spec section 4): a seed or a key
// file gives reproducible output that does not depend on the thread count,
// the batch size or sharding; unseeded runs differ; a seeded run warns.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr size_t kCorpusLines = 200;
constexpr size_t kShardLine = 117;

class DeterminismTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    corpus_ = dir_.Write("corpus.txt", RepeatSample(kCorpusLines));
  }

  // Sanitizes `input` (a path, or "-" with `stdin_data`) to stdout, without a
  // ledger, with the fixture at eps 50 and `more` options; expects success.
  RunResult Sanitize(std::vector<std::string> more, const std::string& input,
                     const std::string& stdin_data = "") {
    more.push_back("--no-ledger");
    more.push_back(input);
    more.push_back("-");
    RunOptions o;
    o.cwd = dir_.path();
    if (input == "-") o.stdin_data = stdin_data;
    RunResult r = RunBinary(Arguments(more), o);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r;
  }
  std::string SanitizeCorpus(const std::vector<std::string>& more) {
    return Sanitize(more, corpus_).out;
  }

  std::string corpus_;
};

TEST_F(DeterminismTest, SameSeedGivesIdenticalOutput) {
  const std::string a = SanitizeCorpus({"-q", "--seed", "1234"});
  const std::string b = SanitizeCorpus({"-q", "--seed", "1234"});
  EXPECT_EQ(CountLines(a), kCorpusLines);
  EXPECT_TRUE(SameText(b, a));
  EXPECT_TRUE(a != ReadFile(corpus_)) << "the output equals the input";
}

TEST_F(DeterminismTest, DifferentSeedsGiveDifferentOutputs) {
  const std::string a = SanitizeCorpus({"-q", "--seed", "1"});
  const std::string b = SanitizeCorpus({"-q", "--seed", "2"});
  const std::string c = SanitizeCorpus({"-q", "--seed", "12"});
  EXPECT_TRUE(b != a) << "identical outputs";
  EXPECT_TRUE(c != a) << "identical outputs";
  EXPECT_TRUE(c != b) << "identical outputs";
}

TEST_F(DeterminismTest, UnseededRunsGiveDifferentOutputs) {
  const RunResult a = Sanitize({}, corpus_);
  const RunResult b = Sanitize({}, corpus_);
  EXPECT_EQ(CountLines(a.out), kCorpusLines);
  EXPECT_TRUE(b.out != a.out) << "identical outputs";
  // A fresh key is the private default: no warning.
  EXPECT_THAT(WithoutEffectLine(a.err), IsEmpty());
}

class ThreadCountTest : public DeterminismTest,
                        public ::testing::WithParamInterface<const char*> {};

TEST_P(ThreadCountTest, ThreadCountDoesNotChangeTheOutput) {
  std::vector<std::string> outputs;
  for (const char* threads : {"1", "2", "3"}) {
    std::vector<std::string> args{"-q",       "--seed",    "99",   "--mechanism",
                                  GetParam(), "--threads", threads};
    if (std::string(GetParam()) == "mvl") args.insert(args.end(), {"--mvl-search", "exact"});
    outputs.push_back(SanitizeCorpus(args));
  }
  EXPECT_EQ(CountLines(outputs[0]), kCorpusLines);
  EXPECT_TRUE(SameText(outputs[1], outputs[0])) << "--threads 2 differs from --threads 1";
  EXPECT_TRUE(SameText(outputs[2], outputs[0])) << "--threads 3 differs from --threads 1";
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, ThreadCountTest,
                         ::testing::Values("tg", "mvl", "mahalanobis", "vickrey"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

TEST_F(DeterminismTest, ShardsConcatenateToTheWholeRun) {
  const std::vector<std::string> lines = SplitLines(ReadFile(corpus_));
  ASSERT_EQ(lines.size(), kCorpusLines);
  std::string shard1, shard2;
  for (size_t i = 0; i < lines.size(); ++i) (i < kShardLine ? shard1 : shard2) += lines[i];
  dir_.Write("shard1.txt", shard1);
  dir_.Write("shard2.txt", shard2);

  const std::string whole = SanitizeCorpus({"-q", "--seed", "7"});
  const std::string out1 = Sanitize({"-q", "--seed", "7"}, "shard1.txt").out;
  const std::string out2 =
      Sanitize({"-q", "--seed", "7", "--first-doc-id", std::to_string(kShardLine)}, "shard2.txt")
          .out;
  EXPECT_EQ(CountLines(out1), kShardLine);
  EXPECT_TRUE(SameText(out1 + out2, whole));
  // Without the offset, shard 2 reuses the draws of documents 0.. and differs.
  const std::string out2_no_offset = Sanitize({"-q", "--seed", "7"}, "shard2.txt").out;
  EXPECT_TRUE(out2_no_offset != out2) << "identical outputs";
}

TEST_F(DeterminismTest, BatchBoundariesDoNotChangeTheOutput) {
  // More than one 4 MB batch: the whole run and shards starting mid-file cut
  // the input into different batches.
  const std::string big = SampleOfSize(5u << 20);
  const std::vector<std::string> lines = SplitLines(big);
  const size_t split = lines.size() / 3;
  std::string first, second;
  for (size_t i = 0; i < lines.size(); ++i) (i < split ? first : second) += lines[i];
  dir_.Write("big.txt", big);
  dir_.Write("first.txt", first);
  dir_.Write("second.txt", second);
  const std::string whole = Sanitize({"-q", "--seed", "5"}, "big.txt").out;
  const std::string a = Sanitize({"-q", "--seed", "5"}, "first.txt").out;
  const std::string b =
      Sanitize({"-q", "--seed", "5", "--first-doc-id", std::to_string(split)}, "second.txt").out;
  EXPECT_EQ(CountLines(whole), lines.size());
  EXPECT_TRUE(SameText(a + b, whole));
}

TEST_F(DeterminismTest, StdinAndFileInputGiveTheSameOutput) {
  const std::string from_file = SanitizeCorpus({"-q", "--seed", "3"});
  const std::string from_stdin = Sanitize({"-q", "--seed", "3"}, "-", ReadFile(corpus_)).out;
  EXPECT_TRUE(SameText(from_stdin, from_file));
}

TEST_F(DeterminismTest, SameKeyFileGivesIdenticalOutput) {
  dir_.Write("key1", std::string("0123456789abcdef0123456789abcdef"));
  dir_.Write("key2", std::string("fedcba9876543210fedcba9876543210"));
  // Keys are private (a key open to others gets a warning, tested in ledger_test).
  ASSERT_EQ(::chmod(dir_.File("key1").c_str(), 0600), 0);
  ASSERT_EQ(::chmod(dir_.File("key2").c_str(), 0600), 0);
  const RunResult a = Sanitize({"--key-file", "key1"}, corpus_);
  const RunResult b = Sanitize({"--key-file", "key1", "--threads", "3"}, corpus_);
  const RunResult c = Sanitize({"--key-file", "key2"}, corpus_);
  EXPECT_EQ(CountLines(a.out), kCorpusLines);
  EXPECT_TRUE(SameText(b.out, a.out));
  EXPECT_TRUE(c.out != a.out) << "identical outputs";
  EXPECT_THAT(WithoutEffectLine(a.err), IsEmpty()) << "a keyed run is private: no warning expected";
}

TEST_F(DeterminismTest, KeyFileShorterThan32BytesIsAUsageError) {
  dir_.Write("short.key", std::string(31, 'k'));
  RunOptions o;
  o.cwd = dir_.path();
  const RunResult r = RunBinary(Arguments({"--key-file", "short.key", corpus_, "out.txt"}), o);
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, StartsWith("dpsanitize: "));
  EXPECT_THAT(r.err, HasSubstr("--key-file"));
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  EXPECT_FALSE(dir_.Has("out.txt"));
}

TEST_F(DeterminismTest, SeededRunWarnsOnceAndQuietSilencesIt) {
  const RunResult warned = Sanitize({"--seed", "s3cr3t-seed"}, corpus_);
  const std::string warning = WithoutEffectLine(warned.err);
  EXPECT_EQ(CountLines(warning), 1u) << warned.err;
  EXPECT_THAT(warning, StartsWith("dpsanitize: "));
  EXPECT_THAT(warned.err, HasSubstr("no privacy guarantee"));
  EXPECT_THAT(warned.err, Not(HasSubstr("s3cr3t-seed"))) << "the seed must not be echoed";

  const RunResult quiet = Sanitize({"--seed", "s3cr3t-seed", "--quiet"}, corpus_);
  EXPECT_THAT(quiet.err, IsEmpty());
  EXPECT_TRUE(SameText(quiet.out, warned.out));
}

}  // namespace
}  // namespace dps_e2e
