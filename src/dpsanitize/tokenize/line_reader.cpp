#include "dpsanitize/tokenize/line_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dpsanitize/tokenize/tokenizer.h"

namespace dpsanitize {
namespace {
constexpr size_t kChunk = 1 << 20;
}

LineReader::LineReader(int fd, const std::string& name, size_t max_line, bool check_utf8)
    : LineReader(RawFdSource(fd, name), name, max_line, check_utf8) {}

LineReader::LineReader(std::unique_ptr<ByteSource> source, std::string name, size_t max_line,
                       bool check_utf8)
    : source_(std::move(source)),
      name_(std::move(name)),
      max_line_(max_line),
      check_utf8_(check_utf8) {}

void LineReader::SetRange(uint64_t first_line, uint64_t first_offset, uint64_t length) {
  line_no_ = line_base_ = first_line;
  offset_ = offset_base_ = first_offset;
  remaining_ = length;
}

Status LineReader::Fill() {
  // Drop consumed bytes so the buffer stays bounded.
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  const size_t old = buf_.size();
  // A range (--shard) ends like a file: the next part's bytes are never read.
  const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, remaining_));
  if (want == 0) {
    eof_ = true;
    return Status::Ok();
  }
  buf_.resize(old + want);
  StatusOr<size_t> n = source_->Read(buf_.data() + old, want);
  if (!n.ok()) {
    buf_.resize(old);
    return n.status();
  }
  buf_.resize(old + *n);
  if (remaining_ != UINT64_MAX) remaining_ -= *n;
  if (*n == 0) eof_ = true;
  return Status::Ok();
}

Status LineReader::TooLong() const {
  if (csv_records_) {
    return DataError(
        "{}: the record starting at line {} is longer than the --max-line limit of {} bytes (a "
        "quoted field left open runs to the end of the input)",
        name_, line_no_ + 1, max_line_);
  }
  return DataError("{}: line {} is longer than the --max-line limit of {} bytes", name_,
                   line_no_ + 1, max_line_);
}

StatusOr<size_t> LineReader::ReadBatch(size_t max_bytes, size_t max_lines, std::string* batch,
                                       std::vector<size_t>* ends) {
  batch->clear();
  ends->clear();
  while (ends->size() < max_lines && (ends->empty() || batch->size() < max_bytes)) {
    const char* base = buf_.data();
    const char* nl = nullptr;
    if (scan_ < buf_.size()) {
      if (csv_records_) {
        // The boundary keeps its quote state between calls, so bytes
        // already scanned are never scanned again while a record grows.
        const size_t end = csv_boundary_.Scan(base + scan_, buf_.size() - scan_);
        if (end != CsvBoundary::kNone) nl = base + scan_ + end;
      } else {
        nl = static_cast<const char*>(std::memchr(base + scan_, '\n', buf_.size() - scan_));
      }
    }
    size_t line_end;
    if (nl != nullptr) {
      line_end = static_cast<size_t>(nl - base) + 1;
    } else if (eof_) {
      if (pos_ == buf_.size()) break;  // end of input
      line_end = buf_.size();
    } else {
      scan_ = buf_.size();
      if (buf_.size() - pos_ > max_line_ + 2) return TooLong();
      DPS_RETURN_IF_ERROR(Fill());
      continue;
    }
    std::string_view line(base + pos_, line_end - pos_);
    size_t content = line.size();
    if (content > 0 && line[content - 1] == '\n') --content;
    if (content > 0 && line[content - 1] == '\r') --content;
    if (content > max_line_) return TooLong();
    const size_t bad = check_utf8_ ? FindInvalidUtf8(line) : std::string_view::npos;
    if (bad != std::string_view::npos) {
      return DataError("{}: invalid UTF-8 at line {}, byte offset {}", name_, line_no_ + 1,
                       offset_ + bad);
    }
    batch->append(line);
    ends->push_back(batch->size());
    if (csv_records_) {
      // Physical lines: the record's newlines, and one for a last line
      // without a newline.
      line_no_ += static_cast<uint64_t>(std::count(line.begin(), line.end(), '\n'));
      if (line.back() != '\n') ++line_no_;
      csv_boundary_.Reset();  // a last record may end without a newline
    } else {
      ++line_no_;
    }
    offset_ += line.size();
    pos_ = line_end;
    scan_ = pos_;
  }
  return ends->size();
}

}  // namespace dpsanitize
