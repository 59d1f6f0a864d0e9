// End-to-end tests of JSONL records written to slip raw text past the
// rewrite: a text field's key repeated (plainly or spelled with escapes),
// which readers that keep the last key (Python's json) would read raw; a
// record that is not UTF-8; and line separators (U+0085, U+2028, U+2029)
// that would split a rewritten record for str.splitlines() readers.
// They run the real binary on the fixture embedding only.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using nlohmann::json;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Words out of the fixture's vocabulary: masked ("<unk>") when rewritten, so
// finding one in the output means raw text got through.
const std::vector<std::string> kPlanted = {"Zebulonquartz", "Xylofrandic", "Quorvalent"};
// Words of the hostile records that are in the vocabulary: never on stderr.
const std::vector<std::string> kRecordWords = {"house", "cat", "sat", "day"};

// Good records around the hostile one (line 2).
const std::string kFirst = R"({"id":1,"text":"the house Zebulonquartz"})";
const std::string kLast = R"({"id":3,"text":"a day Zebulonquartz"})";

class JsonlHostileTest : public E2eTest {
 protected:
  // Sanitizes in.jsonl (`input`) to out.jsonl in dir_ with --text-field text
  // --id-field id and `more`.
  RunResult Sanitize(const std::string& input, std::vector<std::string> more = {}) {
    dir_.Write("in.jsonl", input);
    std::vector<std::string> args = {"--text-field", "text", "--id-field", "id"};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {"in.jsonl", "out.jsonl"});
    return RunBinary(Arguments(args), {dir_.path()});
  }

  json Ledger() { return json::parse(dir_.Read("out.jsonl.ledger.json")); }
};

void ExpectNoPlantedWord(const std::string& text, const std::string& where) {
  for (const std::string& w : kPlanted) {
    EXPECT_THAT(text, Not(HasSubstr(w))) << w << " in " << where << ":\n" << text;
  }
}

// ------------------------------------------------------- bad records

struct HostileCase {
  std::string name;
  std::string record;   // line 2 of the input, without its '\n'
  std::string message;  // expected in the error line
};

// gtest would print the struct's bytes.
void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

class HostileRecordTest : public JsonlHostileTest,
                          public ::testing::WithParamInterface<HostileCase> {};

// Default policy: exit 1 with one error line that names line 2 and the
// reason but no word of the input, and no output file.
TEST_P(HostileRecordTest, IsABadRecordByDefault) {
  const HostileCase& c = GetParam();
  const RunResult r = Sanitize(kFirst + "\n" + c.record + "\n" + kLast + "\n");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(r.out.empty());
  EXPECT_THAT(r.err, StartsWith("dpsanitize: "));
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  EXPECT_THAT(r.err, HasSubstr("line 2: bad record"));
  EXPECT_THAT(r.err, HasSubstr(c.message));
  ExpectNoPlantedWord(r.err, "stderr");
  for (const std::string& w : kRecordWords) EXPECT_THAT(r.err, Not(HasSubstr(w))) << w;
  EXPECT_FALSE(dir_.Has("out.jsonl"));
}

