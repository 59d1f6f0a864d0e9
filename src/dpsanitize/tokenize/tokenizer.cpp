// Word/gap tokenizer over UTF-8 (see tokenizer.h for the word definition).
// ASCII goes through a 128-entry table; other code points through utf8proc's
// Unicode category tables. No locale is consulted anywhere.
#include "dpsanitize/tokenize/tokenizer.h"

#include <utf8proc.h>

#include <array>

namespace dpsanitize {
namespace {

enum CharClass : uint8_t { kOther = 0, kWordChar = 1, kMark = 2, kJoiner = 3 };

constexpr std::array<uint8_t, 128> MakeAsciiTable() {
  std::array<uint8_t, 128> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kWordChar;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kWordChar;
  for (int c = '0'; c <= '9'; ++c) t[c] = kWordChar;
  t['\''] = kJoiner;
  t['-'] = kJoiner;
  return t;
}
constexpr std::array<uint8_t, 128> kAscii = MakeAsciiTable();

CharClass ClassifyCodepoint(utf8proc_int32_t cp) {
  if (cp == 0x2019 || cp == 0x2010) return kJoiner;
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
      return kWordChar;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
      return kMark;
    default:
      return kOther;
  }
}

// Decodes the code point at text[i]; returns its class and sets *len.
// Invalid bytes (callers validate first) count as one-byte gap characters.
inline CharClass ClassAt(std::string_view text, size_t i, size_t* len) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) {
    *len = 1;
    return static_cast<CharClass>(kAscii[c]);
  }
  utf8proc_int32_t cp = 0;
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i);
  const utf8proc_ssize_t n =
      utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
  if (n <= 0) {
    *len = 1;
    return kOther;
  }
  *len = static_cast<size_t>(n);
  return ClassifyCodepoint(cp);
}

inline void AppendCodepoint(utf8proc_int32_t cp, std::string* out) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

// Calls f(cp) for each code point of valid UTF-8 `text`.
template <typename F>
void ForEachCodepoint(std::string_view text, F&& f) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      f(static_cast<utf8proc_int32_t>(c));
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i);
    utf8proc_ssize_t n = utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(text.size() - i), &cp);
    if (n <= 0) {
      n = 1;
      cp = 0xFFFD;
    }
    f(cp);
    i += static_cast<size_t>(n);
  }
}

}  // namespace

void Tokenize(std::string_view text, std::vector<Span>* spans) {
  spans->clear();
  const size_t n = text.size();
  size_t gap_begin = 0;
  size_t i = 0;
  while (i < n) {
    size_t len = 0;
    if (ClassAt(text, i, &len) != kWordChar) {
      i += len;
      continue;
    }
    // A word starts at i.
    const size_t word_begin = i;
    i += len;
    while (i < n) {
      const CharClass cls = ClassAt(text, i, &len);
      if (cls == kWordChar || cls == kMark) {
        i += len;
        continue;
      }
      if (cls == kJoiner && i + len < n) {
        size_t next_len = 0;
        if (ClassAt(text, i + len, &next_len) == kWordChar) {
          i += len + next_len;
          continue;
        }
      }
      break;
    }
    if (word_begin > gap_begin) {
      spans->push_back(
          {static_cast<uint32_t>(gap_begin), static_cast<uint32_t>(word_begin - gap_begin), false});
    }
    spans->push_back(
        {static_cast<uint32_t>(word_begin), static_cast<uint32_t>(i - word_begin), true});
    gap_begin = i;
  }
  if (n > gap_begin) {
    spans->push_back(
        {static_cast<uint32_t>(gap_begin), static_cast<uint32_t>(n - gap_begin), false});
  }
}

size_t FindInvalidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    // Skip ASCII eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t block;
      __builtin_memcpy(&block, text.data() + i, 8);
      if (block & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    utf8proc_int32_t cp = 0;
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i);
    const utf8proc_ssize_t len = utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(n - i), &cp);
    if (len <= 0) return i;
    i += static_cast<size_t>(len);
  }
  return std::string_view::npos;
}

bool IsSingleWord(std::string_view text) {
  if (text.empty() || FindInvalidUtf8(text) != std::string_view::npos) return false;
  std::vector<Span> spans;
  Tokenize(text, &spans);
  return spans.size() == 1 && spans[0].is_word;
}

void LookupKey(std::string_view word, std::string* key) {
  key->clear();
  bool ascii = true;
  for (char c : word) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    key->resize(word.size());
    for (size_t i = 0; i < word.size(); ++i) {
      const char c = word[i];
      (*key)[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    return;
  }
  ForEachCodepoint(word, [&](utf8proc_int32_t cp) {
    if (cp == 0x2019) cp = '\'';
    if (cp == 0x2010) cp = '-';
    AppendCodepoint(utf8proc_tolower(cp), key);
  });
}

CasePattern DetectCase(std::string_view word) {
  int upper = 0;
  int lower = 0;
  bool first_cased_is_upper = false;
  bool seen_cased = false;
  ForEachCodepoint(word, [&](utf8proc_int32_t cp) {
    bool is_upper = false;
    bool is_lower = false;
    if (cp < 0x80) {
      is_upper = cp >= 'A' && cp <= 'Z';
      is_lower = cp >= 'a' && cp <= 'z';
    } else {
      const utf8proc_category_t cat = utf8proc_category(cp);
      is_upper = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT;
      is_lower = cat == UTF8PROC_CATEGORY_LL;
    }
    if (is_upper) ++upper;
    if (is_lower) ++lower;
    if (!seen_cased && (is_upper || is_lower)) {
      seen_cased = true;
      first_cased_is_upper = is_upper;
    }
  });
  if (upper == 0) return CasePattern::kLower;
  if (lower == 0 && upper >= 2) return CasePattern::kUpper;
  if (upper == 1 && first_cased_is_upper) return CasePattern::kTitle;
  return CasePattern::kMixed;
}

void AppendWithCase(CasePattern pattern, std::string_view word, std::string* out) {
  switch (pattern) {
    case CasePattern::kLower:
    case CasePattern::kMixed:
      out->append(word);
      return;
    case CasePattern::kTitle: {
      bool done = false;
      ForEachCodepoint(word, [&](utf8proc_int32_t cp) {
        if (!done && ClassifyCodepoint(cp) == kWordChar &&
            utf8proc_category(cp) != UTF8PROC_CATEGORY_ND) {
          done = true;
          cp = utf8proc_totitle(cp);
        }
        AppendCodepoint(cp, out);
      });
      return;
    }
    case CasePattern::kUpper:
      ForEachCodepoint(word,
                       [&](utf8proc_int32_t cp) { AppendCodepoint(utf8proc_toupper(cp), out); });
      return;
  }
}

void AppendLower(std::string_view word, std::string* out) {
  std::string key;
  ForEachCodepoint(word, [&](utf8proc_int32_t cp) { AppendCodepoint(utf8proc_tolower(cp), out); });
}

}  // namespace dpsanitize
