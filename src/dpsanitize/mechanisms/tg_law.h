// tg's output law (spec section 7): certified, by numerical integration.
//
// For a source word w with exact candidate distances d_0 = 0 <= d_1 <= ...,
// P[M(w) = rank i] is a one-dimensional integral per rank, mixed over the
// truncated Poisson k. The law integrates ranks 0..K (the audit's depth) and
// bounds every other rank: above by the exact Poisson tail ln P(k >= r),
// below by a single-threshold event (TgLogLowerBound). So every
// ln P[M(w) = y] is an interval, and the audit's losses are certified.
//
//   DPS_ASSIGN_OR_RETURN(auto law, MakeTgOutputLaw(params, vocab_size, ctx));
//   DPS_ASSIGN_OR_RETURN(WordLaw lw, law->Of(w));
//
// The building blocks are public: the statistical tests use the exact law as
// an oracle for the real sampler (tests/statistical/audit_test.cpp).
#ifndef DPSANITIZE_MECHANISMS_TG_LAW_H_
#define DPSANITIZE_MECHANISMS_TG_LAW_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dpsanitize/core/status.h"
#include "dpsanitize/mechanisms/output_law.h"
#include "dpsanitize/mechanisms/tg.h"

namespace dpsanitize {

// Max-stable Gumbel(0, b), CDF exp(-exp(-x/b)), conditioned on |x| <= delta.
// Written from the definition, independently of the sampler, in forms that
// neither overflow nor cancel for any delta / b.
class TruncatedGumbelLaw {
 public:
  TruncatedGumbelLaw(double b, double delta);
  double LogPdf(double x) const;       // -inf outside [-delta, delta]
  double LogSurvival(double x) const;  // ln P(G > x)
  double LogCdf(double x) const;       // ln P(G <= x)
  // P(G > x) and the density in linear space (the integrand's hot path).
  double Survival(double x) const;
  double Pdf(double x) const;
  // Both at once (one exponential shared), for x inside (-delta, delta).
  void PdfAndSurvival(double x, double* pdf, double* survival) const;
  double b() const { return b_; }
  double delta() const { return delta_; }

 private:
  double b_;
  double delta_;
  double exp_neg_ratio_;  // e^{-delta/b}
  double log_z_;          // ln(Phi(delta) - Phi(-delta))
  double log_b_z_;        // ln b + log_z_
  double s_scale_;        // Phi(delta) / Z
};

// Poisson(mu) conditioned on k <= kmax: ln pmf and the exact log tail
// ln P(K >= r) for every r (a table built once by log-sum-exp from the top).
class PoissonLogLaw {
 public:
  PoissonLogLaw(double mu, uint64_t kmax);
  double LogPmf(uint64_t k) const;
  double LogTailAtLeast(uint64_t r) const;  // 0 at r = 0, -inf beyond kmax
  double mu() const { return mu_; }
  uint64_t kmax() const { return kmax_; }

 private:
  double mu_;
  uint64_t kmax_;
  double log_norm_;
  std::vector<double> log_tail_;  // log_tail_[r] = ln P(K >= r), r = 0..kmax
};

// The output law of tg for one source word over ranks 0..K of its exact
// candidate list, with the Poisson mixture cut at k <= K:
//   L_i = sum_{k=i..K} pi_k P[rank i wins | k]
//       = int f(v - d_i) prod_{j<i} S(v - d_j) sum_{k=i..K} pi_k prod_{j=i+1..k} S(v - d_j) dv,
// so P[M(w) = rank i] lies in [L_i, L_i + P(k > K)] (up to quadrature error).
struct TgExactLaw {
  std::vector<double> log_p;    // ln L_i, i = 0..K; -inf where not resolved (< 1e-250)
  std::vector<double> rel_err;  // estimated relative quadrature error of L_i
  double log_tail = 0;          // ln P(k > K), the mass the L_i leave out
  double sum_rule = 0;          // |sum_i L_i - P(k <= K)|, a check of the quadrature
  double max_rel_err = 0;       // max of rel_err over resolved ranks
  size_t panels = 0;            // Gauss-Kronrod panels used
  bool converged = true;        // every component met rel_tol
  size_t depth() const { return log_p.size() - 1; }
};

// `dist` holds d_0 = 0, d_1 <= ... <= d_K: the source word and its K nearest
// other words (K <= poisson.kmax()).
StatusOr<TgExactLaw> ComputeTgExactLaw(const std::vector<double>& dist,
                                       const TruncatedGumbelLaw& gumbel,
                                       const PoissonLogLaw& poisson,
                                       const QuadratureOptions& quad = {});

// A rigorous lower bound on ln P[M(w) = rank r] for any rank r, with no
// quadrature: the event {k = r, G_r <= x - d_r, G_j > x - d_j for all j < r}
// implies that rank r wins, so P >= pi_r F(x - d_r) prod_{j<r} S(x - d_j) for
// every x; maximised over a grid of x. Distances past the first 64 ranks are
// grouped, each group using its smallest distance (which only lowers the
// bound). `dist` holds d_0 = 0, d_1, ..., at least r + 1 entries.
double TgLogLowerBound(const double* dist, size_t r, const TruncatedGumbelLaw& gumbel,
                       const PoissonLogLaw& poisson);

// tg's certified OutputLaw over the vocabulary ctx.vectors (|V| = vocab_size):
// ranks 0..min(ctx.depth, |V| - 1) integrated with ctx.quadrature, candidate
// lists by exact double-precision scans. Usage error when P(k > depth) is not
// small against ctx.typical_threshold (the audit's --depth).
StatusOr<std::unique_ptr<OutputLaw>> MakeTgOutputLaw(const TgParams& params, uint64_t vocab_size,
                                                     const LawContext& ctx);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_TG_LAW_H_
