#include "dpsanitize/pipeline/prepare.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "dpsanitize/core/log.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/neighbors/faiss_index.h"
#include "dpsanitize/neighbors/tail_bounds_builder.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

Status Prepare(const std::string& in, const std::string& out,
               const std::vector<uint64_t>& vocab_sizes, uint32_t neighbor_k,
               uint32_t tail_clusters, PrepareReport* report) {
  if (SameFile(in, out)) {
    return UsageError("{}: output is the same file as the input; refusing to overwrite it", out);
  }
  DPS_ASSIGN_OR_RETURN(auto emb, Embedding::Open(in));
  *report = PrepareReport();
  report->words = emb->size();
  report->dim = emb->dim();
  for (size_t i = 0; i < emb->size(); ++i) report->usable += emb->usable(i) ? 1 : 0;
  report->sha256 = emb->content_sha256();
  std::vector<uint64_t> seen;
  for (uint64_t n : vocab_sizes) {
    Vocabulary vocab(*emb, n);
    if (std::find(seen.begin(), seen.end(), vocab.size()) != seen.end()) continue;
    seen.push_back(vocab.size());
    Log().info("computing delta_min and delta_max for the {}-word vocabulary", vocab.size());
    DPS_ASSIGN_OR_RETURN(auto stats, ComputeVocabStats(vocab.vectors()));
    report->stats.push_back(stats);
  }
  // Neighbour table for the first vocabulary: exact lists, so a tg draw with
  // k <= neighbor_k needs no search at run time.
  // Tail bounds (below) belong to the same vocabulary, built once for both.
  NeighborTable table;
  std::vector<Neighbor> rows;
  OwnedTailBounds bounds;
  if (neighbor_k > 0 && !vocab_sizes.empty()) {
    Vocabulary vocab(*emb, vocab_sizes[0]);
    const VectorSet v = vocab.vectors();
    const size_t k = std::min<size_t>(neighbor_k, v.n - 1);
    Log().info("computing the {}-neighbour table of the {}-word vocabulary", k, v.n);
    DPS_ASSIGN_OR_RETURN(auto knn, ExactKnn::Create(v));
    rows.resize(v.n * k);
    std::memset(static_cast<void*>(rows.data()), 0, rows.size() * sizeof(Neighbor));
    DPS_RETURN_IF_ERROR(
        knn->ForAllWords(k, [&](WordId first, const std::vector<std::vector<Neighbor>>& lists) {
          for (size_t i = 0; i < lists.size(); ++i) {
            for (size_t j = 0; j < k; ++j) {
              rows[(first + i) * k + j].id = lists[i][j].id;
              rows[(first + i) * k + j].dist = lists[i][j].dist;
            }
          }
          return Status::Ok();
        }));
    table.vocab_size = v.n;
    table.k = static_cast<uint32_t>(k);
    table.rows = rows.data();
    report->table_k = table.k;
    report->table_vocab_size = table.vocab_size;
    // Tail bounds: one more pass over all pairs, in double precision, so
    // that em's sampler needs few proposals per word.
    if (tail_clusters > 0 && v.n >= 2) {
      Log().info("computing tail bounds ({} clusters) of the {}-word vocabulary", tail_clusters,
                 v.n);
      DPS_ASSIGN_OR_RETURN(
          bounds,
          ComputeTailBounds(v, tail_clusters, std::max(1u, std::thread::hardware_concurrency())));
      report->tail_clusters = bounds.clusters;
    }
  }
  DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(out));
  DPS_RETURN_IF_ERROR(WritePrepared(*emb, report->stats, table, bounds.view(), file->fd(), out));
  return file->Commit();
}

void LogPrepareReport(const std::string& out, const PrepareReport& r) {
  Log().info("{}: {} words ({} usable), dimension {}, sha256 {}", out, r.words, r.usable, r.dim,
             r.sha256);
  if (r.table_k > 0) {
    Log().info("  neighbour table: {} nearest words of each of the {} vocabulary words", r.table_k,
               r.table_vocab_size);
  }
  if (r.tail_clusters > 0) {
    Log().info("  tail bounds: {} clusters of the same vocabulary", r.tail_clusters);
  }
  for (const VocabStats& st : r.stats) {
    Log().info("  |V| = {}: delta_min = {:.6g} (exact), delta_max = {:.6g} (certified bound)",
               st.vocab_size, st.delta_min, st.delta_max);
  }
}

}  // namespace dpsanitize
