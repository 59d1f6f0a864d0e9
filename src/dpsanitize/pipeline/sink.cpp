#include "dpsanitize/pipeline/sink.h"

#include <cstdint>
#include <utility>

#include "dpsanitize/core/strings.h"

namespace dpsanitize {

StatusOr<std::unique_ptr<Sink>> Sink::Open(const Config& config) {
  std::unique_ptr<Output> out;
  if (config.output == "-") {
    out = std::make_unique<StdoutOutput>();
  } else {
    // Sanitize() checks this before the slow engine set-up; SanitizeWith()
    // callers (tests, benchmarks) skip that, and files can move meanwhile.
    if (config.input != "-" && SameFile(config.input, config.output)) {
      return UsageError("{}: output is the same file as the input; refusing to overwrite it",
                        config.output);
    }
    DPS_ASSIGN_OR_RETURN(out, AtomicFile::Create(config.output));
  }
  return std::unique_ptr<Sink>(new Sink(std::move(out), config.output != "-"));
}

Sink::Sink(std::unique_ptr<Output> out, bool is_file) : out_(std::move(out)), is_file_(is_file) {
  crypto_hash_sha256_init(&sha_);
}

Status Sink::Write(std::string_view data) {
  DPS_RETURN_IF_ERROR(out_->Write(data));
  crypto_hash_sha256_update(&sha_, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  return Status::Ok();
}

std::optional<std::string> Sink::Sha256Hex() {
  if (!is_file_) return std::nullopt;
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&sha_, digest);
  return HexEncode(digest, sizeof(digest));
}

}  // namespace dpsanitize
