// Fuzzes the tokenizer on any valid UTF-8: the spans must cover the input
// exactly, in order, alternating gaps and words (no empty span, no two words
// or two gaps in a row), so that re-joining them gives the input bytes; each
// word span must read back as exactly one word; the case helpers must keep a
// word one word. Invalid UTF-8 is what the line reader rejects before the
// tokenizer (its precondition), so such inputs are only checked to be found.
// fuzz-link: dpsanitize::tokenize
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/tokenize/tokenizer.h"

namespace {

using dpsanitize::Span;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t bad = dpsanitize::FindInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    Check(bad < size);
    // The prefix before the first invalid sequence is valid.
    Check(dpsanitize::FindInvalidUtf8(text.substr(0, bad)) == std::string_view::npos);
    return 0;
  }
  std::vector<Span> spans;
  dpsanitize::Tokenize(text, &spans);
  std::string joined;
  size_t pos = 0;
  std::string key, cased;
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& s = spans[i];
    Check(s.begin == pos);
    Check(s.size > 0);
    Check(s.begin + s.size <= size);
    if (i > 0) Check(s.is_word != spans[i - 1].is_word);
    const std::string_view piece = text.substr(s.begin, s.size);
    joined.append(piece);
    pos += s.size;
    if (s.is_word) {
      Check(dpsanitize::IsSingleWord(piece));
      dpsanitize::LookupKey(piece, &key);
      Check(dpsanitize::FindInvalidUtf8(key) == std::string_view::npos);
      cased.clear();
      dpsanitize::AppendWithCase(dpsanitize::DetectCase(piece), key, &cased);
      Check(dpsanitize::FindInvalidUtf8(cased) == std::string_view::npos);
    }
  }
  Check(pos == size);
  Check(joined == text);
  return 0;
}
