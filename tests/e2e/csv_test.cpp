// End-to-end tests of CSV (RFC 4180) and TSV (IANA) input: every byte but the
// rewritten fields' passes through (checked with a CSV reader of the test's
// own, not the tool's), rewritten fields are quoted as they must be, bad rows
// stop the run or are skipped without their text reaching the output, the
// header is checked, --shard parts concatenate to the whole run, and the
// output is determined by the key (or seed) and the ids.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/run_binary.h"

namespace dps_e2e {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// ------------------------------------------------------- an independent reader

// One physical row of a CSV or TSV text: each field's raw bytes (CSV: quotes
// included) and the line end ("\r\n", "\n" or "" at the end of the input).
// A blank line is a row without fields.
struct Row {
  std::vector<std::string> raw;
  std::string end;
};

// Reads `text` as RFC 4180 CSV (sep ',') or IANA TSV (sep '\t'); false when
// it is not valid.
bool ReadTable(const std::string& text, char sep, std::vector<Row>* rows) {
  rows->clear();
  size_t i = 0;
  const size_t n = text.size();
  const auto line_end = [&](Row* row) {
    if (text.compare(i, 2, "\r\n") == 0) {
      row->end = "\r\n";
      i += 2;
    } else if (i < n && text[i] == '\n') {
      row->end = "\n";
      ++i;
    }
  };
  while (i < n) {
    Row row;
    if (text[i] == '\n' || text.compare(i, 2, "\r\n") == 0) {
      line_end(&row);
      rows->push_back(row);
      continue;
    }
    while (true) {
      const size_t begin = i;
      if (sep == ',' && text[i] == '"') {
        ++i;
        while (true) {
          if (i >= n) return false;
          if (text[i] == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          ++i;
        }
      } else {
        while (i < n && text[i] != sep && text[i] != '\n' && text.compare(i, 2, "\r\n") != 0) {
          if (sep == ',' && (text[i] == '"' || text[i] == '\r')) return false;
          ++i;
        }
      }
      row.raw.push_back(text.substr(begin, i - begin));
      if (i < n && text[i] == sep) {
        ++i;
        continue;
      }
      if (i == n || text[i] == '\n' || text.compare(i, 2, "\r\n") == 0) break;
      return false;  // bytes after a closing quote
    }
    line_end(&row);
    rows->push_back(row);
  }
  return true;
}

bool Quoted(const std::string& raw) { return !raw.empty() && raw[0] == '"'; }

std::string Unquote(const std::string& raw) {
  if (!Quoted(raw)) return raw;
  std::string v;
  for (size_t i = 1; i + 1 < raw.size(); ++i) {
    v += raw[i];
    if (raw[i] == '"') ++i;
  }
  return v;
}

std::string Quote(const std::string& value) {
  std::string q = "\"";
  for (char ch : value) {
    q += ch;
    if (ch == '"') q += '"';
  }
  return q + "\"";
}

// ------------------------------------------------------- fixtures

// The sample corpus's lines without their newline.
std::vector<std::string> Sentences() {
  std::vector<std::string> s = SampleLines();
  for (std::string& line : s) line.pop_back();
  return s;
}

// A CSV with CRLF line ends: id, a text column quoted in every style (commas
// and doubled quotes, CR LF and LF inside, empty, quoted empty, unquoted), a
// label column with quoted commas, a second text column, a blank line, and a
// last row without a line end.
std::string HostileCsv() {
  const std::vector<std::string> s = Sentences();
  std::string csv = "id,text,label,title\r\n";
  for (size_t i = 0; i < 24; ++i) {
    const std::string& text = s[i % s.size()];
    std::string field;
    switch (i % 6) {
      case 0:
        field = Quote(text + ", he said \"again\"");
        break;
      case 1:
        field = Quote(text + "\r\nand the next line\nand one more");
        break;
      case 2:
        // Unquoted, with a word out of the vocabulary: masked with a comma.
        field = "a plain field zxqvbnm without commas";
        break;
      case 3:
        field = i == 3 ? "" : Quote(text);
        break;
      case 4:
        field = i == 4 ? "\"\"" : Quote(text);
        break;
      default:
        field = Quote(text);
    }
    const std::string label = i % 2 == 0 ? "\"pos, maybe\"" : "neg";
    const std::string title = i % 3 == 0 ? Quote("A title, " + std::to_string(i)) : "Plain title";
    csv.append(std::to_string(i)).append(",").append(field).append(",").append(label);
    csv.append(",").append(title);
    if (i == 7) csv += "\r\n";  // then a blank line
    if (i + 1 < 24) csv += "\r\n";
  }
  return csv;
}

// SST-2 style TSV: sentence<TAB>label, with stray quotes in sentences.
std::string SstTsv(size_t rows) {
  const std::vector<std::string> s = Sentences();
  std::string tsv = "sentence\tlabel\n";
  for (size_t i = 0; i < rows; ++i) {
    std::string text = s[i % s.size()];
    if (i % 4 == 1) text.insert(0, "\"");
    if (i % 4 == 2) text += " it 's \" good \"";
    tsv += text + "\t" + std::to_string(i % 2) + "\n";
    if (i % 9 == 5) tsv += "\n";
  }
  return tsv;
}

class CsvTest : public E2eTest {
 protected:
  void SetUp() override {
    E2eTest::SetUp();
    dir_.Write("key", std::string(40, 'k'));
    ASSERT_EQ(::chmod(dir_.File("key").c_str(), 0600), 0);
  }

  // Runs em at eps 3 with the test key on `in` to `out` and `more`.
  RunResult Run(std::vector<std::string> more, const std::string& in, const std::string& out) {
    std::vector<std::string> args{"--mechanism", "em", "--key-file", "key"};
    args.insert(args.end(), more.begin(), more.end());
    args.insert(args.end(), {in, out});
    return RunBinary(Arguments(args, "3"), {dir_.path()});
  }

  json Ledger(const std::string& out) { return json::parse(dir_.Read(out + ".ledger.json")); }

  // Runs N shards and checks their concatenation and merged ledger against
  // the whole run.
  void CheckShards(const std::vector<std::string>& more, const std::string& in, int n) {
    SCOPED_TRACE("N = " + std::to_string(n));
    const RunResult whole = Run(more, in, "whole.out");
    ASSERT_EQ(whole.exit_code, 0) << whole.Describe();
    std::string joined;
    std::vector<std::string> merge{"ledger", "merge"};
    size_t empty_parts = 0;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> args = more;
      args.insert(args.end(), {"--shard", std::to_string(i) + "/" + std::to_string(n)});
      const std::string out = "part" + std::to_string(i) + ".out";
      const RunResult r = Run(args, in, out);
      ASSERT_EQ(r.exit_code, 0) << r.Describe();
      const std::string part = dir_.Read(out);
      empty_parts += part.empty();
      joined += part;
      merge.push_back(out + ".ledger.json");
    }
    EXPECT_TRUE(SameText(joined, dir_.Read("whole.out")));
    merge.insert(merge.end(), {"-o", "merged.json"});
    const RunResult m = RunBinary(merge, {dir_.path()});
    ASSERT_EQ(m.exit_code, 0) << m.Describe();
    json merged = json::parse(dir_.Read("merged.json"));
    json one = Ledger("whole.out");
    for (const char* skip : {"created_utc", "tool", "outputs", "merged_from"}) {
      merged.erase(skip);
      one.erase(skip);
    }
    EXPECT_EQ(merged, one);
    if (n == 7) {
      EXPECT_GE(empty_parts, 1u) << "the long record should leave a part empty";
    }
  }

  TempDir& dir() { return dir_; }
};

// ------------------------------------------------------- round trip

// Every byte but the rewritten fields' is the input's: header, other
// columns, separators, quoting style, line ends, the blank line. A rewritten
// field keeps its quotes, gets them only when its new value needs them, and
// parses back.
TEST_F(CsvTest, RoundTripChangesOnlyTheTextColumns) {
  const std::string input = HostileCsv();
  dir_.Write("in.csv", input);
  const RunResult r =
      Run({"--text-column", "text", "--text-column", "title", "--oov-token", "<oov, \"masked\">"},
          "in.csv", "out.csv");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string output = dir_.Read("out.csv");
  std::vector<Row> in_rows, out_rows;
  ASSERT_TRUE(ReadTable(input, ',', &in_rows));
  ASSERT_TRUE(ReadTable(output, ',', &out_rows)) << "the output is not valid CSV:\n" << output;
  ASSERT_EQ(out_rows.size(), in_rows.size());
  EXPECT_EQ(output.substr(0, output.find('\n') + 1), "id,text,label,title\r\n");
  size_t changed = 0, requoted = 0;
  for (size_t k = 0; k < in_rows.size(); ++k) {
    const Row& a = in_rows[k];
    const Row& b = out_rows[k];
    SCOPED_TRACE("row " + std::to_string(k));
    EXPECT_EQ(b.end, a.end);
    ASSERT_EQ(b.raw.size(), a.raw.size());
    for (size_t f = 0; f < a.raw.size(); ++f) {
      const bool text = k > 0 && (f == 1 || f == 3);
      if (!text) {
        EXPECT_EQ(b.raw[f], a.raw[f]) << "column " << f;
        continue;
      }
      const std::string value = Unquote(b.raw[f]);
      const bool needs = value.find_first_of(",\"\r\n") != std::string::npos;
      EXPECT_EQ(Quoted(b.raw[f]), Quoted(a.raw[f]) || needs) << b.raw[f];
      requoted += !Quoted(a.raw[f]) && needs;
      changed += value != Unquote(a.raw[f]);
      // Empty stays empty, in its quoting style.
      if (a.raw[f].empty() || a.raw[f] == "\"\"") {
        EXPECT_EQ(b.raw[f], a.raw[f]);
      }
      // The line breaks inside a field are gaps: kept.
      const std::string before = Unquote(a.raw[f]);
      EXPECT_EQ(std::count(value.begin(), value.end(), '\n'),
                std::count(before.begin(), before.end(), '\n'));
    }
  }
  EXPECT_GT(changed, 10u) << "the text columns should be perturbed";
  EXPECT_GT(requoted, 0u) << "an unquoted field masked with a comma should gain quotes";
  const json ledger = Ledger("out.csv");
  EXPECT_EQ(ledger["input"]["format"], "csv");
  EXPECT_EQ(ledger["input"]["text_columns"], json({"text", "title"}));
  EXPECT_EQ(ledger["totals"]["documents"], 24);
  EXPECT_EQ(ledger["document_ids"]["ranges"], json::parse("[[0, 23]]"));
}

TEST_F(CsvTest, TsvRoundTripKeepsLabelsAndStrayQuotes) {
  const std::string input = SstTsv(40);
  dir_.Write("in.tsv", input);
  const RunResult r = Run({"--text-column", "sentence"}, "in.tsv", "out.tsv");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string output = dir_.Read("out.tsv");
  std::vector<Row> in_rows, out_rows;
  ASSERT_TRUE(ReadTable(input, '\t', &in_rows));
  ASSERT_TRUE(ReadTable(output, '\t', &out_rows));
  ASSERT_EQ(out_rows.size(), in_rows.size());
  size_t changed = 0;
  for (size_t k = 0; k < in_rows.size(); ++k) {
    ASSERT_EQ(out_rows[k].raw.size(), in_rows[k].raw.size()) << "row " << k;
    EXPECT_EQ(out_rows[k].end, in_rows[k].end);
    if (in_rows[k].raw.empty()) continue;
    EXPECT_EQ(out_rows[k].raw[1], in_rows[k].raw[1]) << "label of row " << k;
    if (k == 0) {
      EXPECT_EQ(out_rows[k].raw[0], "sentence");
    }
    // Quotes are text in TSV: they stay where they were, unescaped.
    EXPECT_EQ(std::count(out_rows[k].raw[0].begin(), out_rows[k].raw[0].end(), '"'),
              std::count(in_rows[k].raw[0].begin(), in_rows[k].raw[0].end(), '"'));
    changed += out_rows[k].raw[0] != in_rows[k].raw[0];
  }
  EXPECT_GT(changed, 10u);
  EXPECT_EQ(Ledger("out.tsv")["input"]["format"], "tsv");
  EXPECT_EQ(Ledger("out.tsv")["totals"]["documents"], 40);
}

// A header-only input is a valid, empty table; an empty one has no header.
TEST_F(CsvTest, HeaderOnlyAndEmptyInputs) {
  dir_.Write("header.csv", "\xEF\xBB\xBFid,text\r\n");
  RunResult r = Run({"--text-column", "text", "--text-column", "id"}, "header.csv", "out.csv");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();  // the BOM is not part of the name "id"
  EXPECT_EQ(dir_.Read("out.csv"), "\xEF\xBB\xBFid,text\r\n");
  EXPECT_EQ(Ledger("out.csv")["totals"]["documents"], 0);
  dir_.Write("empty.csv", "");
  r = Run({"--text-column", "text"}, "empty.csv", "out2.csv");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("dpsanitize: empty.csv: no header on line 1"));
  EXPECT_FALSE(dir_.Has("out2.csv"));
}

