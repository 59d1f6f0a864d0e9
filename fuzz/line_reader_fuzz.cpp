// Fuzzes the line reader against a plain model of it. The first two bytes
// pick the limits (--max-line, batch size in bytes and lines, whether lines
// are checked to be UTF-8), the rest is the input, read from a memfd.
// Invariants: without an error the batches concatenate to the input, every
// line ends with '\n' but maybe the last, and the counters agree; there is an
// error exactly when some line is longer than --max-line (without its "\n"
// or "\r\n") or, when checked, not valid UTF-8, and only lines before the
// first such line are ever returned.
// fuzz-link: dpsanitize::tokenize
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/tokenize/line_reader.h"
#include "dpsanitize/tokenize/tokenizer.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Index of the first line the reader must refuse, or the number of lines.
size_t FirstBadLine(std::string_view input, size_t max_line, bool check_utf8, size_t* lines) {
  size_t n = 0, bad = SIZE_MAX, begin = 0;
  while (begin < input.size()) {
    size_t end = input.find('\n', begin);
    end = end == std::string_view::npos ? input.size() : end + 1;
    const std::string_view line = input.substr(begin, end - begin);
    size_t content = line.size();
    if (content > 0 && line[content - 1] == '\n') --content;
    if (content > 0 && line[content - 1] == '\r') --content;
    const bool refused = content > max_line || (check_utf8 && dpsanitize::FindInvalidUtf8(line) !=
                                                                  std::string_view::npos);
    if (refused && bad == SIZE_MAX) bad = n;
    ++n;
    begin = end;
  }
  *lines = n;
  return bad == SIZE_MAX ? n : bad;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t max_line = data[0] == 255 ? size_t{1} << 20 : data[0];
  const bool check_utf8 = (data[1] & 1) == 0;
  const size_t max_lines = 1 + (data[1] >> 1) % 8;
  const size_t max_bytes = 1 + (data[1] >> 4) * 16;
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const int fd = memfd_create("line_reader_fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t written = 0;
  while (written < input.size()) {
    const ssize_t n = write(fd, input.data() + written, input.size() - written);
    if (n <= 0) {
      close(fd);
      return 0;
    }
    written += static_cast<size_t>(n);
  }
  lseek(fd, 0, SEEK_SET);

  size_t lines = 0;
  const size_t first_bad = FirstBadLine(input, max_line, check_utf8, &lines);
  dpsanitize::LineReader reader(fd, "fuzz", max_line, check_utf8);
  std::string out, batch;
  std::vector<size_t> ends;
  size_t returned = 0;
  bool failed = false;
  while (true) {
    auto n = reader.ReadBatch(max_bytes, max_lines, &batch, &ends);
    if (!n.ok()) {
      failed = true;
      break;
    }
    if (*n == 0) break;
    Check(*n == ends.size() && *n <= max_lines);
    Check(ends.back() == batch.size());
    size_t b = 0;
    for (size_t l = 0; l < ends.size(); ++l) {
      Check(ends[l] > b);
      const bool last_of_input = out.size() + ends[l] == input.size();
      Check(batch[ends[l] - 1] == '\n' || last_of_input);
      // No '\n' inside a line.
      Check(batch.find('\n', b) >= ends[l] - 1);
      b = ends[l];
    }
    out += batch;
    returned += *n;
  }
  close(fd);
  Check(returned <= first_bad);
  Check(input.substr(0, out.size()) == out);
  if (failed) {
    Check(first_bad < lines);
  } else {
    Check(first_bad == lines);
    Check(out == input);
    Check(returned == lines);
    Check(reader.lines_read() == lines);
    Check(reader.bytes_read() == input.size());
  }
  return 0;
}
