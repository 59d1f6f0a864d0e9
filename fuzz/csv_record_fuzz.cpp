// Fuzzes the CSV and TSV record code (tokenize/csv_record.h) against plain
// models of it. The first byte picks the dialect (bit 0: TSV) and the chunk
// size of the boundary scan (bits 1-4); the rest is the input, parsed as one
// record body and also split into records as the line reader splits it.
// Invariants:
//   - CsvBoundary finds the same record ends whatever the chunks it is fed;
//   - CSV: whatever SplitCsvFields accepts, libcsv (strict) accepts with as
//     many fields: Parse never refuses it;
//   - CSV, a body that parses: the spans tile it with a comma between two;
//     each value (libcsv's) is the span unescaped; there are as many fields
//     as commas outside quotes plus one; the boundary ends the body followed
//     by "\n" at that "\n" and nowhere before; writing each value back with
//     the field's quoting reproduces the body byte for byte, and with
//     minimal quoting gives a body that parses to the same values;
//   - TSV: a body parses exactly when it holds no CR or LF; the fields are
//     the tab-separated pieces, and the values their bytes.
// fuzz-link: dpsanitize::tokenize
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/tokenize/csv_record.h"

namespace {

using dpsanitize::CsvBoundary;
using dpsanitize::InputFormat;
using dpsanitize::TableRecordParser;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Record ends (one past each '\n' that ends a record) found by scanning
// `data` `chunk` bytes at a time.
std::vector<size_t> CsvEnds(std::string_view data, size_t chunk) {
  std::vector<size_t> ends;
  CsvBoundary b;
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t n = std::min(chunk, data.size() - pos);
    const size_t end = b.Scan(data.data() + pos, n);
    if (end == CsvBoundary::kNone) {
      pos += n;
    } else {
      pos += end + 1;
      ends.push_back(pos);
    }
  }
  return ends;
}

void CheckCsv(TableRecordParser& parser, std::string_view body) {
  std::vector<dpsanitize::FieldSpan> spans;
  std::string split_error, error;
  const bool split = dpsanitize::SplitCsvFields(body, &spans, &split_error);
  const bool ok = parser.Parse(body, &error);
  if (split) Check(ok);  // libcsv agrees with the splitter
  if (!ok) return;
  Check(parser.fields() == spans.size());
  // The spans tile the body.
  size_t pos = 0;
  for (size_t i = 0; i < parser.fields(); ++i) {
    if (i > 0) {
      Check(body[pos] == ',');
      ++pos;
    }
    Check(parser.span(i).begin == pos);
    pos += parser.span(i).size;
    Check(parser.value(i) == dpsanitize::UnescapeCsvField(parser.raw(i)));
  }
  Check(pos == body.size());
  // Fields by quote parity: every '"' toggles, so "" inside quotes cancels.
  size_t commas = 0;
  bool quoted = false;
  for (char ch : body) {
    if (ch == '"') quoted = !quoted;
    if (ch == ',' && !quoted) ++commas;
    if ((ch == '\r' || ch == '\n') && !quoted) Check(false);  // no line break outside quotes
  }
  Check(!quoted);
  Check(parser.fields() == commas + 1);
  // The line reader would end this record exactly after it.
  const std::string line = std::string(body) + "\n";
  CsvBoundary boundary;
  Check(boundary.Scan(line.data(), line.size()) == body.size());
  // Written back with the same quoting: the same bytes; with minimal quoting:
  // the same values.
  std::string same, minimal;
  std::vector<std::string> values;
  for (size_t i = 0; i < parser.fields(); ++i) {
    if (i > 0) {
      same += ',';
      minimal += ',';
    }
    dpsanitize::AppendCsvField(parser.value(i), dpsanitize::IsQuotedCsvField(parser.raw(i)), &same);
    dpsanitize::AppendCsvField(parser.value(i), false, &minimal);
    values.emplace_back(parser.value(i));
  }
  Check(same == body);
  Check(minimal.size() <= body.size());
  Check(parser.Parse(minimal, &error));
  Check(parser.fields() == values.size());
  for (size_t i = 0; i < values.size(); ++i) Check(parser.value(i) == values[i]);
}

void CheckTsv(TableRecordParser& parser, std::string_view body) {
  std::string error;
  const bool ok = parser.Parse(body, &error);
  Check(ok == (body.find_first_of("\r\n") == std::string_view::npos));
  if (!ok) return;
  std::string joined;
  size_t tabs = 0;
  for (char ch : body) tabs += ch == '\t';
  Check(parser.fields() == tabs + 1);
  for (size_t i = 0; i < parser.fields(); ++i) {
    Check(parser.value(i) == parser.raw(i));
    Check(parser.value(i).find('\t') == std::string_view::npos);
    if (i > 0) joined += '\t';
    joined += parser.value(i);
  }
  Check(joined == body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // Reused across inputs, as Analyze reuses one per thread: a record after
  // a refused one must parse as if it came first.
  static TableRecordParser csv(InputFormat::kCsv);
  static TableRecordParser tsv(InputFormat::kTsv);
  const bool is_tsv = (data[0] & 1) != 0;
  const size_t chunk = 1 + ((data[0] >> 1) & 15);
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);

  // The whole input as one body (line breaks and all).
  if (is_tsv) {
    CheckTsv(tsv, input);
  } else {
    CheckCsv(csv, input);
  }

  // Records as the line reader cuts them: TSV at each '\n', CSV by quote
  // state, the same ends whatever the chunks.
  std::vector<size_t> ends;
  if (is_tsv) {
    for (size_t i = 0; i < input.size(); ++i) {
      if (input[i] == '\n') ends.push_back(i + 1);
    }
  } else {
    ends = CsvEnds(input, input.size() + 1);
    Check(CsvEnds(input, chunk) == ends);
  }
  if (ends.empty() || ends.back() != input.size()) ends.push_back(input.size());
  size_t begin = 0;
  for (size_t end : ends) {
    const std::string_view body = dpsanitize::RecordBody(input.substr(begin, end - begin));
    if (is_tsv) {
      CheckTsv(tsv, body);
    } else {
      CheckCsv(csv, body);
    }
    begin = end;
  }
  return 0;
}