// ------------------------------------------------------- header and options

TEST_F(CsvTest, MissingOrRepeatedColumnIsADataError) {
  dir_.Write("in.csv", "id,text,text,note\n1,a,b,c\n");
  RunResult r = Run({"--text-column", "body"}, "in.csv", "out.csv");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, StartsWith("dpsanitize: in.csv: --text-column body: no column \"body\""));
  r = Run({"--text-column", "text"}, "in.csv", "out.csv");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("in.csv: --text-column text: the header (line 1) names 2 columns"));
  r = Run({"--text-column", "note", "--id-field", "key"}, "in.csv", "out.csv");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("--id-field key: no column \"key\""));
  dir_.Write("bad-header.csv", "id,\"text\n");
  r = Run({"--text-column", "text"}, "bad-header.csv", "out.csv");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("line 1 (the header): not a valid CSV row"));
  EXPECT_FALSE(dir_.Has("out.csv"));
}

TEST_F(CsvTest, OptionsOfOtherFormatsAreUsageErrors) {
  dir_.Write("in.csv", "id,text\n1,a\n");
  dir_.Write("in.tsv", "id\ttext\n1\ta\n");
  dir_.Write("in.txt", "a\n");
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"in.csv"}, "--text-column: required for CSV input"},
      {{"--text-field", "text", "in.csv"}, "--text-field: only for --format jsonl"},
      {{"--text-column", "text", "in.txt"}, "--text-column: only for --format csv or tsv"},
      {{"--text-column", "text", "--format", "jsonl", "--text-field", "t", "in.txt"},
       "--text-column: only for --format csv or tsv"},
      {{"--text-column", "text", "--text-column", "text", "in.csv"}, "given twice"},
      {{"--text-column", "text", "--id-field", "text", "in.csv"}, "also a --text-column"},
      {{"--text-column", "text", "--doc", "paragraph", "in.tsv"}, "--doc"},
      {{"--text-column", "text", "--oov-token", "a\tb", "in.tsv"}, "--oov-token"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> direct{"--mechanism", "em", "--key-file", "key"};
    direct.insert(direct.end(), c.args.begin(), c.args.end());
    direct.push_back("out");
    const RunResult u = RunBinary(Arguments(direct, "3"), {dir_.path()});
    EXPECT_EQ(u.exit_code, 2) << c.message << ": " << u.Describe();
    EXPECT_THAT(u.err, HasSubstr(c.message));
  }
}

