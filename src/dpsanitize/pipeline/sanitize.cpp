#include "dpsanitize/pipeline/sanitize.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "dpsanitize/core/log.h"
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/pipeline/progress.h"
#include "dpsanitize/tokenize/line_reader.h"
#include "dpsanitize/tokenize/tokenizer.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {
namespace {

constexpr size_t kBatchBytes = 4 << 20;
constexpr size_t kBatchLines = 1 << 16;
constexpr WordId kOov = ~WordId{0};
constexpr uint64_t kStringIdBit = uint64_t{1} << 63;

struct Token {
  uint32_t begin;  // into Part::text
  uint32_t size;
  WordId id;  // kOov for out-of-vocabulary words; unused for gaps
  bool is_word;
  CasePattern pattern;
};

// One text to tokenize: a line of plain text, or one text field of a record.
struct Unit {
  uint64_t doc;  // document index in the run (text) or id (JSONL)
  uint32_t field;
  uint32_t text_begin, text_size;   // into Part::text
  uint32_t token_begin, token_end;  // into Part::tokens
  uint32_t draw_begin, draw_end;    // into Part::draws
  uint32_t words;
  uint32_t oov;  // out-of-vocabulary words
};

// A JSONL record: one input line and the spans of its text-field values.
struct Record {
  uint32_t line_begin, line_size;  // into the batch
  uint32_t unit_begin, unit_end;
  std::vector<std::pair<uint32_t, uint32_t>> raw;  // per unit: value token in the line
  bool has_id = false;
  uint64_t id = 0;
  bool blank = false;  // whitespace only: passed through, not a record
  std::string error;   // non-empty: a bad record
};

// One worker's share of a batch: a contiguous run of lines.
struct Part {
  size_t line_begin = 0, line_end = 0;
  std::string text;
  std::vector<Unit> units;
  std::vector<Record> records;
  std::vector<Token> tokens;
  std::vector<WordDraw> draws;
  std::vector<WordId> outs;
  std::string out;
  std::string scratch;
  uint64_t perturbed = 0, masked = 0, kept = 0, dropped = 0;
};

struct BatchContext {
  const Engine* engine;
  const std::string* batch;
  const std::vector<size_t>* ends;
  const std::vector<uint64_t>* line_doc;  // text mode: document index per line
  uint64_t first_record;                  // JSONL: record index of the batch's first line
};

std::string_view LineOf(const BatchContext& ctx, size_t l) {
  const size_t b = l == 0 ? 0 : (*ctx.ends)[l - 1];
  return std::string_view(ctx.batch->data() + b, (*ctx.ends)[l] - b);
}

bool IsBlank(std::string_view line) {
  for (char ch : line) {
    if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') return false;
  }
  return true;
}

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

void AnalyzeText(const BatchContext& ctx, Part* p) {
  for (size_t l = p->line_begin; l < p->line_end; ++l) {
    const std::string_view line = LineOf(ctx, l);
    const size_t begin = p->text.size();
    p->text.append(line);
    AddUnit(*ctx.engine, (*ctx.line_doc)[l], 0, begin, line.size(), p);
  }
}

// Parses one JSONL line into *r, adding a unit per text field.
void AnalyzeRecord(const BatchContext& ctx, std::string_view line, uint64_t record_index, Part* p,
                   Record* r) {
  thread_local simdjson::dom::parser validator;
  thread_local simdjson::ondemand::parser parser;
  thread_local std::string padded;
  const Config& c = ctx.engine->config;
  std::string_view body = line;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  if (IsBlank(body)) {
    r->blank = true;
    return;
  }
  padded.assign(body);
  padded.append(simdjson::SIMDJSON_PADDING, ' ');
  simdjson::dom::element root;
  if (auto err = validator.parse(padded.data(), body.size(), false).get(root); err) {
    r->error = fmt::format("not valid JSON ({})", simdjson::error_message(err));
    return;
  }
  if (!root.is_object()) {
    r->error = "not a JSON object";
    return;
  }
  simdjson::ondemand::document doc;
  if (parser.iterate(padded.data(), body.size(), padded.size()).get(doc)) {
    r->error = "not valid JSON";
    return;
  }
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) {
    r->error = "not a JSON object";
    return;
  }
  const size_t nfields = c.text_fields.size();
  std::vector<std::pair<size_t, size_t>> texts(nfields, {SIZE_MAX, 0});  // into p->text
  r->raw.assign(nfields, {0, 0});
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) {
      r->error = "not valid JSON (key)";
      return;
    }
    size_t f = 0;
    while (f < nfields && c.text_fields[f] != key) ++f;
    const bool is_id = c.id_field && *c.id_field == key;
    if (f == nfields && !is_id) continue;
    simdjson::ondemand::value v = field.value();
    simdjson::ondemand::json_type type;
    if (v.type().get(type)) {
      r->error = "not valid JSON (value)";
      return;
    }
    if (f < nfields) {
      if (texts[f].first != SIZE_MAX) continue;  // duplicate key: the first one counts
      if (type != simdjson::ondemand::json_type::string) {
        r->error = fmt::format("field \"{}\" is not a string", c.text_fields[f]);
        return;
      }
      std::string_view raw = v.raw_json_token();
      while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' ||
                              raw.back() == '\n')) {
        raw.remove_suffix(1);
      }
      std::string_view s;
      if (v.get_string().get(s)) {
        r->error = fmt::format("field \"{}\" is not a valid JSON string", c.text_fields[f]);
        return;
      }
      r->raw[f] = {static_cast<uint32_t>(raw.data() - padded.data()),
                   static_cast<uint32_t>(raw.size())};
      texts[f] = {p->text.size(), s.size()};
      p->text.append(s);
    } else {
      if (r->has_id) continue;
      if (type == simdjson::ondemand::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s)) {
          r->error = fmt::format("field \"{}\" is not a valid JSON string", *c.id_field);
          return;
        }
        uint8_t h[8];
        crypto_generichash(h, sizeof(h), reinterpret_cast<const uint8_t*>(s.data()), s.size(),
                           nullptr, 0);
        uint64_t x;
        std::memcpy(&x, h, 8);
        r->id = kStringIdBit | (x & ~kStringIdBit);
      } else if (type == simdjson::ondemand::json_type::number) {
        uint64_t x;
        if (v.get_uint64().get(x) || x >= kStringIdBit) {
          r->error =
              fmt::format("field \"{}\" is not a string or an integer in [0, 2^63)", *c.id_field);
          return;
        }
        r->id = x;
      } else {
        r->error = fmt::format("field \"{}\" is not a string or an integer", *c.id_field);
        return;
      }
      r->has_id = true;
    }
  }
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
  const uint64_t doc_id = c.id_field ? r->id : c.first_doc_id + record_index;
  r->unit_begin = static_cast<uint32_t>(p->units.size());
  for (size_t f = 0; f < nfields; ++f) {
    AddUnit(*ctx.engine, doc_id, static_cast<uint32_t>(f), texts[f].first, texts[f].second, p);
  }
  r->unit_end = static_cast<uint32_t>(p->units.size());
}

