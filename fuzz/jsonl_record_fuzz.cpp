// Fuzzes the JSONL path of the sanitize loop, Analyze then Render, with every
// word's output fixed to "replacement" (and the --oov mask token too), and
// checks the result against a plain scanner of the record's top-level members
// and nlohmann::json as the string decoder:
//   - a record in which a field we read ("text", "title", "id") occurs more
//     than once, in any spelling, is a bad record (Python keeps the last key);
//   - a bad record writes nothing; a blank line is copied;
//   - otherwise the record was one JSON object, each text field occurs once
//     and Analyze's value span is the scanner's; the output has the same
//     members, and every byte outside the text fields' values is the input's;
//     each rewritten value is one JSON string (no raw control character or
//     line separator) whose words are all "replacement" in some case, with
//     the input's gaps between them, so none of the original words survives.
// The first byte picks the options (id field or not, one or two text fields,
// --case lower); the rest is lines, each sanitized as its own batch.
// fuzz-link: dpsanitize::pipeline
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/pipeline/analyze.h"
#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/pipeline/render.h"
#include "dpsanitize/tokenize/tokenizer.h"

namespace {

using dpsanitize::Engine;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kReplacement = "replacement";

// A tiny embedding: a few common words (so that some words are drawn, the
// rest masked) and the replacement word.
constexpr const char* kEmbedding =
    "the 0.1 0.2\na 0.3 0.1\nhouse 0.5 0.5\nday -0.2 0.4\ncat 0.9 -0.1\ntext 0.0 0.7\n"
    "caf\xc3\xa9 0.4 0.4\nreplacement 1.0 1.0\n";

struct Setup {
  std::unique_ptr<dpsanitize::Embedding> embedding;
  std::array<Engine, 8> engines;  // by the options byte's low 3 bits
  dpsanitize::WordId replacement = 0;
};

const Setup& GetSetup() {
  static Setup* setup = [] {
    char path[] = "/tmp/jsonl_record_fuzz-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) std::abort();
    const std::string_view e(kEmbedding);
    if (write(fd, e.data(), e.size()) != static_cast<ssize_t>(e.size())) std::abort();
    close(fd);
    auto s = new Setup;
    auto emb = dpsanitize::Embedding::Open(path);
    unlink(path);
    if (!emb.ok()) std::abort();
    s->embedding = std::move(emb).value();
    for (size_t i = 0; i < s->engines.size(); ++i) {
      Engine& g = s->engines[i];
      g.vocab = std::make_unique<dpsanitize::Vocabulary>(*s->embedding, 0);
      g.config.text_fields = {"text"};
      if (i & 1) g.config.id_field = "id";
      if (i & 2) g.config.text_fields.push_back("title");
      if (i & 4) g.config.case_mode = dpsanitize::CaseMode::kLower;
      g.config.oov = dpsanitize::OovPolicy::kMask;
      g.config.oov_token = std::string(kReplacement);
    }
    const auto id = s->engines[0].vocab->Find(kReplacement);
    if (!id) std::abort();
    s->replacement = *id;
    return s;
  }();
  return *setup;
}

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// [begin, end) of a token in the line.
struct Range {
  size_t begin = 0, end = 0;
};
struct Member {
  Range key, value;
};

// A plain scanner of a JSON object's top-level members: token boundaries
// only (escapes skipped, nesting counted), no validation beyond that.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  bool Object(std::vector<Member>* members) {
    SkipWs();
    if (!Eat('{')) return false;
    SkipWs();
    if (!Eat('}')) {
      while (true) {
        Member m;
        SkipWs();
        if (!String(&m.key)) return false;
        SkipWs();
        if (!Eat(':')) return false;
        SkipWs();
        if (!Value(&m.value)) return false;
        members->push_back(m);
        SkipWs();
        if (Eat(',')) continue;
        if (Eat('}')) break;
        return false;
      }
    }
    SkipWs();
    return i_ == s_.size();
  }

 private:
  void SkipWs() {
    while (i_ < s_.size() && IsWs(s_[i_])) ++i_;
  }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool String(Range* r) {
    r->begin = i_;
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '\\') {
        ++i_;
      } else if (c == '"') {
        r->end = i_;
        return true;
      }
    }
    return false;
  }
  bool Value(Range* r) {
    if (i_ >= s_.size()) return false;
    const char c = s_[i_];
    if (c == '"') return String(r);
    r->begin = i_;
    if (c == '{' || c == '[') {
      int depth = 0;
      while (i_ < s_.size()) {
        const char d = s_[i_];
        if (d == '"') {
          Range ignored;
          if (!String(&ignored)) return false;
          continue;
        }
        ++i_;
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') --depth;
        if (depth == 0) {
          r->end = i_;
          return true;
        }
      }
      return false;
    }
    while (i_ < s_.size() && !IsWs(s_[i_]) && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') {
      ++i_;
    }
    r->end = i_;
    return r->end > r->begin;
  }

  std::string_view s_;
  size_t i_ = 0;
};

