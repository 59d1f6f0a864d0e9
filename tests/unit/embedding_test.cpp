#include "dpsanitize/embed/embedding.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/neighbors/tail_bounds_builder.h"
#include "dpsanitize/pipeline/prepare.h"
#include "unit/test_util.h"

namespace dpsanitize {
namespace {

using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

StatusOr<std::unique_ptr<Embedding>> OpenText(const TempDir& dir, const std::string& text,
                                              const std::string& name = "emb.txt") {
  WriteFile(dir.File(name), text);
  return Embedding::Open(dir.File(name));
}

void ExpectError(const StatusOr<std::unique_ptr<Embedding>>& r, StatusCode code,
                 const std::string& needle) {
  ASSERT_FALSE(r.ok()) << "expected an error containing: " << needle;
  EXPECT_EQ(r.status().code(), code);
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
}

TEST(EmbeddingTest, ReadsGloveText) {
  TempDir dir;
  auto r = OpenText(dir, "the 0.1 0.2 0.3\n, 1 2 3\nhouse -1.5 2e-3 4\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Embedding& e = *r.value();
  EXPECT_EQ(e.size(), 3u);
  EXPECT_EQ(e.dim(), 3u);
  EXPECT_EQ(e.word(2), "house");
  EXPECT_FLOAT_EQ(e.vector(2)[1], 0.002f);
  EXPECT_TRUE(e.usable(0));
  EXPECT_FALSE(e.usable(1));  // punctuation is never a word
  EXPECT_FALSE(e.prepared());
  EXPECT_EQ(e.content_sha256().size(), 64u);
}

TEST(EmbeddingTest, ReadsVecTextWithHeaderAndCrlf) {
  TempDir dir;
  auto r = OpenText(dir, "2 2\r\nfoo 1 2\r\nBar 3 4\r\n", "emb.vec");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value()->size(), 2u);
  EXPECT_EQ(r.value()->dim(), 2u);
  EXPECT_FALSE(r.value()->usable(1));  // upper case cannot be looked up
}

TEST(EmbeddingTest, BadTextFilesGetClearErrors) {
  TempDir dir;
  ExpectError(OpenText(dir, ""), StatusCode::kDataError, "empty embedding file");
  ExpectError(OpenText(dir, "a 1 2\nb 1 2 3\n"), StatusCode::kDataError,
              "emb.txt:2: expected 2 vector values, found 3");
  ExpectError(OpenText(dir, "a 1 2\nb 1 x\n"), StatusCode::kDataError,
              "emb.txt:2: value 2 is not a number");
  ExpectError(OpenText(dir, "a 1 nan\n"), StatusCode::kDataError, "emb.txt:1: value 2 is not");
  ExpectError(OpenText(dir, "a 1 inf\n"), StatusCode::kDataError, "emb.txt:1: value 2 is not");
  ExpectError(OpenText(dir, "a 1 1e99\n"), StatusCode::kDataError, "out of float range");
  ExpectError(OpenText(dir, "a 1 2\nb 3 4\na 5 6\n"), StatusCode::kDataError,
              "emb.txt:3: duplicate word 'a' (first on line 1)");
  ExpectError(OpenText(dir, "3 2\na 1 2\nb 3 4\n"), StatusCode::kDataError,
              "declares 3 words but the file has 2");
  ExpectError(OpenText(dir, "2 2\na 1 2 3\n"), StatusCode::kDataError,
              "emb.txt:2: expected 2 vector values, found 3");
  ExpectError(Embedding::Open(dir.File("missing.vec")), StatusCode::kIoError, "missing.vec");
}

TEST(EmbeddingTest, PreparedRoundTrip) {
  TempDir dir;
  WriteFile(dir.File("e.txt"), "the 0 0\nof 3 4\nhouse 6 8\n\xE2\x80\x9C 1 1\n");
  PrepareReport report;
  ASSERT_TRUE(Prepare(dir.File("e.txt"), dir.File("e.dpsemb"), {50000}, 2, 4, &report).ok());
  EXPECT_EQ(report.usable, 3u);
  EXPECT_EQ(report.tail_clusters, 3u);  // at most one cluster per word
  ASSERT_EQ(report.stats.size(), 1u);
  EXPECT_DOUBLE_EQ(report.stats[0].delta_min, 5.0);
  EXPECT_EQ(report.table_k, 2u);
  auto text = Embedding::Open(dir.File("e.txt"));
  auto bin = Embedding::Open(dir.File("e.dpsemb"));
  ASSERT_TRUE(bin.ok()) << bin.status().message();
  const Embedding& b = *bin.value();
  EXPECT_TRUE(b.prepared());
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < b.size(); ++i) {
    EXPECT_EQ(b.word(i), text.value()->word(i));
    EXPECT_EQ(b.usable(i), text.value()->usable(i));
    for (uint32_t d = 0; d < b.dim(); ++d) EXPECT_EQ(b.vector(i)[d], text.value()->vector(i)[d]);
  }
  EXPECT_EQ(b.content_sha256(), text.value()->content_sha256());
  Vocabulary vocab(b, 0);
  ASSERT_EQ(vocab.size(), 3u);
  auto stored = vocab.StoredStats();
  ASSERT_TRUE(stored.has_value());
  EXPECT_DOUBLE_EQ(stored->delta_min, 5.0);
  EXPECT_FALSE(stored->delta_max_exact);
  // Another vocabulary size has no stored values: they are never reused.
  EXPECT_FALSE(Vocabulary(b, 2).StoredStats().has_value());
}

TEST(EmbeddingTest, FixtureConvertsAndFindsWords) {
  TempDir dir;
  PrepareReport report;
  ASSERT_TRUE(Prepare(DPS_FIXTURE_VEC, dir.File("f.dpsemb"), {50000, 1000}, 64, 16, &report).ok());
  EXPECT_EQ(report.words, 5000u);
  EXPECT_EQ(report.dim, 100u);
  ASSERT_EQ(report.stats.size(), 2u);
  auto e = Embedding::Open(dir.File("f.dpsemb"));
  ASSERT_TRUE(e.ok());
  Vocabulary v(*e.value(), 0);
  EXPECT_EQ(v.size(), report.usable);
  ASSERT_TRUE(v.Find("october").has_value());
  EXPECT_EQ(v.word(*v.Find("october")), "october");
  EXPECT_FALSE(v.Find(",").has_value());
  EXPECT_FALSE(v.Find("October").has_value());  // keys are lower case
  // Word ids follow frequency order: "the" is the most frequent word.
  EXPECT_EQ(*v.Find("the"), 0u);
  // The stored neighbour table holds the exact lists of this vocabulary.
  const NeighborTable& t = e.value()->neighbor_table();
  ASSERT_EQ(t.k, 64u);
  ASSERT_EQ(t.vocab_size, v.size());
  std::vector<Neighbor> expected;
  for (WordId w = 0; w < v.size(); w += 97) {
    ExactNeighborsScan(v.vectors(), w, 64, &expected);
    for (size_t j = 0; j < 64; ++j) {
      ASSERT_EQ(t.row(w)[j].id, expected[j].id) << w << " " << j;
      ASSERT_EQ(t.row(w)[j].dist, expected[j].dist);
    }
  }
  // The stored tail bounds are those of this vocabulary, byte for byte the
  // ones a fresh computation on one thread gives (prepare used all cores:
  // the result does not depend on the thread count).
  const TailBounds& tb = e.value()->tail_bounds();
  ASSERT_EQ(report.tail_clusters, 16u);
  ASSERT_EQ(tb.clusters, 16u);
  ASSERT_EQ(tb.vocab_size, v.size());
  auto fresh = ComputeTailBounds(v.vectors(), 16, 1);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(tb.step, fresh.value().step);
  EXPECT_TRUE(std::equal(fresh.value().offsets.begin(), fresh.value().offsets.end(), tb.offsets));
  EXPECT_TRUE(std::equal(fresh.value().members.begin(), fresh.value().members.end(), tb.members));
  EXPECT_TRUE(std::equal(fresh.value().bounds.begin(), fresh.value().bounds.end(), tb.bounds));
}

// A prepared file whose tail-bounds section is damaged (a member id out of
// range, a repeated member) does not open: every id the sampler would read
// is checked first.
TEST(EmbeddingTest, CorruptTailBoundsAreRefused) {
  TempDir dir;
  WriteFile(dir.File("e.txt"), "the 0 0\nof 3 4\nhouse 6 8\nred 1 7\n");
  PrepareReport report;
  ASSERT_TRUE(Prepare(dir.File("e.txt"), dir.File("e.dpsemb"), {50000}, 2, 2, &report).ok());
  ASSERT_EQ(report.tail_clusters, 2u);
  const std::string bytes = ReadFile(dir.File("e.dpsemb"));
  auto ok = Embedding::Open(dir.File("e.dpsemb"));
  ASSERT_TRUE(ok.ok());
  const TailBounds& tb = ok.value()->tail_bounds();
  ASSERT_EQ(tb.clusters, 2u);
  const auto* base = reinterpret_cast<const char*>(tb.offsets);
  // Where the member list sits in the file: the section starts 64-aligned
  // after the table; find it by its (unique) offsets record.
  std::string offsets_bytes(base, (tb.clusters + 1) * 4);
  const size_t at =
      bytes.rfind(offsets_bytes + std::string(reinterpret_cast<const char*>(tb.members), 16));
  ASSERT_NE(at, std::string::npos);
  const size_t member0 = at + offsets_bytes.size();
  std::string b = bytes;
  b[member0] = 9;  // id 9 in a 4-word vocabulary
  WriteFile(dir.File("e.dpsemb"), b);
  ExpectError(Embedding::Open(dir.File("e.dpsemb")), StatusCode::kDataError, "tail bounds");
  b = bytes;
  std::memcpy(&b[member0], &bytes[member0 + 4], 4);  // the second member twice
  WriteFile(dir.File("e.dpsemb"), b);
  ExpectError(Embedding::Open(dir.File("e.dpsemb")), StatusCode::kDataError, "tail bounds");
}

class BinaryCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.File("e.txt"), "the 0 0\nof 3 4\nhouse 6 8\n");
    PrepareReport report;
    ASSERT_TRUE(
        Prepare(dir_.File("e.txt"), path_ = dir_.File("e.dpsemb"), {10}, 0, 0, &report).ok());
    bytes_ = ReadFile(path_);
  }
  TempDir dir_;
  std::string path_;
  std::string bytes_;
};

