// Engine: an opened embedding, its perturbation vocabulary, the calibrated
// mechanism plan (from the registry) and, when asked, a ready sampler; what
// sanitize runs, `calibrate` and `audit` start from. The engine owns the
// FAISS-backed objects the plan's sampler and law borrow.
#ifndef DPSANITIZE_PIPELINE_ENGINE_H_
#define DPSANITIZE_PIPELINE_ENGINE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dpsanitize/audit/audit.h"
#include "dpsanitize/core/config.h"
#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/mechanisms/registry.h"
#include "dpsanitize/neighbors/faiss_index.h"

namespace dpsanitize {

// The embedding to use: --embedding, else $DPSANITIZE_EMBEDDING, else
// ${XDG_DATA_HOME:-~/.local/share}/dpsanitize/glove.6B.100d.dpsemb.
std::string ResolveEmbeddingPath(const std::string& flag);
std::string DefaultEmbeddingPath();

// Validate() and ValidateMechanismOptions(): every check of a run's options,
// done once, by OpenEngine.
Status ValidateConfig(const Config& config);

struct Engine {
  Config config;
  std::unique_ptr<Embedding> embedding;
  std::unique_ptr<Vocabulary> vocab;
  const MechanismInfo* info = nullptr;   // the registry entry of config.mechanism
  std::unique_ptr<MechanismPlan> plan;   // calibrated for this vocabulary
  std::unique_ptr<Mechanism> mechanism;  // with build_mechanism only

  // Neighbour search objects, created on demand by the plan's Build/Law.
  std::unique_ptr<ExactKnn> knn;
  std::unique_ptr<NeighborCache> cache;
  std::unique_ptr<TableNeighborSource> table_source;
  std::unique_ptr<NearestWordFinder> exact_finder, hnsw_finder;
  // Results of slow calibrations (bem's weights), kept across runs.
  std::unique_ptr<CalibrationCache> calibration_cache;

  // Neighbours stored per word in the prepared file for this vocabulary (0: none).
  uint32_t stored_neighbors() const;
  // The prepared file's tail bounds when they are this vocabulary's, else null.
  const TailBounds* tail_bounds() const;
  // Exact lists: the prepared table when it matches, else FAISS lists
  // cached per batch (the prefetch hook fills them).
  StatusOr<NeighborAccess> ExactNeighbors();
  StatusOr<const NearestWordFinder*> NearestFinder(bool exact);
  // Exact kNN over the vocabulary (FAISS), created on first use.
  StatusOr<const ExactKnn*> Knn();
};

// Opens the embedding and vocabulary, validates the config and makes the
// mechanism's plan; with `build_mechanism` also builds its sampler.
StatusOr<std::unique_ptr<Engine>> OpenEngine(const Config& config, bool build_mechanism);
// The same for a config that already passed ValidateConfig.
StatusOr<std::unique_ptr<Engine>> OpenValidatedEngine(const Config& config, bool build_mechanism);

// What the audit needs to compute the plan's output law (exact neighbour
// lists, the nearest-word finder, the sampler for Monte Carlo laws). Builds
// the sampler if OpenEngine did not.
StatusOr<LawContext> MakeLawContext(Engine& engine);

// Everything RunAudit (audit/audit.h) needs from the engine: the plan, its
// law context and the pair sampler's exact kNN.
StatusOr<AuditInputs> MakeAuditInputs(Engine& engine);

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_ENGINE_H_