// The decoded JSON string `token`, if nlohmann reads it as one.
std::optional<std::string> Decode(std::string_view token) {
  const nlohmann::json j = nlohmann::json::parse(token, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_string()) return std::nullopt;
  return j.get<std::string>();
}

std::string_view Sub(std::string_view s, Range r) { return s.substr(r.begin, r.end - r.begin); }

// The members' decoded keys (nullopt: not a string nlohmann can decode).
std::vector<std::optional<std::string>> DecodedKeys(std::string_view body,
                                                    const std::vector<Member>& members) {
  std::vector<std::optional<std::string>> keys;
  keys.reserve(members.size());
  for (const Member& m : members) keys.push_back(Decode(Sub(body, m.key)));
  return keys;
}

// `body` with the values of the members in `rewritten` (ascending) cut out.
std::string Skeleton(std::string_view body, const std::vector<Member>& members,
                     const std::vector<size_t>& rewritten) {
  std::string s;
  size_t pos = 0;
  for (size_t i : rewritten) {
    s.append(body.substr(pos, members[i].value.begin - pos));
    s.push_back('\0');
    pos = members[i].value.end;
  }
  s.append(body.substr(pos));
  return s;
}

void CheckRewrittenValue(std::string_view token, std::string_view input_text) {
  for (size_t i = 0; i < token.size(); ++i) {
    const auto u = static_cast<unsigned char>(token[i]);
    Check(u >= 0x20);
    if (u == 0xE2 && i + 2 < token.size()) {
      Check(!(token[i + 1] == '\x80' && (token[i + 2] == '\xA8' || token[i + 2] == '\xA9')));
    }
    if (u == 0xC2 && i + 1 < token.size()) Check(token[i + 1] != '\x85');
  }
  const std::optional<std::string> out = Decode(token);
  Check(out.has_value());
  Check(dpsanitize::FindInvalidUtf8(*out) == std::string_view::npos);
  std::vector<dpsanitize::Span> in_spans, out_spans;
  dpsanitize::Tokenize(input_text, &in_spans);
  dpsanitize::Tokenize(*out, &out_spans);
  Check(in_spans.size() == out_spans.size());
  std::string key;
  for (size_t i = 0; i < in_spans.size(); ++i) {
    const auto& a = in_spans[i];
    const auto& b = out_spans[i];
    Check(a.is_word == b.is_word);
    const std::string_view ob = std::string_view(*out).substr(b.begin, b.size);
    if (b.is_word) {
      dpsanitize::LookupKey(ob, &key);
      Check(key == kReplacement);
    } else {
      Check(ob == input_text.substr(a.begin, a.size));
    }
  }
}

