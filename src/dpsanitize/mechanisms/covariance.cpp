// Covariance, Cholesky, Jacobi eigenvalues and the certified smallest
// eigenvalue for the regularised Mahalanobis mechanism.
//
// Why the bound mu is certified (u = 2^-53, gamma_k = k u / (1 - k u)):
//  1. Test: T = fl(a - s I) with s = mu + c, c = 2 gamma_{n+1} / (1 - 2
//     gamma_{n+1}) tr(a). If the floating-point Cholesky of T runs to the end
//     (every pivot positive), its factor R satisfies R^T R = T + dT with
//     |dT| <= gamma_{n+1} |R^T| |R| (Higham, Accuracy and Stability of
//     Numerical Algorithms, 2nd ed., Theorem 10.3), and
//     || |R^T| |R| ||_2 <= || |R| ||_F^2 = tr(R^T R) <= tr(T) / (1 - gamma_{n+1}).
//     R^T R is positive semidefinite, so lambda_min(T) >= -||dT||_2 >= -c / 2
//     (tr(T) <= tr(a) (1 + u) as s > 0). T differs from a - s I by at most
//     u |a_ii - s| on the diagonal, far below c / 2, so
//     lambda_min(a) >= s - c / 2 - u max|a_ii - s| > mu.
//     (Rump, "Verification of positive definiteness", BIT 46, 2006, makes the
//     same argument; underflow is irrelevant at these magnitudes.)
//  2. The noise uses the computed factor l of a itself, whose exact product is
//     l l^T = a + E with ||E||_2 <= gamma_{n+1} tr(l l^T) by the same theorem,
//     so lambda_min(l l^T) >= mu - 2 gamma_{n+1} tr(a): the mu returned.
// mu starts from 0.999 times Jacobi's estimate: Jacobi's error here is of the
// order n u ||a||_F (1e-13), the margin 1e-3 relative (1e-4 absolute on GloVe
// 6B) is far above it and costs 0.05 % of eps_R = E sqrt(mu). It also covers
// the rounding of eps_R itself.
#include "dpsanitize/mechanisms/covariance.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dpsanitize {

namespace {

constexpr double kUnitRoundoff = std::numeric_limits<double>::epsilon() / 2;
constexpr double kStartMargin = 0.999;

double Gamma(uint32_t k) {
  const double ku = k * kUnitRoundoff;
  return ku / (1 - ku);
}

}  // namespace

double SymMatrix::Trace() const {
  double t = 0;
  for (uint32_t i = 0; i < n; ++i) t += at(i, i);
  return t;
}

StatusOr<SymMatrix> VocabularyCovariance(VectorSet vs) {
  if (vs.n < 2) return UsageError("--lambda: a covariance needs at least 2 vocabulary words");
  const uint32_t n = vs.dim;
  std::vector<double> mean(n, 0.0);
  for (size_t v = 0; v < vs.n; ++v) {
    const float* x = vs.row(v);
    for (uint32_t i = 0; i < n; ++i) mean[i] += x[i];
  }
  for (uint32_t i = 0; i < n; ++i) mean[i] /= static_cast<double>(vs.n);
  // Lower triangle of the sum of outer products of the centred rows, in
  // vocabulary order (|V| n^2 / 2 multiply-adds: 2.5e8 for GloVe 6B's 50,000
  // words, well under a second). Single-threaded on purpose: a fixed order
  // makes the sums, hence a keyed run's output, the same on every machine.
  SymMatrix s;
  s.n = n;
  s.a.assign(static_cast<size_t>(n) * n, 0.0);
  std::vector<double> d(n);
  for (size_t v = 0; v < vs.n; ++v) {
    const float* x = vs.row(v);
    for (uint32_t i = 0; i < n; ++i) d[i] = x[i] - mean[i];
    for (uint32_t i = 0; i < n; ++i) {
      double* row = &s.a[static_cast<size_t>(i) * n];
      const double di = d[i];
      for (uint32_t j = 0; j <= i; ++j) row[j] += di * d[j];
    }
  }
  const double trace = s.Trace();
  if (!(trace > 0) || !std::isfinite(trace)) {
    return UsageError("--lambda: the vocabulary's vectors have no spread (covariance trace {})",
                      trace);
  }
  // Sigma = S / |V| divided by its mean diagonal tr(S) / (|V| n): |V| cancels.
  const double scale = n / trace;
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t j = 0; j <= i; ++j) {
      s.at(i, j) *= scale;
      s.at(j, i) = s.at(i, j);
    }
  }
  return s;
}

SymMatrix RegularisedCovariance(const SymMatrix& s, double lambda) {
  SymMatrix r = s;
  for (uint32_t i = 0; i < s.n; ++i) {
    for (uint32_t j = 0; j < s.n; ++j) {
      r.at(i, j) = lambda * s.at(i, j) + (i == j ? 1.0 - lambda : 0.0);
    }
  }
  return r;
}

