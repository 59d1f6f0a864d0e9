#include "dpsanitize/mechanisms/mvl.h"

#include <cmath>
#include <vector>

#include "dpsanitize/mechanisms/samplers.h"

namespace dpsanitize {

void MvlNoisyPoint(const float* phi, uint32_t dim, double eps, WordRng& rng, float* z) {
  // Direction: a standard Gaussian vector, normalised.
  thread_local std::vector<double> g;
  g.resize(dim + 1);
  for (uint32_t i = 0; i < dim; i += 2)
    GaussianPair(rng.Uniform(), rng.Uniform(), &g[i], &g[i + 1]);
  double norm2 = 0;
  for (uint32_t i = 0; i < dim; ++i) norm2 += g[i] * g[i];
  const double inv = 1.0 / std::sqrt(norm2);
  // Radius: Gamma(dim, 1/eps).
  const double r = SampleGammaUnitScale(static_cast<double>(dim), rng) / eps;
  for (uint32_t i = 0; i < dim; ++i) {
    z[i] = static_cast<float>(static_cast<double>(phi[i]) + r * g[i] * inv);
  }
}

void MvlMechanism::Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const {
  const uint32_t dim = vectors_.dim;
  constexpr size_t kChunk = 256;
  std::vector<float> z(kChunk * dim);
  DocKey doc;
  bool have_doc = false;
  for (size_t start = 0; start < n; start += kChunk) {
    const size_t m = std::min(kChunk, n - start);
    for (size_t i = 0; i < m; ++i) {
      const WordDraw& d = in[start + i];
      if (!have_doc || d.doc_id != doc.doc_id) {
        doc = DocKey(key, d.doc_id);
        have_doc = true;
      }
      WordRng rng(doc, d.field, d.position);
      MvlNoisyPoint(vectors_.row(d.word), dim, eps_, rng, z.data() + i * dim);
    }
    finder_.FindNearest(z.data(), m, out + start);
  }
}

}  // namespace dpsanitize
