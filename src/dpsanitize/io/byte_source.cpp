#include "dpsanitize/io/byte_source.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace dpsanitize {
namespace {

// Compressed input is read in chunks of this size: large enough that the
// read() calls cost nothing next to decoding, small enough to stay in cache.
constexpr size_t kInChunk = 1 << 18;
constexpr size_t kZstdSlice = 1 << 14;

// Magic numbers: gzip (RFC 1952) 1f 8b; a zstd frame 28 b5 2f fd (little-
// endian 0xFD2FB528); a zstd skippable frame 0x184D2A50..5F (written first by
// pzstd and some seekable-zstd tools).
bool IsGzipMagic(const unsigned char* b, size_t n) {
  return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}
bool IsZstdMagic(const unsigned char* b, size_t n) {
  if (n < 4) return false;
  if (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) return true;
  return (b[0] & 0xf0) == 0x50 && b[1] == 0x2a && b[2] == 0x4d && b[3] == 0x18;
}

class FdSource : public ByteSource {
 public:
  FdSource(int fd, std::string name, std::string prefix)
      : fd_(fd), name_(std::move(name)), prefix_(std::move(prefix)) {}

  StatusOr<size_t> Read(char* buf, size_t cap) override {
    if (prefix_pos_ < prefix_.size()) {
      const size_t n = std::min(cap, prefix_.size() - prefix_pos_);
      std::memcpy(buf, prefix_.data() + prefix_pos_, n);
      prefix_pos_ += n;
      read_ += n;
      return n;
    }
    while (true) {
      const ssize_t n = ::read(fd_, buf, cap);
      if (n >= 0) {
        read_ += static_cast<uint64_t>(n);
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      return IoError("{}: cannot read: {}", name_, std::strerror(errno));
    }
  }
  Compression compression() const override { return Compression::kNone; }
  void set_name(std::string name) override { name_ = std::move(name); }
  uint64_t raw_bytes_read() const override { return read_; }
  const std::string& name() const { return name_; }

 private:
  int fd_;
  std::string name_;
  std::string prefix_;
  size_t prefix_pos_ = 0;
  uint64_t read_ = 0;
};

// The shared part of the two decoders: a chunk of compressed input, refilled
// from the raw source, and the offset of its first byte in the file, so an
// error can say where decoding failed.
class DecoderBase : public ByteSource {
 public:
  explicit DecoderBase(std::unique_ptr<FdSource> raw) : raw_(std::move(raw)), in_(kInChunk) {}
  void set_name(std::string name) override { raw_->set_name(std::move(name)); }
  uint64_t raw_bytes_read() const override { return raw_->raw_bytes_read(); }

 protected:
  // Refills the input chunk when it is used up; sets eof_ at the file's end.
  Status Refill() {
    if (in_pos_ < in_len_ || eof_) return Status::Ok();
    chunk_offset_ += in_len_;
    DPS_ASSIGN_OR_RETURN(in_len_, raw_->Read(in_.data(), in_.size()));
    in_pos_ = 0;
    if (in_len_ == 0) eof_ = true;
    return Status::Ok();
  }
  // Offset in the file of the next compressed byte to decode.
  uint64_t offset() const { return chunk_offset_ + in_pos_; }
  const std::string& name() const { return raw_->name(); }

  std::unique_ptr<FdSource> raw_;
  std::vector<char> in_;
  size_t in_pos_ = 0, in_len_ = 0;
  uint64_t chunk_offset_ = 0;
  bool eof_ = false;
};

// gzip via zlib's inflate with the gzip wrapper (windowBits 16 + 15), which
// checks each member's CRC-32 and length. A member's end is followed either
// by the file's end or by another member (gzip -d reads concatenated members
// as one stream); anything else fails inflate's header check.
class GzipSource : public DecoderBase {
 public:
  explicit GzipSource(std::unique_ptr<FdSource> raw) : DecoderBase(std::move(raw)) {}
  ~GzipSource() override {
    if (initialised_) inflateEnd(&z_);
  }

  Status Init() {
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) {
      return IoError("{}: cannot start gzip decoding: out of memory", name());
    }
    initialised_ = true;
    return Status::Ok();
  }

  StatusOr<size_t> Read(char* buf, size_t cap) override {
    while (true) {
      DPS_RETURN_IF_ERROR(Refill());
      if (in_pos_ == in_len_) {
        // The file ended: fine between members, truncated inside one.
        if (in_member_) {
          return DataError("{}: truncated gzip data: the stream ends inside a member at byte {}",
                           name(), offset());
        }
        return size_t{0};
      }
      z_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      z_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = static_cast<uInt>(std::min<size_t>(cap, UINT32_MAX));
      in_member_ = true;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      in_pos_ = in_len_ - z_.avail_in;
      const size_t produced = static_cast<size_t>(reinterpret_cast<char*>(z_.next_out) - buf);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
        if (inflateReset(&z_) != Z_OK) {
          return IoError("{}: cannot restart gzip decoding at byte {}", name(), offset());
        }
      } else if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) {
        // zlib stops where it found the damage (for a changed byte inside
        // the data that can be as late as the member's CRC); z_.msg says what was wrong (never
        // data).
        return DataError("{}: corrupt gzip data (detected at byte {}): {}", name(), offset(),
                         z_.msg != nullptr ? z_.msg : "invalid data");
      } else if (rc == Z_MEM_ERROR) {
        return IoError("{}: gzip decoding: out of memory", name());
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return DataError("{}: gzip decoding failed at byte {} (zlib code {})", name(), offset(),
                         rc);
      }
      if (produced > 0) return produced;
    }
  }
  Compression compression() const override { return Compression::kGzip; }

 private:
  z_stream z_{};
  bool initialised_ = false;
  bool in_member_ = false;
};

