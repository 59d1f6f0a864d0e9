// The version of this build: what `dpsanitize --version` prints and what every
// ledger records as tool.version (a run's and `ledger merge`'s), so that a
// released corpus names the exact code and libraries that produced it.
//
//   VersionLine()   "dpsanitize 0.1.0 (git 1a2b3c4d5e6f, dirty; FAISS 1.7.3,
//                    libsodium 1.0.18, zlib 1.2.13, zstd 1.5.4, libcsv 3.0.3)"
//   VersionString() the same without "dpsanitize " (the ledger's tool.name
//                   already says it)
//
// The git part is "git <12 hex digits>", with ", dirty" when tracked files
// differed from that commit at build time, or "git unknown" for a build
// without a git checkout (a release tarball). It is stamped at build time by
// cmake/GitVersion.cmake. Library versions are the ones loaded at run time
// where the library reports it (libsodium, zlib, zstd), else those of the
// headers compiled against (FAISS, libcsv).
#ifndef DPSANITIZE_PIPELINE_VERSION_H_
#define DPSANITIZE_PIPELINE_VERSION_H_

#include <string>

namespace dpsanitize {

// What the build stamp holds; defined in the build tree's generated
// build_stamp.cpp, not in the sources.
struct BuildStamp {
  const char* project_version;  // CMake's PROJECT_VERSION, e.g. "0.1.0"
  const char* git_commit;       // 12 lower-case hex digits, or "unknown"
  bool git_dirty;               // tracked files differed from git_commit
};
BuildStamp GetBuildStamp();

// "0.1.0 (git 1a2b3c4d5e6f; FAISS 1.7.3, libsodium 1.0.18, ...)".
std::string VersionString();

// "dpsanitize " + VersionString(): the one line of `dpsanitize --version`.
std::string VersionLine();

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_VERSION_H_
