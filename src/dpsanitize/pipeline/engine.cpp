#include "dpsanitize/pipeline/engine.h"

#include <cstdlib>

#include "dpsanitize/core/log.h"
#include "dpsanitize/mechanisms/mvl.h"

namespace dpsanitize {

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

StatusOr<std::unique_ptr<Engine>> OpenEngine(const Config& config, bool build_mechanism) {
  DPS_RETURN_IF_ERROR(Validate(config));
  auto e = std::make_unique<Engine>();
  e->config = config;
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
  Calibration& cal = e->calibration;
  cal.mechanism = config.mechanism;
  cal.vocab_size = e->vocab->size();
  cal.dim = e->vocab->dim();
  if (cal.vocab_size < 2) {
    return DataError("{}: only {} usable vocabulary words", path, cal.vocab_size);
  }
  if (config.mechanism == MechanismKind::kTg) {
    if (auto stored = e->vocab->StoredStats()) {
      cal.stats = *stored;
      cal.stats_stored = true;
    } else {
      if (e->embedding->prepared()) {
        Log().info("computing delta_min and delta_max for a {}-word vocabulary (not stored in {})",
                   cal.vocab_size, path);
      }
      DPS_ASSIGN_OR_RETURN(cal.stats, ComputeVocabStats(e->vocab->vectors()));
    }
    cal.eps_min = TgEpsMin(cal.vocab_size, cal.stats.delta_min);
    if (config.gumbel_scale) {
      cal.tg.b = *config.gumbel_scale;
      cal.tg.mu = config.mu ? *config.mu : DefaultMu(cal.vocab_size);
      cal.tg.delta_max = config.delta_max ? *config.delta_max : cal.stats.delta_max;
      cal.eps_basis = "none (explicit noise parameters)";
    } else {
      DPS_ASSIGN_OR_RETURN(auto c, CalibrateTg(*config.eps, cal.vocab_size, cal.stats.delta_min,
                                               cal.stats.delta_max));
      cal.tg_calibration = c;
      cal.tg.b = c.b;
      cal.tg.mu = c.mu;
      cal.tg.delta_max = c.delta_max;
      cal.eps = c.eps;
      cal.eps_basis = "nominal (Xu et al. 2021 truncated Gumbel calibration)";
    }
  } else if (config.mechanism == MechanismKind::kMvl) {
    cal.eps = *config.eps;
    cal.eps_basis = "proven (Feyisetan et al. 2020)";
  } else {
    cal.eps_basis = "none (identity: no privacy)";
  }
  if (!build_mechanism) return e;

  const VectorSet vs = e->vocab->vectors();
  switch (config.mechanism) {
    case MechanismKind::kTg: {
      const NeighborTable& table = e->embedding->neighbor_table();
      if (table.k > 0 && table.vocab_size == cal.vocab_size &&
          table.filter_version == kFilterVersion) {
        // Prepared exact lists: no search at run time unless a draw is deeper.
        e->table_source = std::make_unique<TableNeighborSource>(table, vs);
        e->mechanism =
            std::make_unique<TgMechanism>(cal.tg, cal.vocab_size, *e->table_source, nullptr);
        break;
      }
      DPS_ASSIGN_OR_RETURN(e->knn, ExactKnn::Create(vs));
      e->cache = std::make_unique<NeighborCache>(*e->knn, vs, config.neighbor_depth);
      NeighborCache* cache = e->cache.get();
      e->mechanism = std::make_unique<TgMechanism>(
          cal.tg, cal.vocab_size, *cache, [cache](const std::vector<WordId>& words) {
            Status s = cache->Prefetch(words);
            // A failed prefetch only costs speed: Nearest() falls back to an
            // exact scan for words without a list.
            if (!s.ok()) Log().warn("neighbour prefetch failed: {}", s.message());
          });
      break;
    }
    case MechanismKind::kMvl: {
      DPS_ASSIGN_OR_RETURN(
          e->finder,
          MakeNearestWordFinder(vs, config.mvl_search == MvlSearch::kExact ? NearestSearch::kExact
                                                                           : NearestSearch::kHnsw));
      e->mechanism = std::make_unique<MvlMechanism>(*config.eps, vs, *e->finder);
      break;
    }
    case MechanismKind::kIdentity:
      e->mechanism = std::make_unique<IdentityMechanism>();
      break;
  }
  return e;
}

}  // namespace dpsanitize
