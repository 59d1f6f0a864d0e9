// Streaming UTF-8 tokenizer: splits a document into words and gaps.
//
// A *word* is a maximal run of word characters, where a word character is a
// Unicode letter (categories L*), a decimal digit (Nd), or a combining mark
// (M*) that follows one of those. Inside a word, a single joiner (apostrophe
// U+0027, right single quotation mark U+2019, hyphen-minus U+002D or hyphen
// U+2010) is kept when a word character follows it directly: "don't",
// "cross-country" and "rock’n’roll" are one word each, while "'quoted'",
// "--" and "end-" keep their punctuation in the gaps. Everything else is a
// *gap* and is copied byte for byte.
//
// Usage:
//   std::vector<Span> spans;
//   Tokenize(line, &spans);        // line must be valid UTF-8
//   for (const Span& s : spans) ... line.substr(s.begin, s.size) ...
//   LookupKey(word, &key);         // lower-cased key for the embedding
//   CasePattern p = DetectCase(word); ApplyCase(p, out_word, &rendered);
#ifndef DPSANITIZE_TOKENIZE_TOKENIZER_H_
#define DPSANITIZE_TOKENIZE_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dpsanitize {

struct Span {
  uint32_t begin;  // byte offset in the document
  uint32_t size;   // bytes
  bool is_word;
};

// Splits `text` (valid UTF-8) into alternating gap and word spans that cover
// it exactly. Clears `spans` first; reuses its capacity.
void Tokenize(std::string_view text, std::vector<Span>* spans);

// Returns the byte offset of the first invalid UTF-8 sequence in `text`, or
// std::string_view::npos when it is valid.
size_t FindInvalidUtf8(std::string_view text);

// True when `text` is exactly one word under Tokenize().
bool IsSingleWord(std::string_view text);

// The embedding lookup key: lower-cased, U+2019 mapped to ', U+2010 to -.
void LookupKey(std::string_view word, std::string* key);

enum class CasePattern : uint8_t {
  kLower,  // no upper-case letter ("word", "1990")
  kTitle,  // first letter upper or title case, the rest lower ("Word", "I")
  kUpper,  // two or more cased letters, all upper ("WORD")
  kMixed,  // anything else ("iPhone"); rendered lower-case
};

CasePattern DetectCase(std::string_view word);

// Renders `word` (lower-case vocabulary form) with `pattern` into `out`
// (appended). kMixed and kLower append it unchanged.
void AppendWithCase(CasePattern pattern, std::string_view word, std::string* out);

// Appends the lower-case form of `word`.
void AppendLower(std::string_view word, std::string* out);

}  // namespace dpsanitize

#endif  // DPSANITIZE_TOKENIZE_TOKENIZER_H_