// ------------------------------------------------------- bad rows

// Words out of the fixture vocabulary, planted in the bad rows: none may
// reach the output or stderr.
const std::vector<std::string> kPlanted = {"Zebulonquartz", "Xylofrandic", "Quorvalent"};

struct BadRow {
  std::string name;
  std::string rows;  // the rows after a multi-line first row (lines 1-3: kGoodHead)
  int line;          // the physical line of the bad row
  std::string reason;
  int good_before = 0;  // good rows in `rows` before the bad one
};

void PrintTo(const BadRow& b, std::ostream* os) { *os << b.name; }

const std::string kGoodHead =
    "id,text,label\n1,\"first row, with a\nsecond line\",x\n";  // lines 1-3
const std::string kGoodTail = "9,the last good row,z\n";

class CsvBadRowTest : public CsvTest, public ::testing::WithParamInterface<BadRow> {};

TEST_P(CsvBadRowTest, StopsTheRunOrIsSkipped) {
  const BadRow& b = GetParam();
  dir().Write("in.csv", kGoodHead + b.rows + kGoodTail);
  RunResult r = Run({"--text-column", "text"}, "in.csv", "out.csv");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(CountLines(r.err), 1u) << r.err;
  EXPECT_THAT(r.err,
              StartsWith("dpsanitize: in.csv: line " + std::to_string(b.line) + ": bad record: "));
  EXPECT_THAT(r.err, HasSubstr(b.reason));
  for (const std::string& w : kPlanted) EXPECT_THAT(r.err, Not(HasSubstr(w)));
  EXPECT_FALSE(dir().Has("out.csv"));

  r = Run({"--text-column", "text", "--on-bad-record", "skip"}, "in.csv", "out.csv");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = dir().Read("out.csv");
  for (const std::string& w : kPlanted) EXPECT_THAT(out, Not(HasSubstr(w))) << out;
  std::vector<Row> rows;
  ASSERT_TRUE(ReadTable(out, ',', &rows)) << out;
  const int good = 2 + b.good_before;
  EXPECT_EQ(rows.size(), 1u + good) << out;  // the header, the good rows
  const json ledger = Ledger("out.csv");
  EXPECT_EQ(ledger["totals"]["bad_records_skipped"], 1);
  EXPECT_EQ(ledger["totals"]["documents"], good);
  // The bad row took its index: the last row's is one more.
  EXPECT_EQ(ledger["document_ids"]["ranges"],
            json::array({json::array({0, good - 2}), json::array({good, good})}));
}

