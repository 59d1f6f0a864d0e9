// Dense symmetric matrices for the regularised Mahalanobis mechanism
// (mahalanobis.h): the vocabulary's covariance, Sigma_lambda = lambda Sigma +
// (1 - lambda) I, its Cholesky factor and a certified lower bound on its
// smallest eigenvalue.
//
// Everything here is hand-written double-precision arithmetic in a fixed
// order (no BLAS/LAPACK: FAISS brings whichever BLAS the system has, whose
// last bits differ between OpenBLAS and the reference BLAS), so a keyed run
// computes the same factor, hence the same output, on every machine. All of
// it runs once per run, never per word: n <= a few hundred.
//
//   SymMatrix s = VocabularyCovariance(vectors);        // trace n
//   SymMatrix a = RegularisedCovariance(s, lambda);
//   DPS_ASSIGN_OR_RETURN(MinEigenBound b, CertifiedMinEigenvalue(a));
//   std::vector<double> l;  Cholesky(a, &l);             // a = l l^T
#ifndef DPSANITIZE_MECHANISMS_COVARIANCE_H_
#define DPSANITIZE_MECHANISMS_COVARIANCE_H_

#include <cstdint>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"

namespace dpsanitize {

// A symmetric n x n matrix, stored in full, row-major.
struct SymMatrix {
  uint32_t n = 0;
  std::vector<double> a;  // n * n
  double& at(uint32_t i, uint32_t j) { return a[static_cast<size_t>(i) * n + j]; }
  double at(uint32_t i, uint32_t j) const { return a[static_cast<size_t>(i) * n + j]; }
  double Trace() const;
};

// The centred covariance of the vocabulary's vectors (divisor |V|), divided
// by its mean diagonal entry so that its trace is n: the normalisation of the
// public implementations (pyPANTERA exactly; MLDP within 3 % on GloVe 6B),
// without which lambda in lambda Sigma + (1 - lambda) I would mix matrices of
// unrelated scales. Sums run over the rows in vocabulary order, in double.
// Errors: fewer than 2 words, or every vector the same (trace 0).
StatusOr<SymMatrix> VocabularyCovariance(VectorSet vectors);

// lambda s + (1 - lambda) I. With lambda = 0 it is exactly I (0 * s_ij = 0).
SymMatrix RegularisedCovariance(const SymMatrix& s, double lambda);

// The lower-triangular Cholesky factor l (row-major n x n, zeros above the
// diagonal) with l l^T = a, in double. Returns false when a pivot is not
// positive (a is not numerically positive definite).
bool Cholesky(const SymMatrix& a, std::vector<double>* l);

// All eigenvalues of a, ascending, by the cyclic Jacobi method (Golub & Van
// Loan, Matrix Computations, 4th ed., section 8.5.2, Algorithm 8.5.3), with
// the threshold of Rutishauser's "jacobi" (Handbook for Automatic
// Computation II, 1971): deterministic, accurate to a small multiple of
// n u ||a||_F.
std::vector<double> JacobiEigenvalues(const SymMatrix& a);

// A certified lower bound mu on the smallest eigenvalue of l l^T, where l is
// the factor Cholesky(a) computes (the matrix whose square root the noise
// actually uses), and Jacobi's estimates of the extreme eigenvalues of a.
struct MinEigenBound {
  double mu = 0;          // certified: mu <= lambda_min(l l^T); > 0
  double min_est = 0;     // Jacobi's smallest eigenvalue of a
  double max_est = 0;     // Jacobi's largest eigenvalue of a
  bool identity = false;  // a is exactly I: mu = 1 exactly, l = I exactly
};

// mu from Jacobi's estimate, certified by a Cholesky factorisation, then
// lowered by the factor's own backward error; the proof is at the top of
// covariance.cpp. When a is exactly I (lambda = 0), mu = 1 and l = I exactly.
// Errors (usage, naming --lambda): a not positive definite (lambda = 1 with a
// singular covariance: fewer words than dimensions, or a flat direction).
StatusOr<MinEigenBound> CertifiedMinEigenvalue(const SymMatrix& a);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_COVARIANCE_H_
