#include "dpsanitize/core/config.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dpsanitize {
namespace {

Config Tg(double eps) {
  Config c;
  c.eps = eps;
  c.no_ledger = true;  // stdout output needs --ledger or --no-ledger
  return c;
}

void ExpectUsage(const Config& c, const std::string& needle) {
  const Status s = Validate(c);
  ASSERT_FALSE(s.ok()) << "expected usage error: " << needle;
  EXPECT_EQ(s.code(), StatusCode::kUsage);
  EXPECT_EQ(ExitCodeFor(s), 2);
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(ConfigTest, DefaultsWithEpsAreValid) { EXPECT_TRUE(Validate(Tg(50)).ok()); }

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
  c.mu = 3;
  ExpectUsage(c, "--mu/--delta-max");
  c.mu.reset();
  c.delta_max = 10;
  ExpectUsage(c, "--mu/--delta-max");
  Config e;
  e.no_ledger = true;
  e.gumbel_scale = 2;
  e.mu = 3;
  e.delta_max = 10;
  EXPECT_TRUE(Validate(e).ok());
  e.eps = 50;
  ExpectUsage(e, "not both");
  Config neg;
  neg.no_ledger = true;
  neg.gumbel_scale = -1;
  ExpectUsage(neg, "--gumbel-scale -1");
}

TEST(ConfigTest, MvlRejectsTgFlags) {
  Config c = Tg(5);
  c.mechanism = MechanismKind::kMvl;
  EXPECT_TRUE(Validate(c).ok());
  c.gumbel_scale = 1;
  ExpectUsage(c, "only valid with --mechanism tg");
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
  EXPECT_TRUE(Validate(c).ok());
  c.no_ledger = true;
  ExpectUsage(c, "at most one");
  Config f = Tg(50);
  f.no_ledger = false;
  f.output = "out.txt";
  EXPECT_TRUE(Validate(f).ok());
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
  EXPECT_TRUE(Validate(c).ok());
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
  EXPECT_TRUE(Validate(t).ok());
}

TEST(ConfigTest, ExitCodes) {
  EXPECT_EQ(ExitCodeFor(Status::Ok()), 0);
  EXPECT_EQ(ExitCodeFor(DataError("x")), 1);
  EXPECT_EQ(ExitCodeFor(IoError("x")), 1);
  EXPECT_EQ(ExitCodeFor(UsageError("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kCancelled, "x")), 130);
}

}  // namespace
}  // namespace dpsanitize
