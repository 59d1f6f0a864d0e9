// Keyed randomness (spec section 4).
//
// A RunKey is 256 secret bits: fresh from the OS CSPRNG per run by default,
// derived from --seed (reproducible, no guarantee), or from --key-file
// (consistent noise across runs). Every word gets its own stream, an
// equivalent of the spec's "keyed BLAKE2b per word, then ChaCha20" that
// hashes once per document instead of once per word:
//   doc_key = BLAKE2b-256(key = run key, msg = "dpsanitize/doc/v1" || doc id)
//   stream  = ChaCha20-IETF(key = doc_key, nonce = field (u32) || word index
//             (u64), block counter from 0)
// so a word's draws depend only on (key, document id, field, word index),
// never on threads, batches or shards, and two words never share draws:
// distinct (field, word index) are distinct nonces under one document key,
// and distinct documents have independent keys.
#ifndef DPSANITIZE_RANDOM_KEYED_RNG_H_
#define DPSANITIZE_RANDOM_KEYED_RNG_H_

#include <array>
#include <cstdint>
#include <string>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

enum class RandomnessKind { kCsprng, kSeeded, kKeyed };
const char* RandomnessKindName(RandomnessKind kind);

struct RunKey {
  std::array<uint8_t, 32> bytes{};
  RandomnessKind kind = RandomnessKind::kCsprng;

  // 256 fresh bits from libsodium's randombytes (the OS CSPRNG).
  static RunKey Fresh();
  // Derived from a seed string; anyone who guesses it recomputes the noise.
  static RunKey FromSeed(const std::string& seed);
  // Derived from the contents of a secret key file (at least 32 bytes).
  static StatusOr<RunKey> FromFile(const std::string& path);
};

// Initialises libsodium once; safe to call from any thread.
void InitRandomness();

// The key of one document's streams (derive once per document).
struct DocKey {
  DocKey() = default;
  DocKey(const RunKey& key, uint64_t doc_id);
  uint8_t bytes[32] = {};
  uint64_t doc_id = 0;
};

class WordRng {
 public:
  WordRng(const RunKey& key, uint64_t doc_id, uint32_t field, uint64_t word_index)
      : WordRng(DocKey(key, doc_id), field, word_index) {}
  WordRng(const DocKey& doc, uint32_t field, uint64_t word_index);

  uint64_t NextU64() {
    if (pos_ == kWords) Refill();
    return buf_[pos_++];
  }
  // Uniform on the open interval (0, 1): (j + 0.5) * 2^-53, j uniform in [0, 2^53).
  double Uniform() { return (static_cast<double>(NextU64() >> 11) + 0.5) * 0x1.0p-53; }

 private:
  static constexpr int kWords = 16;  // two ChaCha20 blocks per refill
  void Refill();
  uint8_t key_[32];
  uint8_t nonce_[12];
  uint64_t block_ = 0;
  uint64_t buf_[kWords];
  int pos_ = kWords;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_RANDOM_KEYED_RNG_H_
