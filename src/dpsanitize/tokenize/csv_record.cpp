// CSV (RFC 4180) and TSV (IANA text/tab-separated-values) records.
//
// Why libcsv and a splitter of our own, both: the output must be the input
// with only the rewritten fields' bytes changed, so we need the byte span of
// each field in the record, and libcsv (a callback parser) hands out values
// but no offsets. The splitter (SplitCsvFields) gives the spans; libcsv, in
// strict mode, is the independent parser that validates the record and
// unescapes the values we tokenize, so a record is rewritten only when two
// parsers read it the same way (same field count here; same values too, which
// fuzz/csv_record_fuzz.cpp checks on every input). The splitter is the
// stricter of the two: libcsv alone would also take a bare CR outside quotes
// as a row end, which we refuse (RFC 4180 allows CR only inside quotes or
// before the LF that ends a record).
#include "dpsanitize/tokenize/csv_record.h"

#include <csv.h>
#include <fmt/format.h>

#include <cstring>

namespace dpsanitize {

size_t CsvBoundary::Scan(const char* data, size_t n) {
  State s = state_;
  size_t i = 0;
  while (i < n) {
    if (s == kQuoted) {
      // Inside quotes only a quote matters: skip to it.
      const void* q = std::memchr(data + i, '"', n - i);
      if (q == nullptr) break;
      i = static_cast<size_t>(static_cast<const char*>(q) - data) + 1;
      s = kQuoteSeen;
      continue;
    }
    const char c = data[i++];
    if (c == '\n') {
      state_ = kFieldStart;
      return i - 1;
    }
    if (c == ',') {
      s = kFieldStart;
    } else if (c == '"') {
      // At a field start a quote opens a quoted field; right after a closing
      // quote it is an escaped quote ("") and the field goes on; anywhere
      // else it is a stray byte of an unquoted field (a bad record).
      s = s == kUnquoted ? kUnquoted : kQuoted;
    } else {
      s = kUnquoted;
    }
  }
  state_ = s;
  return kNone;
}

std::string_view RecordBody(std::string_view record) {
  if (!record.empty() && record.back() == '\n') {
    record.remove_suffix(1);
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
  }
  return record;
}

bool SplitCsvFields(std::string_view body, std::vector<FieldSpan>* fields, std::string* error) {
  fields->clear();
  const size_t n = body.size();
  size_t i = 0;
  while (true) {
    const size_t begin = i;
    const size_t field = fields->size() + 1;
    if (i < n && body[i] == '"') {
      ++i;
      while (true) {
        const size_t q = body.find('"', i);
        if (q == std::string_view::npos) {
          *error =
              fmt::format("field {}: quoted field not closed (it opens at byte {})", field, begin);
          return false;
        }
        i = q + 1;
        if (i < n && body[i] == '"') {
          ++i;  // "" is a quote in the value
          continue;
        }
        break;
      }
      if (i < n && body[i] != ',') {
        *error = fmt::format("field {}: byte {} after the closing quote is not a comma", field, i);
        return false;
      }
    } else {
      for (; i < n && body[i] != ','; ++i) {
        const char c = body[i];
        if (c == '"') {
          *error = fmt::format("field {}: quote at byte {} inside an unquoted field", field, i);
          return false;
        }
        if (c == '\r' || c == '\n') {
          *error = fmt::format("field {}: line break at byte {} outside quotes", field, i);
          return false;
        }
      }
    }
    fields->push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(i - begin)});
    if (i == n) return true;
    ++i;  // the comma
  }
}

std::string UnescapeCsvField(std::string_view raw) {
  if (!IsQuotedCsvField(raw) || raw.size() < 2) return std::string(raw);
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  std::string value;
  value.reserve(inner.size());
  for (size_t i = 0; i < inner.size(); ++i) {
    value.push_back(inner[i]);
    if (inner[i] == '"' && i + 1 < inner.size() && inner[i + 1] == '"') ++i;
  }
  return value;
}

bool CsvValueNeedsQuotes(std::string_view value) {
  return value.find_first_of(",\"\r\n") != std::string_view::npos;
}

void AppendCsvField(std::string_view value, bool quote, std::string* out) {
  if (!quote && !CsvValueNeedsQuotes(value)) {
    out->append(value);
    return;
  }
  out->push_back('"');
  size_t pos = 0;
  while (true) {
    const size_t q = value.find('"', pos);
    if (q == std::string_view::npos) break;
    out->append(value.substr(pos, q + 1 - pos));
    out->push_back('"');
    pos = q + 1;
  }
  out->append(value.substr(pos));
  out->push_back('"');
}

