// `dpsanitize audit`: its flags and the privacy audit they run.
#ifndef DPSANITIZE_APPS_AUDIT_COMMAND_H_
#define DPSANITIZE_APPS_AUDIT_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>

#include "command.h"
#include "dpsanitize/audit/audit.h"
#include "dpsanitize/core/config.h"
#include "flags.h"

namespace dpsanitize {

class AuditCommand : public Command {
 public:
  void Define(CLI::App& app) override;
  int Run() override;

 private:
  Config config_;
  MechanismFlags mechanism_;
  AuditOptions options_;
  std::string plot_;
  bool json_ = false;
  bool quiet_ = false;
};

}  // namespace dpsanitize

#endif  // DPSANITIZE_APPS_AUDIT_COMMAND_H_
