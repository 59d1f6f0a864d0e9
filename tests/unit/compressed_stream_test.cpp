// io/byte_source.h and io/compressor.h: gzip and zstd streams round-trip,
// are recognised by name or magic number, read concatenated members/frames as
// one stream, do not depend on how the writes were split, and never hand out
// wrong bytes: every truncation and every single-byte change of a stream is
// either an error or (for the few bytes no check covers, such as gzip's
// header time) gives back exactly the original data.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dpsanitize/io/byte_source.h"
#include "dpsanitize/io/compressor.h"

namespace dpsanitize {
namespace {

// Text that compresses like a corpus: words from a small list, in a
// pseudo-random order (fixed seed), with newlines.
std::string SampleText(size_t bytes, uint32_t seed = 7) {
  static const char* kWords[] = {"the",   "movie", "was", "not", "good", "bad",   "plot",
                                 "actor", "a",     "and", "of",  "film", "scene", "ending"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < bytes) {
    s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    s += rng() % 12 == 0 ? '\n' : ' ';
  }
  s.resize(bytes);
  return s;
}

std::string Compress(Compression c, const std::string& data, size_t step = 1 << 20) {
  auto z = Compressor::Create(c, "test");
  EXPECT_TRUE(z.ok()) << z.status().message();
  std::string out;
  for (size_t i = 0; i < data.size(); i += step) {
    EXPECT_TRUE((*z)->Compress(std::string_view(data).substr(i, step), &out).ok());
  }
  EXPECT_TRUE((*z)->Finish(&out).ok());
  return out;
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/dps-compressed-XXXXXX";
    fd_ = ::mkstemp(tmpl);
    path_ = tmpl;
    EXPECT_EQ(::write(fd_, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ::lseek(fd_, 0, SEEK_SET);
  }
  ~TempFile() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  std::string path_;
};

struct ReadResult {
  Status status;
  std::string data;
};

// Reads a whole stream through OpenByteSource, `cap` bytes per Read.
ReadResult ReadFd(int fd, Compression by_name, size_t cap) {
  ReadResult r;
  auto src = OpenByteSource(fd, "test-input", by_name);
  if (!src.ok()) {
    r.status = src.status();
    return r;
  }
  std::vector<char> buf(cap);
  while (true) {
    auto n = (*src)->Read(buf.data(), buf.size());
    if (!n.ok()) {
      r.status = n.status();
      return r;
    }
    if (*n == 0) return r;
    r.data.append(buf.data(), *n);
  }
}

ReadResult ReadBytes(const std::string& file, Compression by_name = Compression::kAuto,
                     size_t cap = 1 << 16) {
  TempFile f(file);
  return ReadFd(f.fd(), by_name, cap);
}

class CompressedStreamTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CompressedStreamTest, RoundTripsAnySizeAndReadSize) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{3} << 20}) {
    const std::string text = SampleText(size);
    const std::string z = Compress(GetParam(), text);
    for (size_t cap : {size_t{1}, size_t{7}, size_t{1} << 16}) {
      if (cap == 1 && size > 100000) continue;  // a byte at a time: slow, same code
      SCOPED_TRACE("size " + std::to_string(size) + ", read size " + std::to_string(cap));
      const ReadResult by_name = ReadBytes(z, GetParam(), cap);
      ASSERT_TRUE(by_name.status.ok()) << by_name.status.message();
      EXPECT_EQ(by_name.data, text);
      const ReadResult sniffed = ReadBytes(z, Compression::kNone, cap);
      ASSERT_TRUE(sniffed.status.ok()) << sniffed.status.message();
      EXPECT_EQ(sniffed.data, text);
    }
  }
}

// The sanitizer writes one part per worker, so the calls' sizes depend on
// --threads; the file must not.
TEST_P(CompressedStreamTest, OutputDoesNotDependOnHowWritesAreSplit) {
  const std::string text = SampleText(2 << 20);
  const std::string whole = Compress(GetParam(), text);
  EXPECT_EQ(Compress(GetParam(), text, 4096), whole);
  EXPECT_EQ(Compress(GetParam(), text, 333333), whole);
  EXPECT_LT(whole.size(), text.size() / 2);  // it does compress
}

