// The Vickrey mechanism: Xu, Aggarwal, Feyisetan, Teissier, "On a Utilitarian
// Approach to Privacy Preserving Text Generation", PrivateNLP @ NAACL 2021.
//   z = phi(w) + Z, Z mvl's noise at eps (or the Mahalanobis mechanism's);
//   w1, w2 = the nearest and second-nearest vocabulary words to z,
//   d1 <= d2 their Euclidean distances;
//   output w2 with probability p = t d1 / (t d1 + (1 - t) d2), else w1.
// t in [0, 1] is the probability of the second word when the two are equally
// near (t = 0: the base mechanism; t = 1: always the second-nearest).
// The choice is a function of the noisy point, the public vocabulary and one
// more uniform from the word's stream, independent of w: post-processing, so
// the base mechanism's guarantee holds unchanged (docs/mechanism.md). Nothing
// here looks at the input word (MLDP's variant drops w from the candidates,
// which no proof covers).
// Draw order from the word's stream: the base noise's (mvl's, or the
// Mahalanobis noise's), then one uniform for the choice.
#ifndef DPSANITIZE_MECHANISMS_VICKREY_H_
#define DPSANITIZE_MECHANISMS_VICKREY_H_

#include <vector>

#include "dpsanitize/mechanisms/mahalanobis.h"
#include "dpsanitize/mechanisms/mechanism.h"
#include "dpsanitize/mechanisms/mvl.h"

namespace dpsanitize {

// The probability of the second-nearest word, t d1 / (t d1 + (1 - t) d2);
// t at the measure-zero 0 / 0 (the noisy point on two words at once).
double VickreySecondProbability(double t, double d1, double d2);

// The selection step of a batch of noisy points: the two nearest words by a
// float search of a few candidates (FindNearestK), re-ranked by their
// distances to the double-precision noisy point, which also give d1 and d2;
// large radii go to MvlStableScan::NearestTwo as in mvl.
//   VickreyBatch b(t, vectors, finder, scan);
//   b.AddPoint(phi, dir, r, coin, &out[i]);  ...  b.Flush();
class VickreyBatch {
 public:
  VickreyBatch(double t, VectorSet vectors, const NearestWordFinder& finder,
               const MvlStableScan& scan);
  // The noisy point phi + r dir (dir a unit vector of dim doubles) and the
  // choice's uniform `coin` in (0, 1); the word is in *slot after Flush().
  void AddPoint(const float* phi, const double* dir, double r, double coin, WordId* slot);
  // Maps the queued points (the float search may throw, as FAISS does).
  void Flush();
  size_t queued() const { return slots_.size(); }

 private:
  WordId Choose(WordId first, WordId second, double d1, double d2, double coin) const;

  double t_;
  VectorSet vs_;
  const NearestWordFinder& finder_;
  const MvlStableScan& scan_;
  size_t candidates_;       // how many words the float search returns per point
  std::vector<double> zd_;  // queued noisy points in double
  std::vector<float> z_;    // ... and in float, for the search
  std::vector<double> coins_;
  std::vector<WordId*> slots_;
  std::vector<WordId> found_;
};

// Vickrey over mvl's noise (shape.identity, eps_noise = eps) or over the
// Mahalanobis mechanism's (eps_noise = its eps_r).
class VickreyMechanism : public Mechanism {
 public:
  VickreyMechanism(double t, double eps_noise, const MahalanobisShape& shape, VectorSet vectors,
                   const NearestWordFinder& finder)
      : t_(t),
        eps_noise_(eps_noise),
        shape_(shape),
        vectors_(vectors),
        finder_(finder),
        scan_(vectors) {}
  void Perturb(const WordDraw* in, size_t n, const RunKey& key, WordId* out) const override;

 private:
  double t_;
  double eps_noise_;
  MahalanobisShape shape_;
  VectorSet vectors_;
  const NearestWordFinder& finder_;
  MvlStableScan scan_;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_VICKREY_H_
