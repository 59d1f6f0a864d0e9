// The regularised Mahalanobis mechanism: Xu, Aggarwal, Feyisetan, Teissier,
// "A Differentially Private Text Perturbation Method Using a Regularized
// Mahalanobis Metric", PrivateNLP @ EMNLP 2020.
//   Sigma_lambda = lambda Sigma + (1 - lambda) I, A A^T = Sigma_lambda,
//   z = phi(w) + Y A X,  X uniform on the unit sphere, Y ~ Gamma(n, 1/eps_R),
//   output the vocabulary word nearest to z (Euclidean; post-processing).
// Y X is mvl's noise at eps_R, so Z = Y A X has density proportional to
// exp(-eps_R ||A^-1 z||) = exp(-eps_R ||z||_R): the mechanism is
// eps_R d_R-private with d_R(x, y) = ||Sigma_lambda^{-1/2} (x - y)||, and any
// A with A A^T = Sigma_lambda gives that law (here the Cholesky factor).
// A X is NOT renormalised: pyPANTERA divides it by its norm before applying
// the radius, which gives another law with no proof (docs/mechanism.md).
// Draw order from the word's stream: exactly mvl's (n Gaussians by
// Box-Muller pairs, then the Gamma's uniforms).
#ifndef DPSANITIZE_MECHANISMS_MAHALANOBIS_H_
#define DPSANITIZE_MECHANISMS_MAHALANOBIS_H_

#include <vector>

#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/mechanisms/mvl.h"

namespace dpsanitize {

// The noise's shape: the lower-triangular factor A (row-major dim x dim) of
// Sigma_lambda, computed once per run.
struct MahalanobisShape {
  uint32_t dim = 0;
  std::vector<double> factor;  // A, zeros above the diagonal
  bool identity = false;       // A = I exactly (lambda = 0): mvl's noise, bit for bit
};

// One draw: the unit direction of Z (dim doubles, into `dir`) and the
// returned radius ||Z||, so that the noisy point is phi + r dir. `scratch`
// holds dim doubles. With shape.identity the result is MvlNoise's exactly.
double MahalanobisNoise(const MahalanobisShape& shape, double eps_r, WordRng& rng, double* scratch,
                        double* dir);

class MahalanobisMechanism : public Mechanism {
 public:
  MahalanobisMechanism(double eps_r, const MahalanobisShape& shape, VectorSet vectors,
                       const NearestWordFinder& finder)
      : eps_r_(eps_r), shape_(shape), vectors_(vectors), finder_(finder), scan_(vectors) {}
  void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const override;

 private:
  double eps_r_;
  MahalanobisShape shape_;
  VectorSet vectors_;
  const NearestWordFinder& finder_;
  MvlStableScan scan_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MAHALANOBIS_H_