INSTANTIATE_TEST_SUITE_P(
    Rows, CsvBadRowTest,
    ::testing::Values(
        BadRow{"TooFewFields", "2,Zebulonquartz words\n", 4, "2 fields where the header has 3"},
        BadRow{"TooManyFields", "2,Zebulonquartz,x,y\n", 4, "4 fields where the header has 3"},
        BadRow{"QuoteInUnquotedField", "2,Zebulon\"quartz,x\n", 4, "inside an unquoted field"},
        BadRow{"TextAfterClosingQuote", "2,\"Xylofrandic\"Quorvalent,x\n", 4,
               "after the closing quote"},
        BadRow{"InvalidUtf8", "2,Zebulonquartz \xC3\x28 Quorvalent,x\n", 4, "invalid UTF-8"},
        BadRow{"BareCarriageReturn", "2,Zebulonquartz\rXylofrandic,x\n", 4, "line break"},
        // Multi-line rows before: the line named is the physical one.
        BadRow{"AfterMultiLineRows", "2,\"ok\nok\nok\",x\n3,Xylofrandic,\"a\"b\n", 7,
               "after the closing quote", 1}),
    [](const ::testing::TestParamInfo<BadRow>& info) { return info.param.name; });

// A quoted field left open at the end of the input runs to it, taking the
// last good row with it: one bad record, skipped as one.
TEST_F(CsvTest, UnterminatedQuoteSwallowsTheRestAsOneBadRecord) {
  dir_.Write("in.csv", kGoodHead + "2,\"Zebulonquartz,x\n" + kGoodTail);
  RunResult r = Run({"--text-column", "text"}, "in.csv", "out.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("in.csv: line 4: bad record: field 2: quoted field not closed"));
  r = Run({"--text-column", "text", "--on-bad-record", "skip"}, "in.csv", "out.csv");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Ledger("out.csv")["totals"]["bad_records_skipped"], 1);
  EXPECT_THAT(dir_.Read("out.csv"), Not(HasSubstr("last")));
}

