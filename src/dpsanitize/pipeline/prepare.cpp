#include "dpsanitize/pipeline/prepare.h"

#include <algorithm>

#include "dpsanitize/core/log.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/neighbors/faiss_index.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

Status Prepare(const std::string& in, const std::string& out,
               const std::vector<uint64_t>& vocab_sizes, PrepareReport* report) {
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
  DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(out));
  DPS_RETURN_IF_ERROR(WritePrepared(*emb, report->stats, file->fd(), out));
  return file->Commit();
}

}  // namespace dpsanitize
