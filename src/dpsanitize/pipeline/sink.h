// Sink: the last stage of the sanitize loop. Writes the rendered parts in
// input order, compressed if OUT's name or --compress asks for it
// (io/compressor.h), to stdout or, for a file, to a temporary file that takes
// its final name only on Commit(), together with the ledger; and keeps a
// SHA-256 of the bytes written (the compressed ones for a compressed file),
// which the ledger records for a file output, so `ledger verify` and
// --skip-done check the file as it is on disk.
//
//   DPS_ASSIGN_OR_RETURN(auto sink, Sink::Open(config));
//   DPS_RETURN_IF_ERROR(sink->Write(part.out));  // per part, in order
//   DPS_RETURN_IF_ERROR(sink->Finish());          // the compressed stream's end
//   summary.output_sha256 = sink->Sha256Hex();
//   DPS_RETURN_IF_ERROR(sink->Commit(ledger.get()));
#ifndef DPSANITIZE_PIPELINE_SINK_H_
#define DPSANITIZE_PIPELINE_SINK_H_

#include <sodium.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/io/compressor.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

class Sink {
 public:
  // Opens config.output ("-": stdout). The caller has checked that the
  // output is not the input and that "-" names an open stream (sanitize.cpp,
  // CheckPaths).
  static StatusOr<std::unique_ptr<Sink>> Open(const Config& config);

  Status Write(std::string_view data);

  // Ends a compressed stream (nothing to do otherwise). Call once, after the
  // last Write.
  Status Finish();

  // Lower-case hex SHA-256 of all bytes written, for a file output; nullopt
  // for stdout. Call once, after Finish.
  std::optional<std::string> Sha256Hex();

  // Renames a file output and then `ledger` (nullptr: none) into place as a
  // pair: both new or both as they were (CommitPair, write/atomic_file.h).
  // For stdout, only the ledger.
  Status Commit(AtomicFile* ledger);

 private:
  Sink(std::unique_ptr<Output> out, AtomicFile* file, std::unique_ptr<Compressor> compressor);
  Status WriteRaw(std::string_view bytes);

  std::unique_ptr<Output> out_;
  std::unique_ptr<Compressor> compressor_;  // nullptr: written as it is
  std::string compressed_;                  // reused buffer
  AtomicFile* file_;                        // out_ when the output is a file, else nullptr
  crypto_hash_sha256_state sha_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_SINK_H_
