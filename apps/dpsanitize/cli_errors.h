// How every dpsanitize command reports failure: one stderr line
// "dpsanitize: <what>: <why>" and the documented exit code.
#ifndef DPSANITIZE_APPS_CLI_ERRORS_H_
#define DPSANITIZE_APPS_CLI_ERRORS_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "dpsanitize/core/status.h"

namespace dpsanitize {

// A library Status: the message on one line, exit code per ExitCodeFor.
// A broken pipe on stdout means the reader went away: not an error.
inline int Fail(const Status& s) {
  // Callers may pass a call's Status straight through (`return Fail(Merge(...))`).
  if (s.ok() || s.code() == StatusCode::kBrokenPipe) return 0;
  std::fprintf(stderr, "dpsanitize: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

// CLI11 parse errors: help and version print and exit 0; the rest become one
// line and exit 2. `command` is the subcommand ("" for sanitizing).
inline int ParseFailure(CLI::App& app, const CLI::ParseError& e, const std::string& command = "") {
  if (e.get_exit_code() == 0) return app.exit(e);
  std::string msg = e.what();
  for (char& ch : msg) {
    if (ch == '\n') ch = ' ';
  }
  if (command.empty()) {
    std::fprintf(stderr, "dpsanitize: %s (see dpsanitize --help)\n", msg.c_str());
  } else {
    std::fprintf(stderr, "dpsanitize: %s: %s (see dpsanitize %s --help)\n", command.c_str(),
                 msg.c_str(), command.c_str());
  }
  return 2;
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_APPS_CLI_ERRORS_H_
