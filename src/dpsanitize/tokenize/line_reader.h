// LineReader: reads a byte stream as lines in bounded memory.
//
// Each line keeps its terminator ("\n", and the "\r" before it if any), and a
// last line without a newline is returned as it is, so concatenating the
// lines reproduces the input exactly. Memory is bounded by the read chunk plus
// `max_line`, whatever the input size. Every line is checked to be valid
// UTF-8 (unless the caller checks them itself); errors name the input, the
// 1-based line and the byte offset, never the text.
//
//   LineReader reader(fd, "in.txt", 16 << 20);
//   std::string batch; std::vector<size_t> ends;
//   while (true) {
//     auto n = reader.ReadBatch(1 << 20, 4096, &batch, &ends);
//     if (!n.ok()) ...; if (*n == 0) break;   // lines are batch[ends[i-1], ends[i])
//   }
#ifndef DPSANITIZE_TOKENIZE_LINE_READER_H_
#define DPSANITIZE_TOKENIZE_LINE_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/io/byte_source.h"
#include "dpsanitize/tokenize/csv_record.h"

namespace dpsanitize {

class LineReader {
 public:
  // Reads from `fd` (not owned). `name` is used in error messages.
  // `check_utf8` false leaves the UTF-8 check to the caller (JSONL: a record
  // that is not UTF-8 is a bad record, which may be skipped).
  LineReader(int fd, const std::string& name, size_t max_line, bool check_utf8 = true);
  // Reads from `source` (owned): raw or decompressed bytes (io/byte_source.h).
  LineReader(std::unique_ptr<ByteSource> source, std::string name, size_t max_line,
             bool check_utf8 = true);

  // Replaces `batch` with whole lines totalling about `max_bytes` (at least
  // one line, at most `max_lines`) and `ends` with each line's end offset.
  // Returns the number of lines; 0 at end of input.
  StatusOr<size_t> ReadBatch(size_t max_bytes, size_t max_lines, std::string* batch,
                             std::vector<size_t>* ends);

  // Reads a part of a file (--shard): the caller has positioned `fd` at byte
  // `first_offset`, which is the start of line `first_line` (0-based) of the
  // whole input; at most `length` bytes are read. Error messages keep naming
  // the whole input's lines and offsets. Call before the first ReadBatch.
  void SetRange(uint64_t first_line, uint64_t first_offset, uint64_t length);

  // CSV (RFC 4180): a record ends at a newline outside a quoted field
  // (tokenize/csv_record.h, CsvBoundary), so one record may span several
  // physical lines; ReadBatch then returns records, --max-line bounds a
  // record, and line numbers in messages (and lines_read) still count
  // physical lines. Call before the first ReadBatch.
  void set_csv_records(bool on) { csv_records_ = on; }

  void set_name(std::string name) {
    source_->set_name(name);
    name_ = std::move(name);
  }

  uint64_t lines_read() const { return line_no_ - line_base_; }
  uint64_t bytes_read() const { return offset_ - offset_base_; }
  // Bytes taken from the file so far: compressed bytes for a compressed
  // input (progress against the file's size).
  uint64_t raw_bytes_read() const { return source_->raw_bytes_read(); }

 private:
  Status Fill();           // reads more input into buf_
  Status TooLong() const;  // the --max-line error for the line (record) at line_no_

  std::unique_ptr<ByteSource> source_;
  std::string name_;
  size_t max_line_;
  bool check_utf8_;
  std::string buf_;
  size_t pos_ = 0;   // start of unconsumed data in buf_
  size_t scan_ = 0;  // no newline in buf_[pos_, scan_) (CSV: no record end)
  bool csv_records_ = false;
  CsvBoundary csv_boundary_;  // CSV: the quote state at scan_
  bool eof_ = false;
  uint64_t line_no_ = 0;  // lines consumed so far (plus line_base_)
  uint64_t offset_ = 0;   // bytes consumed so far (plus offset_base_)
  uint64_t line_base_ = 0, offset_base_ = 0;
  uint64_t remaining_ = UINT64_MAX;  // bytes the range still allows to read
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_TOKENIZE_LINE_READER_H_
