// End-to-end tests of the dpsanitize command line: exit codes and error
// messages, layout preservation, OOV and case handling, atomic output,
// --help/--version, calibrate, prepare, a broken stdout pipe, SIGINT and SIGTERM.
// They run the real binary (DPS_BINARY) on the fixture embedding only.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

// ---------------------------------------------------------------- helpers

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// The words of ASCII `text` under the tokenizer's rules (letters and digits,
// with a single inner ' or - when a word character follows).
std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    if (!IsWordChar(text[i])) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < text.size()) {
      if (IsWordChar(text[j])) {
        ++j;
      } else if ((text[j] == '\'' || text[j] == '-') && j + 1 < text.size() &&
                 IsWordChar(text[j + 1])) {
        j += 2;
      } else {
        break;
      }
    }
    words.push_back(text.substr(i, j - i));
    i = j;
  }
  return words;
}

// `text` with every word replaced by "W": the gaps, byte for byte.
std::string Skeleton(const std::string& text) {
  std::string out;
  size_t i = 0;
  for (const std::string& w : Words(text)) {
    const size_t at = text.find(w, i);
    out.append(text, i, at - i);
    out += "W";
    i = at + w.size();
  }
  out.append(text, i, std::string::npos);
  return out;
}

bool HasUpper(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}
bool HasLower(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

std::string ToUpper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// Title-cases ASCII text: a letter that follows a word character, ' or - is
// lower-cased, any other letter upper-cased ("battle-field" -> "Battle-field").
std::string ToTitleWords(std::string text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const char prev = i > 0 ? text[i - 1] : ' ';
    const bool inside = IsWordChar(prev) || prev == '\'' || prev == '-';
    text[i] = static_cast<char>(inside ? std::tolower(c) : std::toupper(c));
  }
  return text;
}

// The shape of every error: nothing on stdout, exactly one stderr line that
// starts with "dpsanitize: ".
void ExpectOneErrorLine(const RunResult& r) {
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, StartsWith("dpsanitize: "));
  EXPECT_THAT(r.err, EndsWith("\n"));
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
}

// After a successful run: no temporary file is left in `dir` (visible
// companions of the output, such as a ledger, are allowed).
void ExpectNoTemporaryFiles(const TempDir& dir) {
  for (const std::string& name : dir.List()) {
    EXPECT_THAT(name, Not(StartsWith("."))) << "left behind: " << name;
    EXPECT_THAT(name, Not(HasSubstr("tmp"))) << "left behind: " << name;
  }
}

class CliTest : public E2eTest {
 protected:
  // Runs the binary in dir_.
  RunResult Run(const std::vector<std::string>& args) {
    RunOptions o;
    o.cwd = dir_.path();
    return RunBinary(args, o);
  }
  RunResult RunWithStdin(const std::vector<std::string>& args, const std::string& stdin_data) {
    RunOptions o;
    o.cwd = dir_.path();
    o.stdin_data = stdin_data;
    return RunBinary(args, o);
  }
};

// ---------------------------------------------------------------- exit codes

