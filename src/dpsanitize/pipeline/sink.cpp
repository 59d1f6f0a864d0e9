#include "dpsanitize/pipeline/sink.h"

#include <cstdint>
#include <utility>

#include "dpsanitize/core/strings.h"

namespace dpsanitize {

StatusOr<std::unique_ptr<Sink>> Sink::Open(const Config& config) {
  if (config.output == "-") {
    return std::unique_ptr<Sink>(new Sink(std::make_unique<StdoutOutput>(), nullptr));
  }
  DPS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicFile> file, AtomicFile::Create(config.output));
  AtomicFile* raw = file.get();
  return std::unique_ptr<Sink>(new Sink(std::move(file), raw));
}

Sink::Sink(std::unique_ptr<Output> out, AtomicFile* file) : out_(std::move(out)), file_(file) {
  crypto_hash_sha256_init(&sha_);
}

Status Sink::Commit(AtomicFile* ledger) {
  if (file_ == nullptr) return ledger != nullptr ? ledger->Commit() : Status::Ok();
  return CommitPair(file_, ledger);
}

Status Sink::Write(std::string_view data) {
  DPS_RETURN_IF_ERROR(out_->Write(data));
  crypto_hash_sha256_update(&sha_, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return Status::Ok();
}

std::optional<std::string> Sink::Sha256Hex() {
  if (file_ == nullptr) return std::nullopt;
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&sha_, digest);
  return HexEncode(digest, sizeof(digest));
}

}  // namespace dpsanitize
