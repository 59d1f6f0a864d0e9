#include "dpsanitize/tokenize/tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dpsanitize {
namespace {

// Renders spans as "[word]" and gaps verbatim, to compare with one string.
std::string Show(std::string_view text) {
  std::vector<Span> spans;
  Tokenize(text, &spans);
  std::string out;
  size_t covered = 0;
  for (const Span& s : spans) {
    EXPECT_EQ(s.begin, covered) << "spans must tile the text";
    covered += s.size;
    const std::string_view t = text.substr(s.begin, s.size);
    if (s.is_word) {
      out += "[" + std::string(t) + "]";
    } else {
      out += std::string(t);
    }
  }
  EXPECT_EQ(covered, text.size());
  return out;
}

TEST(TokenizerTest, AsciiWordsAndGaps) {
  EXPECT_EQ(Show("Hello, world!"), "[Hello], [world]!");
  EXPECT_EQ(Show("  two  spaces\t\ttabs "), "  [two]  [spaces]\t\t[tabs] ");
}

TEST(TokenizerTest, DigitsAreWordCharacters) {
  EXPECT_EQ(Show("In 1776, 40,000 men"), "[In] [1776], [40],[000] [men]");
  EXPECT_EQ(Show("covid19"), "[covid19]");
}

TEST(TokenizerTest, InnerApostrophesAndHyphensJoin) {
  EXPECT_EQ(Show("don't cross-country rock’n’roll"), "[don't] [cross-country] [rock’n’roll]");
  EXPECT_EQ(Show("'quoted' end- -start a--b"), "'[quoted]' [end]- -[start] [a]--[b]");
  EXPECT_EQ(Show("nations'"), "[nations]'");
}

TEST(TokenizerTest, UnicodeLettersAndMarks) {
  EXPECT_EQ(Show("café naïve Ελλάδα"), "[café] [naïve] [Ελλάδα]");
  // 'e' followed by a combining acute accent (U+0301) stays one word.
  EXPECT_EQ(Show("cafe\xCC\x81!"), "[cafe\xCC\x81]!");
  // A combining mark with no letter before it is a gap.
  EXPECT_EQ(Show("\xCC\x81x"), "\xCC\x81[x]");
  EXPECT_EQ(Show("東京 — emoji 🙂 ok"), "[東京] — [emoji] 🙂 [ok]");
}

TEST(TokenizerTest, EmptyAndGapOnly) {
  EXPECT_EQ(Show(""), "");
  EXPECT_EQ(Show("...\r\n"), "...\r\n");
}

TEST(TokenizerTest, CrlfAndNoFinalNewline) { EXPECT_EQ(Show("one\r\ntwo"), "[one]\r\n[two]"); }

TEST(TokenizerTest, FindInvalidUtf8) {
  EXPECT_EQ(FindInvalidUtf8("plain ascii text that is long enough"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("abc\xFF"), 3u);
  EXPECT_EQ(FindInvalidUtf8("0123456789\xC3"), 10u);  // truncated sequence
  EXPECT_EQ(FindInvalidUtf8("ab\xED\xA0\x80"), 2u);   // UTF-16 surrogate
  EXPECT_EQ(FindInvalidUtf8("ab\xC0\xAF"), 2u);       // overlong
}

TEST(TokenizerTest, IsSingleWord) {
  EXPECT_TRUE(IsSingleWord("house"));
  EXPECT_TRUE(IsSingleWord("well-known"));
  EXPECT_FALSE(IsSingleWord(","));
  EXPECT_FALSE(IsSingleWord("u.s."));
  EXPECT_FALSE(IsSingleWord("--"));
  EXPECT_FALSE(IsSingleWord("'s"));
  EXPECT_FALSE(IsSingleWord("new york"));
  EXPECT_FALSE(IsSingleWord(""));
}

TEST(TokenizerTest, LookupKeyLowercases) {
  std::string key;
  LookupKey("HeLLo", &key);
  EXPECT_EQ(key, "hello");
  LookupKey("ÉCOLE", &key);
  EXPECT_EQ(key, "école");
  LookupKey("Don’t", &key);
  EXPECT_EQ(key, "don't");
}

TEST(TokenizerTest, DetectCase) {
  EXPECT_EQ(DetectCase("word"), CasePattern::kLower);
  EXPECT_EQ(DetectCase("1990"), CasePattern::kLower);
  EXPECT_EQ(DetectCase("Word"), CasePattern::kTitle);
  EXPECT_EQ(DetectCase("I"), CasePattern::kTitle);
  EXPECT_EQ(DetectCase("Über"), CasePattern::kTitle);
  EXPECT_EQ(DetectCase("WORD"), CasePattern::kUpper);
  EXPECT_EQ(DetectCase("ÜBER"), CasePattern::kUpper);
  EXPECT_EQ(DetectCase("iPhone"), CasePattern::kMixed);
  EXPECT_EQ(DetectCase("McDonald"), CasePattern::kMixed);
}

TEST(TokenizerTest, AppendWithCase) {
  std::string out;
  AppendWithCase(CasePattern::kTitle, "über", &out);
  out += ' ';
  AppendWithCase(CasePattern::kUpper, "straße", &out);
  out += ' ';
  AppendWithCase(CasePattern::kLower, "word", &out);
  out += ' ';
  AppendWithCase(CasePattern::kMixed, "word", &out);
  out += ' ';
  AppendWithCase(CasePattern::kTitle, "3d", &out);
  // utf8proc maps ß to the capital sharp s U+1E9E.
  EXPECT_EQ(out, "Über STRAẞE word word 3D");
  out.clear();
  AppendLower("ÉCOLE Ok", &out);
  EXPECT_EQ(out, "école ok");
}

}  // namespace
}  // namespace dpsanitize