TEST_F(CliTest, SuccessExitsZeroAndWritesTheOutputFile) {
  const std::string corpus = ReadFile(SourcePath("data/sample/corpus.txt"));
  dir_.Write("in.txt", corpus);
  const RunResult r = Run(Arguments({"in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(WithoutEffectLine(r.err), IsEmpty());
  ASSERT_TRUE(dir_.Has("out.txt"));
  const std::string out = dir_.Read("out.txt");
  EXPECT_EQ(CountLines(out), CountLines(corpus));
  EXPECT_TRUE(out != corpus) << "the output equals the input";
  ExpectNoTemporaryFiles(dir_);
}

TEST_F(CliTest, NoEmbeddingFlagDoesNotFallBackToTheMachinesDefault) {
  dir_.Write("in.txt", "the world\n");
  const RunResult r = Run({"--eps", "50", "in.txt", "out.txt"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("no-default-embedding.dpsemb"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

struct UsageCase {
  const char* name;
  std::vector<std::string> args;  // "{EMB}": the prepared fixture; "{IN}": an input file
  const char* names;              // what the error message must mention
};

void PrintTo(const UsageCase& c, std::ostream* os) {
  *os << c.name << ":";
  for (const std::string& a : c.args) *os << " " << a;
}

class UsageErrorTest : public CliTest, public ::testing::WithParamInterface<UsageCase> {};

TEST_P(UsageErrorTest, ExitsTwoWithOneErrorLine) {
  const std::string in = dir_.Write("in.txt", "The world is wide.\n");
  std::vector<std::string> args;
  for (const std::string& a : GetParam().args) {
    args.push_back(a == "{EMB}" ? Embedding() : a == "{IN}" ? in : a);
  }
  const RunResult r = Run(args);
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr(GetParam().names));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

// Each case differs from a valid command line in one respect only.
INSTANTIATE_TEST_SUITE_P(
    Cli, UsageErrorTest,
    ::testing::Values(
        UsageCase{"UnknownFlag",
                  {"--embedding", "{EMB}", "--eps", "50", "--bogus", "{IN}", "out.txt"},
                  "--bogus"},
        UsageCase{"MissingOutput", {"--embedding", "{EMB}", "--eps", "50", "{IN}"}, "OUT"},
        UsageCase{"MissingBothPositionals", {"--embedding", "{EMB}", "--eps", "50"}, "IN"},
        UsageCase{"EpsMissing", {"--embedding", "{EMB}", "{IN}", "out.txt"}, "--eps"},
        UsageCase{
            "EpsNotANumber", {"--embedding", "{EMB}", "--eps", "abc", "{IN}", "out.txt"}, "--eps"},
        UsageCase{"EpsNan", {"--embedding", "{EMB}", "--eps", "nan", "{IN}", "out.txt"}, "--eps"},
        UsageCase{
            "EpsNegative", {"--embedding", "{EMB}", "--eps", "-1", "{IN}", "out.txt"}, "--eps"},
        UsageCase{"EpsZero", {"--embedding", "{EMB}", "--eps", "0", "{IN}", "out.txt"}, "--eps"},
        UsageCase{
            "EpsInfinite", {"--embedding", "{EMB}", "--eps", "inf", "{IN}", "out.txt"}, "--eps"},
        UsageCase{"MuWithoutGumbelScale",
                  {"--embedding", "{EMB}", "--eps", "50", "--mu", "3", "{IN}", "out.txt"},
                  "--mu"},
        UsageCase{"DeltaMaxWithoutGumbelScale",
                  {"--embedding", "{EMB}", "--eps", "50", "--delta-max", "3", "{IN}", "out.txt"},
                  "--delta-max"},
        UsageCase{"EpsAndGumbelScale",
                  {"--embedding", "{EMB}", "--eps", "50", "--gumbel-scale", "1", "{IN}", "out.txt"},
                  "--gumbel-scale"},
        UsageCase{"UnknownMechanism",
                  {"--embedding", "{EMB}", "--eps", "50", "--mechanism", "foo", "{IN}", "out.txt"},
                  "--mechanism"},
        UsageCase{
            "MvlSearchWithTg",
            {"--embedding", "{EMB}", "--eps", "50", "--mvl-search", "hnsw", "{IN}", "out.txt"},
            "--mvl-search"},
        UsageCase{"GumbelScaleNotANumber",
                  {"--embedding", "{EMB}", "--gumbel-scale", "abc", "{IN}", "out.txt"},
                  "--gumbel-scale"},
        UsageCase{"GumbelScaleWithMvl",
                  {"--embedding", "{EMB}", "--eps", "5", "--mechanism", "mvl", "--gumbel-scale",
                   "2", "{IN}", "out.txt"},
                  "--gumbel-scale"},
        UsageCase{"TemGammaZero",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "tem", "--tem-gamma", "0",
                   "{IN}", "out.txt"},
                  "--tem-gamma"},
        UsageCase{"TemGammaNegative",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "tem", "--tem-gamma", "-2",
                   "{IN}", "out.txt"},
                  "--tem-gamma"},
        UsageCase{"TemGammaNan",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "tem", "--tem-gamma", "nan",
                   "{IN}", "out.txt"},
                  "--tem-gamma"},
        UsageCase{"TemGammaNotANumber",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "tem", "--tem-gamma",
                   "wide", "{IN}", "out.txt"},
                  "--tem-gamma"},
        UsageCase{"TemGammaWithEm",
                  {"--embedding", "{EMB}", "--eps", "3", "--tem-gamma", "4", "{IN}", "out.txt"},
                  "--tem-gamma"},
        UsageCase{"TemGammaWithTg",
                  {"--embedding", "{EMB}", "--eps", "50", "--mechanism", "tg", "--tem-gamma", "4",
                   "{IN}", "out.txt"},
                  "--tem-gamma"},
        UsageCase{"LambdaNegative",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "mahalanobis", "--lambda",
                   "-0.1", "{IN}", "out.txt"},
                  "--lambda"},
        UsageCase{"LambdaAboveOne",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "mahalanobis", "--lambda",
                   "1.5", "{IN}", "out.txt"},
                  "--lambda"},
        UsageCase{"LambdaNan",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "mahalanobis", "--lambda",
                   "nan", "{IN}", "out.txt"},
                  "--lambda"},
        UsageCase{"LambdaWithMvl",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "mvl", "--lambda", "0.5",
                   "{IN}", "out.txt"},
                  "--lambda"},
        UsageCase{"VickreyTNegative",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "vickrey", "--vickrey-t",
                   "-0.01", "{IN}", "out.txt"},
                  "--vickrey-t"},
        UsageCase{"VickreyTAboveOne",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "vickrey", "--vickrey-t",
                   "1.01", "{IN}", "out.txt"},
                  "--vickrey-t"},
        UsageCase{"VickreyTNotANumber",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "vickrey", "--vickrey-t",
                   "inf", "{IN}", "out.txt"},
                  "--vickrey-t"},
        UsageCase{"VickreyTWithMvl",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "mvl", "--vickrey-t", "0.5",
                   "{IN}", "out.txt"},
                  "--vickrey-t"},
        UsageCase{"VickreyNoiseUnknown",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "vickrey",
                   "--vickrey-noise", "gauss", "{IN}", "out.txt"},
                  "--vickrey-noise"},
        UsageCase{"LambdaWithVickreyOnMvlNoise",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "vickrey", "--lambda",
                   "0.5", "{IN}", "out.txt"},
                  "--lambda"},
        UsageCase{"LambdaAboveOneWithVickrey",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "vickrey",
                   "--vickrey-noise", "mahalanobis", "--lambda", "2", "{IN}", "out.txt"},
                  "--lambda"},
        UsageCase{"VickreyWithoutEps",
                  {"--embedding", "{EMB}", "--mechanism", "vickrey", "{IN}", "out.txt"},
                  "--eps"},
        UsageCase{"MahalanobisWithoutEps",
                  {"--embedding", "{EMB}", "--mechanism", "mahalanobis", "{IN}", "out.txt"},
                  "--eps"},
        UsageCase{"GumbelScaleWithEm",
                  {"--embedding", "{EMB}", "--gumbel-scale", "2", "{IN}", "out.txt"},
                  "--gumbel-scale"},
        UsageCase{"MuWithTem",
                  {"--embedding", "{EMB}", "--eps", "3", "--mechanism", "tem", "--mu", "2", "{IN}",
                   "out.txt"},
                  "--mu"},
        UsageCase{"DeltaMaxWithEm",
                  {"--embedding", "{EMB}", "--eps", "3", "--delta-max", "2", "{IN}", "out.txt"},
                  "--delta-max"},
        UsageCase{"UnknownOovPolicy",
                  {"--embedding", "{EMB}", "--eps", "50", "--oov", "hide", "{IN}", "out.txt"},
                  "--oov"},
        UsageCase{"SeedAndKeyFile",
                  {"--embedding", "{EMB}", "--eps", "50", "--seed", "1", "--key-file", "{IN}",
                   "{IN}", "out.txt"},
                  "--key-file"},
        UsageCase{"MaxLineZero",
                  {"--embedding", "{EMB}", "--eps", "50", "--max-line", "0", "{IN}", "out.txt"},
                  "--max-line"},
        UsageCase{"TooManyThreads",
                  {"--embedding", "{EMB}", "--eps", "50", "--threads", "2000", "{IN}", "out.txt"},
                  "--threads"},
        UsageCase{"StdoutWithoutLedgerChoice",
                  {"--embedding", "{EMB}", "--eps", "50", "{IN}", "-"},
                  "--ledger"}),
    [](const ::testing::TestParamInfo<UsageCase>& info) { return info.param.name; });

