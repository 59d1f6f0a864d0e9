// FileCalibrationCache: the CalibrationCache (mechanisms/registry.h) of the
// CLI, one file per key under ${XDG_CACHE_HOME:-~/.cache}/dpsanitize/calibration/.
//
// A file holds a magic, the key itself, the payload and the SHA-256 of key and
// payload. It is written to a temporary name and renamed (write/atomic_file.h),
// so a reader sees a whole entry or none; a file whose magic, sizes, key or
// checksum do not match is reported once (a warning naming the file and why)
// and ignored, and the caller recomputes. Files are named by the key's hash,
// so different (embedding, vocabulary, eps) never share one.
//
//   FileCalibrationCache cache(DefaultCacheDir());
//   if (auto payload = cache.Load(key)) { ... } else { cache.Store(key, computed); }
#ifndef DPSANITIZE_PIPELINE_CALIBRATION_CACHE_H_
#define DPSANITIZE_PIPELINE_CALIBRATION_CACHE_H_

#include <optional>
#include <string>

#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

// ${XDG_CACHE_HOME}/dpsanitize when XDG_CACHE_HOME is an absolute path, else
// $HOME/.cache/dpsanitize; "" when neither is set (no cache).
std::string DefaultCacheDir();

class FileCalibrationCache : public CalibrationCache {
 public:
  // `dir` "" disables the cache (Load finds nothing, Store does nothing).
  explicit FileCalibrationCache(std::string dir) : dir_(std::move(dir)) {}
  std::optional<std::string> Load(const std::string& key) override;
  Status Store(const std::string& key, const std::string& payload) override;
  // The file that holds (or would hold) `key`.
  std::string PathFor(const std::string& key) const;

 private:
  std::string dir_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_PIPELINE_CALIBRATION_CACHE_H_
