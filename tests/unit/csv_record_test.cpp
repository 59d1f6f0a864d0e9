// CSV (RFC 4180) and TSV records: the record boundary, the field splitter
// against libcsv, the renderer, and the line reader's CSV record mode.
#include "dpsanitize/tokenize/csv_record.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "dpsanitize/tokenize/line_reader.h"

namespace dpsanitize {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// ------------------------------------------------------------ CsvBoundary

// The records of `data` by CsvBoundary, fed `chunk` bytes at a time.
std::vector<std::string> Records(const std::string& data, size_t chunk) {
  std::vector<std::string> out;
  CsvBoundary b;
  size_t start = 0;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t n = std::min(chunk, data.size() - pos);
    const size_t end = b.Scan(data.data() + pos, n);
    if (end == CsvBoundary::kNone) {
      pos += n;
      continue;
    }
    pos += end + 1;
    out.push_back(data.substr(start, pos - start));
    start = pos;
  }
  if (start < data.size()) out.push_back(data.substr(start));
  return out;
}

TEST(CsvBoundaryTest, QuotedNewlinesStayInTheRecord) {
  const std::string data =
      "a,b\r\n1,\"two\nlines\"\r\n2,\"x\"\"\n\"\"y\"\n3,\"\",\n\"q\r\n\"\n4,last";
  const std::vector<std::string> want = {
      "a,b\r\n",   "1,\"two\nlines\"\r\n", "2,\"x\"\"\n\"\"y\"\n",
      "3,\"\",\n", "\"q\r\n\"\n",          "4,last"};
  for (size_t chunk : {1, 2, 3, 7, 1000}) {
    EXPECT_EQ(Records(data, chunk), want) << "chunk " << chunk;
  }
}

// A quote inside an unquoted field opens nothing: the bad row stays on its
// line instead of swallowing the rows after it. A quoted field left open
// does run on.
TEST(CsvBoundaryTest, StrayQuoteDoesNotSwallowLaterRows) {
  EXPECT_THAT(Records("1,a\"b\n2,c\n3,\"d\"e\n4,f\n", 1000),
              ElementsAre("1,a\"b\n", "2,c\n", "3,\"d\"e\n", "4,f\n"));
  EXPECT_THAT(Records("1,\"open\n2,c\n3,d\n", 1000), ElementsAre("1,\"open\n2,c\n3,d\n"));
  // ... until a quote closes it.
  EXPECT_THAT(Records("1,\"open\n2,\"c\n3,d\n", 5), ElementsAre("1,\"open\n2,\"c\n", "3,d\n"));
}

TEST(CsvBoundaryTest, ResetStartsAtARecordStart) {
  CsvBoundary b;
  EXPECT_EQ(b.Scan("\"ab\ncd", 6), CsvBoundary::kNone);  // inside quotes
  b.Reset();
  EXPECT_EQ(b.Scan("x\ny", 3), 1u);
}

// ------------------------------------------------------------ splitter, libcsv

struct Parsed {
  bool ok = false;
  std::string error;
  std::vector<std::string> raw, values;
};

Parsed Parse(InputFormat format, std::string_view body) {
  TableRecordParser parser(format);
  Parsed p;
  p.ok = parser.Parse(body, &p.error);
  if (!p.ok) return p;
  for (size_t i = 0; i < parser.fields(); ++i) {
    p.raw.emplace_back(parser.raw(i));
    p.values.emplace_back(parser.value(i));
    // CSV: the splitter's span and libcsv's value agree.
    if (format == InputFormat::kCsv) {
      EXPECT_EQ(UnescapeCsvField(parser.raw(i)), parser.value(i)) << "field " << i;
    }
  }
  return p;
}

Parsed Csv(std::string_view body) { return Parse(InputFormat::kCsv, body); }
Parsed Tsv(std::string_view body) { return Parse(InputFormat::kTsv, body); }

TEST(CsvRecordTest, QuotedCommasQuotesAndLineBreaks) {
  const Parsed p = Csv("1,\"a, b\",\"say \"\"hi\"\"\",\"x\r\ny\",\"p\nq\",plain text");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_THAT(p.values, ElementsAre("1", "a, b", "say \"hi\"", "x\r\ny", "p\nq", "plain text"));
  EXPECT_THAT(p.raw, ElementsAre("1", "\"a, b\"", "\"say \"\"hi\"\"\"", "\"x\r\ny\"", "\"p\nq\"",
                                 "plain text"));
}

