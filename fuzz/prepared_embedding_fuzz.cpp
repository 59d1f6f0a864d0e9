// Fuzzes the prepared-format reader (`dpsanitize prepare`'s output) on any
// bytes: Embedding::Open returns a Status or an embedding, never crashes or
// reads outside the file. An embedding it accepts keeps every promise a run
// relies on without further checks: each word is a slice of the word blob,
// flags are 0 or 1, every neighbour id is a word of the table's vocabulary
// (not the word itself) at a finite, nondecreasing distance, every tail-bounds
// member is a vocabulary word, stats are finite, and the vectors of the
// table's vocabulary are finite. The content SHA-256 is not recomputed at
// open (only `dpsanitize verify` does): VerifyStoredContent runs on every
// accepted input, for its own robustness.
// Inputs without a NUL in the first 64 bytes go to the text readers, which
// have their own target (text_embedding_fuzz), so they are left out here.
// fuzz-link: dpsanitize::embed
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "fuzz_file.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

uint64_t U64(const uint8_t* data, size_t at) {
  uint64_t v;
  std::memcpy(&v, data + at, sizeof(v));
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (std::memchr(data, 0, size < 64 ? size : 64) == nullptr) return 0;
  FuzzFile file(data, size);
  if (!file.ok()) return 0;
  auto opened = dpsanitize::Embedding::Open(file.path());
  if (!opened.ok()) return 0;
  const dpsanitize::Embedding& emb = **opened;
  Check(emb.prepared());
  Check(emb.size() > 0 && emb.dim() > 0);
  Check(size >= 128);  // a header was read
  // Every word inside the blob, whose size the header gives (offset 48).
  const uint64_t words_size = U64(data, 48);
  const char* blob = emb.word(0).data();
  uint64_t touched = 0;
  for (size_t i = 0; i < emb.size(); ++i) {
    const std::string_view w = emb.word(i);
    Check(w.data() >= blob && w.data() + w.size() <= blob + words_size);
    if (!w.empty()) touched += static_cast<uint8_t>(w.front()) + static_cast<uint8_t>(w.back());
    touched += emb.usable(i) ? 1 : 0;
    // First and last value: the whole row lies inside the vectors section.
    const float* v = emb.vector(i);
    touched += v[0] > 0 ? 1 : 0;
    touched += v[emb.dim() - 1] > 0 ? 1 : 0;
  }
  for (const dpsanitize::VocabStats& s : emb.stats()) {
    Check(std::isfinite(s.delta_min) && std::isfinite(s.delta_max));
  }
  const dpsanitize::Vocabulary all(emb, 0);
  for (dpsanitize::WordId id = 0; id < all.size(); ++id) {
    touched += all.Find(all.word(id)).has_value() ? 1 : 0;
  }
  const dpsanitize::NeighborTable& t = emb.neighbor_table();
  if (t.k > 0) {
    const dpsanitize::Vocabulary vocab(emb, t.vocab_size);
    Check(vocab.size() == t.vocab_size);
    for (dpsanitize::WordId w = 0; w < t.vocab_size; ++w) {
      double prev = 0;
      for (uint32_t j = 0; j < t.k; ++j) {
        const dpsanitize::Neighbor& n = t.row(w)[j];
        Check(n.id < t.vocab_size && n.id != w);
        Check(std::isfinite(n.dist) && n.dist >= prev);
        prev = n.dist;
      }
      const float* v = vocab.vectors().row(w);
      for (uint32_t d = 0; d < vocab.dim(); ++d) Check(std::isfinite(v[d]));
    }
  }
  const dpsanitize::TailBounds& b = emb.tail_bounds();
  if (b.present()) {
    Check(b.vocab_size <= all.size());
    for (uint32_t c = 0; c < b.clusters; ++c) {
      for (uint32_t i = 0; i < b.Size(c); ++i) Check(b.Members(c)[i] < b.vocab_size);
    }
    for (dpsanitize::WordId w = 0; w < b.vocab_size; ++w) {
      touched += b.Bound(w, 0) > 0 ? 1 : 0;
      touched += b.Bound(w, b.clusters - 1) > 0 ? 1 : 0;
    }
  }
  // verify's byte-level checks must not crash either (their result depends
  // on the SHA-256, which a mutated input rarely matches).
  const dpsanitize::Status verified = emb.VerifyStoredContent();
  touched += verified.ok() ? 1 : 0;
  // Keeps the reads above from being optimised away.
  Check(touched != ~uint64_t{0});
  return 0;
}
