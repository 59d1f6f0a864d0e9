#include "dpsanitize/core/config.h"

#include <gtest/gtest.h>

#include <cmath>

#include "dpsanitize/mechanisms/registry.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {
namespace {

Config Tg(double eps) {
  Config c;
  c.mechanism = "tg";
  c.eps = eps;
  c.no_ledger = true;  // stdout output needs --ledger or --no-ledger
  return c;
}

// ValidateConfig: the generic checks and the mechanism registry's.
Status Check(const Config& c) { return ValidateConfig(c); }

void ExpectUsage(const Config& c, const std::string& needle) {
  const Status s = Check(c);
  ASSERT_FALSE(s.ok()) << "expected usage error: " << needle;
  EXPECT_EQ(s.code(), StatusCode::kUsage);
  EXPECT_EQ(ExitCodeFor(s), 2);
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(ConfigTest, DefaultsWithEpsAreValid) { EXPECT_TRUE(Check(Tg(50)).ok()); }

TEST(ConfigTest, EpsMustBeFinitePositive) {
  ExpectUsage(Tg(0), "--eps 0");
  ExpectUsage(Tg(-3), "--eps -3");
  ExpectUsage(Tg(std::nan("")), "--eps nan");
  ExpectUsage(Tg(INFINITY), "--eps inf");
  Config none;
  none.no_ledger = true;
  ExpectUsage(none, "--eps: required");
}

TEST(ConfigTest, ExpertFlagsNeedGumbelScale) {
  Config c = Tg(50);
  c.mechanism_options["mu"] = "3";
  ExpectUsage(c, "--mu/--delta-max");
  c.mechanism_options.erase("mu");
  c.mechanism_options["delta-max"] = "10";
  ExpectUsage(c, "--mu/--delta-max");
  Config e;
  e.mechanism = "tg";
  e.no_ledger = true;
  e.mechanism_options = {{"gumbel-scale", "2"}, {"mu", "3"}, {"delta-max", "10"}};
  EXPECT_TRUE(Check(e).ok());
  e.eps = 50;
  ExpectUsage(e, "not both");
  Config neg;
  neg.mechanism = "tg";
  neg.no_ledger = true;
  neg.mechanism_options["gumbel-scale"] = "-1";
  ExpectUsage(neg, "--gumbel-scale -1");
}

TEST(ConfigTest, MechanismOptionsMustBeFiniteNumbers) {
  for (const char* bad : {"abc", "nan", "inf", "1e999", "", "2x"}) {
    Config c;
    c.mechanism = "tg";
    c.no_ledger = true;
    c.mechanism_options["gumbel-scale"] = bad;
    ExpectUsage(c, "--gumbel-scale");
  }
}

TEST(ConfigTest, MvlRejectsTgFlags) {
  Config c = Tg(5);
  c.mechanism = "mvl";
  EXPECT_TRUE(Check(c).ok());
  c.mechanism_options["gumbel-scale"] = "1";
  ExpectUsage(c, "only valid with --mechanism tg");
  c.mechanism_options = {{"mvl-search", "fast"}};
  ExpectUsage(c, "--mvl-search fast");
  c.mechanism_options = {{"mvl-search", "hnsw"}};
  EXPECT_TRUE(Check(c).ok());
}

TEST(ConfigTest, UnknownMechanismNamesTheChoices) {
  Config c = Tg(5);
  c.mechanism = "laplace";
  ExpectUsage(c, "--mechanism laplace");
}

TEST(ConfigTest, MahalanobisLambdaIsInZeroOne) {
  Config c = Tg(5);
  c.mechanism = "mahalanobis";
  EXPECT_TRUE(Check(c).ok());
  for (const char* good : {"0", "0.2", "1", "1e-9"}) {
    c.mechanism_options = {{"lambda", good}};
    EXPECT_TRUE(Check(c).ok()) << good;
  }
  for (const char* bad : {"-0.1", "1.0000001", "2", "-1e-300"}) {
    c.mechanism_options = {{"lambda", bad}};
    ExpectUsage(c, "must be between 0 and 1");
  }
  for (const char* bad : {"nan", "abc", "inf"}) {
    c.mechanism_options = {{"lambda", bad}};
    ExpectUsage(c, "--lambda");
  }
  c.mechanism_options = {{"mvl-search", "hnsw"}};
  EXPECT_TRUE(Check(c).ok()) << "mahalanobis shares mvl's nearest-word step";
  c.mechanism = "mvl";
  c.mechanism_options = {{"lambda", "0.5"}};
  ExpectUsage(c, "only valid with --mechanism mahalanobis");
  c.mechanism = "mahalanobis";
  c.mechanism_options.clear();
  c.eps.reset();
  ExpectUsage(c, "--eps");
}

// Every registry entry is complete: the CLI, the ledger and calibrate read
// these fields without checking them.
TEST(RegistryTest, EveryEntryIsComplete) {
  for (const MechanismInfo& m : Registry()) {
    SCOPED_TRACE(m.name);
    EXPECT_FALSE(m.name.empty());
    EXPECT_FALSE(m.summary.empty());
    EXPECT_FALSE(m.description.empty());
    EXPECT_FALSE(m.citation.empty());
    EXPECT_TRUE(m.validate);
    EXPECT_TRUE(m.make_plan);
    EXPECT_EQ(FindMechanism(m.name), &m);
    for (const MechanismFlag& f : m.flags) {
      EXPECT_EQ(f.name.rfind("--", 0), std::string::npos) << f.name;
      EXPECT_FALSE(f.help.empty()) << f.name;
    }
  }
  EXPECT_EQ(FindMechanism("no-such-mechanism"), nullptr);
  EXPECT_EQ(MechanismChoices().find("identity"), std::string::npos);
}

TEST(ConfigTest, OtherLimits) {
  Config c = Tg(50);
  c.seed = "1";
  c.key_file = "k";
  ExpectUsage(c, "at most one");
  c = Tg(50);
  c.vocab_size = 1;
  ExpectUsage(c, "--vocab-size 1");
  c = Tg(50);
  c.max_line = 0;
  ExpectUsage(c, "--max-line 0");
  c = Tg(50);
  c.oov_token = "a\nb";
  ExpectUsage(c, "--oov-token");
}

TEST(ConfigTest, StdoutNeedsLedgerChoice) {
  Config c;
  c.eps = 50;
  ExpectUsage(c, "--ledger PATH or --no-ledger");
  c.ledger = "l.json";
  EXPECT_TRUE(Check(c).ok());
  c.no_ledger = true;
  ExpectUsage(c, "at most one");
  Config f = Tg(50);
  f.no_ledger = false;
  f.output = "out.txt";
  EXPECT_TRUE(Check(f).ok());
  EXPECT_EQ(LedgerPath(f), "out.txt.ledger.json");
  f.ledger = "out.txt";
  ExpectUsage(f, "--ledger out.txt");
}

TEST(ConfigTest, JsonlSettings) {
  Config c = Tg(50);
  c.input = "records.jsonl";
  EXPECT_EQ(ResolvedFormat(c), InputFormat::kJsonl);
  ExpectUsage(c, "--text-field: required");
  c.text_fields = {"text"};
  EXPECT_TRUE(Check(c).ok());
  c.id_field = "text";
  ExpectUsage(c, "also a --text-field");
  c.id_field = "id";
  c.doc_mode = DocMode::kParagraph;
  ExpectUsage(c, "--doc");
  Config t = Tg(50);
  t.input = "a.txt";
  EXPECT_EQ(ResolvedFormat(t), InputFormat::kText);
  t.text_fields = {"text"};
  ExpectUsage(t, "only for --format jsonl");
  t.format = InputFormat::kJsonl;
  EXPECT_TRUE(Check(t).ok());
}

TEST(ConfigTest, CsvAndTsvSettings) {
  Config c = Tg(50);
  c.input = "rows.csv.zst";
  EXPECT_EQ(ResolvedFormat(c), InputFormat::kCsv);
  ExpectUsage(c, "--text-column: required for CSV input");
  c.text_columns = {"text", "title"};
  EXPECT_TRUE(Check(c).ok());
  c.text_fields = {"text"};
  ExpectUsage(c, "--text-field: only for --format jsonl");
  c.text_fields.clear();
  c.text_columns = {"text", "text"};
  ExpectUsage(c, "--text-column text: given twice");
  c.text_columns = {"text"};
  c.id_field = "text";
  ExpectUsage(c, "--id-field text: is also a --text-column");
  c.id_field = "id";
  EXPECT_TRUE(Check(c).ok());
  c.doc_mode = DocMode::kParagraph;
  ExpectUsage(c, "--doc");
  c.doc_mode = DocMode::kLine;
  // A comma or quote in the placeholder is quoted in CSV; a tab cannot be
  // written in a TSV field at all.
  c.oov_token = "<un,k>\t";
  EXPECT_TRUE(Check(c).ok());
  c.input = "rows.tsv";
  EXPECT_EQ(ResolvedFormat(c), InputFormat::kTsv);
  ExpectUsage(c, "--oov-token: must not contain a tab");
  c.oov_token = "<unk>\r";
  ExpectUsage(c, "--oov-token: must not contain a tab or carriage return");
  c.oov = OovPolicy::kKeep;
  EXPECT_TRUE(Check(c).ok());
  Config j = Tg(50);
  j.input = "records.jsonl";
  j.text_fields = {"text"};
  j.text_columns = {"text"};
  ExpectUsage(j, "--text-column: only for --format csv or tsv");
  Config t = Tg(50);
  t.id_field = "id";
  ExpectUsage(t, "--id-field: only for --format jsonl, csv or tsv");
}

TEST(ConfigTest, ExitCodes) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(DataError("x")), 1);
  EXPECT_EQ(ExitCodeFor(IoError("x")), 1);
  EXPECT_EQ(ExitCodeFor(UsageError("x")), 2);
}

}  // namespace
}  // namespace dpsanitize
