#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/neighbors/faiss_index.h"

namespace dpsanitize {
namespace {

class FixtureNeighbors : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto e = Embedding::Open(DPS_FIXTURE_VEC);
    ASSERT_TRUE(e.ok()) << e.status().message();
    emb_ = std::move(e).value().release();
    vocab_ = new Vocabulary(*emb_, 0);
  }
  static void TearDownTestSuite() {
    delete vocab_;
    delete emb_;
  }
  static Embedding* emb_;
  static Vocabulary* vocab_;
};
Embedding* FixtureNeighbors::emb_ = nullptr;
Vocabulary* FixtureNeighbors::vocab_ = nullptr;

TEST_F(FixtureNeighbors, FaissEqualsBruteForce) {
  const VectorSet v = vocab_->vectors();
  auto knn = ExactKnn::Create(v);
  ASSERT_TRUE(knn.ok());
  std::vector<WordId> words;
  for (WordId w = 0; w < v.n; w += 17) words.push_back(w);
  for (size_t k : {1u, 10u, 64u, 300u}) {
    std::vector<std::vector<Neighbor>> lists;
    ASSERT_TRUE(knn.value()->Neighbors(words, k, &lists).ok());
    std::vector<Neighbor> expected;
    for (size_t i = 0; i < words.size(); ++i) {
      ExactNeighborsScan(v, words[i], k, &expected);
      ASSERT_EQ(lists[i].size(), k);
      for (size_t j = 0; j < k; ++j) {
        ASSERT_EQ(lists[i][j].id, expected[j].id) << "word " << words[i] << " rank " << j;
        ASSERT_EQ(lists[i][j].dist, expected[j].dist);
      }
    }
  }
}

TEST_F(FixtureNeighbors, CacheServesAndDeepDrawsScan) {
  const VectorSet v = vocab_->vectors();
  auto knn = ExactKnn::Create(v);
  ASSERT_TRUE(knn.ok());
  NeighborCache cache(*knn.value(), v, 16);
  const WordId w = *vocab_->Find("october");
  ASSERT_TRUE(cache.Prefetch({w, w, 3}).ok());
  std::vector<Neighbor> scratch, expected;
  const Neighbor* got = cache.Nearest(w, 200, &scratch);  // deeper than the cache
  ExactNeighborsScan(v, w, 200, &expected);
  for (size_t j = 0; j < 200; ++j) EXPECT_EQ(got[j].id, expected[j].id);
  got = cache.Nearest(w, 5, &scratch);
  for (size_t j = 0; j < 5; ++j) EXPECT_EQ(got[j].id, expected[j].id);
  // October's nearest word is a month.
  const std::string_view first = vocab_->word(got[0].id);
  EXPECT_TRUE(first == "november" || first == "september" || first == "february" ||
              first == "december")
      << first;
}

TEST(NeighborsTest, DuplicatesAndTiesAreOrderedByIdAndSelfByIdentity) {
  // Four identical vectors and a few others: the word's own entry must be
  // found by id, and equal distances ordered by id.
  std::vector<float> data = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 2, 2, 1, 2, 5, 5};
  VectorSet v{data.data(), 8, 2};
  auto knn = ExactKnn::Create(v);
  ASSERT_TRUE(knn.ok());
  std::vector<std::vector<Neighbor>> lists;
  ASSERT_TRUE(knn.value()->Neighbors({1, 4}, 7, &lists).ok());
  std::vector<WordId> ids;
  for (const Neighbor& n : lists[0]) ids.push_back(n.id);
  EXPECT_EQ(ids, (std::vector<WordId>{0, 2, 3, 6, 4, 5, 7}));
  EXPECT_EQ(lists[0][0].dist, 0.0);
  EXPECT_EQ(lists[0][3].dist, 1.0);
  // Word 4 at (0,0): words 0..3 at sqrt(2), tie broken by id.
  EXPECT_EQ(lists[1][0].id, 0u);
  EXPECT_EQ(lists[1][3].id, 3u);
}