// The design card's example, `dpsanitize --eps 2 in.txt out.txt`: the default
// mechanism (em) runs at any eps > 0 and its ledger claims a proven bound.
TEST_F(CliTest, DesignCardExampleRunsWithTheProvenDefault) {
  dir_.Write("in.txt", RepeatSample(20));
  const RunResult r = Run({"--embedding", Embedding(), "--eps", "2", "in.txt", "out.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  const auto ledger = nlohmann::json::parse(dir_.Read("out.txt.ledger.json"));
  EXPECT_EQ(ledger["mechanism"]["name"], "em");
  EXPECT_EQ(ledger["mechanism"]["eps_basis"], "proven");
  EXPECT_EQ(ledger["mechanism"]["eps_per_word"], 2.0);
  EXPECT_EQ(CountLines(dir_.Read("out.txt")), 20u);
  for (const char* eps : {"0.01", "0.5", "1e3"}) {
    SCOPED_TRACE(eps);
    EXPECT_EQ(
        Run({"--embedding", Embedding(), "--eps", eps, "--no-ledger", "in.txt", "o.txt"}).exit_code,
        0);
  }
}

TEST_F(CliTest, EpsBelowEpsMinForTgIsAUsageError) {
  dir_.Write("in.txt", "The world is wide.\n");
  const RunResult r = Run(Arguments({"in.txt", "out.txt"}, /*eps=*/"10"));
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("eps_min"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

TEST_F(CliTest, MissingInputFileExitsOne) {
  const RunResult r = Run(Arguments({"no-such-input.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("no-such-input.txt"));
  EXPECT_THAT(dir_.List(), IsEmpty());
}

TEST_F(CliTest, InvalidUtf8ExitsOneNamingLineAndByteOffset) {
  // Lines of 10 and 8 bytes, then "bad " and the invalid byte: file offset 22.
  dir_.Write("in.txt", "good line\nanother\nbad \xff here\nfine\n");
  const RunResult r = Run(Arguments({"--no-ledger", "in.txt", "-"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("line 3"));
  EXPECT_THAT(r.err, HasSubstr("byte offset 22"));
}

TEST_F(CliTest, OverLongLineExitsOne) {
  dir_.Write("in.txt", "short\nthis line is longer than ten bytes\n");
  const RunResult r = Run(Arguments({"--max-line", "10", "in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("line 2"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

TEST_F(CliTest, MaxLineCountsBytesWithoutTheLineEnd) {
  // Exactly 10 bytes of content, with LF and with CRLF: accepted.
  const std::string text = "the nation\nthe people\r\n";
  const RunResult r =
      RunWithStdin(Arguments({"--no-ledger", "-q", "--max-line", "10", "-", "-"}), text);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Skeleton(r.out), Skeleton(text));
}

TEST_F(CliTest, BadEmbeddingFileExitsOne) {
  dir_.Write("in.txt", "The world is wide.\n");
  dir_.Write("bad.vec", "2 3\nfoo 1 2 3\nbar 4 5\n");
  const RunResult r = Run({"--embedding", "bad.vec", "--eps", "50", "in.txt", "out.txt"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("bad.vec"));
  EXPECT_THAT(dir_.List(), ElementsAre("bad.vec", "in.txt"));
}

// ---------------------------------------------------------------- layout

TEST_F(CliTest, DashReadsStdinAndWritesStdout) {
  const std::string text = "The people of the world.\nA new nation.\n";
  const RunResult r = RunWithStdin(Arguments({"--no-ledger", "--oov", "keep", "-", "-"}), text);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(Skeleton(r.out), Eq(Skeleton(text)));
  EXPECT_THAT(dir_.List(), IsEmpty());
}

TEST_F(CliTest, StdinToFileAndFileToStdout) {
  const std::string text = "The people of the world.\n";
  RunResult r = RunWithStdin(Arguments({"--oov", "keep", "-", "out.txt"}), text);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(Skeleton(dir_.Read("out.txt")), Eq(Skeleton(text)));

  dir_.Write("in.txt", text);
  r = Run(Arguments({"--no-ledger", "--oov", "keep", "in.txt", "-"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(Skeleton(r.out), Eq(Skeleton(text)));
}

TEST_F(CliTest, GapsAreCopiedByteForByte) {
  const std::string text =
      "The  world,\tthe people!\r\n"
      "IN CONGRESS -- July 4, 1776.\r\n"
      "\r\n"
      "\t  (nation)   \"liberty\" ... [war]; {peace}: 50% of $100?\r\n"
      "\xc2\xab the \xc2\xbb \xe2\x80\x94 \xe2\x80\x9cworld\xe2\x80\x9d \xf0\x9f\x99\x82 !\n"
      "a battle-field, dedicate--we can't 'quoted' end-\r\n"
      "last line without a newline";
  const RunResult r = RunWithStdin(Arguments({"--no-ledger", "--oov", "keep", "-", "-"}), text);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(Skeleton(r.out), Eq(Skeleton(text)));
  EXPECT_EQ(CountLines(r.out), CountLines(text));
  EXPECT_THAT(r.out, Not(EndsWith("\n")));
  EXPECT_EQ(Words(r.out).size(), Words(text).size());
}

TEST_F(CliTest, SampleCorpusKeepsLinesAndGaps) {
  const std::string corpus = ReadFile(SourcePath("data/sample/corpus.txt"));
  dir_.Write("in.txt", corpus);
  const RunResult r = Run(Arguments({"--oov", "keep", "in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = dir_.Read("out.txt");
  EXPECT_EQ(CountLines(out), CountLines(corpus));
  const std::vector<std::string> in_lines = SplitLines(corpus), out_lines = SplitLines(out);
  ASSERT_EQ(out_lines.size(), in_lines.size());
  for (size_t i = 0; i < in_lines.size(); ++i) {
    EXPECT_THAT(Skeleton(out_lines[i]), Eq(Skeleton(in_lines[i]))) << "line " << i + 1;
  }
}

TEST_F(CliTest, EmptyInputGivesEmptyOutput) {
  RunResult r = RunWithStdin(Arguments({"--no-ledger", "-", "-"}), "");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(WithoutEffectLine(r.err), IsEmpty());

  dir_.Write("in.txt", "");
  r = Run(Arguments({"in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(dir_.Has("out.txt"));
  EXPECT_THAT(dir_.Read("out.txt"), IsEmpty());
}

TEST_F(CliTest, EmptyLinesStayEmpty) {
  const RunResult r = RunWithStdin(Arguments({"--no-ledger", "-", "-"}), "\n\r\n\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, Eq("\n\r\n\n"));
}

TEST_F(CliTest, CasePatternsAreCarriedToOutputWords) {
  const std::string corpus = RepeatSample(44);
  const std::string text = ToTitleWords(corpus) + ToUpper(corpus);
  const RunResult r = RunWithStdin(Arguments({"--no-ledger", "--oov", "keep", "-", "-"}), text);
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::vector<std::string> in = Words(text), out = Words(r.out);
  ASSERT_EQ(out.size(), in.size());
  size_t title = 0, upper = 0, changed = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (out[i] != in[i]) ++changed;
    if (!HasUpper(in[i])) {
      EXPECT_FALSE(HasUpper(out[i])) << in[i] << " -> " << out[i];
    } else if (!HasLower(in[i]) && in[i].size() > 1) {
      ++upper;
      EXPECT_FALSE(HasLower(out[i])) << in[i] << " -> " << out[i];
    } else {
      ++title;
      EXPECT_THAT(out[i], MatchesRegex("[A-Z][^A-Z]*")) << in[i] << " -> " << out[i];
    }
  }
  EXPECT_GT(title, 100u);
  EXPECT_GT(upper, 100u);
  EXPECT_GT(changed, 100u) << "the mechanism should have replaced many words";
}

TEST_F(CliTest, CaseLowerGivesNoUpperCaseLetters) {
  const std::string corpus = RepeatSample(44);
  const std::string text = ToTitleWords(corpus) + ToUpper(corpus) + "Zqxvbn QWXZK\n";
  for (const char* oov : {"mask", "keep"}) {
    SCOPED_TRACE(oov);
    const RunResult r =
        RunWithStdin(Arguments({"--no-ledger", "--case", "lower", "--oov", oov, "-", "-"}), text);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_FALSE(HasUpper(r.out)) << r.out;
    EXPECT_EQ(CountLines(r.out), CountLines(text));
  }
}

// ---------------------------------------------------------------- OOV

TEST_F(CliTest, OovWordIsMaskedByDefault) {
  const RunResult r =
      RunWithStdin(Arguments({"--no-ledger", "-", "-"}), "the zqxvbn went.\nzqxvbn\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, MatchesRegex("[a-z]+ <unk> [a-z]+\\.\n<unk>\n"));
}

TEST_F(CliTest, OovKeepCopiesTheWord) {
  const RunResult r = RunWithStdin(Arguments({"--no-ledger", "--oov", "keep", "-", "-"}),
                                   "the zqxvbn went.\nZqxvbn\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, MatchesRegex("[a-z]+ zqxvbn [a-z]+\\.\nZqxvbn\n"));
}

TEST_F(CliTest, OovDropRemovesTheWordAndKeepsTheGaps) {
  const RunResult r = RunWithStdin(Arguments({"--no-ledger", "--oov", "drop", "-", "-"}),
                                   "the zqxvbn went.\nzqxvbn\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, MatchesRegex("[a-z]+  [a-z]+\\.\n\n"));
}

TEST_F(CliTest, OovTokenIsConfigurable) {
  const RunResult r = RunWithStdin(
      Arguments({"--no-ledger", "--oov-token", "[REDACTED]", "-", "-"}), "the zqxvbn went.\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, MatchesRegex("[a-z]+ \\[REDACTED\\] [a-z]+\\.\n"));
}

// ---------------------------------------------------------------- atomic output

TEST_F(CliTest, FailureLeavesNoOutputAndNoTemporaryFile) {
  dir_.Write("in.txt", "The people of the world.\nA new nation.\nbad \xc3\x28 byte\n");
  const RunResult r = Run(Arguments({"in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("line 3"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

TEST_F(CliTest, FailureAfterTheFirstBatchWasWrittenLeavesNoFile) {
  // More than one 4 MB batch of good lines, so output is written to the
  // temporary file before the bad line is read.
  dir_.Write("in.txt", SampleOfSize(5u << 20) + "bad \xff byte\n");
  const RunResult r = Run(Arguments({"in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("invalid UTF-8"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

TEST_F(CliTest, ExistingOutputIsUntouchedOnFailure) {
  dir_.Write("in.txt", "The people.\n\xff\n");
  dir_.Write("out.txt", "precious earlier output\n");
  const RunResult r = Run(Arguments({"in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(dir_.Read("out.txt"), Eq("precious earlier output\n"));
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "out.txt"));
}

TEST_F(CliTest, ExistingOutputIsReplacedOnSuccess) {
  dir_.Write("in.txt", "The people.\n");
  dir_.Write("out.txt", "old content that is longer than the new output\n");
  const RunResult r = Run(Arguments({"--oov", "keep", "in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(Skeleton(dir_.Read("out.txt")), Eq("W W.\n"));
  ExpectNoTemporaryFiles(dir_);
}

TEST_F(CliTest, OutputEqualToInputIsRefused) {
  const std::string text = "The people of the world.\n";
  dir_.Write("in.txt", text);
  ASSERT_EQ(::symlink("in.txt", dir_.File("link.txt").c_str()), 0);
  ASSERT_EQ(::link(dir_.File("in.txt").c_str(), dir_.File("hard.txt").c_str()), 0);
  // The same file through the parent folder: ../<this folder>/in.txt.
  const std::string via_parent = "../" + dir_.path().substr(dir_.path().rfind('/') + 1) + "/in.txt";
  const std::vector<std::vector<std::string>> pairs{
      {"in.txt", "in.txt"},   {"./in.txt", "in.txt"},          {"in.txt", "./in.txt"},
      {"in.txt", via_parent}, {"in.txt", dir_.File("in.txt")}, {"in.txt", "link.txt"},
      {"link.txt", "in.txt"}, {"in.txt", "hard.txt"}};
  for (const auto& p : pairs) {
    SCOPED_TRACE(p[0] + " -> " + p[1]);
    const RunResult r = Run(Arguments({p[0], p[1]}));
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    ExpectOneErrorLine(r);
    EXPECT_THAT(dir_.Read("in.txt"), Eq(text));
    EXPECT_THAT(dir_.List(), ElementsAre("hard.txt", "in.txt", "link.txt"));
  }
}

TEST_F(CliTest, LedgerPathEqualToInputIsRefused) {
  const std::string text = "The people of the world.\n";
  dir_.Write("in.txt", text);
  ASSERT_EQ(::symlink("in.txt", dir_.File("link.txt").c_str()), 0);
  for (const char* ledger : {"in.txt", "./in.txt", "link.txt"}) {
    SCOPED_TRACE(ledger);
    const RunResult r = Run(Arguments({"--ledger", ledger, "in.txt", "out.txt"}));
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    ExpectOneErrorLine(r);
    EXPECT_THAT(dir_.Read("in.txt"), Eq(text));
    EXPECT_THAT(dir_.List(), ElementsAre("in.txt", "link.txt"));
  }
}

// ---------------------------------------------------------------- help, version

TEST_F(CliTest, HelpExitsZeroAndMentionsEveryOption) {
  const RunResult r = Run({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.err, IsEmpty());
  for (const char* option :
       {"--eps",       "--mechanism",      "--seed",         "--key-file",     "--oov",
        "--oov-token", "--threads",        "--first-doc-id", "--gumbel-scale", "--mu",
        "--delta-max", "--mvl-search",     "--vocab-size",   "--case",         "--max-line",
        "--embedding", "--neighbor-depth", "--quiet",        "--log-level",    "--ledger",
        "--no-ledger", "--format",         "--doc",          "--progress"}) {
    EXPECT_THAT(r.out, HasSubstr(std::string(option) + " "));  // "--oov " is not "--oov-token"
  }
  EXPECT_THAT(r.out, HasSubstr("eps_min"));
  EXPECT_THAT(r.out, HasSubstr("130"));
}

TEST_F(CliTest, VersionExitsZeroAndPrintsAVersion) {
  const RunResult r = Run({"--version"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out, MatchesRegex("dpsanitize [0-9]+\\.[0-9]+\\.[0-9]+.*\n"));
}

// ---------------------------------------------------------------- privacy of logs

TEST_F(CliTest, NeverPrintsInputWordsOnStderr) {
  const std::string text = "Zebulonquartz visited the hospital market.\n";
  for (const char* oov : {"mask", "keep"}) {
    SCOPED_TRACE(oov);
    const RunResult r = RunWithStdin(
        Arguments({"--no-ledger", "--log-level", "trace", "--oov", oov, "-", "-"}), text);
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    const std::string err = ToUpper(r.err);
    EXPECT_THAT(err, Not(HasSubstr("ZEBULONQUARTZ"))) << r.err;
    EXPECT_THAT(err, Not(HasSubstr("HOSPITAL"))) << r.err;
    EXPECT_THAT(err, Not(HasSubstr("VISITED"))) << r.err;
  }
  const RunResult masked =
      RunWithStdin(Arguments({"--no-ledger", "--log-level", "trace", "-", "-"}), text);
  EXPECT_THAT(ToUpper(masked.out), Not(HasSubstr("ZEBULONQUARTZ")));
}

TEST_F(CliTest, ErrorsDoNotPrintInputWords) {
  dir_.Write("in.txt", "fine line\nZebulonquartz hospital \xff end\n");
  RunResult r = Run(Arguments({"--log-level", "trace", "in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(ToUpper(r.err), Not(HasSubstr("ZEBULONQUARTZ")));
  EXPECT_THAT(ToUpper(r.err), Not(HasSubstr("HOSPITAL")));
  r = Run(Arguments({"--log-level", "trace", "--max-line", "12", "in.txt", "out.txt"}));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(ToUpper(r.err), Not(HasSubstr("ZEBULONQUARTZ")));
}

TEST_F(CliTest, LedgerHoldsNoInputWordsAndNoSeed) {
  dir_.Write("in.txt", "Zebulonquartz visited the hospital market.\n");
  const RunResult r =
      Run(Arguments({"-q", "--seed", "s3cr3t-seed", "--oov", "keep", "in.txt", "out.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_TRUE(dir_.Has("out.txt.ledger.json"));
  const std::string ledger = dir_.Read("out.txt.ledger.json");
  EXPECT_NO_THROW(nlohmann::json::parse(ledger)) << ledger;
  for (const char* secret : {"ZEBULONQUARTZ", "VISITED", "HOSPITAL", "MARKET", "S3CR3T"}) {
    EXPECT_THAT(ToUpper(ledger), Not(HasSubstr(secret))) << ledger;
  }
}

// ---------------------------------------------------------------- calibrate

TEST_F(CliTest, CalibrateJsonHasTheDerivedParameters) {
  const RunResult r = Run(
      {"calibrate", "--mechanism", "tg", "--eps", "50", "--embedding", FixtureVecPath(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  nlohmann::json j;
  ASSERT_NO_THROW(j = nlohmann::json::parse(r.out)) << r.out;
  for (const char* key : {"vocab_size", "delta_min", "delta_max", "eps_min", "a", "b", "mu"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_TRUE(j[key].is_number()) << key;
  }
  ASSERT_TRUE(j.contains("eps_basis"));
  EXPECT_EQ(j["eps_basis"], "nominal");
  const double v = j["vocab_size"].get<double>();
  const double delta_min = j["delta_min"].get<double>();
  EXPECT_GT(v, 4900);
  EXPECT_LE(v, 5000);
  EXPECT_GT(delta_min, 0);
  EXPECT_GT(j["delta_max"].get<double>(), delta_min);
  EXPECT_GT(j["b"].get<double>(), 0);
  EXPECT_NEAR(j["mu"].get<double>(), std::log(v - 1), 1e-9);
  // eps_min = (2(1 + ln|V|) + 3) / delta_min and a = (eps - 2(1 + ln|V|)/delta_min) / 3.
  EXPECT_NEAR(j["eps_min"].get<double>(), (2 * (1 + std::log(v)) + 3) / delta_min, 1e-9);
  EXPECT_NEAR(j["a"].get<double>(), (50 - 2 * (1 + std::log(v)) / delta_min) / 3, 1e-9);
  EXPECT_LT(j["eps_min"].get<double>(), 50);
}

TEST_F(CliTest, CalibrateWithThePreparedEmbeddingAgrees) {
  const RunResult text = Run({"calibrate", "--mechanism", "tg", "--eps", "50", "--embedding",
                              FixtureVecPath(), "--json", "--effect-words", "0"});
  const RunResult prepared = Run({"calibrate", "--mechanism", "tg", "--eps", "50", "--embedding",
                                  Embedding(), "--json", "--effect-words", "0"});
  ASSERT_EQ(text.exit_code, 0) << text.Describe();
  ASSERT_EQ(prepared.exit_code, 0) << prepared.Describe();
  const auto a = nlohmann::json::parse(text.out), b = nlohmann::json::parse(prepared.out);
  for (const char* key : {"vocab_size", "delta_min", "delta_max", "eps_min", "a", "b", "mu"}) {
    EXPECT_EQ(a[key], b[key]) << key;
  }
}

TEST_F(CliTest, CalibrateBelowEpsMinExitsTwo) {
  const RunResult r = Run(
      {"calibrate", "--mechanism", "tg", "--eps", "10", "--embedding", FixtureVecPath(), "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  ExpectOneErrorLine(r);
  EXPECT_THAT(r.err, HasSubstr("eps_min"));
}

TEST_F(CliTest, CalibrateMvlIsProven) {
  // --effect-words 0: the basis is the point here; mvl's Monte Carlo figures
  // (a minute on the fixture) are CalibrateTest's.
  const RunResult r = Run({"calibrate", "--eps", "10", "--mechanism", "mvl", "--embedding",
                           FixtureVecPath(), "--json", "--effect-words", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["eps_basis"], "proven");
  EXPECT_EQ(j["mechanism"], "mvl");
}

// ---------------------------------------------------------------- prepare

TEST_F(CliTest, PreparedAndTextEmbeddingsGiveTheSameOutput) {
  dir_.Write("in.txt", RepeatSample(88));
  for (const char* mechanism : {"tg", "mvl"}) {
    SCOPED_TRACE(mechanism);
    // --mvl-search is mvl's option: another mechanism refuses it (exit 2).
    std::vector<std::string> common{"--eps", "50", "--mechanism", mechanism, "--seed",
                                    "42",    "-q", "--no-ledger", "in.txt",  "-"};
    if (std::string(mechanism) == "mvl") {
      common.insert(common.begin(), {"--mvl-search", "exact"});
    }
    std::vector<std::string> text{"--embedding", FixtureVecPath()};
    std::vector<std::string> prepared{"--embedding", Embedding()};
    text.insert(text.end(), common.begin(), common.end());
    prepared.insert(prepared.end(), common.begin(), common.end());
    const RunResult a = Run(text);
    const RunResult b = Run(prepared);
    ASSERT_EQ(a.exit_code, 0) << a.Describe();
    ASSERT_EQ(b.exit_code, 0) << b.Describe();
    EXPECT_FALSE(a.out.empty());
    EXPECT_TRUE(SameText(b.out, a.out));
  }
}

TEST_F(CliTest, PrepareRejectsBadFiles) {
  struct BadFile {
    const char* name;
    const char* content;
  };
  const BadFile files[] = {
      {"duplicate.vec", "2 3\nfoo 1 2 3\nfoo 4 5 6\n"},
      {"mixed.vec", "2 3\nfoo 1 2 3\nbar 4 5\n"},
      {"nan.vec", "2 3\nfoo 1 nan 3\nbar 4 5 6\n"},
      {"empty.vec", ""},
  };
  for (const BadFile& f : files) {
    SCOPED_TRACE(f.name);
    dir_.Write(f.name, f.content);
    const RunResult r = Run({"prepare", f.name, "out.dpsemb"});
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    ExpectOneErrorLine(r);
    EXPECT_THAT(r.err, HasSubstr(f.name));
    EXPECT_FALSE(dir_.Has("out.dpsemb"));
  }
  EXPECT_THAT(dir_.List(), ElementsAre("duplicate.vec", "empty.vec", "mixed.vec", "nan.vec"));
}

// ---------------------------------------------------------------- signals, pipes

TEST_F(CliTest, BrokenPipeOnStdoutIsNotAnError) {
  dir_.Write("in.txt", SampleOfSize(3u << 20));
  // Read a little, then hang up.
  const RunResult r =
      RunIntoClosedPipe(Arguments({"--no-ledger", "in.txt", "-"}), dir_.path(), 16384);
  EXPECT_GE(r.out.size(), 16384u);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(WithoutEffectLine(r.err), IsEmpty());
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

TEST_F(CliTest, SigintLeavesNoOutputAndExits130) {
  dir_.Write("in.txt", SampleOfSize(2u << 20));
  SpawnOptions o;
  o.cwd = dir_.path();
  const pid_t pid = SpawnBinary(
      Arguments({"-q", "--mechanism", "mvl", "--mvl-search", "exact", "in.txt", "out.txt"}), o);
  // Wait until the run writes its temporary file, then interrupt it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool started = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (dir_.List().size() > 1) {
      started = true;
      break;
    }
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      FAIL() << "dpsanitize ended before it could be interrupted";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(started) << "no temporary output file appeared";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  RunResult r;
  WaitForExit(pid, &r);
  EXPECT_EQ(r.exit_code, 130) << "signal " << r.signal;
  EXPECT_THAT(dir_.List(), ElementsAre("in.txt"));
}

// SIGINT and SIGTERM end a run through the handler alone (write/signals.h),
// so they must work while the run is blocked reading a FIFO whose writer
// stays open: no check between batches would ever be reached.
class SignalTest : public CliTest, public ::testing::WithParamInterface<int> {};

TEST_P(SignalTest, WhileBlockedOnAnOpenFifoLeavesNothingAndExits128PlusSignal) {
  const int sig = GetParam();
  const std::string fifo = dir_.File("in.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // O_RDWR: the open does not wait for the reader, and the reader never sees
  // the end of the input while we hold it.
  const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(writer, 0);
  const std::string line = "The world is wide.\n";
  ASSERT_EQ(::write(writer, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  TempDir capture;
  const int err_fd = ::open(capture.File("stderr").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(err_fd, 0);
  SpawnOptions o;
  o.cwd = dir_.path();
  o.stderr_fd = err_fd;
  const pid_t pid = SpawnBinary(Arguments({"in.fifo", "out.txt"}), o);
  ::close(err_fd);
  // The temporary output file appears once the run has opened its engine,
  // input and output; then it waits for more lines.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool started = false;
  while (!started && std::chrono::steady_clock::now() < deadline) {
    started = dir_.List().size() > 1;
    int status;
    if (!started && ::waitpid(pid, &status, WNOHANG) == pid) {
      ::close(writer);
      FAIL() << "dpsanitize ended before it could be interrupted: " << capture.Read("stderr");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(started) << "no temporary output file appeared";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(::kill(pid, sig), 0);
  RunResult r;
  WaitForExit(pid, &r, std::chrono::seconds(30));
  ::close(writer);
  r.err = capture.Read("stderr");
  EXPECT_EQ(r.exit_code, 128 + sig) << r.Describe();
  EXPECT_LE(CountLines(r.err), 1u) << r.err;
  EXPECT_THAT(dir_.List(), ElementsAre("in.fifo"));  // no output, temporary file or ledger
}

INSTANTIATE_TEST_SUITE_P(Cli, SignalTest, ::testing::Values(SIGINT, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGINT ? "Sigint" : "Sigterm");
                         });

}  // namespace
}  // namespace dps_e2e
