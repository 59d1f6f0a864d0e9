#include "dpsanitize/pipeline/version.h"

#include <csv.h>
#include <fmt/format.h>
#include <sodium.h>
#include <zlib.h>
#include <zstd.h>

#include "dpsanitize/neighbors/faiss_index.h"

namespace dpsanitize {

std::string VersionString() {
  const BuildStamp stamp = GetBuildStamp();
  // zlib's and zstd's versions matter beyond the record: they decide the
  // exact bytes of a .gz or .zst output, whose SHA-256 the ledger keeps.
  // libcsv has no run-time version function: its header's is the one built
  // against (Debian's libcsv3 has kept one ABI since 3.0).
  return fmt::format("{} (git {}{}; FAISS {}, libsodium {}, zlib {}, zstd {}, libcsv {}.{}.{})",
                     stamp.project_version, stamp.git_commit, stamp.git_dirty ? ", dirty" : "",
                     FaissVersion(), sodium_version_string(), zlibVersion(), ZSTD_versionString(),
                     CSV_MAJOR, CSV_MINOR, CSV_RELEASE);
}

std::string VersionLine() { return "dpsanitize " + VersionString(); }

}  // namespace dpsanitize
