#include "dpsanitize/pipeline/sink.h"

#include <cstdint>
#include <utility>

#include "dpsanitize/core/strings.h"

namespace dpsanitize {

StatusOr<std::unique_ptr<Sink>> Sink::Open(const Config& config) {
  const Compression compression = ResolvedOutputCompression(config);
  const std::string name = config.output == "-" ? "<stdout>" : config.output;
  std::unique_ptr<Compressor> compressor;
  if (compression != Compression::kNone) {
    DPS_ASSIGN_OR_RETURN(compressor, Compressor::Create(compression, name));
  }
  if (config.output == "-") {
    return std::unique_ptr<Sink>(
        new Sink(std::make_unique<StdoutOutput>(), nullptr, std::move(compressor)));
  }
  DPS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(config.output));
  AtomicFile* raw = file.get();
  return std::unique_ptr<Sink>(new Sink(std::move(file), raw, std::move(compressor)));
}

Sink::Sink(std::unique_ptr<Output> out, AtomicFile* file, std::unique_ptr<Compressor> compressor)
    : out_(std::move(out)), compressor_(std::move(compressor)), file_(file) {
  crypto_hash_sha256_init(&sha_);
}

Status Sink::Commit(AtomicFile* ledger) {
  if (file_ == nullptr) return ledger != nullptr ? ledger->Commit() : Status::Ok();
  return CommitPair(file_, ledger);
}

Status Sink::Write(std::string_view data) {
  if (compressor_ == nullptr) return WriteRaw(data);
  compressed_.clear();
  DPS_RETURN_IF_ERROR(compressor_->Compress(data, &compressed_));
  return WriteRaw(compressed_);
}

Status Sink::Finish() {
  if (compressor_ == nullptr) return Status::Ok();
  compressed_.clear();
  DPS_RETURN_IF_ERROR(compressor_->Finish(&compressed_));
  return WriteRaw(compressed_);
}

// The hash covers the bytes as they reach the file, compressed or not.
Status Sink::WriteRaw(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  DPS_RETURN_IF_ERROR(out_->Write(bytes));
  crypto_hash_sha256_update(&sha_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return Status::Ok();
}

std::optional<std::string> Sink::Sha256Hex() {
  if (file_ == nullptr) return std::nullopt;
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&sha_, digest);
  return HexEncode(digest, sizeof(digest));
}

}  // namespace dpsanitize
