// mvl's output law (spec section 7): Monte Carlo.
//
// mvl's guarantee is analytic (Feyisetan et al. 2020), so its law is not
// computed: the audit draws the real noise, as the sampler does, and counts
// the nearest words, which checks the implementation against the proof.
//
//   DPS_ASSIGN_OR_RETURN(auto law, MakeMvlOutputLaw(eps, ctx));
//   DPS_ASSIGN_OR_RETURN(WordLaw lw, law->Of(w));  // lw.outputs, lw.counts of lw.draws
#ifndef DPSANITIZE_MECHANISMS_MVL_LAW_H_
#define DPSANITIZE_MECHANISMS_MVL_LAW_H_

#include <functional>
#include <memory>
#include <optional>

#include "dpsanitize/core/status.h"
#include "dpsanitize/mechanisms/output_law.h"
#include "dpsanitize/random/keyed_rng.h"

namespace dpsanitize {

// ctx.samples draws per word of MvlNoisyPoint at `eps` from streams keyed by
// ctx.seed (one per word and draw, independent of the run's), each mapped to
// its nearest word by ctx.nearest, which must be exact. Of() also gives the
// utility figures as frequencies: p_unchanged, mean_distance and p_near10
// (w's 10 nearest other words from ctx.neighbors, or an exact scan when it is
// null). Errors: no finder, no samples (usage), eps not finite and > 0.
StatusOr<std::unique_ptr<OutputLaw>> MakeMvlOutputLaw(double eps, const LawContext& ctx);

// One noisy point's draw from `rng`: its unit direction (dim doubles, into
// `dir`) and the returned radius. Called from one thread at a time.
using NoisyPointDraw = std::function<double(WordRng& rng, double* dir)>;

// The same Monte Carlo law for any mechanism that adds noise to phi(w) and
// outputs the nearest word (mahalanobis) or, given vickrey_t, chooses between
// the two nearest by Vickrey's rule with one more uniform from the stream
// (vickrey.h): draw i of word w comes from stream WordRng(ctx.seed's key,
// doc_base + w, 0, i); doc_base keeps mechanisms' audit streams apart.
// Errors: no finder, no samples.
StatusOr<std::unique_ptr<OutputLaw>> MakeNoisyPointOutputLaw(
    NoisyPointDraw draw, uint64_t doc_base, const LawContext& ctx,
    std::optional<double> vickrey_t = std::nullopt);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_MVL_LAW_H_
