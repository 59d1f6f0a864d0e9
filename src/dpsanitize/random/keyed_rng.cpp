#include "dpsanitize/random/keyed_rng.h"

#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "dpsanitize/core/files.h"
#include "dpsanitize/core/log.h"

namespace dpsanitize {

const char* RandomnessKindName(RandomnessKind kind) {
  switch (kind) {
    case RandomnessKind::kCsprng:
      return "csprng";
    case RandomnessKind::kSeeded:
      return "seeded";
    case RandomnessKind::kKeyed:
      return "keyed";
  }
  return "unknown";
}

void InitRandomness() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) std::abort();  // no randomness: cannot continue safely
  });
}

RunKey RunKey::Fresh() {
  InitRandomness();
  RunKey k;
  randombytes_buf(k.bytes.data(), k.bytes.size());
  k.kind = RandomnessKind::kCsprng;
  return k;
}

RunKey RunKey::FromSeed(const std::string& seed) {
  InitRandomness();
  RunKey k;
  static constexpr char kContext[] = "dpsanitize/seed/v1";
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const uint8_t*>(kContext), sizeof(kContext) - 1,
                          32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(seed.data()), seed.size());
  crypto_generichash_final(&st, k.bytes.data(), 32);
  k.kind = RandomnessKind::kSeeded;
  return k;
}

StatusOr<RunKey> RunKey::FromFile(const std::string& path) {
  InitRandomness();
  // A key is a few dozen bytes; 1 MiB bounds what a mistaken path (a FIFO,
  // a device, a corpus) can make us read.
  auto read = ReadSmallFile(path, 1 << 20);
  if (!read.ok()) return UsageError("--key-file {}", read.status().message());
  std::string data = std::move(read).value();
  if (data.size() < 32) {
    sodium_memzero(data.data(), data.size());
    return UsageError("--key-file: {} holds {} bytes; a key needs at least 32 random bytes", path,
                      data.size());
  }
  // Anyone who can read the key can recompute every document's noise and so
  // undo the guarantee: say so when the file is open to other users (the run
  // goes on: the file may sit in a directory only its owner can enter).
  const int mode = RegularFileMode(path);
  if (mode >= 0 && (mode & 077) != 0) {
    Log().warn("--key-file {}: readable or writable by other users (mode {:04o}); chmod 600 it",
               path, mode);
  }
  RunKey k;
  static constexpr char kContext[] = "dpsanitize/keyfile/v1";
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const uint8_t*>(kContext), sizeof(kContext) - 1,
                          32);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  crypto_generichash_final(&st, k.bytes.data(), 32);
  sodium_memzero(data.data(), data.size());
  k.kind = RandomnessKind::kKeyed;
  return k;
}

DocKey::DocKey(const RunKey& key, uint64_t doc) : doc_id(doc) {
  uint8_t msg[17 + 8];
  std::memcpy(msg, "dpsanitize/doc/v1", 17);
  std::memcpy(msg + 17, &doc, 8);
  crypto_generichash(bytes, sizeof(bytes), msg, sizeof(msg), key.bytes.data(), key.bytes.size());
}

WordRng::WordRng(const DocKey& doc, uint32_t field, uint64_t word_index) {
  std::memcpy(key_, doc.bytes, sizeof(key_));
  std::memcpy(nonce_, &field, 4);
  std::memcpy(nonce_ + 4, &word_index, 8);
}

void WordRng::Refill() {
  // The keystream itself (XOR into zeros), from 64-byte block `block_`.
  std::memset(buf_, 0, sizeof(buf_));
  crypto_stream_chacha20_ietf_xor_ic(reinterpret_cast<uint8_t*>(buf_),
                                     reinterpret_cast<uint8_t*>(buf_), sizeof(buf_), nonce_,
                                     static_cast<uint32_t>(block_), key_);
  block_ += sizeof(buf_) / 64;
  pos_ = 0;
}

}  // namespace dpsanitize
