#include "dpsanitize/tokenize/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace dpsanitize {
namespace {

// Feeds `data` through a pipe and reads it back with LineReader.
struct Result {
  Status status;
  std::vector<std::string> lines;
  size_t batches = 0;
};

Result ReadAll(const std::string& data, size_t max_line, size_t batch_bytes = 1 << 20) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::write(fds[1], data.data() + off, data.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  Result r;
  LineReader reader(fds[0], "test-input", max_line);
  std::string batch;
  std::vector<size_t> ends;
  while (true) {
    auto n = reader.ReadBatch(batch_bytes, 1000, &batch, &ends);
    if (!n.ok()) {
      r.status = n.status();
      break;
    }
    if (*n == 0) break;
    ++r.batches;
    size_t b = 0;
    for (size_t e : ends) {
      r.lines.push_back(batch.substr(b, e - b));
      b = e;
    }
  }
  // Drain so the writer never blocks after an error.
  char sink[4096];
  while (::read(fds[0], sink, sizeof(sink)) > 0) {
  }
  writer.join();
  ::close(fds[0]);
  return r;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x;
  return s;
}

TEST(LineReaderTest, KeepsTerminatorsAndLastLineWithoutNewline) {
  const std::string in = "a\r\nbb\n\nlast";
  Result r = ReadAll(in, 100);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.lines.size(), 4u);
  EXPECT_EQ(r.lines[0], "a\r\n");
  EXPECT_EQ(r.lines[2], "\n");
  EXPECT_EQ(r.lines[3], "last");
  EXPECT_EQ(Join(r.lines), in);
}

TEST(LineReaderTest, EmptyInput) {
  Result r = ReadAll("", 100);
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE(r.lines.empty());
}

TEST(LineReaderTest, LargeInputInManyBatches) {
  std::string in;
  for (int i = 0; i < 200000; ++i) in += "line number " + std::to_string(i) + "\n";
  Result r = ReadAll(in, 100, 64 << 10);
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r.lines.size(), 200000u);
  EXPECT_GT(r.batches, 10u);
  EXPECT_EQ(Join(r.lines), in);
}

TEST(LineReaderTest, OverLongLineIsAnErrorWithItsNumber) {
  const std::string in = "short\n" + std::string(5000, 'x') + "\nmore\n";
  Result r = ReadAll(in, 1000);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), StatusCode::kDataError);
  EXPECT_NE(r.status.message().find("line 2"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("--max-line"), std::string::npos);
  // A line of exactly the limit is fine, with CRLF.
  Result ok = ReadAll(std::string(1000, 'y') + "\r\n", 1000);
  EXPECT_TRUE(ok.status.ok()) << ok.status.message();
}

TEST(LineReaderTest, OverLongLineWithoutNewlineStopsEarly) {
  // A 3 MiB line with a 1 MiB limit fails without reading the whole line.
  Result r = ReadAll(std::string(3 << 20, 'z'), 1 << 20);
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("line 1"), std::string::npos);
}

TEST(LineReaderTest, InvalidUtf8ReportsLineAndOffset) {
  const std::string in = "ok line\nsecond \xFF line\n";
  Result r = ReadAll(in, 100);
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.message(), "test-input: invalid UTF-8 at line 2, byte offset 15");
}

}  // namespace
}  // namespace dpsanitize