// --on-bad-record skip: the record is left out and counted, the others are
// rewritten, and nothing of the hostile record reaches the output.
TEST_P(HostileRecordTest, IsLeftOutWithSkip) {
  const HostileCase& c = GetParam();
  const RunResult r =
      Sanitize(kFirst + "\n" + c.record + "\n" + kLast + "\n", {"--on-bad-record", "skip"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = dir_.Read("out.jsonl");
  const std::vector<std::string> lines = SplitLines(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  ExpectNoPlantedWord(out, "the output");
  EXPECT_EQ(json::parse(lines[0]).at("id"), 1);
  EXPECT_EQ(json::parse(lines[1]).at("id"), 3);
  for (const std::string& line : lines) {
    EXPECT_THAT(json::parse(line).at("text").get<std::string>(), HasSubstr("<unk>"));
  }
  const json l = Ledger();
  EXPECT_EQ(l.at("totals").at("bad_records_skipped"), 1);
  EXPECT_EQ(l.at("totals").at("documents"), 2);
}

const HostileCase kHostileCases[] = {
    {"DuplicatePlainKey", R"({"id":2,"text":"the cat sat","text":"Xylofrandic Quorvalent"})",
     R"(field "text" occurs more than once)"},
    {"DuplicateKeyThreeTimes", R"({"id":2,"text":"cat","text":"Xylofrandic","text":"Quorvalent"})",
     R"(field "text" occurs more than once)"},
    {"DuplicateEscapedKeyLast", R"({"id":2,"text":"the cat","te\u0078t":"Xylofrandic Quorvalent"})",
     R"(field "text" occurs more than once)"},
    {"DuplicateEscapedKeyFirst",
     R"({"id":2,"\u0074ext":"Xylofrandic Quorvalent","text":"the cat"})",
     R"(field "text" occurs more than once)"},
    {"DuplicateKeysBothEscaped",
     R"({"id":2,"\u0074\u0065\u0078\u0074":"Xylofrandic","t\u0065xt":"Quorvalent"})",
     R"(field "text" occurs more than once)"},
    {"DuplicateKeyFarApart",
     R"({"text":"the cat","id":2,"meta":{"text":"x","a":[1,{"text":2}]},"te\u0078t" : "Xylofrandic"})",
     R"(field "text" occurs more than once)"},
    {"DuplicateIdKey", R"({"id":2,"text":"Xylofrandic Quorvalent","\u0069d":7})",
     R"(field "id" occurs more than once)"},
    {"KeyWithABadEscape", R"({"id":2,"text":"the cat","te\xt":"Xylofrandic Quorvalent"})",
     "not valid JSON"},
    {"InvalidUtf8InTheText", "{\"id\":2,\"text\":\"Xylofrandic \xff Quorvalent\"}",
     "invalid UTF-8 at byte offset 28 in the line"},
    {"InvalidUtf8InAnotherField",
     "{\"id\":2,\"text\":\"Xylofrandic Quorvalent\",\"meta\":\"\xc3(\"}", "invalid UTF-8"},
    {"InvalidUtf8InAKey", "{\"id\":2,\"text\":\"Xylofrandic\",\"te\xe2\x82xt\":1}",
     "invalid UTF-8"},
};

INSTANTIATE_TEST_SUITE_P(Jsonl, HostileRecordTest, ::testing::ValuesIn(kHostileCases),
                         [](const ::testing::TestParamInfo<HostileCase>& info) {
                           return info.param.name;
                         });

// ------------------------------------------------------- keys with escapes

// A unique key spelled with escapes is the text field: rewritten, with the
// key's spelling and every byte around the value kept.
TEST_F(JsonlHostileTest, EscapedUniqueKeyIsRewritten) {
  const std::string before = R"({"id":1, "\u0074e\u0078t" :)";
  const std::string after = R"( , "n":"keep"})";
  const RunResult r =
      Sanitize(before + R"("the house Zebulonquartz")" + after + "\n" + kLast + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = dir_.Read("out.jsonl");
  ExpectNoPlantedWord(out, "the output");
  const std::vector<std::string> lines = SplitLines(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_THAT(lines[0], StartsWith(before + "\""));
  EXPECT_THAT(lines[0], EndsWith("\"" + after + "\n"));
  EXPECT_THAT(json::parse(lines[0]).at("text").get<std::string>(), HasSubstr("<unk>"));
}

// ------------------------------------------------------- line separators

// U+2028, U+2029 and U+0085 in a rewritten value (from escapes or raw in the
// input) are written as escapes: the record stays one line for readers that
// split on them (Python's str.splitlines()), and decodes to the same text.
TEST_F(JsonlHostileTest, LineSeparatorsInRewrittenTextAreEscaped) {
  const std::string input =
      "{\"id\":1,\"text\":\"the house\\u2028the day\xe2\x80\xa9the city\\u0085 Zebulonquartz "
      "\xc2\x85\xe2\x80\xa8.\"}\n";
  const RunResult r = Sanitize(input, {"--oov", "keep"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = dir_.Read("out.jsonl");
  for (const char* raw : {"\xe2\x80\xa8", "\xe2\x80\xa9", "\xc2\x85"}) {
    EXPECT_EQ(out.find(raw), std::string::npos) << "raw separator in: " << out;
  }
  EXPECT_EQ(CountLines(out), 1u);
  const std::string text = json::parse(out).at("text").get<std::string>();
  EXPECT_THAT(text, HasSubstr("\xe2\x80\xa8"));
  EXPECT_THAT(text, HasSubstr("\xe2\x80\xa9"));
  EXPECT_THAT(text, HasSubstr(" Zebulonquartz \xc2\x85\xe2\x80\xa8."));
  EXPECT_THAT(out, HasSubstr(R"(\u2028)"));
  EXPECT_THAT(out, HasSubstr(R"(\u2029)"));
  EXPECT_THAT(out, HasSubstr(R"(\u0085)"));
}

}  // namespace
}  // namespace dps_e2e
