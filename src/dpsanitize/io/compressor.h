// Compressor: the output side of compressed streams. Turns the bytes the
// sanitizer writes into a gzip member or a zstd frame, in bounded memory,
// with the same settings on every run so the same output bytes give the same
// file (and the same SHA-256 in the ledger):
//   gzip: zlib deflate level 6 (gzip's default), mtime 0, no file name;
//   zstd: level 3 (zstd's default), one frame with its content checksum.
//
//   DPS_ASSIGN_OR_RETURN(auto z, Compressor::Create(Compression::kZstd, "out.zst"));
//   std::string out;
//   DPS_RETURN_IF_ERROR(z->Compress(data, &out));   // appends compressed bytes
//   DPS_RETURN_IF_ERROR(z->Finish(&out));           // the stream's end
#ifndef DPSANITIZE_IO_COMPRESSOR_H_
#define DPSANITIZE_IO_COMPRESSOR_H_

#include <memory>
#include <string>
#include <string_view>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"

namespace dpsanitize {

class Compressor {
 public:
  // `compression` is kGzip or kZstd; `name` is used in error messages.
  static StatusOr<std::unique_ptr<Compressor>> Create(Compression compression, std::string name);
  virtual ~Compressor() = default;

  // Appends to `out` the compressed form of `data` that is ready so far.
  virtual Status Compress(std::string_view data, std::string* out) = 0;
  // Appends the rest of the stream (its end and checksum). Call once, last.
  virtual Status Finish(std::string* out) = 0;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_IO_COMPRESSOR_H_