TEST_P(CompressedStreamTest, ConcatenatedStreamsReadAsOne) {
  const std::string a = SampleText(5000, 1), b = SampleText(70000, 2);
  const ReadResult r = ReadBytes(Compress(GetParam(), a) + Compress(GetParam(), b), GetParam());
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.data, a + b);
}

TEST_P(CompressedStreamTest, EveryTruncationIsAnErrorNamingAByte) {
  const std::string text = SampleText(3000);
  const std::string z = Compress(GetParam(), text);
  for (size_t cut = 1; cut < z.size(); ++cut) {
    const ReadResult r = ReadBytes(z.substr(0, cut), GetParam());
    ASSERT_FALSE(r.status.ok()) << "cut at " << cut << " of " << z.size() << " read as valid";
    EXPECT_EQ(r.status.code(), StatusCode::kDataError);
    EXPECT_NE(r.status.message().find("test-input"), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("byte"), std::string::npos) << r.status.message();
  }
}

TEST_P(CompressedStreamTest, EveryChangedByteIsAnErrorOrChangesNothing) {
  const std::string text = SampleText(3000);
  const std::string z = Compress(GetParam(), text);
  size_t errors = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xff}) {
      std::string bad = z;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ flip);
      const ReadResult r = ReadBytes(bad, GetParam());
      if (r.status.ok()) {
        ASSERT_EQ(r.data, text) << "byte " << i << " ^ " << int{flip} << " gave other data";
      } else {
        ++errors;
        EXPECT_EQ(r.status.code(), StatusCode::kDataError) << r.status.message();
      }
    }
  }
  EXPECT_GT(errors, 3 * z.size() * 9 / 10);  // nearly every change is caught
}

TEST_P(CompressedStreamTest, GarbageAfterTheStreamIsAnError) {
  const std::string z = Compress(GetParam(), SampleText(2000)) + "trailing text\n";
  EXPECT_FALSE(ReadBytes(z, GetParam()).status.ok());
}

// A pipe cannot be read twice: the bytes looked at for the magic number must
// be given back.
TEST_P(CompressedStreamTest, RecognisedOnAPipe) {
  const std::string text = SampleText(200000);
  const std::string z = Compress(GetParam(), text);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < z.size()) {
      const ssize_t n = ::write(fds[1], z.data() + off, std::min<size_t>(z.size() - off, 999));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  const ReadResult r = ReadFd(fds[0], Compression::kAuto, 1 << 16);
  writer.join();
  ::close(fds[0]);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r.data, text);
}

INSTANTIATE_TEST_SUITE_P(GzipAndZstd, CompressedStreamTest,
                         ::testing::Values(Compression::kGzip, Compression::kZstd),
                         [](const auto& info) { return std::string(CompressionName(info.param)); });

TEST(ByteSourceTest, PlainTextPassesThroughAndAPipeKeepsItsFirstBytes) {
  const std::string text = "ab\nc";  // shorter than a magic number
  const ReadResult r = ReadBytes(text, Compression::kNone, 1);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.data, text);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "hello\nworld\n", 12), 12);
  ::close(fds[1]);
  const ReadResult p = ReadFd(fds[0], Compression::kAuto, 3);
  ::close(fds[0]);
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p.data, "hello\nworld\n");
}

TEST(ByteSourceTest, ANameThatPromisesACompressionMustKeepIt) {
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    const ReadResult r = ReadBytes("plain text, not compressed\n", c);
    ASSERT_FALSE(r.status.ok());
    EXPECT_EQ(r.status.code(), StatusCode::kDataError);
    EXPECT_NE(r.status.message().find(std::string("not ") + CompressionName(c)), std::string::npos)
        << r.status.message();
    EXPECT_FALSE(ReadBytes("", c).status.ok());  // an empty file is not a stream either
  }
  // And a gzip file named .zst is refused, not decoded as gzip.
  EXPECT_FALSE(ReadBytes(Compress(Compression::kGzip, "x\n"), Compression::kZstd).status.ok());
}

}  // namespace
}  // namespace dpsanitize
