// Corrupt prepared embeddings (issue 15). Opening a prepared file checks its
// structure (every offset, id and size); `dpsanitize verify` checks every
// byte. With one byte flipped:
//  * Embedding::Open returns an error, or an embedding whose every word,
//    vector, flag, neighbour id and tail-bounds member a run can read is in
//    range: never a crash (scripts/test.sh --asan runs this under ASan);
//  * verify fails, wherever the byte is;
//  * a run on a file whose word offsets or neighbour table are damaged exits
//    1 with one line and leaves nothing in the output folder.
#include "dpsanitize/pipeline/verify.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dpsanitize/embed/embedding.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/pipeline/prepare.h"
#include "e2e/run_binary.h"

namespace dpsanitize {
namespace {

using dps_e2e::ReadFile;
using dps_e2e::RunBinary;
using dps_e2e::RunResult;
using dps_e2e::TempDir;
using dps_e2e::WriteFile;
using ::testing::HasSubstr;

// Where the sections are, from the header (docs/embedding-format.md).
struct Layout {
  uint32_t dim = 0;
  uint64_t count = 0, vectors = 0, offsets = 0, words = 0, words_size = 0, flags = 0, stats = 0,
           stats_count = 0, table = 0, table_vocab = 0, table_k = 0, bounds = 0, bounds_vocab = 0,
           bounds_clusters = 0, file_size = 0;

  struct Section {
    const char* name;
    uint64_t begin, end;
  };
  std::vector<Section> Sections() const {
    std::vector<Section> s{{"header", 0, 256},
                           {"vectors", vectors, vectors + count * dim * 4},
                           {"word offsets", offsets, offsets + (count + 1) * 8},
                           {"words", words, words + words_size},
                           {"usable flags", flags, flags + count},
                           {"stats", stats, stats + stats_count * 64}};
    if (table_k > 0) s.push_back({"neighbour table", table, table + table_vocab * table_k * 16});
    if (bounds_clusters > 0) {
      const uint64_t head = (bounds_clusters + 1 + bounds_vocab) * 4;
      s.push_back({"tail bounds", bounds, bounds + head + bounds_vocab * bounds_clusters * 2});
    }
    return s;
  }
};

Layout ReadLayout(const std::string& bytes) {
  auto u64 = [&](size_t at) {
    uint64_t v;
    std::memcpy(&v, bytes.data() + at, 8);
    return v;
  };
  auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  Layout l;
  l.dim = u32(12);
  l.count = u64(16);
  l.vectors = u64(24);
  l.offsets = u64(32);
  l.words = u64(40);
  l.words_size = u64(48);
  l.flags = u64(56);
  l.stats = u64(64);
  l.stats_count = u32(72);
  l.file_size = u64(80);
  l.table = u64(128);
  l.table_vocab = u64(136);
  l.table_k = u32(144);
  l.bounds = u64(152);
  l.bounds_vocab = u64(160);
  l.bounds_clusters = u32(168);
  return l;
}

// Flips bytes of one file in place, one at a time, and restores them.
class Flipper {
 public:
  explicit Flipper(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CLOEXEC)) {}
  ~Flipper() { ::close(fd_); }
  bool ok() const { return fd_ >= 0; }
  // XORs byte `at` with `mask`; returns the original byte.
  uint8_t Flip(uint64_t at, uint8_t mask) {
    uint8_t b = 0;
    EXPECT_EQ(::pread(fd_, &b, 1, static_cast<off_t>(at)), 1);
    const uint8_t f = static_cast<uint8_t>(b ^ mask);
    EXPECT_EQ(::pwrite(fd_, &f, 1, static_cast<off_t>(at)), 1);
    return b;
  }
  void Restore(uint64_t at, uint8_t b) {
    EXPECT_EQ(::pwrite(fd_, &b, 1, static_cast<off_t>(at)), 1);
  }

