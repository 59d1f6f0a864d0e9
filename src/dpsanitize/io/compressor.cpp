#include "dpsanitize/io/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace dpsanitize {
namespace {

// Output is produced in steps of this size; the caller writes it out before
// the next batch, so memory stays bounded by a batch's compressed size.
constexpr size_t kOutStep = 1 << 16;

class GzipCompressor : public Compressor {
 public:
  explicit GzipCompressor(std::string name) : name_(std::move(name)) {}
  ~GzipCompressor() override {
    if (initialised_) deflateEnd(&z_);
  }
  Status Init() {
    // windowBits 16 + 15: a gzip wrapper; zlib writes mtime 0 and no name,
    // so the file depends on the data only.
    if (deflateInit2(&z_, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      return IoError("{}: cannot start gzip compression: out of memory", name_);
    }
    initialised_ = true;
    return Status::Ok();
  }
  Status Compress(std::string_view data, std::string* out) override {
    return Run(data, Z_NO_FLUSH, out);
  }
  Status Finish(std::string* out) override { return Run({}, Z_FINISH, out); }

 private:
  Status Run(std::string_view data, int flush, std::string* out) {
    // deflate takes at most 4 GiB per call (uInt); a batch is far smaller,
    // but the loop below does not rely on it.
    while (true) {
      const size_t take = std::min<size_t>(data.size(), UINT32_MAX);
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      z_.avail_in = static_cast<uInt>(take);
      const int f = take == data.size() ? flush : Z_NO_FLUSH;
      int rc;
      do {
        const size_t old = out->size();
        out->resize(old + kOutStep);
        z_.next_out = reinterpret_cast<Bytef*>(out->data() + old);
        z_.avail_out = static_cast<uInt>(kOutStep);
        rc = deflate(&z_, f);
        out->resize(old + kOutStep - z_.avail_out);
        if (rc == Z_STREAM_ERROR) return IoError("{}: gzip compression failed", name_);
      } while (z_.avail_out == 0 || (f == Z_FINISH && rc != Z_STREAM_END));
      data.remove_prefix(take);
      if (data.empty()) return Status::Ok();
    }
  }

  std::string name_;
  z_stream z_{};
  bool initialised_ = false;
};

class ZstdCompressor : public Compressor {
 public:
  explicit ZstdCompressor(std::string name) : name_(std::move(name)), cctx_(ZSTD_createCCtx()) {}
  ~ZstdCompressor() override { ZSTD_freeCCtx(cctx_); }
  Status Init() {
    if (cctx_ == nullptr) return IoError("{}: cannot start zstd compression: out of memory", name_);
    // zstd's command-line defaults: level 3 and a content checksum, which
    // lets `zstd -t` and our reader detect a damaged file. One thread, so
    // the frame is the same on every machine.
    if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, 3)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1))) {
      return IoError("{}: cannot set up zstd compression", name_);
    }
    return Status::Ok();
  }
  Status Compress(std::string_view data, std::string* out) override {
    return Run(data, ZSTD_e_continue, out);
  }
  Status Finish(std::string* out) override { return Run({}, ZSTD_e_end, out); }

 private:
  Status Run(std::string_view data, ZSTD_EndDirective mode, std::string* out) {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (true) {
      const size_t old = out->size();
      out->resize(old + kOutStep);
      ZSTD_outBuffer o{out->data() + old, kOutStep, 0};
      const size_t rc = ZSTD_compressStream2(cctx_, &o, &in, mode);
      out->resize(old + o.pos);
      if (ZSTD_isError(rc)) {
        return IoError("{}: zstd compression failed: {}", name_, ZSTD_getErrorName(rc));
      }
      // continue: done when the input is consumed; end: when nothing is
      // left to flush (rc == 0).
      if (mode == ZSTD_e_continue ? in.pos == in.size : rc == 0) return Status::Ok();
    }
  }

  std::string name_;
  ZSTD_CCtx* cctx_;
};

}  // namespace

StatusOr<std::unique_ptr<Compressor>> Compressor::Create(Compression compression,
                                                         std::string name) {
  switch (compression) {
    case Compression::kGzip: {
      auto c = std::make_unique<GzipCompressor>(std::move(name));
      DPS_RETURN_IF_ERROR(c->Init());
      return std::unique_ptr<Compressor>(std::move(c));
    }
    case Compression::kZstd: {
      auto c = std::make_unique<ZstdCompressor>(std::move(name));
      DPS_RETURN_IF_ERROR(c->Init());
      return std::unique_ptr<Compressor>(std::move(c));
    }
    case Compression::kNone:
    case Compression::kAuto:
      break;
  }
  return InternalError("Compressor::Create: no compression given");
}

}  // namespace dpsanitize
