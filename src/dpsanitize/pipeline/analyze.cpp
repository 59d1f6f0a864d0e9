#include "dpsanitize/pipeline/analyze.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <sodium.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "dpsanitize/tokenize/csv_record.h"
#include "dpsanitize/tokenize/tokenizer.h"

namespace dpsanitize {
namespace {

// String ids are hashed into [2^63, 2^64) and integer ids must lie in
// [0, 2^63), so the two kinds can never collide.
constexpr uint64_t kStringIdBit = uint64_t{1} << 63;

// Per text field of a record: its unescaped value in Part::text (begin, size);
// begin == SIZE_MAX while the field has not been seen.
using FieldSpans = std::vector<std::pair<size_t, size_t>>;

// Tokenizes part->text[begin, begin + size) as one unit.
void AddUnit(const Engine& e, uint64_t doc, uint32_t field, size_t begin, size_t size, Part* p) {
  thread_local std::vector<Span> spans;
  thread_local std::string key;
  Unit u{doc,
         field,
         static_cast<uint32_t>(begin),
         static_cast<uint32_t>(size),
         static_cast<uint32_t>(p->tokens.size()),
         0,
         static_cast<uint32_t>(p->draws.size()),
         0,
         0,
         0};
  const std::string_view text(p->text.data() + begin, size);
  Tokenize(text, &spans);
  uint64_t position = 0;
  for (const Span& s : spans) {
    Token t{static_cast<uint32_t>(begin + s.begin), s.size, kOov, s.is_word, CasePattern::kLower};
    if (s.is_word) {
      const std::string_view w = text.substr(s.begin, s.size);
      LookupKey(w, &key);
      if (auto id = e.vocab->Find(key)) {
        t.id = *id;
        p->draws.push_back({*id, field, doc, position});
      } else {
        ++u.oov;
      }
      t.pattern = DetectCase(w);
      ++position;
    }
    p->tokens.push_back(t);
  }
  u.words = static_cast<uint32_t>(position);
  u.token_end = static_cast<uint32_t>(p->tokens.size());
  u.draw_end = static_cast<uint32_t>(p->draws.size());
  p->units.push_back(u);
}

void AnalyzeText(const Engine& e, const Batch& b, Part* p) {
  for (size_t l = p->line_begin; l < p->line_end; ++l) {
    const std::string_view line = b.Line(l);
    const size_t begin = p->text.size();
    p->text.append(line);
    AddUnit(e, b.line_doc[l], 0, begin, line.size(), p);
  }
}

// Parses padded[0, size) as a JSON object, or sets r->error. The DOM parse
// validates the whole line first, because on-demand parsing checks only what
// it visits and a record with a broken field we skip is still a bad record.
bool ParseObject(const std::string& padded, size_t size, simdjson::ondemand::document* doc,
                 simdjson::ondemand::object* obj, Record* r) {
  thread_local simdjson::dom::parser validator;
  thread_local simdjson::ondemand::parser parser;
  simdjson::dom::element root;
  if (auto err = validator.parse(padded.data(), size, false).get(root); err) {
    r->error = fmt::format("not valid JSON ({})", simdjson::error_message(err));
    return false;
  }
  if (!root.is_object()) {
    r->error = "not a JSON object";
    return false;
  }
  if (parser.iterate(padded.data(), size, padded.size()).get(*doc)) {
    r->error = "not valid JSON";
    return false;
  }
  if (doc->get_object().get(*obj)) {
    r->error = "not a JSON object";
    return false;
  }
  return true;
}

// Text field `f`: appends its unescaped value to p->text and records where
// its raw token sits in the line (padded starts at the line), for Render.
bool ReadTextField(const Config& c, size_t f, simdjson::ondemand::value& v,
                   simdjson::ondemand::json_type type, const std::string& padded, FieldSpans* texts,
                   Part* p, Record* r) {
  if (type != simdjson::ondemand::json_type::string) {
    r->error = fmt::format("field \"{}\" is not a string", c.text_fields[f]);
    return false;
  }
  std::string_view raw = v.raw_json_token();
  while (!raw.empty() &&
         (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' || raw.back() == '\n')) {
    raw.remove_suffix(1);
  }
  std::string_view s;
  if (v.get_string().get(s)) {
    r->error = fmt::format("field \"{}\" is not a valid JSON string", c.text_fields[f]);
    return false;
  }
  r->raw[f] = {static_cast<uint32_t>(raw.data() - padded.data()),
               static_cast<uint32_t>(raw.size())};
  (*texts)[f] = {p->text.size(), s.size()};
  p->text.append(s);
  return true;
}

// A string id: 63 bits of its (unkeyed) BLAKE2b hash with the top bit set.
uint64_t StringId(std::string_view s) {
  uint8_t h[8];
  crypto_generichash(h, sizeof(h), reinterpret_cast<const uint8_t*>(s.data()), s.size(), nullptr,
                     0);
  uint64_t x;
  std::memcpy(&x, h, 8);
  return kStringIdBit | (x & ~kStringIdBit);
}

// The id field: an integer in [0, 2^63) as is, a string as StringId.
bool ReadIdField(const Config& c, simdjson::ondemand::value& v, simdjson::ondemand::json_type type,
                 Record* r) {
  if (type == simdjson::ondemand::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) {
      r->error = fmt::format("field \"{}\" is not a valid JSON string", *c.id_field);
      return false;
    }
    r->id = StringId(s);
  } else if (type == simdjson::ondemand::json_type::number) {
    uint64_t x;
    if (v.get_uint64().get(x) || x >= kStringIdBit) {
      r->error =
          fmt::format("field \"{}\" is not a string or an integer in [0, 2^63)", *c.id_field);
      return false;
    }
    r->id = x;
  } else {
    r->error = fmt::format("field \"{}\" is not a string or an integer", *c.id_field);
    return false;
  }
  r->has_id = true;
  return true;
}

// One pass over the object's fields (on-demand parsing is forward only);
// other keys are skipped. A field we read must occur once: JSON leaves a
// repeated key to the reader, and Python's json (like most readers) keeps the
// last one, so rewriting only one of them would hand the raw text of the other
// downstream. Keys are compared unescaped, so "te\u0078t" is "text" too.
bool ReadFields(const Config& c, simdjson::ondemand::object& obj, const std::string& padded,
                FieldSpans* texts, Part* p, Record* r) {
  const size_t nfields = c.text_fields.size();
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      r->error = "not valid JSON (key)";
      return false;
    }
    size_t f = 0;
    while (f < nfields && c.text_fields[f] != key) ++f;
    const bool is_id = c.id_field && *c.id_field == key;
    if (f == nfields && !is_id) continue;
    simdjson::ondemand::value v = field.value();
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) {
      r->error = "not valid JSON (value)";
      return false;
    }
    if (f < nfields) {
      if ((*texts)[f].first != SIZE_MAX) {
        r->error = fmt::format("field \"{}\" occurs more than once", c.text_fields[f]);
        return false;
      }
      if (!ReadTextField(c, f, v, type, padded, texts, p, r)) return false;
    } else {
      // Two ids: a reader that keeps the last one would see another document
      // than the keyed randomness and the repeated-id check, which saw the first.
      if (r->has_id) {
        r->error = fmt::format("field \"{}\" occurs more than once", *c.id_field);
        return false;
      }
      if (!ReadIdField(c, v, type, r)) return false;
    }
  }
  return true;
}

