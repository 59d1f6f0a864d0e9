// The audit's utility figures (spec section 7): how much a mechanism changes
// words, by density decile of the vocabulary, over every audited word.
//
//   std::vector<DecileUtility> u = UtilityByDecile(sampled, words, laws);
#ifndef DPSANITIZE_AUDIT_UTILITY_H_
#define DPSANITIZE_AUDIT_UTILITY_H_

#include <vector>

#include "dpsanitize/audit/audit.h"
#include "dpsanitize/audit/pairs.h"
#include "dpsanitize/mechanisms/output_law.h"

namespace dpsanitize {

// Deciles 1..10 of `sampled` (nearest-neighbour distance ranges), each with
// the mean P[M(w) = w], E[d(w, M(w))] and E[rank] of the audited words
// (laws[i] is the law of words[i]) in it; means are 0 for a decile without
// audited words.
std::vector<DecileUtility> UtilityByDecile(const SampledPairs& sampled,
                                           const std::vector<WordId>& words,
                                           const std::vector<WordLaw>& laws);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_UTILITY_H_
