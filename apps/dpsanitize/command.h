// One dpsanitize command (sanitizing, or a subcommand such as `prepare`):
// where its flags land, how they are declared to CLI11, and what runs once
// they are parsed. Declaring is kept apart from parsing so that the hidden
// `dpsanitize completion bash` can build every command's CLI11 App without
// running anything: the completion script comes from the same definitions as
// --help and the parser, never from a second list of option names.
#ifndef DPSANITIZE_APPS_COMMAND_H_
#define DPSANITIZE_APPS_COMMAND_H_

#include <CLI/CLI.hpp>
#include <string>

#include "cli_errors.h"

namespace dpsanitize {

class Command {
 public:
  virtual ~Command() = default;
  // Declares the description, options and subcommands on `app`, bound to this
  // object's members (so the object must outlive the parse). Parses nothing.
  virtual void Define(CLI::App& app) = 0;
  // After a successful parse: does the work and returns the exit code.
  virtual int Run() = 0;
};

// Defines `command` on a fresh App, parses argv (argv[0] is the command's
// name) and runs it. `error_name` goes to ParseFailure: the subcommand that
// parse errors name, "" for `dpsanitize --help`.
inline int ParseAndRun(Command& command, int argc, char** argv, const std::string& error_name) {
  CLI::App app;
  command.Define(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return ParseFailure(app, e, error_name);
  }
  return command.Run();
}

}  // namespace dpsanitize

#endif  // DPSANITIZE_APPS_COMMAND_H_