void AnalyzeJsonl(const BatchContext& ctx, Part* p) {
  // Record index: count of non-blank lines before this one in the run.
  uint64_t index = ctx.first_record;
  for (size_t l = 0; l < p->line_begin; ++l) index += IsBlank(LineOf(ctx, l)) ? 0 : 1;
  for (size_t l = p->line_begin; l < p->line_end; ++l) {
    const std::string_view line = LineOf(ctx, l);
    Record r;
    r.line_begin = static_cast<uint32_t>(line.data() - ctx.batch->data());
    r.line_size = static_cast<uint32_t>(line.size());
    AnalyzeRecord(ctx, line, index, p, &r);
    if (!r.blank) ++index;
    p->records.push_back(std::move(r));
  }
}

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

void AppendJsonString(std::string_view s, std::string* out) {
  static const char* kHex = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
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
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 15]);
        } else {
          out->push_back(ch);
        }
    }
  }
  out->push_back('"');
}

void Render(const BatchContext& ctx, bool jsonl, Part* p) {
  const Engine& e = *ctx.engine;
  p->out.clear();
  if (!jsonl) {
    for (const Unit& u : p->units) RenderUnit(e, u, p, &p->out);
    return;
  }
  for (const Record& r : p->records) {
    const std::string_view line(ctx.batch->data() + r.line_begin, r.line_size);
    if (r.blank) {
      p->out.append(line);
      continue;
    }
    if (!r.error.empty()) continue;  // skipped bad record
    // Replace each text field's value token, in order of position.
    std::vector<size_t> order(r.unit_end - r.unit_begin);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return r.raw[a].first < r.raw[b].first; });
    size_t pos = 0;
    for (size_t i : order) {
      p->out.append(line.substr(pos, r.raw[i].first - pos));
      p->scratch.clear();
      RenderUnit(e, p->units[r.unit_begin + i], p, &p->scratch);
      AppendJsonString(p->scratch, &p->out);
      pos = r.raw[i].first + r.raw[i].second;
    }
    p->out.append(line.substr(pos));
  }
}

