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

#include <vector>

#include "dpsanitize/mechanisms/mechanism.h"

namespace dpsanitize {

// One draw of mvl's noise from `rng`: the unit direction u (dim doubles,
// into `dir`) and the returned radius r ~ Gamma(dim, 1/eps). Draw order: the
// Gaussians first, then the Gamma's uniforms. The Mahalanobis mechanism
// (mahalanobis.h) starts from the same draw.
double MvlNoise(uint32_t dim, double eps, WordRng& rng, double* dir);

// Fills `z` (dim floats) with phi + r u for one draw.
void MvlNoisyPoint(const float* phi, uint32_t dim, double eps, WordRng& rng, float* z);

// The nearest-word step of a batch of draws. A float search of z = phi + r u
// is right while r is moderate; at small eps (r ~ dim/eps of 10^3 and more)
// the float z loses phi, and the search's ||z||^2 - 2 z.v + ||v||^2 cancels
// catastrophically (every word went to the first vocabulary entry at eps
// 1e-8). Above kStableRadiusFactor times the largest vector norm, a draw is
// mapped instead by a double-precision scan of the equivalent, well-scaled
// objective argmax_v u.v + (phi.v - ||v||^2 / 2) / r. Both are deterministic
// functions of the noisy point, so either is post-processing.
//   MvlStableScan scan(vectors);                 // once: norms and threshold
//   MvlNearestBatch b(eps, vectors, finder, scan);
//   b.Add(phi, rng, &out[i]);  ...  b.Flush();  // before reading out[]
class MvlStableScan {
 public:
  static constexpr double kStableRadiusFactor = 64;
  explicit MvlStableScan(VectorSet vectors);
  bool Applies(double r) const { return r > stable_radius_; }
  // The nearest word to phi + r dir, ties to the lower id.
  WordId Nearest(const float* phi, const double* dir, double r) const;
  // The two nearest words to phi + r dir (ids[0] the nearest; ties to the
  // lower id) and their Euclidean distances, for vickrey's selection.
  void NearestTwo(const float* phi, const double* dir, double r, WordId ids[2],
                  double dist[2]) const;

 private:
  // Word v's score u.v + (phi.v - ||v||^2 / 2) / r: the larger, the nearer.
  double Score(const float* phi, const double* dir, double inv_r, size_t v) const;

  VectorSet vs_;
  double stable_radius_ = 0;
  std::vector<double> half_norm2_;  // ||v||^2 / 2 per word, in double
};

class MvlNearestBatch {
 public:
  MvlNearestBatch(double eps, VectorSet vectors, const NearestWordFinder& finder,
                  const MvlStableScan& scan);
  // One draw from `rng`; its word is in *slot after Flush() (or at once).
  void Add(const float* phi, WordRng& rng, WordId* slot);
  // The noisy point phi + r dir (dir: a unit vector of dim doubles) drawn by
  // the caller, e.g. the Mahalanobis mechanism; `eps` is then unused.
  void AddPoint(const float* phi, const double* dir, double r, WordId* slot);
  // Maps the queued draws (the float search may throw, as FAISS does).
  void Flush();
  size_t queued() const { return slots_.size(); }

 private:
  double eps_;
  VectorSet vs_;
  const NearestWordFinder& finder_;
  const MvlStableScan& scan_;
  std::vector<double> dir_;
  std::vector<float> z_;
  std::vector<WordId*> slots_;
  std::vector<WordId> found_;
};

class MvlMechanism : public Mechanism {
 public:
  MvlMechanism(double eps, VectorSet vectors, const NearestWordFinder& finder)
      : eps_(eps), vectors_(vectors), finder_(finder), scan_(vectors) {}
  void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const override;

 private:
  double eps_;
  VectorSet vectors_;
  const NearestWordFinder& finder_;
  MvlStableScan scan_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MVL_H_