 private:
  int fd_;
};

// Everything a run reads through an embedding that opened: every access is
// in range (and under ASan, every byte read is inside the mapping). Returns
// false at the first violation, with a gtest failure.
bool ExpectInRange(const Embedding& e, const Layout& l) {
  const char* blob = e.word(0).data();
  uint64_t sum = 0;
  for (size_t i = 0; i < e.size(); ++i) {
    const std::string_view w = e.word(i);
    if (w.data() < blob || w.data() + w.size() > blob + l.words_size) {
      ADD_FAILURE() << "word " << i << " outside the word blob";
      return false;
    }
    if (!w.empty()) sum += static_cast<uint8_t>(w.back());
    sum += e.usable(i) ? 1 : 0;
  }
  const Vocabulary vocab(e, 0);
  for (WordId id = 0; id < vocab.size(); ++id) {
    if (!vocab.Find(vocab.word(id)).has_value()) sum += 1;
  }
  const NeighborTable& t = e.neighbor_table();
  if (t.k > 0) {
    const Vocabulary tv(e, t.vocab_size);
    if (tv.size() != t.vocab_size) {
      ADD_FAILURE() << "the table's vocabulary has " << tv.size() << " words, not " << t.vocab_size;
      return false;
    }
    for (WordId w = 0; w < t.vocab_size; ++w) {
      for (uint32_t j = 0; j < t.k; ++j) {
        const Neighbor& n = t.row(w)[j];
        if (n.id >= t.vocab_size || n.id == w || !std::isfinite(n.dist)) {
          ADD_FAILURE() << "neighbour " << j << " of word " << w << " out of range";
          return false;
        }
      }
      if (!std::isfinite(Distance(tv.vectors(), w, t.row(w)[0].id))) {
        ADD_FAILURE() << "a vector of the table's vocabulary is not finite";
        return false;
      }
    }
  }
  const TailBounds& b = e.tail_bounds();
  if (b.present()) {
    for (uint32_t c = 0; c < b.clusters; ++c) {
      for (uint32_t i = 0; i < b.Size(c); ++i) {
        if (b.Members(c)[i] >= b.vocab_size) {
          ADD_FAILURE() << "tail-bounds member out of range";
          return false;
        }
      }
    }
    for (WordId w = 0; w < b.vocab_size; w += 7) sum += b.Bound(w, b.clusters - 1) > 0 ? 1 : 0;
  }
  for (const VocabStats& s : e.stats()) {
    if (!std::isfinite(s.delta_min) || !std::isfinite(s.delta_max)) {
      ADD_FAILURE() << "stats not finite";
      return false;
    }
  }
  return sum != 0xFFFFFFFFFFFFFFFFull;  // keeps the reads
}

// About `n` positions spread over [begin, end) with an odd stride, so that
// every byte position within 4-, 8- and 16-byte records gets hit.
std::vector<uint64_t> Spread(uint64_t begin, uint64_t end, uint64_t n) {
  std::vector<uint64_t> at;
  if (end <= begin) return at;
  uint64_t stride = std::max<uint64_t>(1, (end - begin) / n) | 1;
  for (uint64_t p = begin; p < end; p += stride) at.push_back(p);
  return at;
}

// The fixture with a 1,000-word vocabulary, its 16-neighbour table and 16
// tail-bound clusters, prepared once for the suite.
class CorruptPreparedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    PrepareReport report;
    const Status s = Prepare(DPS_FIXTURE_VEC, dir_->File("f.dpsemb"), {1000}, 16, 16, &report);
    ASSERT_TRUE(s.ok()) << s.message();
    bytes_ = new std::string(ReadFile(dir_->File("f.dpsemb")));
  }
  static void TearDownTestSuite() {
    delete bytes_;
    delete dir_;
  }
  static TempDir* dir_;
  static std::string* bytes_;
};
TempDir* CorruptPreparedTest::dir_ = nullptr;
std::string* CorruptPreparedTest::bytes_ = nullptr;

// Every header byte and about 100 bytes of each section, each flipped by
// three masks: open fails with a DataError naming the file, or everything
// reachable is in range.
TEST_F(CorruptPreparedTest, OpenNeverCrashesOnAFlippedByte) {
  const std::string path = dir_->File("flip.dpsemb");
  WriteFile(path, *bytes_);
  const Layout l = ReadLayout(*bytes_);
  ASSERT_EQ(l.file_size, bytes_->size());
  ASSERT_EQ(l.table_k, 16u);
  ASSERT_EQ(l.bounds_clusters, 16u);
  std::vector<uint64_t> at;
  for (const Layout::Section& s : l.Sections()) {
    const std::vector<uint64_t> p = s.end - s.begin <= 256 ? Spread(s.begin, s.end, s.end - s.begin)
                                                           : Spread(s.begin, s.end, 100);
    at.insert(at.end(), p.begin(), p.end());
  }
  Flipper flip(path);
  ASSERT_TRUE(flip.ok());
  size_t opened = 0, refused = 0;
  for (uint64_t p : at) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x40}, uint8_t{0xFF}}) {
      const uint8_t was = flip.Flip(p, mask);
      auto e = Embedding::Open(path);
      if (e.ok()) {
        ++opened;
        ASSERT_TRUE(ExpectInRange(*e.value(), l)) << "byte " << p << " ^ " << int{mask};
      } else {
        ++refused;
        EXPECT_EQ(e.status().code(), StatusCode::kDataError) << e.status().message();
        EXPECT_THAT(e.status().message(), HasSubstr(path));
      }
      flip.Restore(p, was);
    }
  }
  // Both happen: vectors and words open (only verify sees them), the
  // header, offsets, flags and table mostly do not.
  EXPECT_GT(opened, 0u);
  EXPECT_GT(refused, 0u);
}