template <typename F>
void ParallelFor(size_t n, F&& f) {
  if (n == 1) {
    f(0);
    return;
  }
  std::vector<std::thread> threads;
  threads.reserve(n - 1);
  for (size_t i = 1; i < n; ++i) threads.emplace_back([&f, i] { f(i); });
  f(0);
  for (auto& t : threads) t.join();
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Word positions, document totals and kept-OOV flags, in input order.
class DocumentTracker {
 public:
  explicit DocumentTracker(RunSummary* s) : s_(s) {}
  // A unit of document `doc`; returns the word position its words start at.
  uint64_t Add(uint64_t doc, const Unit& u, bool per_field_positions, bool kept_oov) {
    if (!open_ || doc != doc_) {
      Close();
      open_ = true;
      doc_ = doc;
    }
    const uint64_t base = per_field_positions ? 0 : words_;
    words_ += u.words;
    kept_ |= kept_oov && u.oov > 0;
    return base;
  }
  void Close() {
    if (!open_) return;
    ++s_->documents;
    ++s_->words_per_document[words_];
    if (kept_) ++s_->documents_with_kept_oov;
    open_ = false;
    words_ = 0;
    kept_ = false;
  }

 private:
  RunSummary* s_;
  bool open_ = false;
  uint64_t doc_ = 0;
  uint64_t words_ = 0;
  bool kept_ = false;
};

Status WriteLedger(const Engine& e, const RunSummary& s, const std::string& path,
                   std::unique_ptr<AtomicFile>* file) {
  const Config& c = e.config;
  const Calibration& cal = e.calibration;
  LedgerFacts f;
  f.tool_version = c.tool_version;
  f.created_utc = NowUtc();
  f.mechanism = MechanismName(c.mechanism);
  f.eps = cal.eps;
  if (c.mechanism == MechanismKind::kMvl) {
    f.eps_basis = "proven";
    f.eps_basis_detail = "multivariate Laplace, Feyisetan et al. WSDM 2020";
    f.parameter_notes["mvl_search"] = c.mvl_search == MvlSearch::kExact ? "exact" : "hnsw";
  } else if (cal.tg_calibration) {
    f.eps_basis = "nominal";
    f.eps_basis_detail =
        "truncated Gumbel calibration of Xu et al. FLAIRS 2021 (MLDP form, domain eps > eps_min)";
    f.parameters["a"] = cal.tg_calibration->a;
    f.parameters["eps_min"] = cal.eps_min;
  } else {
    f.eps_basis = "none";
    f.eps_basis_detail = "explicit noise parameters (--gumbel-scale)";
  }
  if (c.mechanism == MechanismKind::kTg) {
    f.parameters["mu"] = cal.tg.mu;
    f.parameters["b"] = cal.tg.b;
    f.parameters["delta_max"] = cal.tg.delta_max;
    f.parameters["delta_min"] = cal.stats.delta_min;
    f.parameter_notes["delta_min_kind"] = "exact";
    f.parameter_notes["delta_max_kind"] =
        c.delta_max ? "explicit" : (cal.stats.delta_max_exact ? "exact" : "certified_bound");
    f.parameter_notes["neighbours"] = "exact (double-precision re-rank of FAISS IndexFlatL2)";
  }
  f.embedding_name = BaseName(e.embedding->path());
  f.embedding_sha256 = e.embedding->content_sha256();
  f.embedding_entries = e.embedding->size();
  f.vocab_size = e.vocab->size();
  f.dim = e.vocab->dim();
  f.randomness = RandomnessKindName(s.randomness);
  const bool jsonl = ResolvedFormat(c) == InputFormat::kJsonl;
  f.input["format"] = jsonl ? "jsonl" : "text";
  if (jsonl) {
    f.input["text_fields"] = c.text_fields;
    f.input["id_field"] = c.id_field ? nlohmann::json(*c.id_field) : nlohmann::json(nullptr);
    f.input["on_bad_record"] = c.on_bad_record == BadRecordPolicy::kSkip ? "skip" : "error";
  } else {
    f.input["document"] = c.doc_mode == DocMode::kLine        ? "line"
                          : c.doc_mode == DocMode::kParagraph ? "paragraph"
                                                              : "file";
  }
  f.input["oov"] = c.oov == OovPolicy::kMask ? "mask" : c.oov == OovPolicy::kKeep ? "keep" : "drop";
  f.input["case"] = c.case_mode == CaseMode::kLower ? "lower" : "preserve";
  f.documents = s.documents;
  f.words = s.words;
  f.words_perturbed = s.perturbed;
  f.oov_masked = s.oov_masked;
  f.oov_kept = s.oov_kept;
  f.oov_dropped = s.oov_dropped;
  f.bad_records_skipped = s.bad_records_skipped;
  f.documents_with_kept_oov = s.documents_with_kept_oov;
  f.words_per_document = s.words_per_document;
  f.output_sha256 = s.output_sha256;
  f.output_name = c.output == "-" ? "-" : BaseName(c.output);
  const std::string text = BuildLedger(f).dump(2) + "\n";
  DPS_ASSIGN_OR_RETURN(*file, AtomicFile::Create(path));
  return (*file)->Write(text);
}

}  // namespace

