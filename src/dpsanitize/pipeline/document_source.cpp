#include "dpsanitize/pipeline/document_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dpsanitize/pipeline/shard.h"
#include "dpsanitize/tokenize/csv_record.h"
#include "dpsanitize/tokenize/tokenizer.h"

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
  // CSV/TSV: the part that starts at byte 0 reads (and writes) the header;
  // the others take it from the plan, to find their columns.
  header_from_plan_ = layout_.table() && !(plan.begin == 0 && plan.end > 0);
  if (header_from_plan_) plan_header_ = plan.header;
  return Status::Ok();
}

DocumentSource::DocumentSource(const Config& config, int fd, std::string name,
                               std::unique_ptr<ByteSource> bytes)
    : config_(config),
      layout_{ResolvedFormat(config), 0, {}, std::nullopt},
      fd_(fd),
      name_(std::move(name)),
      compression_(bytes->compression()),
      // JSONL, CSV and TSV records are checked one by one in Analyze, where a
      // record that is not UTF-8 becomes a bad record (--on-bad-record).
      reader_(std::move(bytes), name_, config.max_line, /*check_utf8=*/!layout_.records()) {
  reader_.set_csv_records(layout_.format == InputFormat::kCsv);
  // Only a regular file has a size worth showing progress against.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) total_bytes_ = st.st_size;
}

DocumentSource::~DocumentSource() {
  if (fd_ > 0) ::close(fd_);
}

StatusOr<bool> DocumentSource::Next(Batch* batch) {
  batch->first_line = lines_;
  batch->header = false;
  if (layout_.table() && !header_read_) {
    header_read_ = true;
    DPS_ASSIGN_OR_RETURN(const bool header_batch, ReadHeader(batch));
    if (header_batch) return true;
  }
  const uint64_t physical_before = reader_.lines_read();
  DPS_ASSIGN_OR_RETURN(const size_t lines,
                       reader_.ReadBatch(kBatchBytes, kBatchLines, &batch->bytes, &batch->ends));
  if (lines == 0) return false;
  lines_ += reader_.lines_read() - physical_before;  // a CSV record may span lines
  batch->line_doc.resize(lines);
  if (layout_.records()) {
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
  return !layout_.records() && config_.doc_mode == DocMode::kFile && !started_;
}

// The header is the input's first record. It is read in a batch of its own
// (the first), so that the columns are known before any row is analysed and
// the header goes to the output exactly as it was; a --shard part that does
// not start at byte 0 takes it from the plan and writes nothing of it.
StatusOr<bool> DocumentSource::ReadHeader(Batch* batch) {
  if (header_from_plan_) {
    DPS_RETURN_IF_ERROR(ParseHeader(plan_header_));
    return false;
  }
  const uint64_t physical_before = reader_.lines_read();
  DPS_ASSIGN_OR_RETURN(const size_t lines,
                       reader_.ReadBatch(kBatchBytes, 1, &batch->bytes, &batch->ends));
  DPS_RETURN_IF_ERROR(ParseHeader(lines == 0 ? std::string_view() : batch->Line(0)));
  lines_ += reader_.lines_read() - physical_before;
  batch->header = true;
  batch->line_doc.assign(1, config_.first_doc_id + records_);
  return true;
}

// Finds each --text-column (and the --id-field column) by its name in the
// header. Names are compared as unescaped values, byte for byte; a UTF-8
// byte-order mark before the first name (spreadsheet exports write one) is
// not part of the name.
Status DocumentSource::ParseHeader(std::string_view record) {
  const char* kind = layout_.format == InputFormat::kCsv ? "CSV" : "TSV";
  const std::string_view body = RecordBody(record);
  if (IsBlank(body)) {
    return DataError("{}: no header on line 1; {} input starts with a line naming its columns",
                     name_, kind);
  }
  if (const size_t bad = FindInvalidUtf8(body); bad != std::string_view::npos) {
    return DataError("{}: line 1 (the header): invalid UTF-8 at byte offset {}", name_, bad);
  }
  TableRecordParser parser(layout_.format);
  std::string error;
  if (!parser.Parse(body, &error)) {
    return DataError("{}: line 1 (the header): not a valid {} row: {}", name_, kind, error);
  }
  layout_.columns = parser.fields();
  std::vector<std::string_view> names(parser.fields());
  for (size_t i = 0; i < names.size(); ++i) names[i] = parser.value(i);
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (names[0].substr(0, kBom.size()) == kBom) names[0].remove_prefix(kBom.size());
  const auto find = [&](const std::string& want, const char* option) -> StatusOr<size_t> {
    size_t found = names.size(), count = 0;
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != want) continue;
      if (count++ == 0) found = i;
    }
    if (count == 0) {
      return DataError("{}: {} {}: no column \"{}\" in the header (line 1)", name_, option, want,
                       want);
    }
    if (count > 1) {
      return DataError(
          "{}: {} {}: the header (line 1) names {} columns \"{}\"; the column to use must be "
          "unambiguous",
          name_, option, want, count, want);
    }
    return found;
  };
  layout_.text_columns.clear();
  for (const std::string& column : config_.text_columns) {
    DPS_ASSIGN_OR_RETURN(const size_t index, find(column, "--text-column"));
    layout_.text_columns.push_back(index);
  }
  if (config_.id_field) {
    DPS_ASSIGN_OR_RETURN(const size_t index, find(*config_.id_field, "--id-field"));
    layout_.id_column = index;
  }
  return Status::Ok();
}

}  // namespace dpsanitize
