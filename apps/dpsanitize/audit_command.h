// `dpsanitize audit`: parses its flags and runs the privacy audit.
#ifndef DPSANITIZE_APPS_AUDIT_COMMAND_H_
#define DPSANITIZE_APPS_AUDIT_COMMAND_H_

// argv[0] is "audit"; returns the process exit code.
int RunAuditCommand(int argc, char** argv);

#endif  // DPSANITIZE_APPS_AUDIT_COMMAND_H_
