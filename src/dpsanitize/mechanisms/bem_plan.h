// bem in the registry (spec section 2b; issue 13): the density-balanced
// exponential mechanism, P[M(w) = y] = alpha(y) exp(-eps_1 d(w, y)) / Z(w).
//
// --eps E is the *total* guarantee. The plan searches eps_1 (a few rounds of
// ComputeBemWeights, each ending with the exact L over all |V|^2 pairs) for
// the largest eps_1 it tries with eps_1 + L <= E, and claims eps_1 + L: a
// derived number, never the target. The result is cached per (embedding
// SHA-256, vocabulary, head depth, E, solver version) because it takes
// minutes on a 50,000-word vocabulary.
//
//   DPS_ASSIGN_OR_RETURN(BemSolution s, SolveBem(v, source, head, /*eps=*/2.5, options));
//   s.eps1 + s.lipschitz <= 2.5;  s.log_alpha.size() == v.n;
#ifndef DPSANITIZE_MECHANISMS_BEM_PLAN_H_
#define DPSANITIZE_MECHANISMS_BEM_PLAN_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/core/vector_set.h"
#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

// Bumped whenever the weights' computation changes, so that a cache entry of
// an older solver is not reused (an old entry would still be *valid*, since L
// is exact for whatever alpha it holds, but would not be what this version
// computes).
inline constexpr int kBemSolverVersion = 2;

struct BemSolution {
  double requested_eps = 0;       // --eps E
  double eps1 = 0;                // beta of the law
  double lipschitz = 0;           // exact L of ln Z over V, with its rounding margin
  double log_z_spread = 0;        // max_w ln Z(w) - min_w ln Z(w)
  int iterations = 0;             // solver iterations per round
  int rounds = 0;                 // eps_1 values tried
  std::vector<double> log_alpha;  // ln alpha(y) per vocabulary word, max 0
  // The guarantee claimed: eps_1 + L <= requested_eps.
  double eps() const { return eps1 + lipschitz; }
};

struct BemSearchOptions {
  unsigned threads = 1;
  int max_rounds = 4;
  // First guess of L / eps_1. Measured with solver version 2: 1e-5 on the
  // 5,000-word fixture; on GloVe's 50,000 words 3e-6 at eps_1 = 2.5 but 0.13
  // at 1.8 and 0.31 at 1.0 (words at the centre of the vocabulary that no
  // positive alpha balances, docs/mechanism.md). A small guess makes one round
  // enough wherever L is small; elsewhere the second round uses the measured
  // ratio.
  double initial_ratio = 0.005;
  std::function<void(const std::string& stage)> progress;  // may be empty
};

// The eps_1 search for a total guarantee `eps` (> 0, finite). Usage error when
// no round reaches eps_1 + L <= eps, naming the smallest total reached.
StatusOr<BemSolution> SolveBem(VectorSet v, const NeighborSource& source, size_t head, double eps,
                               const BemSearchOptions& options);

// The cache entry's key and payload (binary, this machine's byte order and
// doubles, since the key names the solver version and the cache is local).
std::string BemCacheKey(const std::string& embedding_sha256, size_t vocab_size, uint32_t dim,
                        size_t head, double eps);
std::string SerializeBemSolution(const BemSolution& s);
// Errors on any inconsistency (size, non-finite or positive log_alpha, a
// claim above the request): a cache entry is checked, never trusted blindly.
StatusOr<BemSolution> ParseBemSolution(std::string_view payload, size_t vocab_size, double eps);

MechanismInfo BemMechanismInfo();

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_BEM_PLAN_H_
