// Shard planning (--shard I/N): which bytes of the input the I-th of N runs
// reads, and the document state at its first byte, so that its document ids
// (and so its keyed noise) are those of one run over the whole input.
//
// Part I starts at the first document start at or after I * size / N (the
// first byte for I = 0) and ends where part I + 1 starts (the end of the file
// for the last part). A document longer than a part makes that part empty;
// no document is ever split. Finding the state means scanning the lines
// before the part (memchr over lines, plus a blank-line test for JSONL and
// paragraphs): part I reads (I + 1) / N of the file once more, so N shards
// read about N / 2 times the file in all (docs/scale.md: what that costs).
// JSONL with --id-field needs no count: only the two boundaries are looked up.
// CSV/TSV: the header (the first record) is always in the part that starts
// at byte 0, and the plan hands it to the other parts; a CSV record starts
// after a newline outside quotes (tokenize/csv_record.h, CsvBoundary), so the
// scan tracks the quote state (a newline search from the middle of a file
// could land inside a quoted field).
//
//   DPS_ASSIGN_OR_RETURN(ShardPlan plan, PlanShard(fd, size, config));
//   lseek(fd, plan.begin, SEEK_SET); reader.SetRange(plan.first_line, plan.begin,
//                                                   plan.end - plan.begin);
#ifndef DPSANITIZE_PIPELINE_SHARD_H_
#define DPSANITIZE_PIPELINE_SHARD_H_

#include <cstdint>
#include <string>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"

namespace dpsanitize {

// DocumentSource's document state before a line (see document_source.cpp).
struct DocState {
  uint64_t doc_index = 0;  // text: documents started before, minus one
  bool started = false, prev_blank = false, doc_has_text = false;
  uint64_t records = 0;  // JSONL, CSV, TSV: non-blank records before (the header aside)
};

struct ShardPlan {
  uint64_t begin = 0, end = 0;  // byte range [begin, end) of the input
  uint64_t first_line = 0;      // 0-based index of the (physical) line at `begin`
  DocState state;               // before that line
  // False for JSONL with --id-field: ids come from the records, so the lines
  // before the part are never read and line numbers count from `begin`.
  bool lines_known = true;
  std::string header;  // CSV/TSV: the input's first record (empty for an empty input)
};

// Plans shard config.shard_index of config.shard_count over the `size` bytes
// of the regular file open at `fd` (read with pread; the offset is not used).
StatusOr<ShardPlan> PlanShard(int fd, uint64_t size, const Config& config, const std::string& name);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_SHARD_H_