TEST_F(BinaryCorruptionTest, Truncated) {
  WriteFile(path_, bytes_.substr(0, bytes_.size() - 5));
  ExpectError(Embedding::Open(path_), StatusCode::kDataError, "truncated");
  WriteFile(path_, bytes_.substr(0, 40));
  ExpectError(Embedding::Open(path_), StatusCode::kDataError, "truncated");
}

TEST_F(BinaryCorruptionTest, WrongMagic) {
  std::string b = bytes_;
  b[0] = 'X';
  WriteFile(path_, b);
  ExpectError(Embedding::Open(path_), StatusCode::kDataError, "wrong magic");
}

TEST_F(BinaryCorruptionTest, WrongVersion) {
  std::string b = bytes_;
  b[8] = 7;
  WriteFile(path_, b);
  ExpectError(Embedding::Open(path_), StatusCode::kDataError, "version 7");
}

TEST_F(BinaryCorruptionTest, HeaderChecksum) {
  std::string b = bytes_;
  b[12] ^= 1;  // dimension
  WriteFile(path_, b);
  auto r = Embedding::Open(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataError);
}

}  // namespace
}  // namespace dpsanitize

namespace dpsanitize {
namespace {

TEST(WinkJsonTest, ReadsVectorsDroppingNormAndIndex) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("w.json"),
                     R"({"precision":8,"l2NormIndex":2,"wordIndex":3,"size":3,"dimensions":2,)"
                     R"("words":["the",",","of"],"vectors":{"of":[3,4,5,2],"the":[1,2,2.23,0],)"
                     R"(",":[0.5,0.25,0.6,1]},"unkVector":[0,0,0,-1]})");
  auto r = Embedding::Open(dir.File("w.json"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Embedding& e = *r.value();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e.dim(), 2u);
  EXPECT_EQ(e.word(0), "the");
  EXPECT_EQ(e.word(2), "of");
  EXPECT_EQ(e.vector(2)[0], 3.0f);
  EXPECT_EQ(e.vector(2)[1], 4.0f);
  EXPECT_EQ(e.vector(1)[1], 0.25f);
  EXPECT_FALSE(e.usable(1));
}

TEST(WinkJsonTest, IndexMismatchAndWrongLengthAreErrors) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("w.json"),
                     R"({"dimensions":2,"words":["the","of"],"vectors":{"the":[1,2,2.2,1]}})");
  auto r = Embedding::Open(dir.File("w.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos) << r.status().message();
  testing::WriteFile(dir.File("w.json"),
                     R"({"dimensions":2,"words":["the"],"vectors":{"the":[1,2,0]}})");
  r = Embedding::Open(dir.File("w.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expected 2 + 2"), std::string::npos) << r.status().message();
  testing::WriteFile(dir.File("w.json"), R"({"dimensions":2,"words":["the"],"vectors":{"the":[1,)");
  EXPECT_FALSE(Embedding::Open(dir.File("w.json")).ok());
}

}  // namespace
}  // namespace dpsanitize