// libcsv's parser, reused across records (its buffer grows to the longest
// field once). Strict mode: a quote inside an unquoted field, a byte other
// than a separator after a closing quote, and (CSV_STRICT_FINI) a quoted
// field still open at the end are errors. Spaces are data: libcsv's default
// would trim spaces and tabs around unquoted fields, which RFC 4180 and the
// byte-exact pass-through both forbid.
struct TableRecordParser::Libcsv {
  csv_parser parser{};
  std::string values;        // the record's values back to back
  std::vector<size_t> ends;  // end of each value in `values`
  size_t rows = 0;

  Libcsv() { Init(); }
  ~Libcsv() { csv_free(&parser); }
  Libcsv(const Libcsv&) = delete;
  Libcsv& operator=(const Libcsv&) = delete;

  void Init() {
    csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI);
    csv_set_delim(&parser, ',');
    csv_set_quote(&parser, '"');
    csv_set_space_func(&parser, [](unsigned char) { return 0; });
    // The buffer grows by this much at a time (libcsv's default, 128 bytes,
    // would mean thousands of reallocations for one long field).
    csv_set_blk_size(&parser, size_t{64} << 10);
  }
  // After an error libcsv keeps its error state and position: start afresh.
  void Reset() {
    csv_free(&parser);
    Init();
  }
  static void OnField(void* s, size_t len, void* data) {
    auto* self = static_cast<Libcsv*>(data);
    if (len > 0) self->values.append(static_cast<const char*>(s), len);
    self->ends.push_back(self->values.size());
  }
  static void OnRow(int /*terminator*/, void* data) { ++static_cast<Libcsv*>(data)->rows; }
};

TableRecordParser::TableRecordParser(InputFormat format)
    : format_(format), csv_(format == InputFormat::kCsv ? std::make_unique<Libcsv>() : nullptr) {}

TableRecordParser::~TableRecordParser() = default;

bool TableRecordParser::Parse(std::string_view body, std::string* error) {
  body_ = body;
  return format_ == InputFormat::kCsv ? ParseCsv(error) : ParseTsv(error);
}

bool TableRecordParser::ParseCsv(std::string* error) {
  if (!SplitCsvFields(body_, &spans_, error)) return false;
  Libcsv& c = *csv_;
  c.values.clear();
  c.ends.clear();
  c.rows = 0;
  if (body_.empty()) {
    // One empty field; libcsv reports no row for an empty line.
    c.ends.push_back(0);
    return true;
  }
  const size_t parsed =
      csv_parse(&c.parser, body_.data(), body_.size(), Libcsv::OnField, Libcsv::OnRow, &c);
  bool ok = parsed == body_.size() && csv_error(&c.parser) == CSV_SUCCESS;
  if (ok) ok = csv_fini(&c.parser, Libcsv::OnField, Libcsv::OnRow, &c) == 0;
  if (!ok) {
    c.Reset();
    *error = "not valid CSV (libcsv, strict)";
    return false;
  }
  if (c.rows != 1 || c.ends.size() != spans_.size()) {
    *error = fmt::format("not valid CSV (libcsv reads {} fields in {} rows, not {} in 1)",
                         c.ends.size(), c.rows, spans_.size());
    return false;
  }
  return true;
}

// IANA text/tab-separated-values: no quoting, so a field is its bytes; a CR
// or LF inside the line would be a line break to other readers (pandas ends
// a row at a bare CR), so such a row is refused rather than passed on as
// one record.
bool TableRecordParser::ParseTsv(std::string* error) {
  spans_.clear();
  const size_t n = body_.size();
  size_t begin = 0;
  for (size_t i = 0; i <= n; ++i) {
    if (i == n || body_[i] == '\t') {
      spans_.push_back({static_cast<uint32_t>(begin), static_cast<uint32_t>(i - begin)});
      begin = i + 1;
    } else if (body_[i] == '\r' || body_[i] == '\n') {
      *error = fmt::format("field {}: line break at byte {} inside the row", spans_.size() + 1, i);
      return false;
    }
  }
  return true;
}

std::string_view TableRecordParser::value(size_t i) const {
  if (format_ != InputFormat::kCsv) return raw(i);
  const Libcsv& c = *csv_;
  const size_t begin = i == 0 ? 0 : c.ends[i - 1];
  return std::string_view(c.values).substr(begin, c.ends[i] - begin);
}

}  // namespace dpsanitize