TEST(CsvRecordTest, EmptyFields) {
  Parsed p = Csv(",,\"\",x,");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_THAT(p.values, ElementsAre("", "", "", "x", ""));  // the last one: a trailing comma
  EXPECT_THAT(p.raw, ElementsAre("", "", "\"\"", "x", ""));
  p = Csv("");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_THAT(p.values, ElementsAre(""));
  p = Csv("\"\"\"\"");  // a field holding one quote
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_THAT(p.values, ElementsAre("\""));
}

// Spaces are data (libcsv would trim them by default).
TEST(CsvRecordTest, SpacesAndTabsAreKept) {
  const Parsed p = Csv(" a ,\tb\t,\" c \"");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_THAT(p.values, ElementsAre(" a ", "\tb\t", " c "));
}

TEST(CsvRecordTest, InvalidRecordsAreRefusedWithoutTheirText) {
  const struct {
    const char* body;
    const char* reason;
  } cases[] = {
      {"1,a\"b", "quote at byte 3 inside an unquoted field"},
      {"1,\"ab\"c", "byte 6 after the closing quote is not a comma"},
      {"1,\"ab\" ", "after the closing quote"},
      {"1,\"unterminated", "quoted field not closed"},
      {"1,\"unterminated\nover lines", "quoted field not closed"},
      {"1,a\rb", "line break at byte 3 outside quotes"},
      {"1,ab\r", "line break"},
      {"\r1,ab", "line break"},
      {" \"a\",b", "inside an unquoted field"},
  };
  for (const auto& c : cases) {
    const Parsed p = Csv(c.body);
    EXPECT_FALSE(p.ok) << c.body;
    EXPECT_THAT(p.error, HasSubstr(c.reason)) << c.body;
    for (const char* word : {"unterminated", "over", "lines", "ab"}) {
      EXPECT_THAT(p.error, Not(HasSubstr(word))) << c.body;
    }
  }
}

// A parser keeps working after a record it refused (libcsv keeps its error
// state unless it is reset).
TEST(CsvRecordTest, ParserRecoversAfterAnError) {
  TableRecordParser parser(InputFormat::kCsv);
  std::string error;
  EXPECT_FALSE(parser.Parse("\"open", &error));
  EXPECT_FALSE(parser.Parse("a\"b", &error));
  ASSERT_TRUE(parser.Parse("x,\"y\"", &error)) << error;
  EXPECT_EQ(parser.fields(), 2u);
  EXPECT_EQ(parser.value(1), "y");
}

TEST(CsvRecordTest, LongFieldsParse) {
  const std::string big(300000, 'w');
  const Parsed p = Csv("\"" + big + "\"," + big);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.values[0], big);
  EXPECT_EQ(p.values[1], big);
}

TEST(CsvRecordTest, RecordBodyDropsOnlyTheLineEnd) {
  EXPECT_EQ(RecordBody("a,b\r\n"), "a,b");
  EXPECT_EQ(RecordBody("a,b\n"), "a,b");
  EXPECT_EQ(RecordBody("a,b"), "a,b");
  EXPECT_EQ(RecordBody("a,b\r\r\n"), "a,b\r");
  EXPECT_EQ(RecordBody("a,\"b\r\n\"\r\n"), "a,\"b\r\n\"");
}

// ------------------------------------------------------------ rendering

TEST(CsvRecordTest, IdentityRenderingReproducesTheRecord) {
  const std::string body = "1,\"a, b\",\"say \"\"hi\"\"\",\"x\r\ny\",plain,\"kept quotes\",,\"\"";
  TableRecordParser parser(InputFormat::kCsv);
  std::string error;
  ASSERT_TRUE(parser.Parse(body, &error)) << error;
  std::string out;
  for (size_t i = 0; i < parser.fields(); ++i) {
    if (i > 0) out += ',';
    AppendCsvField(parser.value(i), IsQuotedCsvField(parser.raw(i)), &out);
  }
  EXPECT_EQ(out, body);
}