// The two reads that crashed a run: a word offset and a neighbour id, each
// made huge by one byte; a vector made NaN; a usable flag cleared, which
// silently gave the table's rows to other words. Each is refused at open,
// naming its section.
TEST_F(CorruptPreparedTest, OpenRefusesOutOfRangeOffsetsIdsAndNonFiniteVectors) {
  const std::string path = dir_->File("bad.dpsemb");
  const Layout l = ReadLayout(*bytes_);
  struct Case {
    uint64_t at;
    uint8_t value;
    const char* section;
  };
  const Case cases[] = {
      {l.offsets + 8 + 5, 0x01, "word offsets"},        // offsets[1] += 2^40
      {l.table + 3, 0x40, "neighbour table"},           // id of word 0's nearest: 2^30
      {l.table + 16 * 5 + 2, 0xFF, "neighbour table"},  // id >= 2^24
      {l.vectors + 3, 0x7F, "vectors"},  // with the next byte below: exponent all ones
      // "the" unusable: every word id of the vocabulary shifts by one.
      {l.flags + 0, 0x00, "a usable flag or a vector changed"},
  };
  for (const Case& c : cases) {
    std::string b = *bytes_;
    b[c.at] = static_cast<char>(c.value);
    if (std::string(c.section) == "vectors") b[c.at - 1] = static_cast<char>(0x80);
    WriteFile(path, b);
    auto e = Embedding::Open(path);
    ASSERT_FALSE(e.ok()) << c.section;
    EXPECT_EQ(e.status().code(), StatusCode::kDataError);
    EXPECT_THAT(e.status().message(), HasSubstr(path + ": corrupt prepared embedding: "));
    EXPECT_THAT(e.status().message(), HasSubstr(c.section));
  }
}

// A small prepared file from the fixture's first 48 entries (12 KB): verify
// passes on it, and fails for each of its bytes flipped, every byte of every
// section and of the padding, by one of four masks.
TEST(VerifyTest, FailsOnEveryFlippedByte) {
  TempDir dir;
  const std::vector<std::string> lines = dps_e2e::SplitLines(ReadFile(DPS_FIXTURE_VEC));
  std::string small = "48 100\n";  // the fixture is .vec text: a count line first
  for (size_t i = 1; i <= 48; ++i) small += lines[i];
  WriteFile(dir.File("small.vec"), small);
  const std::string path = dir.File("small.dpsemb");
  PrepareReport report;
  const Status prepared = Prepare(dir.File("small.vec"), path, {1000}, 6, 3, &report);
  ASSERT_TRUE(prepared.ok()) << prepared.message();
  ASSERT_GT(report.table_k, 0u);
  ASSERT_EQ(report.tail_clusters, 3u);
  VerifyReport r;
  const Status clean = VerifyPreparedEmbedding(path, {}, &r);
  ASSERT_TRUE(clean.ok()) << clean.message();
  EXPECT_EQ(r.sha256, report.sha256);
  const std::string bytes = ReadFile(path);
  const Layout l = ReadLayout(bytes);
  Flipper flip(path);
  ASSERT_TRUE(flip.ok());
  VerifyOptions one_thread;  // no thread to start per call: thousands of calls
  one_thread.threads = 1;
  const uint8_t masks[] = {0x01, 0x80, 0x10, 0xFF};
  size_t tried = 0;
  for (uint64_t p = 0; p < bytes.size(); ++p) {
    const uint8_t was = flip.Flip(p, masks[p % 4]);
    const Status s = VerifyPreparedEmbedding(path, one_thread, &r);
    ++tried;
    ASSERT_FALSE(s.ok()) << "byte " << p << " flipped, verify passed";
    EXPECT_THAT(s.message(), HasSubstr(path)) << s.message();
    flip.Restore(p, was);
  }
  EXPECT_EQ(tried, l.file_size);
  // A text embedding has nothing stored to verify: a usage error.
  const Status text = VerifyPreparedEmbedding(dir.File("small.vec"), {}, &r);
  EXPECT_EQ(text.code(), StatusCode::kUsage);
}

