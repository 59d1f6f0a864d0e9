#include "dpsanitize/pipeline/document_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dpsanitize/pipeline/shard.h"

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
  // Compression: promised by the name (.gz, .zst), or recognised by the
  // magic number (stdin, or a file named otherwise).
  Compression by_name = Compression::kNone;
  if (config.input != "-") StripCompressionExtension(config.input, &by_name);
  StatusOr<std::unique_ptr<ByteSource>> bytes = OpenByteSource(fd, name, by_name);
  if (!bytes.ok()) {
    if (fd > 0) ::close(fd);
    return bytes.status();
  }
  std::unique_ptr<DocumentSource> source(
      new DocumentSource(config, fd, std::move(name), std::move(bytes).value()));
  if (config.shard_count > 0) DPS_RETURN_IF_ERROR(source->StartShard());
  return source;
}

Status DocumentSource::StartShard() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    return UsageError("--shard {}: {} is not a regular file; a pipe or device cannot be split",
                      config_.shard_text, name_);
  }
  if (compression_ != Compression::kNone) {
    // A part must start at a byte offset of the text; a compressed stream
    // can only be decoded from its beginning.
    return UsageError(
        "--shard {}: {} is {}-compressed and cannot be split; decompress it first or split the "
        "corpus into files",
        config_.shard_text, name_, CompressionName(compression_));
  }
  DPS_ASSIGN_OR_RETURN(const ShardPlan plan,
                       PlanShard(fd_, static_cast<uint64_t>(st.st_size), config_, name_));
  if (::lseek(fd_, static_cast<off_t>(plan.begin), SEEK_SET) < 0) {
    return IoError("{}: cannot seek: {}", name_, std::strerror(errno));
  }
  reader_.SetRange(plan.first_line, plan.begin, plan.end - plan.begin);
  if (!plan.lines_known) {
    // Messages must not name a line number that is not the file's.
    name_ = fmt::format("{} (--shard {}: lines counted from byte {})", name_, config_.shard_text,
                        plan.begin);
    reader_.set_name(name_);
  }
  // The state DocumentSource would have reached at the part's first line in
  // a run over the whole input: the same document ids, so the same noise.
  lines_ = plan.first_line;
  doc_index_ = plan.state.doc_index;
  started_ = plan.state.started;
  prev_blank_ = plan.state.prev_blank;
  doc_has_text_ = plan.state.doc_has_text;
  records_ = plan.state.records;
  total_bytes_ = plan.end - plan.begin;
  return Status::Ok();
}

DocumentSource::DocumentSource(const Config& config, int fd, std::string name,
                               std::unique_ptr<ByteSource> bytes)
    : config_(config),
      jsonl_(ResolvedFormat(config) == InputFormat::kJsonl),
      fd_(fd),
      name_(std::move(name)),
      compression_(bytes->compression()),
      // JSONL records are checked one by one in Analyze, where a record that
      // is not UTF-8 becomes a bad record (--on-bad-record).
      reader_(std::move(bytes), name_, config.max_line, /*check_utf8=*/!jsonl_) {
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
