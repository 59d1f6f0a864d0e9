// Regularised Mahalanobis noise (Xu et al. 2020) on top of mvl's draw and
// mvl's nearest-word step (MvlNearestBatch, with its double-precision scan
// for large radii).
#include "dpsanitize/mechanisms/mahalanobis.h"

#include <cmath>
#include <vector>

namespace dpsanitize {

double MahalanobisNoise(const MahalanobisShape& shape, double eps_r, WordRng& rng, double* scratch,
                        double* dir) {
  const uint32_t n = shape.dim;
  if (shape.identity) return MvlNoise(n, eps_r, rng, dir);
  // X (unit) and rho = Y / eps_R: mvl's draw at eps_R.
  const double rho = MvlNoise(n, eps_r, rng, scratch);
  // v = A X, in double, A lower-triangular. Z = rho v, not renormalised: the
  // paper's law. Returned as (v / ||v||, rho ||v||) for the nearest-word step.
  double norm2 = 0;
  for (uint32_t i = 0; i < n; ++i) {
    const double* row = &shape.factor[static_cast<size_t>(i) * n];
    double s = 0;
    for (uint32_t k = 0; k <= i; ++k) s += row[k] * scratch[k];
    dir[i] = s;
    norm2 += s * s;
  }
  const double norm = std::sqrt(norm2);
  const double inv = 1.0 / norm;
  for (uint32_t i = 0; i < n; ++i) dir[i] *= inv;
  return rho * norm;
}

void MahalanobisMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key,
                                   WordId* out) const {
  constexpr size_t kChunk = 256;
  // eps is unused by AddPoint: the noise is drawn here.
  MvlNearestBatch batch(eps_r_, vectors_, finder_, scan_);
  std::vector<double> scratch(vectors_.dim), dir(vectors_.dim);
  ForEachWordStream(in, n, key, [&](size_t i, WordRng& rng) {
    const double r = MahalanobisNoise(shape_, eps_r_, rng, scratch.data(), dir.data());
    batch.AddPoint(vectors_.row(in[i].word), dir.data(), r, out + i);
    if (batch.queued() == kChunk) batch.Flush();
  });
  batch.Flush();
}

}  // namespace dpsanitize