// zstd via ZSTD_decompressStream, which reads concatenated frames (and skips
// skippable ones) as one stream and checks each frame's checksum if present.
// It returns 0 exactly when a frame is complete, so the file may end only
// then.
class ZstdSource : public DecoderBase {
 public:
  explicit ZstdSource(std::unique_ptr<FdSource> raw)
      : DecoderBase(std::move(raw)), dctx_(ZSTD_createDCtx()) {}
  ~ZstdSource() override { ZSTD_freeDCtx(dctx_); }

  Status Init() {
    if (dctx_ == nullptr) return IoError("{}: cannot start zstd decoding: out of memory", name());
    return Status::Ok();
  }

  StatusOr<size_t> Read(char* buf, size_t cap) override {
    while (true) {
      DPS_RETURN_IF_ERROR(Refill());
      if (in_pos_ == in_len_ && eof_) {
        if (in_frame_) {
          return DataError("{}: truncated zstd data: the stream ends inside a frame at byte {}",
                           name(), offset());
        }
        return size_t{0};
      }
      // zstd finds damage when a block (up to 128 KiB) or a frame's
      // checksum is complete, and leaves its input position unchanged on
      // error; feeding small slices bounds where the bad block ended.
      const size_t slice_end = std::min(in_len_, in_pos_ + kZstdSlice);
      ZSTD_inBuffer in{in_.data(), slice_end, in_pos_};
      ZSTD_outBuffer out{buf, cap, 0};
      const size_t rc = ZSTD_decompressStream(dctx_, &out, &in);
      if (ZSTD_isError(rc)) {
        return DataError("{}: corrupt zstd data (detected at byte {}): {}", name(),
                         chunk_offset_ + slice_end, ZSTD_getErrorName(rc));
      }
      in_pos_ = in.pos;
      // rc == 0: a frame just ended and its output is flushed.
      in_frame_ = rc != 0;
      if (out.pos > 0) return out.pos;
      // No output and no input left: refill (or stop at the file's end).
    }
  }
  Compression compression() const override { return Compression::kZstd; }

 private:
  ZSTD_DCtx* dctx_;
  bool in_frame_ = false;
};

// Reads up to `n` first bytes of `fd` into `out` without losing them: pread
// at 0 for a regular file (its position stays, so --shard may still seek),
// else read(), and the caller puts the bytes back in front of the stream.
StatusOr<size_t> Peek(int fd, const std::string& name, unsigned char* out, size_t n,
                      bool* consumed) {
  struct stat st {};
  const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  *consumed = !regular;
  size_t got = 0;
  while (got < n) {
    const ssize_t r = regular ? ::pread(fd, out + got, n - got, static_cast<off_t>(got))
                              : ::read(fd, out + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return IoError("{}: cannot read: {}", name, std::strerror(errno));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

}  // namespace

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kNone:
    case Compression::kAuto:
      break;
  }
  return "none";
}

std::unique_ptr<ByteSource> RawFdSource(int fd, std::string name, std::string prefix) {
  return std::make_unique<FdSource>(fd, std::move(name), std::move(prefix));
}

StatusOr<std::unique_ptr<ByteSource>> OpenByteSource(int fd, std::string name,
                                                     Compression compression) {
  bool consumed = false;
  unsigned char magic[4] = {0, 0, 0, 0};
  DPS_ASSIGN_OR_RETURN(const size_t got, Peek(fd, name, magic, sizeof(magic), &consumed));
  const Compression found = IsGzipMagic(magic, got)   ? Compression::kGzip
                            : IsZstdMagic(magic, got) ? Compression::kZstd
                                                      : Compression::kNone;
  // A name that promises a compression must keep it: reading a .gz that is
  // not gzip as text would be a silent surprise.
  if ((compression == Compression::kGzip || compression == Compression::kZstd) &&
      found != compression) {
    return DataError("{}: not {} data (no {} magic number at byte 0)", name,
                     CompressionName(compression), CompressionName(compression));
  }
  std::string prefix;
  if (consumed) prefix.assign(reinterpret_cast<const char*>(magic), got);
  auto raw = std::make_unique<FdSource>(fd, std::move(name), std::move(prefix));
  switch (found) {
    case Compression::kGzip: {
      auto src = std::make_unique<GzipSource>(std::move(raw));
      DPS_RETURN_IF_ERROR(src->Init());
      return std::unique_ptr<ByteSource>(std::move(src));
    }
    case Compression::kZstd: {
      auto src = std::make_unique<ZstdSource>(std::move(raw));
      DPS_RETURN_IF_ERROR(src->Init());
      return std::unique_ptr<ByteSource>(std::move(src));
    }
    case Compression::kNone:
    case Compression::kAuto:
      break;
  }
  return std::unique_ptr<ByteSource>(std::move(raw));
}

}  // namespace dpsanitize