TEST_F(CsvTest, TsvBadRows) {
  dir_.Write("in.tsv", "id\ttext\n1\tgood words\n2\tZebulonquartz\textra\n3\tQuorvalent\rmore\n");
  RunResult r = Run({"--text-column", "text"}, "in.tsv", "out.tsv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("in.tsv: line 3: bad record: 3 fields where the header has 2"));
  r = Run({"--text-column", "text", "--on-bad-record", "skip"}, "in.tsv", "out.tsv");
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string out = dir_.Read("out.tsv");
  for (const std::string& w : kPlanted) EXPECT_THAT(out, Not(HasSubstr(w)));
  EXPECT_EQ(CountLines(out), 2u);
  EXPECT_EQ(Ledger("out.tsv")["totals"]["bad_records_skipped"], 2);
}

// ------------------------------------------------------- ids and determinism

// The same key and input give the same bytes, whatever the thread count;
// --seed likewise; another seed other bytes.
TEST_F(CsvTest, OutputIsDeterminedByTheKeyOrSeed) {
  dir_.Write("in.csv", HostileCsv());
  const std::vector<std::string> cols{"--text-column", "text", "--text-column", "title"};
  std::vector<std::string> a = cols, b = cols;
  a.insert(a.end(), {"--threads", "1"});
  b.insert(b.end(), {"--threads", "2"});
  ASSERT_EQ(Run(a, "in.csv", "a.csv").exit_code, 0);
  ASSERT_EQ(Run(b, "in.csv", "b.csv").exit_code, 0);
  EXPECT_TRUE(SameText(dir_.Read("a.csv"), dir_.Read("b.csv")));
  const auto seeded = [&](const std::string& seed, const std::string& out) {
    std::vector<std::string> args{"--mechanism", "em", "--seed", seed, "-q"};
    args.insert(args.end(), cols.begin(), cols.end());
    args.insert(args.end(), {"in.csv", out});
    const RunResult r = RunBinary(Arguments(args, "3"), {dir_.path()});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return dir_.Read(out);
  };
  EXPECT_EQ(seeded("one", "s1.csv"), seeded("one", "s2.csv"));
  EXPECT_NE(seeded("one", "s1.csv"), seeded("two", "s3.csv"));
  EXPECT_NE(seeded("one", "s1.csv"), dir_.Read("a.csv"));
}

// With --id-field a row's noise follows its id, not its position: the rows
// of a shuffled input come out as they did in order. Ids spelled as
// integers and as strings both work; a repeated id is an error.
TEST_F(CsvTest, IdColumnKeysTheNoise) {
  const std::vector<std::string> s = Sentences();
  std::vector<std::string> rows;
  for (size_t i = 0; i < 20; ++i) {
    const std::string id = i % 2 == 0 ? std::to_string(i * 7) : "doc-" + std::to_string(i);
    rows.push_back(id + "," + Quote(s[i]) + "\n");
  }
  std::string in = "id,text\n";
  for (const std::string& row : rows) in += row;
  std::string shuffled = "id,text\n";
  for (size_t i = 0; i < rows.size(); ++i) shuffled += rows[(i * 7) % rows.size()];
  dir_.Write("in.csv", in);
  dir_.Write("shuffled.csv", shuffled);
  const std::vector<std::string> args{"--text-column", "text", "--id-field", "id"};
  ASSERT_EQ(Run(args, "in.csv", "a.csv").exit_code, 0);
  ASSERT_EQ(Run(args, "shuffled.csv", "b.csv").exit_code, 0);
  std::vector<std::string> a = SplitLines(dir_.Read("a.csv"));
  std::vector<std::string> b = SplitLines(dir_.Read("b.csv"));
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, b);
  // Without ids the noise follows the position: some rows differ.
  ASSERT_EQ(Run({"--text-column", "text"}, "shuffled.csv", "c.csv").exit_code, 0);
  std::vector<std::string> c = SplitLines(dir_.Read("c.csv"));
  std::sort(c.begin(), c.end());
  EXPECT_NE(c, b);
  EXPECT_EQ(Ledger("a.csv")["input"]["id_field"], "id");
  EXPECT_EQ(Ledger("a.csv")["document_ids"]["kind"], "sketch");

  dir_.Write("dup.csv", "id,text\n5,a b\n6,c d\n5,e f\n");
  RunResult r = Run(args, "dup.csv", "d.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("dup.csv: line 4: document id in \"id\" repeats the one on line 2"));
  dir_.Write("empty-id.csv", "id,text\n5,a b\n,c d\n");
  r = Run(args, "empty-id.csv", "d.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("line 3: bad record: the id column \"id\" is empty"));
}

