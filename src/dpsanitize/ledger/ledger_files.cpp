// `dpsanitize ledger merge` and `ledger verify` as library calls: read the
// shard ledgers, refuse to overwrite one of them, merge, and write the result
// atomically; or hash each output a ledger lists and compare.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dpsanitize/core/strings.h"
#include "dpsanitize/ledger/ledger.h"
#include "dpsanitize/write/atomic_file.h"

namespace dpsanitize {
namespace {

// SHA-256 of a file, streamed (outputs can be far larger than memory).
StatusOr<std::string> FileSha256(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("{}: cannot open: {}", path, std::strerror(errno));
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::vector<unsigned char> buf(1 << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return IoError("{}: cannot read: {}", path, std::strerror(err));
    }
    crypto_hash_sha256_update(&st, buf.data(), static_cast<unsigned long long>(n));
  }
  ::close(fd);
  uint8_t digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, digest);
  return HexEncode(digest, sizeof(digest));
}

}  // namespace

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

StatusOr<std::string> VerifyLedgerOutputs(const std::string& ledger_path, const std::string& out) {
  DPS_ASSIGN_OR_RETURN(const nlohmann::json j, ReadLedger(ledger_path));
  const nlohmann::json& outputs = j.at("outputs");
  if (!outputs.is_array() || outputs.empty()) {
    return DataError("{}: ledger lists no outputs", ledger_path);
  }
  if (!out.empty() && outputs.size() != 1) {
    return UsageError("{}: ledger lists {} outputs (a merged ledger); give no OUT to check each",
                      ledger_path, outputs.size());
  }
  std::string report;
  for (const nlohmann::json& o : outputs) {
    if (!o.is_object() || !o.contains("name") || !o.at("name").is_string() ||
        !o.contains("sha256")) {
      return DataError("{}: ledger has a malformed output entry", ledger_path);
    }
    const std::string name = o.at("name").get<std::string>();
    if (o.at("sha256").is_null()) {
      return DataError("{}: output {} went to standard output and has no recorded digest",
                       ledger_path, name);
    }
    if (!o.at("sha256").is_string()) {
      return DataError("{}: ledger has a malformed output digest", ledger_path);
    }
    // Ledgers store file names without folders (docs/ledger.md): outputs sit
    // beside their ledger unless the caller says where.
    const std::string dir = DirName(ledger_path);
    const std::string path =
        !out.empty() ? out : (dir == "." ? BaseName(name) : dir + "/" + BaseName(name));
    DPS_ASSIGN_OR_RETURN(const std::string actual, FileSha256(path));
    const std::string expected = o.at("sha256").get<std::string>();
    if (actual != expected) {
      return DataError(
          "{}: SHA-256 {} differs from the one its ledger {} records ({}): they are not a pair "
          "(the output was changed, or replaced without its ledger)",
          path, actual.substr(0, 16), ledger_path, expected.substr(0, 16));
    }
    report += fmt::format("{}: ok (sha256 {})\n", path, actual);
  }
  return report;
}

}  // namespace dpsanitize
