// The exact output law of em, tem (and bem) for the audit and `calibrate`:
// ln P[M(w) = y] in closed form for every y in V (spec sections 2b and 7).
//
//   P[M(w) = y] = alpha(y) exp(-beta min(d(w, y), gamma)) / Z(w)
//
// computed per word by one full scan in double precision (distances bitwise
// equal to Distance(v, w, y); log-sum-exp with a compensated sum), so the
// audit's worst-case loss over all outputs is exact, not a bound.
//
//   DPS_ASSIGN_OR_RETURN(auto law, MakeExpMechOutputLaw(EmParams(eps), ctx));
//   DPS_ASSIGN_OR_RETURN(WordLaw lw, law->Of(w));  // p_unchanged, mean_distance,
//                                                  // mean_rank, p_near10
//   DPS_ASSIGN_OR_RETURN(auto b, law->Bounds(lw));  // ln P of every output
//   b->Estimate(y);  b->Rank(y);  // y's place in w's (distance, id) order
//
// Of() keeps no per-output data (its `outputs` and `log_p` stay empty), so
// the audit's hundreds of word laws and calibrate's thousand cost no memory;
// Bounds() recomputes the word's law (one more scan, O(|V|) memory held only
// while the audit compares one pair).
#ifndef DPSANITIZE_MECHANISMS_EXP_MECH_LAW_H_
#define DPSANITIZE_MECHANISMS_EXP_MECH_LAW_H_

#include <memory>

#include "dpsanitize/core/status.h"
#include "dpsanitize/mechanisms/exp_mech.h"
#include "dpsanitize/mechanisms/output_law.h"

namespace dpsanitize {

// The exact law of the selector with `params` over ctx.vectors (borrowed,
// like params.log_alpha: both must outlive the law). WordLaw::p_near10 counts
// w's 10 nearest other words by (distance, id). Errors: params that fail
// ValidateExpMechParams, or an empty vocabulary.
StatusOr<std::unique_ptr<OutputLaw>> MakeExpMechOutputLaw(const ExpMechParams& params,
                                                          const LawContext& ctx);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_EXP_MECH_LAW_H_
