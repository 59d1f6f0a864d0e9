// The exact output law of em, tem (and bem) for the audit: ln P[M(w) = y] in
// closed form for every y in V (spec section 7).
#ifndef DPSANITIZE_MECHANISMS_EXP_MECH_LAW_H_
#define DPSANITIZE_MECHANISMS_EXP_MECH_LAW_H_

#include <memory>

#include "dpsanitize/core/status.h"
#include "dpsanitize/mechanisms/exp_mech.h"
#include "dpsanitize/mechanisms/output_law.h"

namespace dpsanitize {

StatusOr<std::unique_ptr<OutputLaw>> MakeExpMechOutputLaw(const ExpMechParams& params,
                                                          const LawContext& ctx);

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_EXP_MECH_LAW_H_