// Parses one JSONL line into *r, adding a unit per text field. A bad record
// keeps the text it added to the part; it is never rendered.
void AnalyzeRecord(const Engine& e, std::string_view line, uint64_t default_doc, Part* p,
                   Record* r) {
  thread_local std::string padded;
  const Config& c = e.config;
  std::string_view body = line;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  if (IsBlank(body)) {
    r->blank = true;
    return;
  }
  // The line reader leaves JSONL lines unchecked (DocumentSource) so that a
  // record that is not UTF-8 is a bad record like any other, which
  // --on-bad-record skip can leave out. The offset is within the line.
  if (const size_t bad = FindInvalidUtf8(body); bad != std::string_view::npos) {
    r->error = fmt::format("invalid UTF-8 at byte offset {} in the line", bad);
    return;
  }
  padded.assign(body);
  padded.append(simdjson::SIMDJSON_PADDING, ' ');
  simdjson::ondemand::document doc;
  simdjson::ondemand::object obj;
  if (!ParseObject(padded, body.size(), &doc, &obj, r)) return;
  const size_t nfields = c.text_fields.size();
  FieldSpans texts(nfields, {SIZE_MAX, 0});
  r->raw.assign(nfields, {0, 0});
  if (!ReadFields(c, obj, padded, &texts, p, r)) return;
  for (size_t f = 0; f < nfields; ++f) {
    if (texts[f].first == SIZE_MAX) {
      r->error = fmt::format("no string field \"{}\"", c.text_fields[f]);
      return;
    }
  }
  if (c.id_field && !r->has_id) {
    r->error = fmt::format("no id field \"{}\"", *c.id_field);
    return;
  }
  const uint64_t doc_id = c.id_field ? r->id : default_doc;
  r->unit_begin = static_cast<uint32_t>(p->units.size());
  for (size_t f = 0; f < nfields; ++f) {
    AddUnit(e, doc_id, static_cast<uint32_t>(f), texts[f].first, texts[f].second, p);
  }
  r->unit_end = static_cast<uint32_t>(p->units.size());
}

void AnalyzeJsonl(const Engine& e, const Batch& b, Part* p) {
  for (size_t l = p->line_begin; l < p->line_end; ++l) {
    const std::string_view line = b.Line(l);
    Record r;
    r.line_begin = static_cast<uint32_t>(line.data() - b.bytes.data());
    r.line_size = static_cast<uint32_t>(line.size());
    AnalyzeRecord(e, line, b.line_doc[l], p, &r);
    p->records.push_back(std::move(r));
  }
}

