#include "dpsanitize/pipeline/document_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dpsanitize {
namespace {

// A batch is what the workers share between two ordered steps: big enough
// that thread start-up and the per-batch prefetch are noise, small enough to
// bound memory (a batch lives in several copies: input, text, output).
constexpr size_t kBatchBytes = 4 << 20;
constexpr size_t kBatchLines = 1 << 16;

}  // namespace

StatusOr<std::unique_ptr<DocumentSource>> DocumentSource::Open(const Config& config) {
  int fd = 0;
  std::string name = "<stdin>";
  if (config.input != "-") {
    name = config.input;
    fd = ::open(config.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return IoError("{}: cannot open input: {}", config.input, std::strerror(errno));
  }
  return std::unique_ptr<DocumentSource>(new DocumentSource(config, fd, std::move(name)));
}

DocumentSource::DocumentSource(const Config& config, int fd, std::string name)
    : config_(config),
      jsonl_(ResolvedFormat(config) == InputFormat::kJsonl),
      fd_(fd),
      name_(std::move(name)),
      reader_(fd, name_, config.max_line) {
  // Only a regular file has a size worth showing progress against.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) total_bytes_ = st.st_size;
}

DocumentSource::~DocumentSource() {
  if (fd_ > 0) ::close(fd_);
}

StatusOr<bool> DocumentSource::Next(Batch* batch) {
  batch->first_line = lines_;
  DPS_ASSIGN_OR_RETURN(const size_t lines,
                       reader_.ReadBatch(kBatchBytes, kBatchLines, &batch->bytes, &batch->ends));
  if (lines == 0) return false;
  lines_ += lines;
  batch->line_doc.resize(lines);
  if (jsonl_) {
    AssignRecords(batch);
  } else {
    AssignTextDocuments(batch);
  }
  return true;
}

// Documents may span batches (paragraph and file modes), so the state lives
// in the source, not in the batch.
void DocumentSource::AssignTextDocuments(Batch* batch) {
  for (size_t l = 0; l < batch->lines(); ++l) {
    switch (config_.doc_mode) {
      case DocMode::kLine:
        if (started_) ++doc_index_;
        break;
      case DocMode::kParagraph: {
        const bool blank = IsBlank(batch->Line(l));
        if (started_ && !blank && prev_blank_ && doc_has_text_) {
          ++doc_index_;
          doc_has_text_ = false;
        }
        doc_has_text_ |= !blank;
        prev_blank_ = blank;
        break;
      }
      case DocMode::kFile:
        break;
    }
    started_ = true;
    batch->line_doc[l] = config_.first_doc_id + doc_index_;
  }
}

// A record's default id is its index among the non-blank lines of the run,
// whatever the line's fate later (a skipped bad record still takes an index).
void DocumentSource::AssignRecords(Batch* batch) {
  for (size_t l = 0; l < batch->lines(); ++l) {
    batch->line_doc[l] = config_.first_doc_id + records_;
    if (!IsBlank(batch->Line(l))) ++records_;
  }
}

bool DocumentSource::EmptyFileDocument() const {
  return !jsonl_ && config_.doc_mode == DocMode::kFile && !started_;
}

}  // namespace dpsanitize
