#include "audit_command.h"

#include <cstdio>

int RunAuditCommand(int argc, char** argv) {
  std::fprintf(stderr, "dpsanitize: audit: not implemented yet\n");
  return 2;
}
