// bem's weights (mechanisms/bem_weights.h) on the fixture embedding (5,000
// words): the exact ln Z and L against brute force, and that balancing
// works (ln Z nearly flat, L far below eps_1).
#include "dpsanitize/mechanisms/bem_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "statistical/fixture_vocabulary.h"

namespace dpsanitize {
namespace {

struct Computed {
  FixtureVocabulary fx;
  // The 2,000 most frequent fixture words: the solve is quadratic, and each
  // test runs in its own process (about 50 s for the whole fixture under ASan).
  VectorSet v;
  BemWeights weights;
  bool ok = false;
};

const Computed& Get() {
  static const Computed* c = [] {
    auto* r = new Computed;
    if (!OpenFixtureVocabulary(&r->fx)) return r;
    r->v =
        VectorSet{r->fx.vectors.data, std::min<size_t>(2000, r->fx.vectors.n), r->fx.vectors.dim};
    ScanNeighborSource source(r->v);
    BemWeightsOptions o;
    o.eps1 = 1.8;
    o.threads = 2;
    auto w = ComputeBemWeights(r->v, source, 64, o);
    if (!w.ok()) {
      ADD_FAILURE() << w.status().message();
      return r;
    }
    r->weights = std::move(w).value();
    r->ok = true;
    return r;
  }();
  return *c;
}

// ln Z from the weights is the exact normaliser: bitwise ExpMechLogZ (a
// different code path: Distance() row by row), for a spread of words.
TEST(BemWeightsTest, LogZIsExact) {
  const Computed& c = Get();
  ASSERT_TRUE(c.ok);
  const VectorSet& v = c.v;
  ASSERT_EQ(c.weights.log_alpha.size(), v.n);
  ExpMechParams p;
  p.beta = c.weights.eps1;
  p.log_alpha = c.weights.log_alpha.data();
  for (WordId w = 0; w < v.n; w += 311) {
    ASSERT_EQ(c.weights.log_z[w], ExpMechLogZ(v, w, p)) << "word " << w;
  }
  EXPECT_EQ(*std::max_element(c.weights.log_alpha.begin(), c.weights.log_alpha.end()), 0.0);
}

// L is the maximum over all pairs (brute force with Distance(), 12.5 M
// pairs), raised only by its small stated margin; and a wrong ln Z (word 0
// moved so that its pair with its nearest word has twice the slope L) is
// caught.
TEST(BemWeightsTest, LipschitzIsTheExactMaximumOverAllPairs) {
  const Computed& c = Get();
  ASSERT_TRUE(c.ok);
  const VectorSet& v = c.v;
  const std::vector<double>& lz = c.weights.log_z;
  double brute = 0;
  for (WordId w = 0; w < v.n; ++w) {
    for (WordId y = w + 1; y < v.n; ++y) {
      brute = std::max(brute, std::fabs(lz[w] - lz[y]) / Distance(v, w, y));
    }
  }
  EXPECT_GE(c.weights.lipschitz, brute);
  EXPECT_LE(c.weights.lipschitz, brute * (1 + 1e-11) + 1e-10);
  std::vector<Neighbor> nearest;
  ExactNeighborsScan(v, 0, 1, &nearest);
  std::vector<double> wrong = lz;
  wrong[0] = lz[nearest[0].id] + 2 * c.weights.lipschitz * nearest[0].dist;
  EXPECT_GT(ExactLipschitz(v, wrong, 2), c.weights.lipschitz * 1.9);
}

// Balancing works on the fixture: ln Z varies little and L is a small
// fraction of eps_1 (em would pay 2 eps_1; bem pays eps_1 + L). On these
// 5,000 words a flat ln Z has a positive solution, so with the dense
// corrections the solver nearly reaches it (measured: L 5.0e-5, spread
// 8.6e-5; L 0.019 on the cheap kernel alone).
TEST(BemWeightsTest, BalancingFlattensLogZ) {
  const Computed& c = Get();
  ASSERT_TRUE(c.ok);
  std::printf("[stat] bem fixture eps1 %.2f: L = %.4g, ln Z spread = %.4g, %d iterations\n",
              c.weights.eps1, c.weights.lipschitz, c.weights.log_z_spread, c.weights.iterations);
  EXPECT_LT(c.weights.lipschitz, 0.002 * c.weights.eps1);
  EXPECT_LT(c.weights.log_z_spread, 0.01);
}

// The weights do not depend on the thread count (the cones are merged by
// max, the dense passes sum each row in one order): the same bits on 1
// thread as on 2.
TEST(BemWeightsTest, WeightsDoNotDependOnThreads) {
  const Computed& c = Get();
  ASSERT_TRUE(c.ok);
  // The 800 most frequent words: two quick solves instead of two of the
  // whole fixture (the sums' order, not the size, is what is tested).
  const VectorSet v{c.fx.vectors.data, 800, c.fx.vectors.dim};
  ScanNeighborSource source(v);
  BemWeightsOptions o;
  o.eps1 = 1.8;
  o.threads = 2;
  auto two = ComputeBemWeights(v, source, 64, o);
  o.threads = 1;
  auto one = ComputeBemWeights(v, source, 64, o);
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_TRUE(two.ok()) << two.status().message();
  ASSERT_EQ(one.value().log_alpha.size(), v.n);
  for (size_t y = 0; y < v.n; ++y) {
    ASSERT_EQ(one.value().log_alpha[y], two.value().log_alpha[y]) << "word " << y;
  }
  EXPECT_EQ(one.value().lipschitz, two.value().lipschitz);
}

}  // namespace
}  // namespace dpsanitize