Status SanitizeWith(Engine& e, const RunKey& key, RunSummary* summary) {
  const Config& c = e.config;
  const bool jsonl = ResolvedFormat(c) == InputFormat::kJsonl;
  int in_fd = 0;
  std::string in_name = "<stdin>";
  if (c.input != "-") {
    in_name = c.input;
    in_fd = ::open(c.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) return IoError("{}: cannot open input: {}", c.input, std::strerror(errno));
  }
  struct CloseFd {
    int fd;
    ~CloseFd() {
      if (fd > 0) ::close(fd);
    }
  } close_in{in_fd};
  uint64_t total_bytes = 0;
  struct stat st {};
  if (::fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode)) total_bytes = st.st_size;

  std::unique_ptr<Output> out;
  if (c.output == "-") {
    out = std::make_unique<StdoutOutput>();
  } else {
    if (c.input != "-" && SameFile(c.input, c.output)) {
      return UsageError("{}: output is the same file as the input; refusing to overwrite it",
                        c.output);
    }
    DPS_ASSIGN_OR_RETURN(out, AtomicFile::Create(c.output));
  }
  crypto_hash_sha256_state sha;
  crypto_hash_sha256_init(&sha);

  *summary = RunSummary();
  summary->randomness = key.kind;
  summary->calibration = e.calibration;
  const bool show_progress = c.progress == ProgressMode::kAlways ||
                             (c.progress == ProgressMode::kAuto && !c.quiet && ::isatty(2));
  ProgressMeter progress(show_progress, total_bytes);
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t nthreads = c.threads == 0 ? hw : c.threads;
  LineReader reader(in_fd, in_name, c.max_line);
  std::string batch;
  std::vector<size_t> ends;
  std::vector<uint64_t> line_doc;
  std::vector<Part> parts(nthreads);
  std::vector<WordId> distinct;
  std::vector<uint8_t> seen(e.vocab->size(), 0);
  std::unordered_map<uint64_t, uint64_t> seen_ids;  // JSONL id -> line
  DocumentTracker docs(summary);
  // Plain-text document state across batches.
  uint64_t doc_index = 0;
  bool started = false, prev_blank = false, doc_has_text = false;
  uint64_t record_index = 0;
  uint64_t line_no = 0;  // lines before the batch
  while (true) {
    if (CancelRequested()) return Status(StatusCode::kCancelled, "interrupted");
    DPS_ASSIGN_OR_RETURN(const size_t lines,
                         reader.ReadBatch(kBatchBytes, kBatchLines, &batch, &ends));
    if (lines == 0) break;
    BatchContext ctx{&e, &batch, &ends, &line_doc, record_index};
    if (!jsonl) {
      // Document of each line.
      line_doc.resize(lines);
      for (size_t l = 0; l < lines; ++l) {
        switch (c.doc_mode) {
          case DocMode::kLine:
            if (started) ++doc_index;
            break;
          case DocMode::kParagraph: {
            const bool blank = IsBlank(LineOf(ctx, l));
            if (started && !blank && prev_blank && doc_has_text) {
              ++doc_index;
              doc_has_text = false;
            }
            doc_has_text |= !blank;
            prev_blank = blank;
            break;
          }
          case DocMode::kFile:
            break;
        }
        started = true;
        line_doc[l] = c.first_doc_id + doc_index;
      }
    }
    // Split lines into parts of about equal bytes.
    const size_t nparts = std::min(nthreads, lines);
    size_t l = 0;
    for (size_t p = 0; p < nparts; ++p) {
      Part& part = parts[p];
      part.line_begin = l;
      const size_t target = batch.size() * (p + 1) / nparts;
      while (l < lines && (ends[l] <= target || l == part.line_begin)) ++l;
      if (p + 1 == nparts) l = lines;
      part.line_end = l;
      part.text.clear();
      part.units.clear();
      part.records.clear();
      part.tokens.clear();
      part.draws.clear();
      part.perturbed = part.masked = part.kept = part.dropped = 0;
    }
    ParallelFor(nparts, [&](size_t p) {
      if (jsonl) {
        AnalyzeJsonl(ctx, &parts[p]);
      } else {
        AnalyzeText(ctx, &parts[p]);
      }
    });
    // In input order: bad records, repeated ids, word positions, documents.
    const bool kept_oov = c.oov == OovPolicy::kKeep;
    for (size_t p = 0; p < nparts; ++p) {
      Part& part = parts[p];
      if (jsonl) {
        for (size_t i = 0; i < part.records.size(); ++i) {
          Record& r = part.records[i];
          const uint64_t line = line_no + part.line_begin + i + 1;
          if (r.blank) continue;
          ++record_index;
          if (r.error.empty() && c.id_field) {
            auto [it, inserted] = seen_ids.emplace(r.id, line);
            if (!inserted) {
              return DataError(
                  "{}: line {}: document id in \"{}\" repeats the one on line {}; "
                  "ids must be unique within a run",
                  in_name, line, *c.id_field, it->second);
            }
          }
          if (!r.error.empty()) {
            if (c.on_bad_record == BadRecordPolicy::kError) {
              return DataError("{}: line {}: bad record: {} (--on-bad-record skip skips it)",
                               in_name, line, r.error);
            }
            ++summary->bad_records_skipped;
            continue;
          }
          for (uint32_t u = r.unit_begin; u < r.unit_end; ++u) {
            docs.Add(part.units[u].doc, part.units[u], /*per_field_positions=*/true, kept_oov);
          }
          docs.Close();
        }
      } else {
        for (const Unit& u : part.units) {
          const uint64_t base = docs.Add(u.doc, u, /*per_field_positions=*/false, kept_oov);
          if (base != 0) {
            for (uint32_t d = u.draw_begin; d < u.draw_end; ++d) part.draws[d].position += base;
          }
        }
      }
      for (const Unit& u : part.units) summary->words += u.words;
    }
    // Distinct words of the batch, for the mechanism's prefetch.
    distinct.clear();
    for (size_t p = 0; p < nparts; ++p) {
      for (const WordDraw& d : parts[p].draws) {
        if (!seen[d.word]) {
          seen[d.word] = 1;
          distinct.push_back(d.word);
        }
      }
    }
    for (WordId w : distinct) seen[w] = 0;
    e.mechanism->Prefetch(distinct);
    ParallelFor(nparts, [&](size_t p) {
      Part& part = parts[p];
      part.outs.resize(part.draws.size());
      e.mechanism->Perturb(part.draws.data(), part.draws.size(), key, part.outs.data());
      Render(ctx, jsonl, &part);
    });
    for (size_t p = 0; p < nparts; ++p) {
      const Part& part = parts[p];
      DPS_RETURN_IF_ERROR(out->Write(part.out));
      crypto_hash_sha256_update(&sha, reinterpret_cast<const uint8_t*>(part.out.data()),
                                part.out.size());
      summary->perturbed += part.perturbed;
      summary->oov_masked += part.masked;
      summary->oov_kept += part.kept;
      summary->oov_dropped += part.dropped;
    }
    line_no += lines;
    progress.Update(reader.bytes_read(), summary->documents, summary->words);
  }
  docs.Close();
  if (!jsonl && c.doc_mode == DocMode::kFile && !started) {
    // An empty input is still one (empty) document in file mode.
    ++summary->documents;
    ++summary->words_per_document[0];
  }
  progress.Finish();
  summary->bytes_in = reader.bytes_read();
  if (CancelRequested()) return Status(StatusCode::kCancelled, "interrupted");
  if (c.output != "-") {
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&sha, digest);
    static const char* kDigits = "0123456789abcdef";
    std::string hex;
    for (uint8_t b : digest) {
      hex.push_back(kDigits[b >> 4]);
      hex.push_back(kDigits[b & 15]);
    }
    summary->output_sha256 = hex;
  }
  // The ledger is complete before the output takes its final name; both are
  // renamed into place only after everything succeeded.
  const std::string ledger_path = LedgerPath(c);
  std::unique_ptr<AtomicFile> ledger;
  if (!ledger_path.empty()) {
    DPS_RETURN_IF_ERROR(WriteLedger(e, *summary, ledger_path, &ledger));
  }
  DPS_RETURN_IF_ERROR(out->Commit());
  if (ledger) {
    DPS_RETURN_IF_ERROR(ledger->Commit());
    summary->ledger_path = ledger_path;
  }
  return Status::Ok();
}

