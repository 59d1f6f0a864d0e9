// Mechanism: the word-level perturbation step of the pipeline.
//
// The pipeline hands a mechanism batches of in-vocabulary words, each with the
// coordinates of its random stream (spec section 4); the mechanism returns one
// vocabulary word per input. Implementations: TgMechanism (truncated Gumbel,
// tg.h), MvlMechanism (multivariate Laplace, mvl.h), IdentityMechanism (no
// privacy; benchmarks and tests only, never reachable from the CLI).
#ifndef DPSANITIZE_MECHANISMS_MECHANISM_H_
#define DPSANITIZE_MECHANISMS_MECHANISM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/random/keyed_rng.h"

namespace dpsanitize {

struct WordDraw {
  WordId word;
  uint32_t field;     // text field index (0 for plain text)
  uint64_t doc_id;    // document id (spec section 4)
  uint64_t position;  // index of the word in its field
};

class Mechanism {
 public:
  virtual ~Mechanism() = default;
  // Called once per batch, from one thread, with the distinct words of the
  // batch before Perturb(); lets a mechanism prefetch neighbour lists.
  virtual void Prefetch(const std::vector<WordId>& distinct_words) {}
  // Thread-safe: out[i] = perturbation of in[i].
  virtual void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const = 0;
};

// The per-word loop every mechanism's Perturb shares: one keyed stream per
// word, WordRng(key, doc_id, field, position), so a word's draw depends only
// on those coordinates, never on threads, batches or shards. The document key
// is cached over runs of equal doc ids (a cache only: the stream is the same
// however the batch is ordered or split). `visit(i, rng)` is called for each
// word in order.
template <typename Visit>
void ForEachWordStream(const WordDraw* in, size_t n, const RunKey& key, Visit&& visit) {
  DocKey doc;
  for (size_t i = 0; i < n; ++i) {
    if (i == 0 || in[i].doc_id != doc.doc_id) doc = DocKey(key, in[i].doc_id);
    WordRng rng(doc, in[i].field, in[i].position);
    visit(i, rng);
  }
}

// The selectors that decide word by word: `select(word, rng, &scratch)`
// returns the output word.
template <typename Select>
void PerturbEachWord(const WordDraw* in, size_t n, const RunKey& key, WordId* out,
                     Select&& select) {
  std::vector<Neighbor> scratch;
  ForEachWordStream(in, n, key,
                    [&](size_t i, WordRng& rng) { out[i] = select(in[i].word, rng, &scratch); });
}

class IdentityMechanism : public Mechanism {
 public:
  void Perturb(const WordDraw* in, size_t n, const RunKey&, WordId* out) const override {
    for (size_t i = 0; i < n; ++i) out[i] = in[i].word;
  }
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MECHANISM_H_
