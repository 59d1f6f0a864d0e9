#include "dpsanitize/pipeline/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <thread>

#include "dpsanitize/core/log.h"
#include "dpsanitize/core/strings.h"
#include "dpsanitize/pipeline/calibration_cache.h"
#include "dpsanitize/pipeline/progress.h"

namespace dpsanitize {
namespace {

// delta_min and delta_max as exact hex floats, with whether delta_max is
// exact: the cache payload of a vocabulary's statistics.
std::string SerializeVocabStats(const VocabStats& s) {
  return fmt::format("{:a} {:a} {}", s.delta_min, s.delta_max, s.delta_max_exact ? 1 : 0);
}

std::optional<VocabStats> ParseVocabStats(const std::string& payload, uint64_t vocab_size) {
  VocabStats s;
  s.vocab_size = vocab_size;
  char* end = nullptr;
  const char* p = payload.c_str();
  s.delta_min = std::strtod(p, &end);
  if (end == p) return std::nullopt;
  p = end;
  s.delta_max = std::strtod(p, &end);
  if (end == p) return std::nullopt;
  p = end;
  const long exact = std::strtol(p, &end, 10);
  if (end == p || *end != '\0' || (exact != 0 && exact != 1)) return std::nullopt;
  s.delta_max_exact = exact == 1;
  // The cache's checksum guards against corruption; this guards against a
  // payload that is well-formed but cannot be a vocabulary's statistics.
  if (!(std::isfinite(s.delta_min) && std::isfinite(s.delta_max) && s.delta_min > 0 &&
        s.delta_min <= s.delta_max)) {
    return std::nullopt;
  }
  return s;
}

}  // namespace

std::string DefaultEmbeddingPath() {
  const char* xdg = std::getenv("XDG_DATA_HOME");
  std::string base;
  if (xdg != nullptr && *xdg != '\0') {
    base = xdg;
  } else {
    const char* home = std::getenv("HOME");
    base = std::string(home != nullptr ? home : ".") + "/.local/share";
  }
  return base + "/dpsanitize/glove.6B.100d.dpsemb";
}

std::string ResolveEmbeddingPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("DPSANITIZE_EMBEDDING");
  if (env != nullptr && *env != '\0') return env;
  return DefaultEmbeddingPath();
}

Status ValidateConfig(const Config& config) {
  DPS_RETURN_IF_ERROR(Validate(config));
  return ValidateMechanismOptions(config);
}

uint32_t Engine::stored_neighbors() const {
  const NeighborTable& table = embedding->neighbor_table();
  return table.k > 0 && table.vocab_size == vocab->size() && table.filter_version == kFilterVersion
             ? table.k
             : 0;
}

const TailBounds* Engine::tail_bounds() const {
  const TailBounds& b = embedding->tail_bounds();
  return b.present() && b.vocab_size == vocab->size() ? &b : nullptr;
}

StatusOr<NeighborAccess> Engine::ExactNeighbors() {
  const VectorSet vs = vocab->vectors();
  NeighborAccess access;
  if (stored_neighbors() > 0) {
    // Prepared exact lists: no search at run time unless a draw is deeper.
    if (!table_source) {
      table_source = std::make_unique<TableNeighborSource>(embedding->neighbor_table(), vs);
    }
    access.source = table_source.get();
    access.depth = stored_neighbors();
    return access;
  }
  if (!cache) {
    DPS_ASSIGN_OR_RETURN(const ExactKnn* exact, Knn());
    cache = std::make_unique<NeighborCache>(*exact, vs, config.neighbor_depth);
  }
  NeighborCache* c = cache.get();
  access.source = c;
  access.depth = c->depth();
  access.prefetch = [c](const std::vector<WordId>& words) {
    // A failed prefetch only costs speed: Nearest() falls back to an exact
    // scan for words without a list.
    Status s = c->Prefetch(words);
    if (!s.ok()) Log().warn("neighbour prefetch failed: {}", s.message());
  };
  return access;
}

StatusOr<const ExactKnn*> Engine::Knn() {
  if (!knn) {
    DPS_ASSIGN_OR_RETURN(knn, ExactKnn::Create(vocab->vectors()));
  }
  return static_cast<const ExactKnn*>(knn.get());
}

StatusOr<const NearestWordFinder*> Engine::NearestFinder(bool exact) {
  std::unique_ptr<NearestWordFinder>& f = exact ? exact_finder : hnsw_finder;
  if (!f) {
    DPS_ASSIGN_OR_RETURN(f, MakeNearestWordFinder(vocab->vectors(), exact ? NearestSearch::kExact
                                                                          : NearestSearch::kHnsw));
  }
  return static_cast<const NearestWordFinder*>(f.get());
}