bool Cholesky(const SymMatrix& a, std::vector<double>* l_out) {
  const uint32_t n = a.n;
  std::vector<double>& l = *l_out;
  l.assign(static_cast<size_t>(n) * n, 0.0);
  // Cholesky-Banachiewicz, row by row; sums in increasing k.
  for (uint32_t i = 0; i < n; ++i) {
    double* li = &l[static_cast<size_t>(i) * n];
    for (uint32_t j = 0; j <= i; ++j) {
      const double* lj = &l[static_cast<size_t>(j) * n];
      double sum = a.at(i, j);
      for (uint32_t k = 0; k < j; ++k) sum -= li[k] * lj[k];
      if (i == j) {
        if (!(sum > 0)) return false;
        li[i] = std::sqrt(sum);
      } else {
        li[j] = sum / lj[j];
      }
    }
  }
  return true;
}

std::vector<double> JacobiEigenvalues(const SymMatrix& input) {
  SymMatrix a = input;
  const uint32_t n = a.n;
  double frob2 = 0;
  for (double x : a.a) frob2 += x * x;
  // Sweeps until the off-diagonal mass is below (1e-15 ||a||_F)^2: each
  // eigenvalue is then within that of a diagonal entry (Weyl), and the
  // rotations' own rounding is of the order n u ||a||_F.
  const double tol2 = 1e-30 * frob2;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off2 = 0;
    for (uint32_t p = 0; p < n; ++p) {
      for (uint32_t q = p + 1; q < n; ++q) off2 += 2 * a.at(p, q) * a.at(p, q);
    }
    if (off2 <= tol2) break;
    for (uint32_t p = 0; p < n; ++p) {
      for (uint32_t q = p + 1; q < n; ++q) {
        const double apq = a.at(p, q);
        if (apq == 0) continue;
        // The rotation that zeroes a_pq (Golub & Van Loan, Algorithm 8.5.1),
        // the smaller of the two angles.
        const double tau = (a.at(q, q) - a.at(p, p)) / (2 * apq);
        const double t = (tau >= 0 ? 1.0 : -1.0) / (std::abs(tau) + std::sqrt(1 + tau * tau));
        const double c = 1 / std::sqrt(1 + t * t);
        const double s = t * c;
        for (uint32_t k = 0; k < n; ++k) {  // a <- a J
          const double akp = a.at(k, p), akq = a.at(k, q);
          a.at(k, p) = c * akp - s * akq;
          a.at(k, q) = s * akp + c * akq;
        }
        for (uint32_t k = 0; k < n; ++k) {  // a <- J^T a
          const double apk = a.at(p, k), aqk = a.at(q, k);
          a.at(p, k) = c * apk - s * aqk;
          a.at(q, k) = s * apk + c * aqk;
        }
        a.at(p, q) = 0;
        a.at(q, p) = 0;
      }
    }
  }
  std::vector<double> ev(n);
  for (uint32_t i = 0; i < n; ++i) ev[i] = a.at(i, i);
  std::sort(ev.begin(), ev.end());
  return ev;
}

StatusOr<MinEigenBound> CertifiedMinEigenvalue(const SymMatrix& a) {
  const uint32_t n = a.n;
  MinEigenBound b;
  bool identity = n > 0;
  for (uint32_t i = 0; i < n && identity; ++i) {
    for (uint32_t j = 0; j < n && identity; ++j) identity = a.at(i, j) == (i == j ? 1.0 : 0.0);
  }
  if (identity) {
    // Cholesky(I) is exactly I (sqrt(1) = 1, 0 / 1 = 0): nothing to bound.
    b.mu = b.min_est = b.max_est = 1;
    b.identity = true;
    return b;
  }
  const std::vector<double> ev = JacobiEigenvalues(a);
  b.min_est = ev.front();
  b.max_est = ev.back();
  if (!(b.min_est > 0)) {
    return UsageError(
        "--lambda: Sigma_lambda is singular (smallest eigenvalue {:.3g}): the vocabulary's "
        "covariance has a flat direction; choose --lambda below 1",
        b.min_est);
  }
  const double trace = a.Trace();
  const double g = Gamma(n + 1);
  const double mu = kStartMargin * b.min_est;
  const double c = 2 * g / (1 - 2 * g) * trace;
  SymMatrix t = a;
  for (uint32_t i = 0; i < n; ++i) t.at(i, i) = a.at(i, i) - (mu + c);
  std::vector<double> r;
  if (!Cholesky(t, &r)) {
    return UsageError(
        "--lambda: cannot certify the smallest eigenvalue of Sigma_lambda (estimate {:.6g}); "
        "the matrix is too close to singular, choose a smaller --lambda",
        b.min_est);
  }
  b.mu = mu - 2 * g * trace;
  if (!(b.mu > 0)) {
    return UsageError(
        "--lambda: Sigma_lambda is too close to singular (smallest eigenvalue {:.3g})", b.min_est);
  }
  return b;
}

}  // namespace dpsanitize
