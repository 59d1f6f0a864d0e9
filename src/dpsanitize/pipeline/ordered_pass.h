// OrderedPass: the one sequential step of a batch, between the parallel
// Analyze and Perturb stages. Walks the parts in input order to
//   - stop at a bad JSONL, CSV or TSV record (--on-bad-record error) or a
//     repeated --id-field id, naming its line, or count the skipped record;
//   - number the words of a text document across its lines, which may lie in
//     different parts (the keyed noise of a word depends on its position);
//   - count documents and words for the summary and the ledger.
//
//   OrderedPass pass(config, source.name(), &summary);
//   DPS_RETURN_IF_ERROR(pass.Visit(batch, &parts, nparts));  // per batch
//   pass.Finish(source.EmptyFileDocument());
#ifndef DPSANITIZE_PIPELINE_ORDERED_PASS_H_
#define DPSANITIZE_PIPELINE_ORDERED_PASS_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/ledger_facts.h"
#include "dpsanitize/pipeline/sanitize.h"

namespace dpsanitize {

class OrderedPass {
 public:
  // `input_name` is for error messages; counts go to *summary.
  OrderedPass(const Config& config, std::string input_name, RunSummary* summary);

  // The first `nparts` parts of `batch`, after Analyze. Adjusts the draws'
  // positions of text parts.
  Status Visit(const Batch& batch, std::vector<Part>* parts, size_t nparts);

  // After the last batch; `empty_file_document`: DocumentSource's.
  void Finish(bool empty_file_document);

 private:
  Status VisitRecords(const Batch& batch, const Part& part, uint64_t* line);
  void VisitLines(Part* part);

  const Config& config_;
  const std::string input_name_;
  const InputFormat format_;
  RunSummary* summary_;
  DocumentTracker docs_;
  std::unordered_map<uint64_t, uint64_t> seen_ids_;  // record id -> line
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_ORDERED_PASS_H_
