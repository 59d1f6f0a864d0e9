#include "dpsanitize/random/keyed_rng.h"

#include <gtest/gtest.h>

#include <set>

#include "unit/test_util.h"

namespace dpsanitize {
namespace {

std::vector<uint64_t> Draw(const RunKey& k, uint64_t doc, uint32_t field, uint64_t pos, int n) {
  WordRng rng(k, doc, field, pos);
  std::vector<uint64_t> v;
  for (int i = 0; i < n; ++i) v.push_back(rng.NextU64());
  return v;
}

TEST(KeyedRngTest, SameCoordinatesSameStream) {
  const RunKey k = RunKey::FromSeed("abc");
  EXPECT_EQ(Draw(k, 1, 0, 2, 40), Draw(RunKey::FromSeed("abc"), 1, 0, 2, 40));
  EXPECT_EQ(k.kind, RandomnessKind::kSeeded);
}

TEST(KeyedRngTest, AnyCoordinateChangesTheStream) {
  const RunKey k = RunKey::FromSeed("abc");
  const auto base = Draw(k, 1, 0, 2, 4);
  EXPECT_NE(base, Draw(k, 2, 0, 2, 4));
  EXPECT_NE(base, Draw(k, 1, 1, 2, 4));
  EXPECT_NE(base, Draw(k, 1, 0, 3, 4));
  EXPECT_NE(base, Draw(RunKey::FromSeed("abd"), 1, 0, 2, 4));
  // Swapping document and position must not collide either.
  EXPECT_NE(Draw(k, 2, 0, 1, 4), Draw(k, 1, 0, 2, 4));
}

TEST(KeyedRngTest, FreshKeysDiffer) {
  const RunKey a = RunKey::Fresh();
  const RunKey b = RunKey::Fresh();
  EXPECT_NE(a.bytes, b.bytes);
  EXPECT_EQ(a.kind, RandomnessKind::kCsprng);
}

TEST(KeyedRngTest, StreamContinuesAcrossRefills) {
  const RunKey k = RunKey::FromSeed("refill");
  const auto v = Draw(k, 0, 0, 0, 100);
  std::set<uint64_t> distinct(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), v.size());
}

TEST(KeyedRngTest, UniformIsInOpenInterval) {
  WordRng rng(RunKey::FromSeed("u"), 0, 0, 0);
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    const double u = rng.Uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Mean 0.5, standard error 0.0009: 6 standard errors.
  EXPECT_NEAR(sum / 100000, 0.5, 0.0055);
}

TEST(KeyedRngTest, KeyFile) {
  testing::TempDir dir;
  testing::WriteFile(dir.File("k"), std::string(32, 'k'));
  testing::WriteFile(dir.File("short"), "too short");
  auto a = RunKey::FromFile(dir.File("k"));
  auto b = RunKey::FromFile(dir.File("k"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_EQ(a->kind, RandomnessKind::kKeyed);
  auto s = RunKey::FromFile(dir.File("short"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUsage);
  EXPECT_FALSE(RunKey::FromFile(dir.File("missing")).ok());
}

}  // namespace
}  // namespace dpsanitize