TEST(CsvRecordTest, QuotesAreAddedOnlyWhenNeeded) {
  const auto field = [](std::string_view value, bool quoted) {
    std::string out;
    AppendCsvField(value, quoted, &out);
    return out;
  };
  EXPECT_EQ(field("plain words", false), "plain words");
  EXPECT_EQ(field("plain words", true), "\"plain words\"");
  EXPECT_EQ(field("a,b", false), "\"a,b\"");
  EXPECT_EQ(field("say \"x\"", false), "\"say \"\"x\"\"\"");
  EXPECT_EQ(field("two\nlines", false), "\"two\nlines\"");
  EXPECT_EQ(field("cr\r", false), "\"cr\r\"");
  EXPECT_EQ(field("", false), "");
  EXPECT_EQ(field("", true), "\"\"");
  EXPECT_EQ(field("\"", false), "\"\"\"\"");
  // What it writes parses back to the value.
  for (std::string_view v : {"a,b", "say \"x\"", "\"\"", "two\r\nlines", " lead", ""}) {
    const Parsed p = Csv(field(v, false));
    ASSERT_TRUE(p.ok) << v;
    EXPECT_THAT(p.values, ElementsAre(std::string(v)));
  }
}

// ------------------------------------------------------------ TSV

TEST(TsvRecordTest, TabsSeparateAndQuotesAreText) {
  Parsed p = Tsv("1\tit's a \"great\" film, really\t\tlast");
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_THAT(p.values, ElementsAre("1", "it's a \"great\" film, really", "", "last"));
  EXPECT_EQ(p.values, p.raw);
  p = Tsv("a\t");
  ASSERT_TRUE(p.ok);
  EXPECT_THAT(p.values, ElementsAre("a", ""));
  p = Tsv("\"unbalanced");
  ASSERT_TRUE(p.ok);
  EXPECT_THAT(p.values, ElementsAre("\"unbalanced"));
}

TEST(TsvRecordTest, LineBreakInsideARowIsRefused) {
  const Parsed p = Tsv("1\tsecret\rwords\t2");
  EXPECT_FALSE(p.ok);
  EXPECT_THAT(p.error, HasSubstr("field 2: line break at byte 8"));
  EXPECT_THAT(p.error, Not(HasSubstr("secret")));
}

// ------------------------------------------------------------ LineReader

struct ReadResult {
  Status status;
  std::vector<std::string> records;
  uint64_t lines_read = 0;
};

ReadResult ReadCsvRecords(const std::string& data, size_t max_line, size_t max_records) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < data.size()) {
      // Small writes: records arrive split across reads.
      const ssize_t n = ::write(fds[1], data.data() + off, std::min<size_t>(3, data.size() - off));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  ReadResult r;
  LineReader reader(fds[0], "in.csv", max_line, /*check_utf8=*/false);
  reader.set_csv_records(true);
  std::string batch;
  std::vector<size_t> ends;
  while (true) {
    auto n = reader.ReadBatch(1 << 20, max_records, &batch, &ends);
    if (!n.ok()) {
      r.status = n.status();
      break;
    }
    if (*n == 0) break;
    size_t b = 0;
    for (size_t e : ends) {
      r.records.push_back(batch.substr(b, e - b));
      b = e;
    }
  }
  r.lines_read = reader.lines_read();
  char sink[4096];
  while (::read(fds[0], sink, sizeof(sink)) > 0) {
  }
  writer.join();
  ::close(fds[0]);
  return r;
}

TEST(LineReaderCsvTest, ReadsRecordsSpanningLines) {
  const std::string data = "h1,h2\r\n1,\"a\nb\nc\"\r\n\r\n2,\"x\"\"\r\ny\"\n3,z";
  for (size_t max_records : {1, 2, 100}) {
    const ReadResult r = ReadCsvRecords(data, 100, max_records);
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_THAT(r.records,
                ElementsAre("h1,h2\r\n", "1,\"a\nb\nc\"\r\n", "\r\n", "2,\"x\"\"\r\ny\"\n", "3,z"));
    EXPECT_EQ(r.lines_read, 8u);  // physical lines
  }
}

// --max-line bounds a record, whatever its lines; the message names the
// physical line it starts on.
TEST(LineReaderCsvTest, MaxLineBoundsARecord) {
  const std::string data = "h\n1,\"" + std::string(30, 'a') + "\n" + std::string(30, 'b') + "\"\n";
  ReadResult r = ReadCsvRecords(data, 50, 100);
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(r.status.message(), HasSubstr("in.csv: the record starting at line 2 is longer"));
  EXPECT_THAT(r.status.message(), Not(HasSubstr("aaa")));
  r = ReadCsvRecords(data, 70, 100);
  EXPECT_TRUE(r.status.ok()) << r.status.message();
  // An unterminated quote runs to the end of the input: one record, which
  // the caller finds invalid.
  r = ReadCsvRecords("h\n1,\"open\n2,x\n", 100, 100);
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(r.records, ElementsAre("h\n", "1,\"open\n2,x\n"));
}

}  // namespace
}  // namespace dpsanitize
