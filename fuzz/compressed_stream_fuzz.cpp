// Fuzzes the gzip and zstd readers (io/byte_source.h) and writers
// (io/compressor.h). The first byte picks the compression the name promises
// (none, gzip, zstd) and a read size; the rest is the file.
// Invariants:
//   - reading the file one small read at a time and in 64 KiB reads gives the
//     same outcome: the same bytes, or an error in both (chunking must not
//     change what is decoded or accepted);
//   - an error is a data error (never an I/O or internal one) naming the
//     input, and for a damaged stream a byte offset;
//   - the rest, compressed by the writer with either compression, reads back
//     exactly (the writer and reader agree on every input).
// Output is capped at 8 MiB per read-through: a small stream may legitimately
// expand a thousandfold, and the cap keeps runs fast.
// fuzz-link: dpsanitize::io
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/io/byte_source.h"
#include "dpsanitize/io/compressor.h"

namespace {

using dpsanitize::Compression;

constexpr size_t kMaxOut = 8 << 20;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

int MemFd(std::string_view bytes) {
  const int fd = memfd_create("compressed_stream_fuzz", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    written += static_cast<size_t>(n);
  }
  lseek(fd, 0, SEEK_SET);
  return fd;
}

struct Outcome {
  bool ok = true;
  bool capped = false;
  std::string data;
  std::string error;
};

Outcome ReadAll(std::string_view file, Compression by_name, size_t cap) {
  Outcome r;
  const int fd = MemFd(file);
  if (fd < 0) {
    r.capped = true;  // no verdict
    return r;
  }
  auto src = dpsanitize::OpenByteSource(fd, "fuzz-input", by_name);
  if (!src.ok()) {
    r.ok = false;
    Check(src.status().code() == dpsanitize::StatusCode::kDataError);
    r.error = src.status().message();
  } else {
    std::vector<char> buf(cap);
    while (true) {
      auto n = (*src)->Read(buf.data(), buf.size());
      if (!n.ok()) {
        r.ok = false;
        Check(n.status().code() == dpsanitize::StatusCode::kDataError);
        r.error = n.status().message();
        break;
      }
      if (*n == 0) break;
      Check(*n <= cap);
      r.data.append(buf.data(), *n);
      if (r.data.size() > kMaxOut) {
        r.capped = true;
        break;
      }
    }
  }
  close(fd);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Compression by_name = data[0] % 3 == 0   ? Compression::kNone
                              : data[0] % 3 == 1 ? Compression::kGzip
                                                 : Compression::kZstd;
  const size_t small = 1 + (data[0] >> 2) % 61;
  const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Outcome a = ReadAll(file, by_name, small);
  const Outcome b = ReadAll(file, by_name, 1 << 16);
  if (!a.capped && !b.capped) {
    Check(a.ok == b.ok);
    if (a.ok) Check(a.data == b.data);
  }
  for (const Outcome* o : {&a, &b}) {
    if (!o->ok) Check(o->error.find("fuzz-input") != std::string::npos);
  }
  // A plain file that does not start with a magic number reads as it is.
  if (by_name == Compression::kNone && a.ok && !a.capped && file.size() >= 4) {
    const auto u = [&](size_t i) { return static_cast<unsigned char>(file[i]); };
    const bool gzip = u(0) == 0x1f && u(1) == 0x8b;
    const bool zstd = (u(0) == 0x28 && u(1) == 0xb5 && u(2) == 0x2f && u(3) == 0xfd) ||
                      ((u(0) & 0xf0) == 0x50 && u(1) == 0x2a && u(2) == 0x4d && u(3) == 0x18);
    if (!gzip && !zstd) Check(a.data == file);
  }

  // Writer and reader agree: the input, compressed in two uneven writes.
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    auto z = dpsanitize::Compressor::Create(c, "fuzz-output");
    Check(z.ok());
    std::string out;
    const size_t split = file.size() / 3;
    Check((*z)->Compress(file.substr(0, split), &out).ok());
    Check((*z)->Compress(file.substr(split), &out).ok());
    Check((*z)->Finish(&out).ok());
    const Outcome back = ReadAll(out, c, small);
    Check(back.ok);
    Check(back.data == file);
  }
  return 0;
}
