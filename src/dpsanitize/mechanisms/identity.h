// The identity mechanism's registry entry (library only, no privacy).
#ifndef DPSANITIZE_MECHANISMS_IDENTITY_H_
#define DPSANITIZE_MECHANISMS_IDENTITY_H_

#include "dpsanitize/mechanisms/registry.h"

namespace dpsanitize {

MechanismInfo IdentityMechanismInfo();

}  // namespace dpsanitize

#endif  // DPSANITIZE_MECHANISMS_IDENTITY_H_
