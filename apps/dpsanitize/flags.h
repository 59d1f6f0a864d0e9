// Command-line flags shared by the subcommands, declared once. CLI11 only
// fills the Config (and the raw strings of enum-like options); the library
// validates it (ValidateConfig in pipeline/engine.h).
#ifndef DPSANITIZE_APPS_FLAGS_H_
#define DPSANITIZE_APPS_FLAGS_H_

#include <CLI/CLI.hpp>
#include <map>
#include <string>

#include "dpsanitize/core/config.h"

namespace dpsanitize {

// Validators run on the option's text before CLI11 converts it, which would
// otherwise read "0x50" as 80 and wrap "-5" or 2^64 into an unsigned value.
// Decimal(): a decimal number (digits, point, exponent; inf and nan pass to
// the library's own message). Count(): digits only, at most 2^64 - 1.
CLI::Validator Decimal();
CLI::Validator Count();

// --embedding and --vocab-size.
void AddEmbeddingFlags(CLI::App& app, Config* c);

// --mechanism (choices from the registry) and every mechanism-specific
// option of every registry entry (--tem-gamma, --lambda, ...): each command
// that makes a plan (sanitize, calibrate, audit) takes them all, and
// ValidateMechanismOptions refuses one of another mechanism.
struct MechanismFlags {
  std::string mechanism = Config().mechanism;
  std::map<std::string, std::string> values;    // flag name -> text given
  std::map<std::string, CLI::Option*> options;  // flag name -> CLI11 option
};
void AddMechanismFlags(CLI::App& app, MechanismFlags* f);
// Copies the mechanism and the options actually given into the Config.
void ApplyMechanismFlags(const MechanismFlags& f, Config* c);

// Every option of the sanitize command (input, mechanism, privacy, output,
// performance); Apply() maps the enum-like strings after parsing.
struct SanitizeFlags {
  Config config;
  MechanismFlags mechanism;
  std::string oov = "mask", case_mode = "preserve", format = "auto", doc = "line", bad = "error",
              compress = "auto";
  std::string log_level;
  std::string shard;
  bool progress = false;
  void Add(CLI::App& app);
  Config Apply() const;
};

// --shard I/N: 0 <= I < N, both decimal; an error names the value.
Status ParseShard(const std::string& text, uint64_t* index, uint64_t* count);

// The "Mechanisms:" block of --help, from the registry.
std::string MechanismsHelp();

}  // namespace dpsanitize

#endif  // DPSANITIZE_APPS_FLAGS_H_
