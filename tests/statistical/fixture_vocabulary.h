// The fixture embedding (data/fixture/) opened with its whole usable
// vocabulary, for the statistical tests that need real word vectors.
#ifndef DPSANITIZE_TESTS_STATISTICAL_FIXTURE_VOCABULARY_H_
#define DPSANITIZE_TESTS_STATISTICAL_FIXTURE_VOCABULARY_H_

#include <gtest/gtest.h>

#include <memory>

#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"

namespace dpsanitize {

struct FixtureVocabulary {
  std::unique_ptr<Embedding> emb;
  std::unique_ptr<Vocabulary> vocab;
  VectorSet vectors;
};

// Opens DPS_FIXTURE_VEC into *f; on failure records a test failure and
// returns false (f->vectors stays empty).
inline bool OpenFixtureVocabulary(FixtureVocabulary* f) {
  auto emb = Embedding::Open(DPS_FIXTURE_VEC);
  if (!emb.ok()) {
    ADD_FAILURE() << "cannot open " << DPS_FIXTURE_VEC << ": " << emb.status().message();
    return false;
  }
  f->emb = std::move(emb).value();
  f->vocab = std::make_unique<Vocabulary>(*f->emb, 0);
  f->vectors = f->vocab->vectors();
  return true;
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_TESTS_STATISTICAL_FIXTURE_VOCABULARY_H_
