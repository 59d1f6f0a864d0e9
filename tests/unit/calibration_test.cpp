#include "dpsanitize/mechanisms/calibration.h"

#include <gtest/gtest.h>

#include <boost/math/special_functions/lambert_w.hpp>
#include <cmath>
#include <limits>

namespace dpsanitize {
namespace {

// Expected values computed independently (Python, Newton iteration for W0).
struct Case {
  double eps;
  uint64_t vocab;
  double dmin, dmax;
  double a, b, eps_min;
};

TEST(CalibrationTest, HandCheckedValues) {
  const Case cases[] = {
      // ln(a dmin) is the smaller term.
      {50, 50000, 0.6, 24.0, 3.53357968399, 63.8734617211, 44.399260948},
      {100, 50000, 0.60621, 24.3485, 20.3347813635, 19.3872613451, 43.9444360351},
      {40, 5000, 0.7, 17.0, 4.2693398177, 31.0563470657, 31.4776948326},
      {1000, 10, 1.0, 3.0, 331.131609938, 1.03403421785, 9.60517018599},
      // W0(2 a dmax) is the smaller term.
      {1000, 10, 1.0, 1.0, 331.131609938, 0.407719025847, 9.60517018599},
  };
  for (const Case& c : cases) {
    auto r = CalibrateTg(c.eps, c.vocab, c.dmin, c.dmax);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_NEAR(r->a, c.a, 1e-9 * c.a) << c.eps;
    EXPECT_NEAR(r->b, c.b, 1e-9 * c.b) << c.eps;
    EXPECT_NEAR(r->eps_min, c.eps_min, 1e-9 * c.eps_min);
    EXPECT_NEAR(r->mu, std::log(static_cast<double>(c.vocab - 1)), 1e-12);
  }
}

TEST(CalibrationTest, LambertW0KnownValues) {
  EXPECT_NEAR(boost::math::lambert_w0(1.0), 0.5671432904097838, 1e-15);  // omega constant
  EXPECT_NEAR(boost::math::lambert_w0(std::exp(1.0)), 1.0, 1e-15);
  EXPECT_NEAR(boost::math::lambert_w0(10.0), 1.7455280027406994, 1e-14);
  EXPECT_EQ(boost::math::lambert_w0(0.0), 0.0);
}

TEST(CalibrationTest, DomainErrorStatesEpsMin) {
  auto r = CalibrateTg(40, 50000, 0.60621, 24.3485);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUsage);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("eps_min = 43.94"), std::string::npos) << m;
  EXPECT_NE(m.find("--vocab-size"), std::string::npos) << m;
  EXPECT_NE(m.find("--mechanism mvl"), std::string::npos) << m;
  EXPECT_NE(m.find("--gumbel-scale"), std::string::npos) << m;
  // Exactly at eps_min is outside the (open) domain.
  EXPECT_FALSE(CalibrateTg(TgEpsMin(50000, 0.60621), 50000, 0.60621, 24.3485).ok());
}

TEST(CalibrationTest, BFallsMonotonicallyWithEps) {
  const double eps_min = TgEpsMin(50000, 0.60621);
  double prev = std::numeric_limits<double>::infinity();
  for (double eps = eps_min * 1.0001; eps < 5000; eps *= 1.1) {
    auto r = CalibrateTg(eps, 50000, 0.60621, 24.3485);
    ASSERT_TRUE(r.ok());
    EXPECT_GT(r->b, 0);
    EXPECT_LT(r->b, prev) << eps;
    prev = r->b;
  }
}

// eps is validated once, with the config (ValidateConfig: finite, > 0); the
// calibration still refuses values outside its domain rather than computing
// a negative or NaN scale from them.
TEST(CalibrationTest, RejectsNanAndNonPositiveEps) {
  for (double eps : {0.0, -1.0, std::nan("")}) {
    auto r = CalibrateTg(eps, 50000, 0.6, 24);
    ASSERT_FALSE(r.ok()) << eps;
    EXPECT_EQ(r.status().code(), StatusCode::kUsage);
  }
}

TEST(CalibrationTest, RejectsDegenerateVocabulary) {
  EXPECT_FALSE(CalibrateTg(100, 1, 0.6, 24).ok());
  EXPECT_FALSE(CalibrateTg(100, 100, 0.0, 24).ok());
}

}  // namespace
}  // namespace dpsanitize