// The fixture prepared by the binary with a 1,000-word vocabulary (runs pass
// --vocab-size 1000, so they use its table), once for the suite.
class VerifyCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_dir_ = new TempDir();
    const std::string path = suite_dir_->File("fixture.dpsemb");
    const RunResult r = RunBinary({"prepare", "-q", "--vocab-size", "1000", "--neighbors", "16",
                                   "--tail-clusters", "16", dps_e2e::FixtureVecPath(), path});
    ASSERT_EQ(r.exit_code, 0) << "prepare of the fixture failed: " << r.Describe();
    embedding_ = new std::string(path);
  }
  static void TearDownTestSuite() {
    delete embedding_;
    delete suite_dir_;
  }
  static const std::string& EmbeddingPath() { return *embedding_; }
  TempDir dir_;

 private:
  static TempDir* suite_dir_;
  static std::string* embedding_;
};
TempDir* VerifyCliTest::suite_dir_ = nullptr;
std::string* VerifyCliTest::embedding_ = nullptr;

TEST_F(VerifyCliTest, OkLineOnStdout) {
  const RunResult r = RunBinary({"verify", EmbeddingPath()});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_THAT(r.out,
              ::testing::MatchesRegex("dpsanitize verify: .*: ok \\(sha256 [0-9a-f]{64}\\)\n"));
  EXPECT_EQ(r.err, "");
}

TEST_F(VerifyCliTest, FlippedVectorByteIsOneErrorLine) {
  std::string b = ReadFile(EmbeddingPath());
  const Layout l = ReadLayout(b);
  b[l.vectors + 1000] ^= 0x01;  // a run would not notice; verify does
  const std::string bad = dir_.Write("bad.dpsemb", b);
  const RunResult r = RunBinary({"verify", bad});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(dps_e2e::CountLines(r.err), 1u) << r.err;
  EXPECT_THAT(r.err,
              HasSubstr("dpsanitize: " + bad + ": corrupt prepared embedding: content SHA-256"));
}

// A run on a damaged word-offset table or neighbour table: exit 1, one line,
// nothing left in the output folder (no output, no ledger, no temporary file).
// Before the checks at open, the first case and tg on the second died of
// SIGSEGV, and em on the second exited 0.
TEST_F(VerifyCliTest, RunOnCorruptOffsetsOrTableExitsOneAndLeavesNothing) {
  const std::string good = ReadFile(EmbeddingPath());
  const Layout l = ReadLayout(good);
  struct Case {
    uint64_t at;
    uint8_t mask;
    const char* section;
    std::vector<std::string> mechanism;
  };
  const Case cases[] = {
      // The first word becomes 1 TB long.
      {l.offsets + 8 + 5, 0x01, "word offsets", {"--eps", "100"}},
      // The nearest word of "the" becomes id 2^30.
      {l.table + 3, 0x40, "neighbour table", {"--eps", "100"}},
      {l.table + 3, 0x40, "neighbour table", {"--mechanism", "tg", "--eps", "50"}},
  };
  for (const Case& c : cases) {
    TempDir emb_dir, out_dir;
    std::string b = good;
    b[c.at] = static_cast<char>(b[c.at] ^ c.mask);
    const std::string bad = emb_dir.Write("bad.dpsemb", b);
    const std::string in = emb_dir.Write("in.txt", "the quick brown fox jumps over the lazy dog\n");
    std::vector<std::string> args = c.mechanism;
    args.insert(args.end(),
                {"--vocab-size", "1000", "--embedding", bad, in, out_dir.File("out.txt")});
    const RunResult r = RunBinary(args, {out_dir.path()});
    EXPECT_EQ(r.exit_code, 1) << c.section << ": " << r.Describe();
    EXPECT_EQ(dps_e2e::CountLines(r.err), 1u) << r.err;
    EXPECT_THAT(r.err, HasSubstr("dpsanitize: " + bad + ": corrupt prepared embedding: "));
    EXPECT_THAT(r.err, HasSubstr(c.section));
    EXPECT_TRUE(out_dir.List().empty()) << c.section << ": " << out_dir.List().size() << " files";
  }
}

}  // namespace
}  // namespace dpsanitize
