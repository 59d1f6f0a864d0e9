// Fuzzes the text embedding readers (GloVe text, word2vec/fastText .vec, the
// wink JSON) on any bytes: Embedding::Open returns a Status or an embedding,
// never crashes. An embedding it accepts has words, a dimension, finite
// values, distinct valid UTF-8 words and a content hash, and its vocabulary
// finds each of its words under its own id. Inputs with a NUL in the first
// 64 bytes would go to the prepared-format reader, which has its own target
// (prepared_embedding_fuzz), so they are left out here.
// fuzz-link: dpsanitize::embed
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>

#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/tokenize/tokenizer.h"
#include "fuzz_file.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (std::memchr(data, 0, size < 64 ? size : 64) != nullptr) return 0;
  FuzzFile file(data, size);
  if (!file.ok()) return 0;
  auto opened = dpsanitize::Embedding::Open(file.path());
  if (!opened.ok()) return 0;
  const dpsanitize::Embedding& emb = **opened;
  Check(!emb.prepared());
  Check(emb.size() > 0);
  Check(emb.dim() > 0);
  Check(emb.content_sha256().size() == 64);
  std::unordered_set<std::string_view> words;
  for (size_t i = 0; i < emb.size(); ++i) {
    const std::string_view w = emb.word(i);
    Check(dpsanitize::FindInvalidUtf8(w) == std::string_view::npos);
    Check(words.insert(w).second);
    for (uint32_t k = 0; k < emb.dim(); ++k) Check(std::isfinite(emb.vector(i)[k]));
  }
  const dpsanitize::Vocabulary vocab(emb, 0);
  Check(vocab.size() <= emb.size());
  Check(vocab.dim() == emb.dim());
  std::string key;
  for (dpsanitize::WordId id = 0; id < vocab.size(); ++id) {
    dpsanitize::LookupKey(vocab.word(id), &key);
    const auto found = vocab.Find(key);
    Check(found.has_value() && *found == id);
  }
  return 0;
}
