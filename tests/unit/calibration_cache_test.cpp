// The calibration cache (pipeline/calibration_cache.h) and bem's payload
// (mechanisms/bem_plan.h): what is stored comes back bit for bit; anything
// corrupt, truncated or belonging to another key is refused, never trusted.
#include "dpsanitize/pipeline/calibration_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "dpsanitize/mechanisms/bem_plan.h"

namespace dpsanitize {
namespace {

class CacheDir {
 public:
  CacheDir() {
    char tmpl[] = "/tmp/dps-cache-test-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~CacheDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

TEST(CalibrationCacheTest, StoredPayloadComesBackAndOtherKeysMiss) {
  CacheDir dir;
  ASSERT_FALSE(dir.path().empty());
  FileCalibrationCache cache(dir.path() + "/nested/dpsanitize");
  EXPECT_FALSE(cache.Load("k1").has_value());
  std::string payload("binary\0payload\xff", 15);
  ASSERT_TRUE(cache.Store("k1", payload).ok());
  ASSERT_TRUE(cache.Load("k1").has_value());
  EXPECT_EQ(*cache.Load("k1"), payload);
  EXPECT_FALSE(cache.Load("k2").has_value());
  ASSERT_TRUE(cache.Store("k1", "replaced").ok());
  EXPECT_EQ(*cache.Load("k1"), "replaced");
}

TEST(CalibrationCacheTest, CorruptEntriesAreRefused) {
  CacheDir dir;
  FileCalibrationCache cache(dir.path());
  const std::string payload(1000, 'x');
  ASSERT_TRUE(cache.Store("key", payload).ok());
  const std::string path = cache.PathFor("key");
  const std::string good = ReadAll(path);
  ASSERT_GT(good.size(), payload.size());
  // Every single flipped byte (magic, sizes, checksum, key, payload) is caught.
  for (size_t at = 0; at < good.size(); at += 37) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    WriteAll(path, bad);
    EXPECT_FALSE(cache.Load("key").has_value()) << "byte " << at;
  }
  WriteAll(path, good.substr(0, good.size() - 1));
  EXPECT_FALSE(cache.Load("key").has_value()) << "truncated";
  WriteAll(path, good + "z");
  EXPECT_FALSE(cache.Load("key").has_value()) << "extended";
  WriteAll(path, "");
  EXPECT_FALSE(cache.Load("key").has_value()) << "empty";
  WriteAll(path, good);
  EXPECT_EQ(cache.Load("key").value_or(""), payload);
}

TEST(CalibrationCacheTest, EmptyDirectoryDisablesTheCache) {
  FileCalibrationCache cache("");
  EXPECT_TRUE(cache.Store("key", "payload").ok());
  EXPECT_FALSE(cache.Load("key").has_value());
}

TEST(CalibrationCacheTest, DefaultDirectoryFollowsXdg) {
  const char* old_xdg = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old_xdg ? old_xdg : "";
  ::setenv("XDG_CACHE_HOME", "/some/cache", 1);
  EXPECT_EQ(DefaultCacheDir(), "/some/cache/dpsanitize");
  ::setenv("XDG_CACHE_HOME", "relative", 1);  // not absolute: ignored (XDG spec)
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    EXPECT_EQ(DefaultCacheDir(), std::string(home) + "/.cache/dpsanitize");
  }
  if (old_xdg) {
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  } else {
    ::unsetenv("XDG_CACHE_HOME");
  }
}

BemSolution SmallSolution() {
  BemSolution s;
  s.requested_eps = 2.5;
  s.eps1 = 2.25;
  s.lipschitz = 0.125;
  s.log_z_spread = 0.5;
  s.iterations = 300;
  s.rounds = 2;
  s.log_alpha = {0.0, -0.5, -1.25, -1e-300};
  return s;
}

TEST(BemPayloadTest, RoundTripsBitForBit) {
  const BemSolution s = SmallSolution();
  auto back = ParseBemSolution(SerializeBemSolution(s), 4, 2.5);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back.value().eps1, s.eps1);
  EXPECT_EQ(back.value().lipschitz, s.lipschitz);
  EXPECT_EQ(back.value().log_z_spread, s.log_z_spread);
  EXPECT_EQ(back.value().iterations, 300);
  EXPECT_EQ(back.value().rounds, 2);
  EXPECT_EQ(back.value().log_alpha, s.log_alpha);
}

TEST(BemPayloadTest, InconsistentPayloadsAreRefused) {
  const std::string good = SerializeBemSolution(SmallSolution());
  EXPECT_FALSE(ParseBemSolution(good, 5, 2.5).ok()) << "another vocabulary size";
  EXPECT_FALSE(ParseBemSolution(good, 4, 2.0).ok()) << "another eps";
  EXPECT_FALSE(ParseBemSolution(good.substr(0, good.size() - 8), 4, 2.5).ok()) << "truncated";
  EXPECT_FALSE(ParseBemSolution("DPSBEMW1", 4, 2.5).ok()) << "header only";
  EXPECT_FALSE(ParseBemSolution("", 4, 2.5).ok());
  BemSolution over = SmallSolution();
  over.lipschitz = 0.5;  // eps_1 + L = 2.75 > 2.5: a claim above the request
  EXPECT_FALSE(ParseBemSolution(SerializeBemSolution(over), 4, 2.5).ok());
  BemSolution positive = SmallSolution();
  positive.log_alpha[1] = 0.5;
  EXPECT_FALSE(ParseBemSolution(SerializeBemSolution(positive), 4, 2.5).ok());
  BemSolution nan = SmallSolution();
  nan.log_alpha[2] = std::nan("");
  EXPECT_FALSE(ParseBemSolution(SerializeBemSolution(nan), 4, 2.5).ok());
}

TEST(BemPayloadTest, KeyNamesEverythingTheWeightsDependOn) {
  const std::string k = BemCacheKey("abc", 5000, 100, 64, 2.5);
  EXPECT_NE(k, BemCacheKey("abd", 5000, 100, 64, 2.5));
  EXPECT_NE(k, BemCacheKey("abc", 4999, 100, 64, 2.5));
  EXPECT_NE(k, BemCacheKey("abc", 5000, 50, 64, 2.5));
  EXPECT_NE(k, BemCacheKey("abc", 5000, 100, 32, 2.5));
  EXPECT_NE(k, BemCacheKey("abc", 5000, 100, 64, 2.5000000000000004));
}

}  // namespace
}  // namespace dpsanitize