Status Sanitize(const Config& config, RunSummary* summary) {
  DPS_RETURN_IF_ERROR(Validate(config));
  if (config.mechanism == MechanismKind::kIdentity) {
    return UsageError("identity mechanism: not available for sanitizing");
  }
  RunKey key;
  if (config.seed) {
    key = RunKey::FromSeed(*config.seed);
    if (!config.quiet) {
      Log().warn(
          "--seed: the noise is reproducible by anyone who knows or guesses the seed; "
          "this output carries no privacy guarantee");
    }
  } else if (config.key_file) {
    DPS_ASSIGN_OR_RETURN(key, RunKey::FromFile(*config.key_file));
  } else {
    key = RunKey::Fresh();
  }
  // Check the paths before the (slower) embedding work.
  if (config.input != "-" && ::access(config.input.c_str(), R_OK) != 0) {
    return IoError("{}: cannot open input: {}", config.input, std::strerror(errno));
  }
  if (config.input != "-" && config.output != "-" && SameFile(config.input, config.output)) {
    return UsageError("{}: output is the same file as the input; refusing to overwrite it",
                      config.output);
  }
  const std::string ledger = LedgerPath(config);
  if (!ledger.empty() && config.input != "-" && SameFile(config.input, ledger)) {
    return UsageError("{}: the ledger would overwrite the input", ledger);
  }
  DPS_ASSIGN_OR_RETURN(auto engine, OpenEngine(config, /*build_mechanism=*/true));
  return SanitizeWith(*engine, key, summary);
}

}  // namespace dpsanitize
