// Shell completion generated from the CLI11 definitions of the commands, so
// that it can never list an option --help does not (or miss one): the build
// runs the hidden `dpsanitize completion bash` and installs its output as
// share/bash-completion/completions/dpsanitize.
//
//   std::vector<NamedApp> apps{{"", &sanitize_app}, {"prepare", &prepare_app}};
//   StatusOr<std::string> script = BashCompletion(apps);
//
// What the script completes, per command (and per nested subcommand such as
// `ledger merge`): the subcommand names right after the command; every
// option's long and short names after "-"; after an option that takes a
// value, its choices when CLI11 checks it with IsMember (--mechanism, --format,
// ...), nothing for numbers (an INT/UINT/FLOAT type or a DECIMAL/COUNT
// validator), file names for any other value (paths, mostly: --embedding,
// --key-file, --ledger; also free text such as --seed, where a file name is
// a harmless offer); file names for positional arguments. Both `--opt value`
// and `--opt=value` are understood. The script needs only bash, not the
// bash-completion package's helpers.
#ifndef DPSANITIZE_APPS_COMPLETION_H_
#define DPSANITIZE_APPS_COMPLETION_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

struct NamedApp {
  std::string name;     // the subcommand (argv[1]); "" for the program itself
  const CLI::App* app;  // defined, not parsed
};

// A bash script that defines the completion function and registers it for
// dpsanitize. An internal error if a name or choice would need shell quoting.
StatusOr<std::string> BashCompletion(const std::vector<NamedApp>& commands);

}  // namespace dpsanitize

#endif  // DPSANITIZE_APPS_COMPLETION_H_