TEST(NeighborsTest, VocabStatsMatchBruteForce) {
  std::mt19937_64 gen(7);
  std::normal_distribution<float> nd;
  const size_t n = 400;
  const uint32_t dim = 10;
  std::vector<float> data(n * dim);
  for (float& x : data) x = nd(gen);
  // Plant a near-duplicate pair and an exact duplicate (distance 0 is not
  // delta_min: the smallest *positive* distance is).
  for (uint32_t d = 0; d < dim; ++d) {
    data[5 * dim + d] = data[9 * dim + d] + (d == 0 ? 1e-3f : 0.0f);
    data[7 * dim + d] = data[8 * dim + d];
  }
  VectorSet v{data.data(), n, dim};
  auto stats = ComputeVocabStats(v);
  ASSERT_TRUE(stats.ok());
  double dmin = INFINITY, dmax = 0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double d = Distance(v, i, j);
      if (d > 0) dmin = std::min(dmin, d);
      dmax = std::max(dmax, d);
    }
  }
  EXPECT_EQ(stats->delta_min, dmin);
  EXPECT_GE(stats->delta_max, dmax);      // a certified upper bound
  EXPECT_LE(stats->delta_max, 2 * dmax);  // and not a loose one
  EXPECT_FALSE(stats->delta_max_exact);
}

TEST(NeighborsTest, NearestWordFinders) {
  std::mt19937_64 gen(11);
  std::normal_distribution<float> nd;
  const size_t n = 2000;
  const uint32_t dim = 16;
  std::vector<float> data(n * dim);
  for (float& x : data) x = nd(gen);
  VectorSet v{data.data(), n, dim};
  auto exact = MakeNearestWordFinder(v, NearestSearch::kExact);
  auto hnsw = MakeNearestWordFinder(v, NearestSearch::kHnsw);
  ASSERT_TRUE(exact.ok() && hnsw.ok());
  const size_t q = 500;
  std::vector<float> queries(q * dim);
  for (size_t i = 0; i < q; ++i) {
    for (uint32_t d = 0; d < dim; ++d) queries[i * dim + d] = data[i * dim + d] + 0.3f * nd(gen);
  }
  std::vector<WordId> a(q), b(q);
  exact.value()->FindNearest(queries.data(), q, a.data());
  hnsw.value()->FindNearest(queries.data(), q, b.data());
  size_t agree = 0;
  for (size_t i = 0; i < q; ++i) {
    // Exact search really returns the nearest (brute force in double).
    double best = INFINITY;
    WordId arg = 0;
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (uint32_t d = 0; d < dim; ++d) {
        const double t = double(queries[i * dim + d]) - data[j * dim + d];
        s += t * t;
      }
      if (s < best) best = s, arg = static_cast<WordId>(j);
    }
    EXPECT_EQ(a[i], arg);
    agree += a[i] == b[i];
  }
  EXPECT_GE(agree, q * 97 / 100) << "HNSW recall@1 below 0.97";
}

// FindNearestK (vickrey's two nearest words, from 4 candidates): the exact
// finder returns the k nearest in order, as a brute-force scan in double
// ranks them; HNSW returns k distinct words.
TEST(NeighborsTest, NearestWordFindersReturnTheKNearestInOrder) {
  std::mt19937_64 gen(12);
  std::normal_distribution<float> nd;
  const size_t n = 1500;
  const uint32_t dim = 12;
  const size_t k = 4;
  std::vector<float> data(n * dim);
  for (float& x : data) x = nd(gen);
  VectorSet v{data.data(), n, dim};
  auto exact = MakeNearestWordFinder(v, NearestSearch::kExact);
  auto hnsw = MakeNearestWordFinder(v, NearestSearch::kHnsw);
  ASSERT_TRUE(exact.ok() && hnsw.ok());
  const size_t q = 300;
  std::vector<float> queries(q * dim);
  for (float& x : queries) x = 1.5f * nd(gen);
  std::vector<WordId> a(q * k), b(q * k);
  exact.value()->FindNearestK(queries.data(), q, k, a.data());
  hnsw.value()->FindNearestK(queries.data(), q, k, b.data());
  std::vector<std::pair<double, WordId>> all(n);
  for (size_t i = 0; i < q; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (uint32_t d = 0; d < dim; ++d) {
        const double t = double(queries[i * dim + d]) - data[j * dim + d];
        s += t * t;
      }
      all[j] = {s, static_cast<WordId>(j)};
    }
    std::partial_sort(all.begin(), all.begin() + k, all.end());
    for (size_t r = 0; r < k; ++r) EXPECT_EQ(a[i * k + r], all[r].second) << i << " rank " << r;
    std::vector<WordId> h(b.begin() + i * k, b.begin() + (i + 1) * k);
    std::sort(h.begin(), h.end());
    EXPECT_EQ(std::unique(h.begin(), h.end()), h.end()) << "HNSW repeated a word for query " << i;
  }
}

}  // namespace
}  // namespace dpsanitize
