// Privacy audit (spec section 7). Placeholder: being written.
#ifndef DPSANITIZE_AUDIT_AUDIT_H_
#define DPSANITIZE_AUDIT_AUDIT_H_
namespace dpsanitize {}
#endif  // DPSANITIZE_AUDIT_AUDIT_H_
