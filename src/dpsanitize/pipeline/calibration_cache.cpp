#include "dpsanitize/pipeline/calibration_cache.h"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "dpsanitize/core/log.h"
#include "dpsanitize/core/strings.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {
namespace {

constexpr char kMagic[8] = {'D', 'P', 'S', 'C', 'A', 'C', 'H', '1'};
constexpr size_t kHeader = sizeof(kMagic) + sizeof(uint32_t) + sizeof(uint64_t) + 32;

// SHA-256 of the key's length, the key and the payload: the checksum covers
// the whole entry, so a flipped bit anywhere is caught.
void Checksum(const std::string& key, const char* payload, size_t size, uint8_t out[32]) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  const uint64_t n = key.size();
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(&n), sizeof(n));
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(key.data()), key.size());
  crypto_hash_sha256_update(&st, reinterpret_cast<const uint8_t*>(payload), size);
  crypto_hash_sha256_final(&st, out);
}

// mkdir -p with owner-only permissions: the cache holds no corpus text, but
// nobody else needs it.
Status MakeDirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string part = dir.substr(0, i);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return IoError("{}: cannot create ({})", part, std::strerror(errno));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string DefaultCacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/dpsanitize";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') return std::string(home) + "/.cache/dpsanitize";
  return "";
}

std::string FileCalibrationCache::PathFor(const std::string& key) const {
  uint8_t h[32];
  crypto_hash_sha256(h, reinterpret_cast<const uint8_t*>(key.data()), key.size());
  return dir_ + "/calibration/" + HexEncode(h, 16) + ".bin";
}

std::optional<std::string> FileCalibrationCache::Load(const std::string& key) {
  if (dir_.empty()) return std::nullopt;
  const std::string path = PathFor(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;  // not cached yet: the normal first run
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto reject = [&path](const char* why) -> std::optional<std::string> {
    Log().warn("calibration cache {}: {}; ignored, recomputing", path, why);
    return std::nullopt;
  };
  if (in.bad()) return reject("unreadable");
  if (data.size() < kHeader || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) {
    return reject("not a cache entry (bad magic or truncated)");
  }
  uint32_t key_size = 0;
  uint64_t payload_size = 0;
  std::memcpy(&key_size, data.data() + sizeof(kMagic), sizeof(key_size));
  std::memcpy(&payload_size, data.data() + sizeof(kMagic) + sizeof(key_size), sizeof(payload_size));
  if (key_size != key.size() || payload_size != data.size() - kHeader - key_size) {
    return reject("sizes do not match (truncated or corrupt)");
  }
  const char* stored_key = data.data() + kHeader;
  if (std::memcmp(stored_key, key.data(), key.size()) != 0) {
    return reject("holds another key");
  }
  const char* payload = stored_key + key_size;
  uint8_t sum[32];
  Checksum(key, payload, payload_size, sum);
  if (std::memcmp(sum, data.data() + kHeader - 32, 32) != 0) return reject("checksum mismatch");
  return std::string(payload, payload_size);
}

Status FileCalibrationCache::Store(const std::string& key, const std::string& payload) {
  if (dir_.empty()) return Status::Ok();
  DPS_RETURN_IF_ERROR(MakeDirs(dir_ + "/calibration"));
  std::string head(kMagic, sizeof(kMagic));
  const uint32_t key_size = static_cast<uint32_t>(key.size());
  const uint64_t payload_size = payload.size();
  head.append(reinterpret_cast<const char*>(&key_size), sizeof(key_size));
  head.append(reinterpret_cast<const char*>(&payload_size), sizeof(payload_size));
  uint8_t sum[32];
  Checksum(key, payload.data(), payload.size(), sum);
  head.append(reinterpret_cast<const char*>(sum), sizeof(sum));
  DPS_ASSIGN_OR_RETURN(auto file, AtomicFile::Create(PathFor(key)));
  DPS_RETURN_IF_ERROR(file->Write(head));
  DPS_RETURN_IF_ERROR(file->Write(key));
  DPS_RETURN_IF_ERROR(file->Write(payload));
  return file->Commit();
}

}  // namespace dpsanitize
