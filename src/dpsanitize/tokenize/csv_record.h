// CSV and TSV records: where a record ends, the byte span and the value of
// each of its fields, and how a rewritten field is written back.
//
// Dialects (docs/formats.md, "CSV and TSV"):
//   CSV  RFC 4180. ',' separates fields. A field is unquoted (no '"', CR or
//        LF in it) or quoted: '"' ... '"' with '""' for a quote, and commas,
//        CR and LF allowed inside, so a record may span several physical
//        lines. A record ends at a LF outside quotes; a CR right before that
//        LF belongs to the line end.
//   TSV  IANA text/tab-separated-values. '\t' separates fields; there is no
//        quoting (a '"' is an ordinary byte) and a record is one line; a
//        field holds no tab, CR or LF.
// A record's "body" is the record without its line end ("\n" or "\r\n").
//
//   CsvBoundary boundary;                    // LineReader, shard planning
//   size_t end = boundary.Scan(data, n);     // the '\n' that ends the record
//
//   TableRecordParser parser(InputFormat::kCsv);
//   std::string error;
//   if (parser.Parse(RecordBody(record), &error)) {
//     parser.fields(); parser.span(i);       // raw bytes, quotes included
//     parser.value(i);                       // unescaped
//   }
//   AppendCsvField(new_value, IsQuotedCsvField(raw), &out);
#ifndef DPSANITIZE_TOKENIZE_CSV_RECORD_H_
#define DPSANITIZE_TOKENIZE_CSV_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/core/config.h"

namespace dpsanitize {

// Finds where CSV records end in a stream of bytes, by quote state: a LF ends
// the record unless it lies inside a quoted field. A quote opens a quoted
// field only at the start of a field, so a stray quote inside an unquoted
// field (`a"b`, a bad record) does not swallow the lines after it; only a
// quoted field left open does (until the end of the input or --max-line).
class CsvBoundary {
 public:
  static constexpr size_t kNone = ~size_t{0};

  // Scans data[0, n), continuing from the state the bytes scanned since the
  // last record end left. Returns the index of the LF that ends the record
  // (the state is then back at a record start), or kNone when the record goes
  // on past data[n - 1].
  size_t Scan(const char* data, size_t n);

  // Back to a record start (after a record end found by Scan, this is
  // already the state).
  void Reset() { state_ = kFieldStart; }

 private:
  enum State : uint8_t { kFieldStart, kUnquoted, kQuoted, kQuoteSeen };
  State state_ = kFieldStart;
};

// One field of a record: its raw bytes in the record's body, quotes
// included.
struct FieldSpan {
  uint32_t begin;
  uint32_t size;
};

// `record` without its line end: a final "\n" and a "\r" right before it.
std::string_view RecordBody(std::string_view record);

// Splits a CSV record body into fields by RFC 4180 (strict: no quote inside
// an unquoted field, nothing but ',' after a closing quote, no CR or LF
// outside quotes, no quoted field left open). False, with the reason in
// *error (field numbers and byte offsets, never the text), if it is not
// valid.
bool SplitCsvFields(std::string_view body, std::vector<FieldSpan>* fields, std::string* error);

// The value of a valid CSV field given its raw bytes: the content between the
// quotes with '""' read as '"' for a quoted field, the bytes themselves
// otherwise.
std::string UnescapeCsvField(std::string_view raw);

// True when a (valid) raw CSV field is quoted.
inline bool IsQuotedCsvField(std::string_view raw) { return !raw.empty() && raw[0] == '"'; }

// True when `value` can only be written as a quoted CSV field.
bool CsvValueNeedsQuotes(std::string_view value);

// Appends `value` as a CSV field: quoted (with '"' doubled) when `quote` is
// true or the value needs it, else as it is. With the value a field was read
// as and `quote` = IsQuotedCsvField(raw), this writes the raw bytes back.
void AppendCsvField(std::string_view value, bool quote, std::string* out);

// Parses record bodies of one dialect. CSV: libcsv (strict) validates the
// record and unescapes its values, and SplitCsvFields finds each field's
// bytes (see csv_record.cpp for why both); a record is valid when both
// accept it with the same number of fields. TSV: split at tabs, a value is
// its bytes. Not thread-safe; one parser per thread.
class TableRecordParser {
 public:
  explicit TableRecordParser(InputFormat format);  // kCsv or kTsv
  ~TableRecordParser();
  TableRecordParser(const TableRecordParser&) = delete;
  TableRecordParser& operator=(const TableRecordParser&) = delete;

  // Parses `body` (kept by reference until the next Parse). False, with the
  // reason in *error (no text of the record), if it is not a valid record.
  bool Parse(std::string_view body, std::string* error);

  // After a successful Parse:
  size_t fields() const { return spans_.size(); }
  FieldSpan span(size_t i) const { return spans_[i]; }
  std::string_view raw(size_t i) const { return body_.substr(spans_[i].begin, spans_[i].size); }
  std::string_view value(size_t i) const;

 private:
  struct Libcsv;  // csv.h stays out of this header (a private dependency)
  bool ParseCsv(std::string* error);
  bool ParseTsv(std::string* error);

  InputFormat format_;
  std::string_view body_;
  std::vector<FieldSpan> spans_;
  std::unique_ptr<Libcsv> csv_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_TOKENIZE_CSV_RECORD_H_