// The same integer id in a CSV row and a JSONL record gives the same noise.
TEST_F(CsvTest, IntegerIdsMatchJsonlIds) {
  const std::string text = "Now we are engaged in a great civil war, testing whether that nation";
  dir_.Write("in.csv", "id,text\n42," + Quote(text) + "\n");
  dir_.Write("in.jsonl", "{\"id\":42,\"text\":" + json(text).dump() + "}\n");
  ASSERT_EQ(Run({"--text-column", "text", "--id-field", "id"}, "in.csv", "out.csv").exit_code, 0);
  ASSERT_EQ(Run({"--text-field", "text", "--id-field", "id"}, "in.jsonl", "out.jsonl").exit_code,
            0);
  std::vector<Row> rows;
  ASSERT_TRUE(ReadTable(dir_.Read("out.csv"), ',', &rows));
  const json record = json::parse(dir_.Read("out.jsonl"));
  EXPECT_EQ(Unquote(rows.at(1).raw.at(1)), record["text"].get<std::string>());
}

// ------------------------------------------------------- shards

// Records that span lines around every part boundary, blank lines, a record
// longer than a part of 7 (so a part is empty), CRLF and no final newline:
// a newline search would cut a quoted field; the quote-aware plan does not.
std::string ShardCsv() {
  const std::vector<std::string> s = Sentences();
  std::string csv = "n,text,label\r\n";
  for (size_t i = 0; i < 40; ++i) {
    std::string text = s[i % s.size()];
    if (i % 3 == 0) text += "\nstill the same field,\r\n\"and\" more\n";
    if (i == 20) {
      for (int k = 0; k < 300; ++k) text += "\nthe long record goes on, line " + std::to_string(k);
    }
    csv += std::to_string(i) + "," + Quote(text) + "," + (i % 2 ? "a" : "\"b,c\"");
    if (i % 7 == 3) csv += "\r\n";
    if (i + 1 < 40) csv += "\r\n";
  }
  return csv;
}

