// Ledger facts: what the sanitize loop counts for the summary and the
// privacy ledger (ledger/ledger.h), and the ledger file itself.
//
//   DocumentTracker docs(&summary);
//   docs.Add(unit.doc, unit, ...);   // every unit, in input order
//   docs.Close();                    // after the last unit of a document
//   DPS_RETURN_IF_ERROR(WriteLedger(engine, summary, path, &ledger));
//   ... ledger->Commit() once the output is in place
#ifndef DPSANITIZE_PIPELINE_LEDGER_FACTS_H_
#define DPSANITIZE_PIPELINE_LEDGER_FACTS_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "dpsanitize/core/status.h"
#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/pipeline/engine.h"
#include "dpsanitize/pipeline/sanitize.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

// Word positions, document totals and kept-OOV flags, in input order.
// Counts into RunSummary::documents, words_per_document and
// documents_with_kept_oov.
class DocumentTracker {
 public:
  // `sketch_ids`: --id-field ids, recorded as a sketch (ledger.h,
  // DocumentIds); else positional ids, recorded as exact ranges.
  DocumentTracker(RunSummary* s, bool sketch_ids);
  // A unit of document `doc` (a new document when `doc` differs from the
  // previous unit's); returns the word position its words start at: 0 with
  // `per_field_positions` (JSONL fields), else the words of the document so
  // far. `kept_oov`: --oov keep, so the unit's OOV words appear in the output.
  uint64_t Add(uint64_t doc, const Unit& u, bool per_field_positions, bool kept_oov);
  // Ends the run: the sketch's k smallest hashes go to the summary.
  void Finish();
  // Ends the current document, if any.
  void Close();
  // Counts one document without words (an empty input in --document file).
  void AddEmptyDocument(uint64_t doc);

 private:
  void RecordId(uint64_t doc);

  RunSummary* s_;
  std::set<uint64_t> smallest_;  // sketch: the k smallest id hashes so far
  bool open_ = false;
  uint64_t doc_ = 0;
  uint64_t words_ = 0;
  bool kept_ = false;
};

// Writes the ledger of a finished run to a new temporary file at `path`,
// which takes its final name on (*file)->Commit().
Status WriteLedger(const Engine& e, const RunSummary& s, const std::string& path,
                   std::unique_ptr<AtomicFile>* file);

// --skip-done: true when OUT and its ledger exist, the ledger describes this
// job (mechanism and parameters, embedding, randomness kind, input settings,
// output name and shard) and OUT has the SHA-256 it records. Anything else
// (missing, another job, a changed or half-written output) is false: redo.
StatusOr<bool> AlreadyDone(const Engine& e, RandomnessKind randomness);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_LEDGER_FACTS_H_
