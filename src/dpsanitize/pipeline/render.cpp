#include "dpsanitize/pipeline/render.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "dpsanitize/core/strings.h"
#include "dpsanitize/tokenize/csv_record.h"
#include "dpsanitize/tokenize/tokenizer.h"

namespace dpsanitize {
namespace {

// Renders unit `u`'s tokens (after perturbation) into `out`.
void RenderUnit(const Engine& e, const Unit& u, Part* p, std::string* out) {
  const Config& c = e.config;
  size_t next = u.draw_begin;
  for (uint32_t i = u.token_begin; i < u.token_end; ++i) {
    const Token& t = p->tokens[i];
    const std::string_view text(p->text.data() + t.begin, t.size);
    if (!t.is_word) {
      out->append(text);
      continue;
    }
    if (t.id != kOov) {
      const std::string_view w = e.vocab->word(p->outs[next++]);
      ++p->perturbed;
      if (c.case_mode == CaseMode::kLower) {
        out->append(w);
      } else {
        AppendWithCase(t.pattern, w, out);
      }
      continue;
    }
    switch (c.oov) {
      case OovPolicy::kMask:
        ++p->masked;
        out->append(c.oov_token);
        break;
      case OovPolicy::kKeep:
        ++p->kept;
        if (c.case_mode == CaseMode::kLower) {
          AppendLower(text, out);
        } else {
          out->append(text);
        }
        break;
      case OovPolicy::kDrop:
        ++p->dropped;
        break;
    }
  }
}

// Writes a rendered value in place of its raw bytes `raw`: a JSON string
// (JSONL); a CSV field, quoted if the input field was (its quoting style
// kept) or if the new value needs it (a --oov-token with a comma, say); a
// TSV field as it is (Validate refuses an --oov-token with a tab or CR, and
// nothing else of the output can hold one: words have none and gaps are
// the input's).
void AppendValue(InputFormat format, std::string_view raw, std::string_view value,
                 std::string* out) {
  switch (format) {
    case InputFormat::kCsv:
      AppendCsvField(value, IsQuotedCsvField(raw), out);
      break;
    case InputFormat::kTsv:
      out->append(value);
      break;
    case InputFormat::kJsonl:
    case InputFormat::kText:
    case InputFormat::kAuto:
      AppendJsonString(value, out);
      break;
  }
}

// Copies the record's line with each text field's value token replaced by
// its rendered text, in order of position in the line (the fields may come
// in any order).
void RenderRecord(const Engine& e, InputFormat format, const Record& r, std::string_view line,
                  Part* p) {
  std::vector<size_t> order(r.unit_end - r.unit_begin);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return r.raw[a].first < r.raw[b].first; });
  size_t pos = 0;
  for (size_t i : order) {
    p->out.append(line.substr(pos, r.raw[i].first - pos));
    p->scratch.clear();
    RenderUnit(e, p->units[r.unit_begin + i], p, &p->scratch);
    AppendValue(format, line.substr(r.raw[i].first, r.raw[i].second), p->scratch, &p->out);
    pos = r.raw[i].first + r.raw[i].second;
  }
  p->out.append(line.substr(pos));
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto u = static_cast<unsigned char>(ch);
    // U+2028, U+2029 (E2 80 A8/A9) and U+0085 (C2 85) are legal raw in JSON,
    // but Python's str.splitlines() (and other Unicode line readers) end a
    // line there and would cut the record in two: written as escapes.
    if (u == 0xE2 && i + 2 < s.size() && s[i + 1] == '\x80' &&
        (s[i + 2] == '\xA8' || s[i + 2] == '\xA9')) {
      out->append(s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029");
      i += 2;
      continue;
    }
    if (u == 0xC2 && i + 1 < s.size() && s[i + 1] == '\x85') {
      out->append("\\u0085");
      ++i;
      continue;
    }
    switch (ch) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (u < 0x20) {
          out->append("\\u00");
          out->append(HexEncode(&u, 1));
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void Render(const Engine& engine, const Batch& batch, const InputLayout& layout, Part* part) {
  part->out.clear();
  if (!layout.records()) {
    for (const Unit& u : part->units) RenderUnit(engine, u, part, &part->out);
    return;
  }
  for (const Record& r : part->records) {
    const std::string_view line(batch.bytes.data() + r.line_begin, r.line_size);
    if (r.blank) {
      part->out.append(line);
      continue;
    }
    if (!r.error.empty()) continue;  // skipped bad record
    RenderRecord(engine, layout.format, r, line, part);
  }
}

}  // namespace dpsanitize
