#include "dpsanitize/pipeline/shard.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/tokenize/csv_record.h"

namespace dpsanitize {
namespace {

// floor(index * size / count) without overflow: count is at most 10^6
// (ParseShard), so index * (size % count) < 10^12.
uint64_t Target(uint64_t index, uint64_t count, uint64_t size) {
  return index * (size / count) + index * (size % count) / count;
}

// The first line start at or after `target` (0 stays 0; the end of the
// file when no newline follows), by reading forward from target - 1.
StatusOr<uint64_t> NextLineStart(int fd, uint64_t size, uint64_t target, const std::string& name) {
  if (target == 0) return uint64_t{0};
  std::vector<char> buf(size_t{1} << 16);
  for (uint64_t pos = target - 1; pos < size;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - pos));
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("{}: cannot read: {}", name, std::strerror(errno));
    }
    if (n == 0) break;
    const void* nl = std::memchr(buf.data(), '\n', static_cast<size_t>(n));
    if (nl != nullptr)
      return pos + static_cast<uint64_t>(static_cast<const char*>(nl) - buf.data()) + 1;
    pos += static_cast<uint64_t>(n);
  }
  return size;
}

}  // namespace

StatusOr<ShardPlan> PlanShard(int fd, uint64_t size, const Config& config,
                              const std::string& name) {
  const InputFormat format = ResolvedFormat(config);
  const bool records = format != InputFormat::kText;  // JSONL, CSV, TSV
  const bool table = format == InputFormat::kCsv || format == InputFormat::kTsv;
  const bool csv = format == InputFormat::kCsv;
  const bool paragraph = !records && config.doc_mode == DocMode::kParagraph;
  const uint64_t want_begin = Target(config.shard_index, config.shard_count, size);
  const uint64_t want_end = config.shard_index + 1 == config.shard_count
                                ? size
                                : Target(config.shard_index + 1, config.shard_count, size);
  ShardPlan plan;
  if (format == InputFormat::kJsonl && config.id_field) {
    // Every line start is a record boundary and no id depends on position.
    DPS_ASSIGN_OR_RETURN(plan.begin, NextLineStart(fd, size, want_begin, name));
    DPS_ASSIGN_OR_RETURN(plan.end, NextLineStart(fd, size, want_end, name));
    if (plan.end < plan.begin) plan.end = plan.begin;
    plan.lines_known = false;
    return plan;
  }
  plan.begin = plan.end = size;
  bool have_begin = false;
  if (want_begin == 0) {
    plan.begin = 0;
    have_begin = true;
  }
  if (want_end == 0) plan.end = 0;
  DocState st;
  uint64_t line = 0;    // physical lines before the current line (CSV: record)
  uint64_t offset = 0;  // start of the current line
  std::vector<char> buf(size_t{4} << 20);
  bool carry_blank = true;    // the current line's bytes so far are all blank
  uint64_t record_lines = 0;  // CSV: newlines in the current record so far
  bool in_header = table;     // CSV/TSV: the current line is the header
  CsvBoundary boundary;       // CSV: the quote state
  uint64_t pos = 0;
  // One pass over whole lines up to the end of the part: at each line start
  // decide whether a document starts there, then update the state exactly as
  // DocumentSource does for that line.
  const auto line_done = [&](bool blank, uint64_t next_offset, uint64_t physical) -> bool {
    // Does a document start at `offset` (this line)?
    bool doc_start;
    if (paragraph) {
      doc_start = !st.started || (!blank && st.prev_blank && st.doc_has_text);
    } else {
      doc_start = true;  // every line: a line document, or a record (or blank, or the header)
    }
    if (doc_start && offset > 0) {
      if (!have_begin && offset >= want_begin) {
        plan.begin = offset;
        plan.first_line = line;
        plan.state = st;
        have_begin = true;
      }
      if (offset >= want_end && offset < plan.end) {
        plan.end = offset;
        return false;  // nothing after the part matters
      }
    }
    if (records) {
      if (!blank && !in_header) ++st.records;
    } else if (paragraph) {
      if (st.started && !blank && st.prev_blank && st.doc_has_text) {
        ++st.doc_index;
        st.doc_has_text = false;
      }
      st.doc_has_text |= !blank;
      st.prev_blank = blank;
    } else if (st.started) {
      ++st.doc_index;
    }
    st.started = true;
    in_header = false;
    line += physical;
    offset = next_offset;
    return true;
  };
  while (pos < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - pos));
    const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("{}: cannot read: {}", name, std::strerror(errno));
    }
    if (n == 0) break;  // the file shrank: plan over what is there
    size_t i = 0;
    const size_t got = static_cast<size_t>(n);
    while (i < got) {
      size_t stop = got;
      bool found;
      if (csv) {
        const size_t end = boundary.Scan(buf.data() + i, got - i);
        found = end != CsvBoundary::kNone;
        if (found) stop = i + end + 1;
      } else {
        const void* nl = std::memchr(buf.data() + i, '\n', got - i);
        found = nl != nullptr;
        if (found) stop = static_cast<size_t>(static_cast<const char*>(nl) - buf.data()) + 1;
      }
      const std::string_view piece(buf.data() + i, stop - i);
      // Blankness only needs a look at the bytes, never a copy of the line.
      if (carry_blank) carry_blank = IsBlank(piece);
      if (csv) record_lines += static_cast<uint64_t>(std::count(piece.begin(), piece.end(), '\n'));
      if (in_header) {
        plan.header.append(piece);
        if (plan.header.size() > config.max_line + 2) {
          return DataError(
              "{}: the header (line 1) is longer than the --max-line limit of {} bytes", name,
              config.max_line);
        }
      }
      const uint64_t next = pos + stop;
      i = stop;
      if (!found) break;
      if (!line_done(carry_blank, next, csv ? record_lines : 1)) return plan;
      carry_blank = true;
      record_lines = 0;
    }
    pos += got;
  }
  // A last line without a newline.
  if (offset < size && !line_done(carry_blank, size, csv ? record_lines + 1 : 1)) return plan;
  // Finding no document start after the wanted begin leaves the part empty
  // at the end of the file.
  if (!have_begin) {
    plan.begin = size;
    plan.first_line = line;
    plan.state = st;
  }
  if (plan.end < plan.begin) plan.end = plan.begin;
  return plan;
}

}  // namespace dpsanitize
