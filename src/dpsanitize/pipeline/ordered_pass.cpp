#include "dpsanitize/pipeline/ordered_pass.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace dpsanitize {

OrderedPass::OrderedPass(const Config& config, std::string input_name, RunSummary* summary)
    : config_(config),
      input_name_(std::move(input_name)),
      format_(ResolvedFormat(config)),
      summary_(summary),
      docs_(summary, /*sketch_ids=*/config.id_field.has_value()) {}

Status OrderedPass::Visit(const Batch& batch, std::vector<Part>* parts, size_t nparts) {
  uint64_t line = batch.first_line + 1;  // of the next record
  for (size_t p = 0; p < nparts; ++p) {
    Part& part = (*parts)[p];
    if (format_ != InputFormat::kText) {
      DPS_RETURN_IF_ERROR(VisitRecords(batch, part, &line));
    } else {
      VisitLines(&part);
    }
    for (const Unit& u : part.units) summary_->words += u.words;
  }
  return Status::Ok();
}

// A record is a document on its own, and each text field numbers its words
// from 0, so only the checks and counts need input order here. *line is the
// physical line the next record starts on: a CSV record may span several.
Status OrderedPass::VisitRecords(const Batch& batch, const Part& part, uint64_t* next_line) {
  const Config& c = config_;
  const bool kept_oov = c.oov == OovPolicy::kKeep;
  const bool multiline = format_ == InputFormat::kCsv;
  for (size_t i = 0; i < part.records.size(); ++i) {
    const Record& r = part.records[i];
    const uint64_t line = *next_line;
    if (multiline) {
      const std::string_view bytes(batch.bytes.data() + r.line_begin, r.line_size);
      *next_line += static_cast<uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
    } else {
      ++*next_line;
    }
    if (r.blank) continue;
    if (r.error.empty() && c.id_field) {
      auto [it, inserted] = seen_ids_.emplace(r.id, line);
      if (!inserted) {
        return DataError(
            "{}: line {}: document id in \"{}\" repeats the one on line {}; "
            "ids must be unique within a run",
            input_name_, line, *c.id_field, it->second);
      }
    }
    if (!r.error.empty()) {
      if (c.on_bad_record == BadRecordPolicy::kError) {
        return DataError("{}: line {}: bad record: {} (--on-bad-record skip skips it)", input_name_,
                         line, r.error);
      }
      ++summary_->bad_records_skipped;
      continue;
    }
    for (uint32_t u = r.unit_begin; u < r.unit_end; ++u) {
      docs_.Add(part.units[u].doc, part.units[u], /*per_field_positions=*/true, kept_oov);
    }
    docs_.Close();
  }
  return Status::Ok();
}

// Analyze numbered each line's words from 0; shift them by the words of the
// document's earlier lines.
void OrderedPass::VisitLines(Part* part) {
  const bool kept_oov = config_.oov == OovPolicy::kKeep;
  for (const Unit& u : part->units) {
    const uint64_t base = docs_.Add(u.doc, u, /*per_field_positions=*/false, kept_oov);
    if (base != 0) {
      for (uint32_t d = u.draw_begin; d < u.draw_end; ++d) part->draws[d].position += base;
    }
  }
}

void OrderedPass::Finish(bool empty_file_document) {
  docs_.Close();
  if (empty_file_document) docs_.AddEmptyDocument(config_.first_doc_id);
  docs_.Finish();
}

}  // namespace dpsanitize