namespace {

Status BuildMechanism(Engine* e) {
  BuildContext ctx;
  ctx.vectors = e->vocab->vectors();
  ctx.exact_neighbors = [e] { return e->ExactNeighbors(); };
  ctx.nearest_finder = [e](bool exact) { return e->NearestFinder(exact); };
  ctx.tail_bounds = e->tail_bounds();
  DPS_ASSIGN_OR_RETURN(e->mechanism, e->plan->Build(ctx));
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Engine>> OpenEngine(const Config& config, bool build_mechanism) {
  DPS_RETURN_IF_ERROR(ValidateConfig(config));
  return OpenValidatedEngine(config, build_mechanism);
}

StatusOr<std::unique_ptr<Engine>> OpenValidatedEngine(const Config& config, bool build_mechanism) {
  auto e = std::make_unique<Engine>();
  e->config = config;
  e->info = FindMechanism(config.mechanism);
  const std::string path = ResolveEmbeddingPath(config.embedding);
  {
    auto opened = Embedding::Open(path);
    if (!opened.ok()) {
      if (config.embedding.empty() && opened.status().code() == StatusCode::kIoError) {
        return IoError(
            "{}: no embedding there ({}); run scripts/setup.sh, or pass --embedding "
            "PATH or set DPSANITIZE_EMBEDDING",
            path, opened.status().message());
      }
      return opened.status();
    }
    e->embedding = std::move(opened).value();
  }
  e->vocab = std::make_unique<Vocabulary>(*e->embedding, config.vocab_size);
  if (e->vocab->size() < 2) {
    return DataError("{}: only {} usable vocabulary words", path, e->vocab->size());
  }
  // Only a size the user chose: the default (50,000) on a smaller embedding
  // (a test fixture, a small language) is not worth a line on every run.
  if (config.vocab_size > e->vocab->size() && config.vocab_size != Config().vocab_size) {
    Log().warn("--vocab-size {}: {} has {} usable words; using all of them", config.vocab_size,
               BaseName(path), e->vocab->size());
  }
  PlanInputs in;
  in.vocab_size = e->vocab->size();
  in.dim = e->vocab->dim();
  const std::optional<VocabStats> stored = e->vocab->StoredStats();
  in.stats_stored = stored.has_value();
  // Only mechanisms that need delta_min/delta_max ask; computing them scans
  // all pairs of the vocabulary, so it is never done for the others.
  e->calibration_cache = std::make_unique<FileCalibrationCache>(DefaultCacheDir());
  StageLine stages(ProgressEnabled(config), "calibrating " + config.mechanism);
  in.stats = [&e, &stages, stored, path]() -> StatusOr<VocabStats> {
    if (stored) return *stored;
    // A vocabulary size `prepare` did not store costs an all-pairs scan
    // (minutes for 10^5 words): paid once, then read from the cache, keyed
    // like bem's weights by the embedding's content hash.
    const std::string key = fmt::format("vocab-stats/v1 sha256={} vocab={} dim={} filter={}",
                                        e->embedding->content_sha256(), e->vocab->size(),
                                        e->vocab->dim(), kFilterVersion);
    if (auto cached = e->calibration_cache->Load(key)) {
      if (auto parsed = ParseVocabStats(*cached, e->vocab->size())) return *parsed;
      Log().warn("calibration cache: delta_min/delta_max entry is inconsistent; recomputing");
    }
    Log().info("computing delta_min and delta_max for a {}-word vocabulary (not stored in {})",
               e->vocab->size(), path);
    stages.Stage(
        fmt::format("delta_min and delta_max over all pairs of {} words", e->vocab->size()));
    DPS_ASSIGN_OR_RETURN(VocabStats computed, ComputeVocabStats(e->vocab->vectors()));
    const Status stored_ok = e->calibration_cache->Store(key, SerializeVocabStats(computed));
    if (!stored_ok.ok()) Log().warn("calibration cache: {}", stored_ok.message());
    return computed;
  };
  // What calibrations over the whole geometry (bem) need; the others ignore it.
  in.vectors = e->vocab->vectors();
  Engine* raw = e.get();
  in.exact_neighbors = [raw] { return raw->ExactNeighbors(); };
  in.embedding_sha256 = e->embedding->content_sha256();
  in.threads =
      config.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : config.threads;
  in.cache = e->calibration_cache.get();
  in.progress = [&stages](const std::string& stage) { stages.Stage(stage); };
  DPS_ASSIGN_OR_RETURN(e->plan, e->info->make_plan(config, in));
  stages.Finish();
  if (build_mechanism) DPS_RETURN_IF_ERROR(BuildMechanism(e.get()));
  return e;
}

StatusOr<LawContext> MakeLawContext(Engine& e) {
  if (!e.mechanism) DPS_RETURN_IF_ERROR(BuildMechanism(&e));
  LawContext ctx;
  ctx.vectors = e.vocab->vectors();
  DPS_ASSIGN_OR_RETURN(NeighborAccess nb, e.ExactNeighbors());
  ctx.neighbors = nb.source;
  // Monte Carlo laws map noisy points to words exactly, whatever search the
  // sampler itself uses (the audit measures the mechanism, not the index).
  DPS_ASSIGN_OR_RETURN(ctx.nearest, e.NearestFinder(/*exact=*/true));
  ctx.mechanism = e.mechanism.get();
  return ctx;
}

StatusOr<AuditInputs> MakeAuditInputs(Engine& e) {
  AuditInputs in;
  in.embedding = e.embedding.get();
  in.vocab = e.vocab.get();
  in.info = e.info;
  in.plan = e.plan.get();
  DPS_ASSIGN_OR_RETURN(in.law, MakeLawContext(e));
  // The pair sampler's exact kNN: FAISS stays out of the audit library.
  DPS_ASSIGN_OR_RETURN(const ExactKnn* knn, e.Knn());
  in.neighbors = [knn](const std::vector<WordId>& words, size_t k,
                       std::vector<std::vector<Neighbor>>* out) {
    return knn->Neighbors(words, k, out);
  };
  return in;
}

}  // namespace dpsanitize
