// The multivariate Laplace mechanism (mvl), spec section 3: Feyisetan, Balle,
// Drake, Diethe, "Privacy- and utility-preserving textual analysis via
// calibrated multivariate perturbations", WSDM 2020.
//   z = phi(w) + r u,  u uniform on the unit sphere (a normalised standard
//   Gaussian vector), r ~ Gamma(shape n, scale 1/eps); output the vocabulary
//   word nearest to z (post-processing: may use an approximate index).
// The noise density is proportional to exp(-eps ||z - phi(w)||), which makes
// the mechanism eps-metric-DP for any eps > 0 (a proven bound).
// Draw order from the word's stream: n Gaussians (Box-Muller pairs), then the
// uniforms of the Gamma sampler.
#ifndef DPSANITIZE_MECHANISMS_MVL_H_
#define DPSANITIZE_MECHANISMS_MVL_H_

#include "dpsanitize/mechanisms/mechanism.h"

namespace dpsanitize {

// Fills `z` (dim floats) with phi + r u for one draw.
void MvlNoisyPoint(const float* phi, uint32_t dim, double eps, WordRng& rng, float* z);

class MvlMechanism : public Mechanism {
 public:
  MvlMechanism(double eps, VectorSet vectors, const NearestWordFinder& finder)
      : eps_(eps), vectors_(vectors), finder_(finder) {}
  void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const override;

 private:
  double eps_;
  VectorSet vectors_;
  const NearestWordFinder& finder_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MVL_H_
