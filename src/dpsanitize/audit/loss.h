// The privacy loss of one audited pair, from any OutputLaw, and its summary
// per pair category (spec section 7).
//
//   AuditPair p;  p.w = w;  p.w2 = w2;  p.distance = Distance(vs, w, w2);
//   // exact and certified laws:
//   DPS_RETURN_IF_ERROR(BoundedPairLoss(law, law_w, law_w2, options, vocab, &p));
//   // Monte Carlo laws:
//   DPS_RETURN_IF_ERROR(MonteCarloPairLoss(law_w, law_w2, options, vocab, &p));
//   std::vector<CategorySummary> s = SummariseCategories(report.pairs);
#ifndef DPSANITIZE_AUDIT_LOSS_H_
#define DPSANITIZE_AUDIT_LOSS_H_

#include <vector>

#include "dpsanitize/audit/audit.h"
#include "dpsanitize/core/status.h"
#include "dpsanitize/embed/vocabulary.h"
#include "dpsanitize/mechanisms/output_law.h"

namespace dpsanitize {

// An exact or certified law: fills the loss fields of `out` (w, w2 and
// distance set) from law.Bounds() of both words' laws. Considers every
// output either word's law lists, and for certified laws a few unlisted ones
// per direction (FarOutputs); with ImplementationMaxRank, counts the outputs
// only one of the words can give. Thread-safe.
Status BoundedPairLoss(const OutputLaw& law, const WordLaw& law_w, const WordLaw& law_w2,
                       const AuditOptions& options, const Vocabulary& vocab, AuditPair* out);

// A Monte Carlo law: fills the loss fields of `out` from both words' counts,
// with Clopper-Pearson intervals simultaneous at 1 - options.alpha over the
// pair's observed outputs (Bonferroni). Thread-safe.
Status MonteCarloPairLoss(const WordLaw& law_w, const WordLaw& law_w2, const AuditOptions& options,
                          const Vocabulary& vocab, AuditPair* out);

// Per category (kPairCategories order, categories without pairs left out),
// then "all": medians and maxima of the losses, counts above epsilon (the
// pairs' exceeds flags must be set).
std::vector<CategorySummary> SummariseCategories(const std::vector<AuditPair>& pairs);

}  // namespace dpsanitize

#endif  // DPSANITIZE_AUDIT_LOSS_H_
