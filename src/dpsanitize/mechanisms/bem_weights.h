// Weights of the density-balanced exponential mechanism (bem, spec section
// 2b; issue 13): alpha(y) > 0 such that Z(w) = sum_y alpha(y) exp(-eps_1
// d(w, y)) is nearly the same for every w, and the exact Lipschitz constant L
// of ln Z over V, so that bem is (eps_1 + L)-metric-DP.
//
// Only L must be exact; alpha may come from anything. So the weights are
// iterated on a cheap kernel (each word's K table neighbours exactly, the
// rest of V estimated from a fixed sample of far words), corrected twice by
// a dense float pass, towards a target of ln Z that is flat except for cones
// around the words whose weight the flat target drives to 0 (see .cpp); ln Z
// and L are then computed once, exactly, over all |V|^2 pairs (the scan of
// exp_mech_scan.h, bitwise the audit's), never holding more than one row of
// distances per thread.
#ifndef DPSANITIZE_MECHANISMS_BEM_WEIGHTS_H_
#define DPSANITIZE_MECHANISMS_BEM_WEIGHTS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/mechanisms/exp_mech.h"

namespace dpsanitize {

struct BemWeightsOptions {
  double eps1 = 1.8;          // beta of the law, > 0
  int iterations = 450;       // symmetric Sinkhorn steps on the cheap kernel
  size_t far_sample = 1024;   // shared sample of far words in the cheap kernel
  int exact_corrections = 0;  // steps on the exact ln Z (a full scan each; see .cpp)
  // Slope (ln Z per unit of distance) of the target's cones around words
  // whose weight collapsed (0: the flat target ln Z = 0), and how many times
  // the cones are recomputed during the iterations (see .cpp).
  double cone_slope = 0.2;
  int cone_updates = 8;
  // Dense float passes over all pairs that correct the cheap kernel's error
  // (each about half an exact scan).
  int dense_corrections = 2;
  unsigned threads = 1;
  // Called at each stage (counts and stage names only, never words), e.g. to
  // keep a progress line alive during the minutes a 50,000-word vocabulary
  // takes. May be empty.
  std::function<void(const std::string& stage)> progress;
};

struct BemWeights {
  double eps1 = 0;
  int iterations = 0;
  std::vector<double> log_alpha;  // ln alpha(y) for every y, max 0
  std::vector<double> log_z;      // exact ln Z(w) for every w
  double log_z_spread = 0;        // max_w ln Z(w) - min_w ln Z(w)
  double lipschitz = 0;           // L with its rounding margin (see ExactLipschitz)
};

// The weights for `v` at eps_1 = o.eps1: iterated on the cheap kernel
// (`source` gives exact lists at least `head` deep), then ln Z and L exact.
StatusOr<BemWeights> ComputeBemWeights(VectorSet v, const NeighborSource& source, size_t head,
                                       const BemWeightsOptions& o);

// Exact ln Z(w) for every w under `p` (the audit's scan, on `threads`).
void ExactLogZ(VectorSet v, const ExpMechParams& p, unsigned threads, std::vector<double>* log_z);

// max over pairs w != w' of |log_z[w] - log_z[w']| / d(w, w'), with d by the
// scan (bitwise Distance()), over all |V|^2 pairs, then raised by its
// rounding margin: each ln Z is a compensated sum of at most |V| terms in
// (0, 1] and one log, accurate to well within 1e-12, so the result is
// multiplied by (1 + 1e-12) and increased by 2e-12 / (smallest distance).
// Pairs at distance 0 (duplicate vectors) with different ln Z give +inf.
double ExactLipschitz(VectorSet v, const std::vector<double>& log_z, unsigned threads);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_BEM_WEIGHTS_H_
