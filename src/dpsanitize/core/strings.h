// Small string helpers shared by the stages: file names, suffixes, hex.
//
//   BaseName("/data/out.txt") == "out.txt"
//   DirName("/data/out.txt") == "/data"
//   EndsWith("in.jsonl", ".jsonl")
//   HexEncode(digest, 32)  // lower-case, two digits per byte
#ifndef DPSANITIZE_CORE_STRINGS_H_
#define DPSANITIZE_CORE_STRINGS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dpsanitize {

// The part of `path` after its last '/', or all of it when there is none.
std::string BaseName(const std::string& path);

// The folder part of `path`: "." when it has no '/', "/" for a file in the
// root ("/x"), else everything before its last '/'.
std::string DirName(const std::string& path);

// True when `s` ends with `suffix` (always true for an empty suffix).
bool EndsWith(std::string_view s, std::string_view suffix);

// The `n` bytes at `p` as lower-case hex, two digits per byte.
std::string HexEncode(const uint8_t* p, size_t n);

}  // namespace dpsanitize

#endif  // DPSANITIZE_CORE_STRINGS_H_
