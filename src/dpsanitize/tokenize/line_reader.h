// LineReader: reads a byte stream as lines in bounded memory.
//
// Each line keeps its terminator ("\n", and the "\r" before it if any), and a
// last line without a newline is returned as it is, so concatenating the
// lines reproduces the input exactly. Memory is bounded by the read chunk plus
// `max_line`, whatever the input size. Every line is checked to be valid
// UTF-8; errors name the input, the 1-based line and the byte offset, never
// the text.
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
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

class LineReader {
 public:
  // Reads from `fd` (not owned). `name` is used in error messages.
  LineReader(int fd, std::string name, size_t max_line);

  // Replaces `batch` with whole lines totalling about `max_bytes` (at least
  // one line, at most `max_lines`) and `ends` with each line's end offset.
  // Returns the number of lines; 0 at end of input.
  StatusOr<size_t> ReadBatch(size_t max_bytes, size_t max_lines, std::string* batch,
                             std::vector<size_t>* ends);

  uint64_t lines_read() const { return line_no_; }
  uint64_t bytes_read() const { return offset_; }

 private:
  Status Fill();  // reads more input into buf_

  int fd_;
  std::string name_;
  size_t max_line_;
  std::string buf_;
  size_t pos_ = 0;   // start of unconsumed data in buf_
  size_t scan_ = 0;  // no newline in buf_[pos_, scan_)
  bool eof_ = false;
  uint64_t line_no_ = 0;  // lines consumed so far
  uint64_t offset_ = 0;   // bytes consumed so far
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_TOKENIZE_LINE_READER_H_
