// `dpsanitize ledger merge` as one library call: read the shard ledgers,
// refuse to overwrite one of them, merge, and write the result atomically.
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {

Status MergeLedgerFiles(const std::vector<std::string>& inputs, const std::string& out,
                        const std::string& tool_version) {
  std::vector<nlohmann::json> shards;
  for (const std::string& p : inputs) {
    if (SameFile(p, out)) return UsageError("{}: -o would overwrite an input ledger", out);
    DPS_ASSIGN_OR_RETURN(nlohmann::json j, ReadLedger(p));
    shards.push_back(std::move(j));
  }
  DPS_ASSIGN_OR_RETURN(const nlohmann::json merged,
                       MergeLedgers(shards, inputs, tool_version, NowUtc()));
  DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(out));
  DPS_RETURN_IF_ERROR(file->Write(merged.dump(2) + "\n"));
  return file->Commit();
}

}  // namespace dpsanitize
