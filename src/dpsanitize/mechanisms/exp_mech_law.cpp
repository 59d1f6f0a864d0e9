#include "dpsanitize/mechanisms/exp_mech_law.h"

namespace dpsanitize {

StatusOr<std::unique_ptr<OutputLaw>> MakeExpMechOutputLaw(const ExpMechParams&, const LawContext&) {
  return InternalError("em/tem output law: not wired yet");
}

}  // namespace dpsanitize