TEST_F(CsvTest, CsvShardsConcatenateToTheWholeRun) {
  dir_.Write("in.csv", ShardCsv());
  for (int n : {1, 2, 7}) {
    CheckShards({"--text-column", "text"}, "in.csv", n);
    CheckShards({"--text-column", "text", "--id-field", "n"}, "in.csv", n);
  }
}

TEST_F(CsvTest, TsvShardsConcatenateToTheWholeRun) {
  std::string tsv = SstTsv(60);
  // One long row, so that a part of 7 is empty.
  std::string longest;
  for (int k = 0; k < 400; ++k) longest += "the long row goes on and on ";
  tsv += longest + "\t1\n" + SstTsv(30).substr(std::string("sentence\tlabel\n").size());
  dir_.Write("in.tsv", tsv);
  for (int n : {1, 2, 7}) CheckShards({"--text-column", "sentence"}, "in.tsv", n);
}

// Only the part that starts at byte 0 writes the header; every part finds
// its columns in it (a part after a missing column fails as the whole run).
TEST_F(CsvTest, OnlyTheFirstPartWritesTheHeader) {
  dir_.Write("in.csv", ShardCsv());
  ASSERT_EQ(Run({"--text-column", "text", "--shard", "2/3"}, "in.csv", "p2.csv").exit_code, 0);
  EXPECT_THAT(dir_.Read("p2.csv"), Not(HasSubstr("n,text,label")));
  const RunResult r = Run({"--text-column", "body", "--shard", "2/3"}, "in.csv", "p2b.csv");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no column \"body\""));
}

}  // namespace
}  // namespace dps_e2e
