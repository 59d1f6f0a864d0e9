// Goodness-of-fit tests shared by the statistical tests: one-sample
// Kolmogorov-Smirnov (asymptotic p-value with Stephens' small-sample
// correction) and Pearson's chi-square with pooling of small cells.
#ifndef DPSANITIZE_TESTS_STATISTICAL_GOODNESS_OF_FIT_H_
#define DPSANITIZE_TESTS_STATISTICAL_GOODNESS_OF_FIT_H_

#include <algorithm>
#include <boost/math/distributions/chi_squared.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace dpsanitize {

// Asymptotic Kolmogorov survival function Q_KS(lambda) = P(sqrt(n) D > lambda)
// = 2 sum_{j >= 1} (-1)^{j-1} exp(-2 j^2 lambda^2).
inline double KolmogorovQ(double lambda) {
  if (lambda < 0.2) return 1.0;  // the series is 1 to double precision here
  double sum = 0;
  for (int j = 1; j <= 100; ++j) {
    const double term = std::exp(-2.0 * j * j * lambda * lambda);
    sum += (j % 2 == 1) ? term : -term;
    if (term < 1e-18) break;
  }
  return std::min(1.0, std::max(0.0, 2.0 * sum));
}

struct KsResult {
  double d = 0;  // sup |F_n - F|
  double p = 0;  // asymptotic p-value (Stephens' small-sample correction)
};

// One-sample Kolmogorov-Smirnov test of `x` against the continuous CDF `cdf`.
inline KsResult KsTest(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  const double n = static_cast<double>(x.size());
  double d = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double f = cdf(x[i]);
    d = std::max({d, (static_cast<double>(i) + 1) / n - f, f - static_cast<double>(i) / n});
  }
  const double sn = std::sqrt(n);
  return {d, KolmogorovQ((sn + 0.12 + 0.11 / sn) * d)};
}

struct ChiSquareResult {
  double stat = 0;
  int df = 0;
  double p = 1;
};

// Pearson chi-square test of counts `observed` against `expected` (same total).
// Cells whose expected count is below 5 are pooled into one cell; if that pool
// still expects fewer than 5, it joins the smallest remaining cell. An
// observation in a pool that expects exactly 0 fails the test outright (p = 0).
// A single remaining cell leaves nothing to test (p = 1).
inline ChiSquareResult ChiSquareTest(const std::vector<double>& observed,
                                     const std::vector<double>& expected) {
  std::vector<double> obs;
  std::vector<double> exp;
  double pool_obs = 0;
  double pool_exp = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (expected[i] < 5) {
      pool_obs += observed[i];
      pool_exp += expected[i];
    } else {
      obs.push_back(observed[i]);
      exp.push_back(expected[i]);
    }
  }
  if (pool_exp == 0 && pool_obs > 0) return {std::numeric_limits<double>::infinity(), 0, 0.0};
  if (pool_exp >= 5 || exp.empty()) {
    obs.push_back(pool_obs);
    exp.push_back(pool_exp);
  } else if (pool_exp > 0 || pool_obs > 0) {
    const size_t s = std::min_element(exp.begin(), exp.end()) - exp.begin();
    obs[s] += pool_obs;
    exp[s] += pool_exp;
  }
  ChiSquareResult r;
  for (size_t i = 0; i < obs.size(); ++i) {
    if (exp[i] > 0) r.stat += (obs[i] - exp[i]) * (obs[i] - exp[i]) / exp[i];
  }
  r.df = static_cast<int>(obs.size()) - 1;
  if (r.df >= 1) {
    r.p = boost::math::cdf(boost::math::complement(boost::math::chi_squared(r.df), r.stat));
  }
  return r;
}

// Moment check of directions that should be uniform on the unit sphere of
// R^dim: each coordinate u_c has mean 0 and variance 1/dim, and u_c^2 has
// variance 2(dim - 1) / (dim^2 (dim + 2)). `direction` holds `draws` unit
// vectors row by row; the result is the largest |sample mean| and |sample
// mean square - 1/dim| over the coordinates, in standard errors, and where.
struct SphereMomentResult {
  double worst_mean = 0;  // standard errors
  uint32_t worst_mean_coordinate = 0;
  double worst_square = 0;  // standard errors
  uint32_t worst_square_coordinate = 0;
};

inline SphereMomentResult SphereMomentTest(const std::vector<double>& direction, uint32_t dim,
                                           size_t draws) {
  const double n = static_cast<double>(draws);
  const double se_mean = std::sqrt(1.0 / dim / n);
  const double se_square =
      std::sqrt(2.0 * (dim - 1) / (static_cast<double>(dim) * dim * (dim + 2)) / n);
  SphereMomentResult r;
  for (uint32_t c = 0; c < dim; ++c) {
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < draws; ++i) {
      const double u = direction[i * dim + c];
      sum += u;
      sum2 += u * u;
    }
    const double mean_z = std::abs((sum / n) / se_mean);
    const double square_z = std::abs((sum2 / n - 1.0 / dim) / se_square);
    if (mean_z > r.worst_mean) {
      r.worst_mean = mean_z;
      r.worst_mean_coordinate = c;
    }
    if (square_z > r.worst_square) {
      r.worst_square = square_z;
      r.worst_square_coordinate = c;
    }
  }
  return r;
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_TESTS_STATISTICAL_GOODNESS_OF_FIT_H_