void CheckLine(const Engine& e, dpsanitize::WordId replacement, std::string_view line) {
  const dpsanitize::Config& c = e.config;
  dpsanitize::Batch batch;
  batch.bytes.assign(line);
  batch.ends = {line.size()};
  batch.line_doc = {7};
  std::vector<dpsanitize::Part> parts(1);
  dpsanitize::SplitBatch(batch, 1, &parts);
  dpsanitize::Part& p = parts[0];
  dpsanitize::InputLayout layout;
  layout.format = dpsanitize::InputFormat::kJsonl;
  dpsanitize::Analyze(e, batch, layout, &p);
  Check(p.records.size() == 1);
  const dpsanitize::Record& r = p.records[0];
  p.outs.assign(p.draws.size(), replacement);
  dpsanitize::Render(e, batch, layout, &p);

  std::string_view body = line;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);

  // The fields we read, by name: text fields first, then the id field.
  std::vector<std::string> fields = c.text_fields;
  if (c.id_field) fields.push_back(*c.id_field);

  std::vector<Member> members;
  const bool scanned = Scanner(body).Object(&members);
  std::vector<std::optional<std::string>> keys;
  if (scanned) {
    keys = DecodedKeys(body, members);
    for (const std::string& f : fields) {
      size_t count = 0;
      for (const auto& k : keys) count += k && *k == f;
      if (count > 1) Check(!r.error.empty());
    }
  }

  if (r.blank) {
    Check(dpsanitize::IsBlank(line));
    Check(p.out == line);
    return;
  }
  if (!r.error.empty()) {
    Check(p.out.empty());
    // Error texts are ours, short and ASCII: no room for the record's text.
    Check(r.error.size() < 160);
    for (char ch : r.error) Check(ch >= 0x20 && ch < 0x7f);
    return;
  }

  // Accepted: one JSON object whose text fields each occur once.
  Check(scanned);
  Check(dpsanitize::FindInvalidUtf8(line) == std::string_view::npos);
  Check(r.unit_end - r.unit_begin == c.text_fields.size());
  std::vector<size_t> rewritten;  // member index per text field
  for (size_t f = 0; f < c.text_fields.size(); ++f) {
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < members.size(); ++i) {
      Check(keys[i].has_value());  // simdjson read every key
      if (*keys[i] == c.text_fields[f]) {
        Check(found == SIZE_MAX);
        found = i;
      }
    }
    Check(found != SIZE_MAX);
    const Member& m = members[found];
    Check(r.raw[f].first == m.value.begin && r.raw[f].second == m.value.end - m.value.begin);
    const std::optional<std::string> in = Decode(Sub(body, m.value));
    Check(in.has_value());
    const dpsanitize::Unit& u = p.units[r.unit_begin + f];
    Check(std::string_view(p.text).substr(u.text_begin, u.text_size) == *in);
    rewritten.push_back(found);
  }
  std::vector<size_t> sorted = rewritten;
  std::sort(sorted.begin(), sorted.end());

  // The output: the same members, the same bytes outside the rewritten values.
  const std::string_view tail = line.substr(body.size());
  Check(p.out.size() >= tail.size());
  Check(std::string_view(p.out).substr(p.out.size() - tail.size()) == tail);
  const std::string_view out_body = std::string_view(p.out).substr(0, p.out.size() - tail.size());
  std::vector<Member> out_members;
  Check(Scanner(out_body).Object(&out_members));
  Check(out_members.size() == members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    Check(Sub(out_body, out_members[i].key) == Sub(body, members[i].key));
  }
  Check(Skeleton(out_body, out_members, sorted) == Skeleton(body, members, sorted));
  for (size_t f = 0; f < rewritten.size(); ++f) {
    const size_t i = rewritten[f];
    const dpsanitize::Unit& u = p.units[r.unit_begin + f];
    CheckRewrittenValue(Sub(out_body, out_members[i].value),
                        std::string_view(p.text).substr(u.text_begin, u.text_size));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Setup& s = GetSetup();
  const Engine& e = s.engines[data[0] & 7];
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t begin = 0;
  while (begin < input.size()) {
    size_t end = input.find('\n', begin);
    end = end == std::string_view::npos ? input.size() : end + 1;
    CheckLine(e, s.replacement, input.substr(begin, end - begin));
    begin = end;
  }
  return 0;
}
