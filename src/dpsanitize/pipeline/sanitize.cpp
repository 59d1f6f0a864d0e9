#include "dpsanitize/pipeline/sanitize.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "dpsanitize/core/log.h"
#include "dpsanitize/tokenize/line_reader.h"
#include "dpsanitize/tokenize/tokenizer.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {
namespace {

constexpr size_t kBatchBytes = 4 << 20;
constexpr size_t kBatchLines = 1 << 16;
constexpr WordId kOov = ~WordId{0};

struct Token {
  uint32_t begin;
  uint32_t size;
  WordId id;  // kOov for out-of-vocabulary words; unused for gaps
  bool is_word;
  CasePattern pattern;
};

// One worker's share of a batch: a contiguous run of lines.
struct Part {
  size_t line_begin = 0, line_end = 0;
  std::vector<Token> tokens;
  std::vector<uint32_t> line_token_end;  // per line: end index into tokens
  std::vector<WordDraw> draws;
  std::vector<WordId> outs;
  std::string out;
  RunSummary counts;
};

void Analyze(const Engine& e, const std::string& batch, const std::vector<size_t>& ends,
             uint64_t first_doc, Part* p) {
  std::vector<Span> spans;
  std::string key;
  p->tokens.clear();
  p->line_token_end.clear();
  p->draws.clear();
  for (size_t l = p->line_begin; l < p->line_end; ++l) {
    const size_t b = l == 0 ? 0 : ends[l - 1];
    const std::string_view line(batch.data() + b, ends[l] - b);
    Tokenize(line, &spans);
    uint64_t position = 0;
    for (const Span& s : spans) {
      Token t{static_cast<uint32_t>(b + s.begin), s.size, kOov, s.is_word, CasePattern::kLower};
      if (s.is_word) {
        const std::string_view w = line.substr(s.begin, s.size);
        LookupKey(w, &key);
        if (auto id = e.vocab->Find(key)) {
          t.id = *id;
          p->draws.push_back({*id, 0, first_doc + l, position});
        }
        t.pattern = DetectCase(w);
        ++position;
      }
      p->tokens.push_back(t);
    }
    p->counts.words += position;
    p->counts.max_words_per_document = std::max(p->counts.max_words_per_document, position);
    p->line_token_end.push_back(static_cast<uint32_t>(p->tokens.size()));
  }
}

void Render(const Engine& e, const std::string& batch, Part* p) {
  const Config& c = e.config;
  p->out.clear();
  size_t next_draw = 0;
  for (const Token& t : p->tokens) {
    const std::string_view text(batch.data() + t.begin, t.size);
    if (!t.is_word) {
      p->out.append(text);
      continue;
    }
    if (t.id != kOov) {
      const WordId out = p->outs[next_draw++];
      ++p->counts.perturbed;
      if (out == t.id) ++p->counts.unchanged;
      const std::string_view w = e.vocab->word(out);
      if (c.case_mode == CaseMode::kLower) {
        p->out.append(w);
      } else {
        AppendWithCase(t.pattern, w, &p->out);
      }
      continue;
    }
    switch (c.oov) {
      case OovPolicy::kMask:
        ++p->counts.oov_masked;
        p->out.append(c.oov_token);
        break;
      case OovPolicy::kKeep:
        ++p->counts.oov_kept;
        if (c.case_mode == CaseMode::kLower) {
          AppendLower(text, &p->out);
        } else {
          p->out.append(text);
        }
        break;
      case OovPolicy::kDrop:
        ++p->counts.oov_dropped;
        break;
    }
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

void Accumulate(const RunSummary& from, RunSummary* to) {
  to->words += from.words;
  to->perturbed += from.perturbed;
  to->unchanged += from.unchanged;
  to->oov_masked += from.oov_masked;
  to->oov_kept += from.oov_kept;
  to->oov_dropped += from.oov_dropped;
  to->max_words_per_document = std::max(to->max_words_per_document, from.max_words_per_document);
}

}  // namespace

Status SanitizeWith(Engine& e, const RunKey& key, RunSummary* summary) {
  const Config& c = e.config;
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

  *summary = RunSummary();
  summary->randomness = key.kind;
  summary->calibration = e.calibration;
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  const size_t nthreads = c.threads == 0 ? hw : c.threads;
  LineReader reader(in_fd, in_name, c.max_line);
  std::string batch;
  std::vector<size_t> ends;
  std::vector<Part> parts(nthreads);
  std::vector<WordId> distinct;
  std::vector<uint8_t> seen(e.vocab->size(), 0);
  uint64_t doc = c.first_doc_id;
  while (true) {
    if (CancelRequested()) return Status(StatusCode::kCancelled, "interrupted");
    DPS_ASSIGN_OR_RETURN(const size_t lines,
                         reader.ReadBatch(kBatchBytes, kBatchLines, &batch, &ends));
    if (lines == 0) break;
    // Split lines into parts of about equal bytes.
    const size_t nparts = std::min(nthreads, lines);
    size_t l = 0;
    for (size_t p = 0; p < nparts; ++p) {
      parts[p].line_begin = l;
      const size_t target = batch.size() * (p + 1) / nparts;
      while (l < lines && (ends[l] <= target || l == parts[p].line_begin)) ++l;
      if (p + 1 == nparts) l = lines;
      parts[p].line_end = l;
      parts[p].counts = RunSummary();
    }
    ParallelFor(nparts, [&](size_t p) { Analyze(e, batch, ends, doc, &parts[p]); });
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
      Render(e, batch, &part);
    });
    for (size_t p = 0; p < nparts; ++p) {
      DPS_RETURN_IF_ERROR(out->Write(parts[p].out));
      Accumulate(parts[p].counts, summary);
    }
    summary->documents += lines;
    doc += lines;
  }
  summary->bytes_in = reader.bytes_read();
  if (CancelRequested()) return Status(StatusCode::kCancelled, "interrupted");
  return out->Commit();
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
  DPS_ASSIGN_OR_RETURN(auto engine, OpenEngine(config, /*build_mechanism=*/true));
  return SanitizeWith(*engine, key, summary);
}

}  // namespace dpsanitize
