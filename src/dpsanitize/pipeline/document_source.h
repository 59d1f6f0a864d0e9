// DocumentSource: the first stage of the sanitize loop. Reads the input
// (a file, or stdin for "-") in batches of whole lines in bounded memory and
// gives each line the id of its document:
//   text, --document line       one document per line
//   text, --document paragraph  runs of lines separated by blank lines
//   text, --document file       the whole input
//   JSONL                       one record per non-blank line; its id is
//                               first_doc_id + its index among the records
//                               (unless --id-field names one in the record)
//   CSV, TSV                    a header line (passed through, in a batch of
//                               its own), then one record per non-blank row
//                               (CSV: a row may span lines), ids as JSONL's
//
//   DPS_ASSIGN_OR_RETURN(auto source, DocumentSource::Open(config));
//   Batch batch;
//   while (true) {
//     DPS_ASSIGN_OR_RETURN(const bool more, source->Next(&batch));
//     if (!more) break;
//     ...
//   }
#ifndef DPSANITIZE_PIPELINE_DOCUMENT_SOURCE_H_
#define DPSANITIZE_PIPELINE_DOCUMENT_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/pipeline/batch.h"
#include "dpsanitize/tokenize/line_reader.h"

namespace dpsanitize {

class DocumentSource {
 public:
  // Opens config.input ("-": stdin, not closed).
  static StatusOr<std::unique_ptr<DocumentSource>> Open(const Config& config);
  ~DocumentSource();
  DocumentSource(const DocumentSource&) = delete;
  DocumentSource& operator=(const DocumentSource&) = delete;

  // Replaces *batch with the next lines and their document ids; false at
  // the end of the input.
  StatusOr<bool> Next(Batch* batch);

  // How the lines are read; for CSV/TSV, complete once the first Next()
  // has read the header.
  const InputLayout& layout() const { return layout_; }

  // After the last batch: true when the input had no line at all but still
  // counts as one empty document (plain text, --document file).
  bool EmptyFileDocument() const;

  const std::string& name() const { return name_; }             // for error messages
  uint64_t total_bytes() const { return total_bytes_; }         // regular file size, else 0
  uint64_t bytes_read() const { return reader_.bytes_read(); }  // decompressed
  // Bytes of the file read so far (compressed ones for a compressed input):
  // the progress meter's measure against total_bytes().
  uint64_t file_bytes_read() const { return reader_.raw_bytes_read(); }

 private:
  DocumentSource(const Config& config, int fd, std::string name, std::unique_ptr<ByteSource> bytes);
  // --shard: seeks to the part and sets the document state it starts in.
  Status StartShard();
  void AssignTextDocuments(Batch* batch);
  void AssignRecords(Batch* batch);
  // CSV/TSV: the header, as the first batch or from the shard plan.
  StatusOr<bool> ReadHeader(Batch* batch);
  Status ParseHeader(std::string_view record);

  const Config& config_;
  InputLayout layout_;
  const int fd_;
  std::string name_;
  Compression compression_;
  uint64_t total_bytes_ = 0;
  LineReader reader_;
  uint64_t lines_ = 0;  // physical lines before the current batch
  // Plain text: document state carried across batches.
  uint64_t doc_index_ = 0;
  bool started_ = false, prev_blank_ = false, doc_has_text_ = false;
  // JSONL, CSV, TSV: non-blank lines (rows) so far, the header aside.
  uint64_t records_ = 0;
  // CSV/TSV: whether the header was read, and the header of a --shard part
  // that does not hold it (read from byte 0 by the plan).
  bool header_read_ = false;
  bool header_from_plan_ = false;
  std::string plan_header_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_DOCUMENT_SOURCE_H_
