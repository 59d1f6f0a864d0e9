// Analyze: the tokenize stage of the sanitize loop, run by each worker on
// its Part of a batch. Plain text: one Unit per line. JSONL: each line is
// parsed (simdjson) into a Record whose text fields become one Unit each,
// or marked blank or bad. CSV/TSV: each row likewise (tokenize/csv_record.h),
// its --text-column fields becoming the Units; the header passes through.
// Every Unit is split into words and gaps; each in-vocabulary word becomes a
// WordDraw for the mechanism, with its document id, field and position in
// the unit (positions across the lines of a text document are fixed later,
// in input order: OrderedPass).
#ifndef DPSANITIZE_PIPELINE_ANALYZE_H_
#define DPSANITIZE_PIPELINE_ANALYZE_H_

#include <cstddef>
#include <vector>

#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/engine.h"

namespace dpsanitize {

// Splits the batch's lines into `nparts` contiguous parts of about equal
// bytes (nparts <= batch.lines(); parts->size() >= nparts) and clears their
// per-batch data, keeping the buffers' capacity.
void SplitBatch(const Batch& batch, size_t nparts, std::vector<Part>* parts);

// Fills part->text, units, tokens, draws (and records for JSONL, CSV and
// TSV) from the lines [part->line_begin, part->line_end) of `batch`, read as
// `layout` says. Thread-safe for distinct parts.
void Analyze(const Engine& engine, const Batch& batch, const InputLayout& layout, Part* part);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_ANALYZE_H_
