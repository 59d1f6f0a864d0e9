// Engine: an opened embedding, its perturbation vocabulary, calibration
// inputs and a ready mechanism; what both `dpsanitize` runs and
// `dpsanitize calibrate` start from.
#ifndef DPSANITIZE_PIPELINE_ENGINE_H_
#define DPSANITIZE_PIPELINE_ENGINE_H_

#include <memory>
#include <optional>
#include <string>

#include "dpsanitize/core/config.h"
#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/calibration.h"
#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/mechanisms/tg.h"
#include "dpsanitize/neighbors/faiss_index.h"

namespace dpsanitize {

// The embedding to use: --embedding, else $DPSANITIZE_EMBEDDING, else
// ${XDG_DATA_HOME:-~/.local/share}/dpsanitize/glove.6B.100d.dpsemb.
std::string ResolveEmbeddingPath(const std::string& flag);
std::string DefaultEmbeddingPath();

struct Calibration {
  MechanismKind mechanism = MechanismKind::kTg;
  uint64_t vocab_size = 0;
  uint32_t dim = 0;
  VocabStats stats;           // delta_min, delta_max of this vocabulary
  bool stats_stored = false;  // read from the prepared file (else computed now)
  std::optional<double> eps;  // the epsilon claimed, if any
  std::string eps_basis;      // "nominal (Xu et al. 2021 calibration)", "proven", "none"
  std::optional<TgCalibration> tg_calibration;  // tg from --eps
  TgParams tg;                                  // tg noise actually used
  double eps_min = 0;                           // tg domain bound for this vocabulary
};

struct Engine {
  Config config;
  std::unique_ptr<Embedding> embedding;
  std::unique_ptr<Vocabulary> vocab;
  Calibration calibration;
  std::unique_ptr<ExactKnn> knn;
  std::unique_ptr<NeighborCache> cache;
  std::unique_ptr<TableNeighborSource> table_source;
  std::unique_ptr<NearestWordFinder> finder;
  std::unique_ptr<Mechanism> mechanism;
};

// Opens the embedding and vocabulary and calibrates; with `build_mechanism`
// also builds indexes and the mechanism.
StatusOr<std::unique_ptr<Engine>> OpenEngine(const Config& config, bool build_mechanism);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_ENGINE_H_
