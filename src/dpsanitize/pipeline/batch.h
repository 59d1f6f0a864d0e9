// The data that flows through one batch of the sanitize loop:
//
//   DocumentSource -> Batch (whole lines, each with its document)
//   Analyze        -> Part::units, tokens, draws   (one Part per worker)
//   Perturb        -> Part::outs                   (one output word per draw)
//   Render         -> Part::out                    (the output bytes)
//   Sink           <- Part::out, in part order = input order
//
// A Part is a contiguous run of the batch's lines, so concatenating the
// parts' outputs gives the output in input order. Offsets into a batch are
// 32-bit: a batch holds about 4 MiB of lines (document_source.cpp).
#ifndef DPSANITIZE_PIPELINE_BATCH_H_
#define DPSANITIZE_PIPELINE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dpsanitize/core/config.h"
#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/tokenize/tokenizer.h"

namespace dpsanitize {

constexpr WordId kOov = ~WordId{0};

// How the lines of a batch are read: the resolved input format and, for
// CSV/TSV, what the header says about the columns (DocumentSource fills it).
struct InputLayout {
  InputFormat format = InputFormat::kText;  // never kAuto
  size_t columns = 0;                       // CSV/TSV: fields per row (the header's)
  std::vector<size_t> text_columns;         // CSV/TSV: index of each --text-column
  std::optional<size_t> id_column;          // CSV/TSV: index of the --id-field column

  bool records() const { return format != InputFormat::kText; }  // JSONL, CSV, TSV
  bool table() const { return format == InputFormat::kCsv || format == InputFormat::kTsv; }
};

// Whole input lines read at once, with the document each belongs to. For
// CSV a "line" is a record, which may span several physical lines.
struct Batch {
  std::string bytes;         // the lines, back to back, with their '\n'
  std::vector<size_t> ends;  // end offset of each line in `bytes`
  // Document id of each line: its document's (text), or first_doc_id + its
  // record index (JSONL, CSV, TSV; a blank line gets the next record's).
  std::vector<uint64_t> line_doc;
  uint64_t first_line = 0;  // physical lines before the batch in the run
  bool header = false;      // CSV/TSV: line 0 is the header (passed through, not a record)

  size_t lines() const { return ends.size(); }
  std::string_view Line(size_t l) const {
    const size_t b = l == 0 ? 0 : ends[l - 1];
    return std::string_view(bytes.data() + b, ends[l] - b);
  }
};

// True for a line of spaces, tabs and line ends only: a paragraph break in
// text, a line passed through unchanged in JSONL.
inline bool IsBlank(std::string_view line) {
  for (char ch : line) {
    if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') return false;
  }
  return true;
}

// A word or a gap between words in Part::text.
struct Token {
  uint32_t begin;  // into Part::text
  uint32_t size;
  WordId id;  // kOov for out-of-vocabulary words; unused for gaps
  bool is_word;
  CasePattern pattern;
};

// One text to tokenize: a line of plain text, or one text field of a record.
struct Unit {
  uint64_t doc;  // document index in the run (text) or id (JSONL)
  uint32_t field;
  uint32_t text_begin, text_size;   // into Part::text
  uint32_t token_begin, token_end;  // into Part::tokens
  uint32_t draw_begin, draw_end;    // into Part::draws
  uint32_t words;
  uint32_t oov;  // out-of-vocabulary words
};

// A JSONL, CSV or TSV record: one input line (a CSV record may span
// several) and the spans of its text-field values.
struct Record {
  uint32_t line_begin, line_size;  // into Batch::bytes
  uint32_t unit_begin, unit_end;
  // Per unit: the value's raw bytes in the line (JSONL: the string token;
  // CSV: the field, quotes included; TSV: the field).
  std::vector<std::pair<uint32_t, uint32_t>> raw;
  bool has_id = false;
  uint64_t id = 0;
  bool blank = false;  // whitespace only, or a CSV/TSV header: passed through, not a record
  std::string error;   // non-empty: a bad record
};

// One worker's share of a batch: a contiguous run of lines.
struct Part {
  size_t line_begin = 0, line_end = 0;
  std::string text;  // the texts of all units (JSONL: unescaped field values)
  std::vector<Unit> units;
  std::vector<Record> records;  // JSONL, CSV, TSV: one per line
  std::vector<Token> tokens;
  std::vector<WordDraw> draws;  // in-vocabulary words, for the mechanism
  std::vector<WordId> outs;     // the mechanism's output word per draw
  std::string out;              // rendered output of the part's lines
  std::string scratch;
  uint64_t perturbed = 0, masked = 0, kept = 0, dropped = 0;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_BATCH_H_