// A CSV/TSV id column's value. Every value is text there, so the JSONL id
// kinds are told apart by spelling: a decimal integer below 2^63 without
// sign or leading zero is that integer (the id of a JSONL record with the
// same number), any other non-empty value a string id (that of a JSONL
// record with the same string).
bool ReadIdColumn(const Config& c, std::string_view v, Record* r) {
  if (v.empty()) {
    r->error = fmt::format("the id column \"{}\" is empty", *c.id_field);
    return false;
  }
  const bool canonical = v.size() <= 19 && (v == "0" || v[0] != '0') &&
                         v.find_first_not_of("0123456789") == std::string_view::npos;
  uint64_t x = 0;
  if (canonical) {
    for (char ch : v) x = x * 10 + static_cast<uint64_t>(ch - '0');  // < 10^19 < 2^64
  }
  r->id = canonical && x < kStringIdBit ? x : StringId(v);
  r->has_id = true;
  return true;
}

// Parses one CSV/TSV row into *r, adding a unit per --text-column. As for
// JSONL, a bad record keeps what it added to the part and is never rendered.
void AnalyzeRow(const Engine& e, const InputLayout& t, std::string_view line, uint64_t default_doc,
                Part* p, Record* r) {
  thread_local TableRecordParser csv(InputFormat::kCsv);
  thread_local TableRecordParser tsv(InputFormat::kTsv);
  const Config& c = e.config;
  const std::string_view body = RecordBody(line);
  if (IsBlank(body)) {
    r->blank = true;
    return;
  }
  if (const size_t bad = FindInvalidUtf8(body); bad != std::string_view::npos) {
    r->error = fmt::format("invalid UTF-8 at byte offset {} in the record", bad);
    return;
  }
  TableRecordParser& parser = t.format == InputFormat::kCsv ? csv : tsv;
  std::string error;
  if (!parser.Parse(body, &error)) {
    r->error = std::move(error);
    return;
  }
  if (parser.fields() != t.columns) {
    r->error = fmt::format("{} fields where the header has {}", parser.fields(), t.columns);
    return;
  }
  if (t.id_column && !ReadIdColumn(c, parser.value(*t.id_column), r)) return;
  const uint64_t doc_id = r->has_id ? r->id : default_doc;
  const size_t nfields = t.text_columns.size();
  r->raw.resize(nfields);
  r->unit_begin = static_cast<uint32_t>(p->units.size());
  for (size_t f = 0; f < nfields; ++f) {
    const size_t col = t.text_columns[f];
    const FieldSpan span = parser.span(col);
    r->raw[f] = {static_cast<uint32_t>(body.data() - line.data()) + span.begin, span.size};
    const std::string_view value = parser.value(col);
    const size_t begin = p->text.size();
    p->text.append(value);
    AddUnit(e, doc_id, static_cast<uint32_t>(f), begin, value.size(), p);
  }
  r->unit_end = static_cast<uint32_t>(p->units.size());
}

void AnalyzeTable(const Engine& e, const Batch& b, const InputLayout& t, Part* p) {
  for (size_t l = p->line_begin; l < p->line_end; ++l) {
    const std::string_view line = b.Line(l);
    Record r;
    r.line_begin = static_cast<uint32_t>(line.data() - b.bytes.data());
    r.line_size = static_cast<uint32_t>(line.size());
    if (b.header && l == 0) {
      r.blank = true;  // the header: passed through as it is
    } else {
      AnalyzeRow(e, t, line, b.line_doc[l], p, &r);
    }
    p->records.push_back(std::move(r));
  }
}

}  // namespace

void SplitBatch(const Batch& batch, size_t nparts, std::vector<Part>* parts) {
  const size_t lines = batch.lines();
  size_t l = 0;
  for (size_t p = 0; p < nparts; ++p) {
    Part& part = (*parts)[p];
    part.line_begin = l;
    const size_t target = batch.bytes.size() * (p + 1) / nparts;
    while (l < lines && (batch.ends[l] <= target || l == part.line_begin)) ++l;
    if (p + 1 == nparts) l = lines;
    part.line_end = l;
    part.text.clear();
    part.units.clear();
    part.records.clear();
    part.tokens.clear();
    part.draws.clear();
    part.perturbed = part.masked = part.kept = part.dropped = 0;
  }
}

void Analyze(const Engine& engine, const Batch& batch, const InputLayout& layout, Part* part) {
  switch (layout.format) {
    case InputFormat::kJsonl:
      AnalyzeJsonl(engine, batch, part);
      break;
    case InputFormat::kCsv:
    case InputFormat::kTsv:
      AnalyzeTable(engine, batch, layout, part);
      break;
    case InputFormat::kText:
    case InputFormat::kAuto:  // resolved before (DocumentSource)
      AnalyzeText(engine, batch, part);
      break;
  }
}

}  // namespace dpsanitize
