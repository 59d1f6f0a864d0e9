// ByteSource: a stream of input bytes, decompressed if it was compressed.
//
// The reader stages (LineReader) read raw or decompressed bytes through the
// same interface, so a .jsonl.zst corpus goes through exactly the code a
// .jsonl corpus does. Decompression is streamed in bounded memory: a chunk of
// compressed input and the caller's buffer, whatever the stream's size.
//
// Errors name the input and, for a corrupt or truncated compressed stream,
// the byte offset in the compressed file where decoding failed; never the
// data.
//
//   DPS_ASSIGN_OR_RETURN(auto src, OpenByteSource(fd, "in.jsonl.zst", Compression::kAuto));
//   char buf[1 << 16];
//   while (true) {
//     DPS_ASSIGN_OR_RETURN(size_t n, src->Read(buf, sizeof buf));
//     if (n == 0) break;  // end of the (decompressed) stream
//   }
#ifndef DPSANITIZE_IO_BYTE_SOURCE_H_
#define DPSANITIZE_IO_BYTE_SOURCE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dpsanitize/core/config.h"
#include "dpsanitize/core/status.h"

namespace dpsanitize {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `cap` (> 0) bytes into `buf`; 0 only at the end of the stream.
  virtual StatusOr<size_t> Read(char* buf, size_t cap) = 0;
  // The compression being undone (kNone for raw bytes).
  virtual Compression compression() const = 0;
  // Renames the stream in error messages.
  virtual void set_name(std::string name) = 0;
  // Bytes taken from the underlying file so far (compressed bytes for a
  // decompressing source): progress against the file's size.
  virtual uint64_t raw_bytes_read() const = 0;
};

// Reads `fd` (not owned) as it is, after the bytes in `prefix` (bytes already
// read from `fd`, e.g. to look at its magic number).
std::unique_ptr<ByteSource> RawFdSource(int fd, std::string name, std::string prefix = "");

// The name used in messages for a compression ("gzip", "zstd", "none").
const char* CompressionName(Compression compression);

// Reads `fd` (not owned), decompressing per `compression`: kGzip or kZstd
// (from the file name) require that format's magic number at byte 0; kAuto
// or kNone also recognise a gzip or zstd stream by its magic number (neither
// is valid UTF-8, so no text input is taken for one). Concatenated gzip
// members and zstd frames are read as one stream, as gzip -d and zstd -d do.
StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(int fd, std::string name,
                                                     Compression compression);

}  // namespace dpsanitize

#endif  // DPSANITIZE_IO_BYTE_SOURCE_H_
