#include "dpsanitize/pipeline/verify.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "dpsanitize/core/parallel.h"
#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/neighbors/faiss_index.h"
#include "dpsanitize/neighbors/tail_bounds_builder.h"
#include "dpsanitize/pipeline/progress.h"

namespace dpsanitize {
namespace {

template <typename... Args>
Status Corrupt(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
  return DataError("{}: corrupt prepared embedding: {}; prepare it again", path,
                   fmt::format(f, std::forward<Args>(args)...));
}

// Every stored distance against Distance() of its pair, in double as prepare
// computed it, so equality is exact. O(|V| k dim): a flipped id or distance
// byte fails here, before the exact search (which also finds a row that is
// self-consistent but not the nearest words).
Status CheckTableDistances(const std::string& path, const NeighborTable& t, VectorSet v,
                           size_t threads) {
  std::atomic<uint64_t> first_bad{t.vocab_size};
  ParallelStrided(t.vocab_size, threads, [&](size_t w) {
    const Neighbor* r = t.row(static_cast<WordId>(w));
    for (uint32_t j = 0; j < t.k; ++j) {
      if (Distance(v, w, r[j].id) != r[j].dist) {
        uint64_t cur = first_bad.load();
        while (w < cur && !first_bad.compare_exchange_weak(cur, w)) {
        }
        return;
      }
    }
  });
  if (first_bad.load() < t.vocab_size) {
    return Corrupt(path, "neighbour table: a stored distance of word {} is not its pair's",
                   first_bad.load());
  }
  return Status::Ok();
}

// Each row against a fresh exact search: the same lists, in the same
// (distance, id) order, with the same distances, as prepare stored.
Status CheckTableRows(const std::string& path, const NeighborTable& t, VectorSet v) {
  DPS_ASSIGN_OR_RETURN(auto knn, ExactKnn::Create(v));
  return knn->ForAllWords(t.k, [&](WordId first, const std::vector<std::vector<Neighbor>>& lists) {
    for (size_t i = 0; i < lists.size(); ++i) {
      const WordId w = static_cast<WordId>(first + i);
      const Neighbor* r = t.row(w);
      bool same = lists[i].size() == t.k;
      for (uint32_t j = 0; same && j < t.k; ++j) {
        same = lists[i][j].id == r[j].id && lists[i][j].dist == r[j].dist;
      }
      if (!same) {
        return Corrupt(path, "neighbour table: row of word {} is not its {} nearest words", w, t.k);
      }
    }
    return Status::Ok();
  });
}

// The bounds depend only on the vectors and the cluster count (the builder is
// deterministic, whatever the thread count), so a recomputation must give the
// stored section bit for bit.
Status CheckTailBoundsValues(const std::string& path, const TailBounds& t, VectorSet v,
                             unsigned threads) {
  DPS_ASSIGN_OR_RETURN(OwnedTailBounds fresh, ComputeTailBounds(v, t.clusters, threads));
  if (fresh.clusters != t.clusters || fresh.step != t.step ||
      !std::equal(fresh.offsets.begin(), fresh.offsets.end(), t.offsets) ||
      !std::equal(fresh.members.begin(), fresh.members.end(), t.members)) {
    return Corrupt(path, "tail bounds: clusters or step differ from a recomputation");
  }
  const auto bad = std::mismatch(fresh.bounds.begin(), fresh.bounds.end(), t.bounds);
  if (bad.first != fresh.bounds.end()) {
    const size_t at = static_cast<size_t>(bad.first - fresh.bounds.begin());
    return Corrupt(path, "tail bounds: bound of word {}, cluster {} differs from a recomputation",
                   at / t.clusters, at % t.clusters);
  }
  return Status::Ok();
}

}  // namespace

Status VerifyPreparedEmbedding(const std::string& path, const VerifyOptions& options,
                               VerifyReport* report) {
  *report = VerifyReport();
  const unsigned threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  StageLine stages(options.progress, "verify");
  stages.Stage("structure");
  DPS_ASSIGN_OR_RETURN(auto emb, Embedding::Open(path));
  if (!emb->prepared()) {
    return UsageError(
        "{}: not a prepared embedding; verify checks files written by `dpsanitize prepare`", path);
  }
  stages.Stage("content SHA-256 and flags");
  DPS_RETURN_IF_ERROR(emb->VerifyStoredContent());
  const NeighborTable& table = emb->neighbor_table();
  // The table and the bounds belong to the same vocabulary when prepare
  // wrote both: its vectors are copied once.
  std::unique_ptr<Vocabulary> vocab;
  auto vectors_of = [&](uint64_t n) {
    if (!vocab || vocab->size() != n) vocab = std::make_unique<Vocabulary>(*emb, n);
    return vocab->vectors();
  };
  if (table.k > 0) {
    // Open checked that the file has at least vocab_size usable entries, so
    // this is the table's vocabulary: prepare's, from the same flags.
    const VectorSet v = vectors_of(table.vocab_size);
    stages.Stage("neighbour distances");
    DPS_RETURN_IF_ERROR(CheckTableDistances(path, table, v, threads));
    stages.Stage("neighbour lists");
    DPS_RETURN_IF_ERROR(CheckTableRows(path, table, v));
  }
  const TailBounds& bounds = emb->tail_bounds();
  if (bounds.present()) {
    const VectorSet v = vectors_of(bounds.vocab_size);
    stages.Stage("tail bounds");
    DPS_RETURN_IF_ERROR(CheckTailBoundsValues(path, bounds, v, threads));
  }
  report->sha256 = emb->content_sha256();
  report->words = emb->size();
  report->dim = emb->dim();
  report->table_vocab_size = table.k > 0 ? table.vocab_size : 0;
  report->table_k = table.k;
  report->tail_clusters = bounds.clusters;
  return Status::Ok();
}

}  // namespace dpsanitize
