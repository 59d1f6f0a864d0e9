#include "completion.h"

#include <algorithm>
#include <string>
#include <vector>

namespace dpsanitize {
namespace {

// What may follow an option on the command line.
enum class ValueKind {
  kNone,     // a flag
  kChoices,  // one of `choices` (CLI11's IsMember)
  kNumber,   // a number: nothing to offer
  kText,     // anything, usually a path: file names
};

struct OptionSpec {
  std::vector<std::string> names;  // "-q", "--quiet"
  ValueKind kind = ValueKind::kNone;
  std::vector<std::string> choices;
};

struct CommandSpec {
  std::string path;                      // "", "prepare", "ledger merge"
  std::vector<std::string> subcommands;  // names right after this command
  std::vector<OptionSpec> options;
  bool positionals = false;  // takes positional arguments (files, in our CLI)
};

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    const size_t end = text.find(sep, begin);
    parts.push_back(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return parts;
    begin = end + 1;
  }
}

// CLI11 keeps an option's validators private; its type name is the public
// view of them, as --help shows it: "TEXT:{em,tem,bem,tg,mvl}" for an
// IsMember check (CLI11's generate_set: braces, comma-separated),
// "FLOAT:DECIMAL" for a number with our Decimal() validator.
void Classify(const CLI::Option& option, OptionSpec* spec) {
  // A flag expects no value (CLI11's add_flag sets expected(0)).
  if (option.get_items_expected_max() == 0) {
    spec->kind = ValueKind::kNone;
    return;
  }
  spec->kind = ValueKind::kText;
  const std::vector<std::string> parts = Split(option.get_type_name(), ':');
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      spec->kind = ValueKind::kChoices;
      spec->choices = Split(part.substr(1, part.size() - 2), ',');
      return;
    }
    // parts[0] is the C++ type (TEXT, INT, UINT, FLOAT); the others name
    // validators, such as our Decimal() and Count().
    const bool number_type = i == 0 && (part == "INT" || part == "UINT" || part == "FLOAT");
    if (number_type || part == "DECIMAL" || part == "COUNT") spec->kind = ValueKind::kNumber;
  }
}

void Collect(const std::string& path, const CLI::App& app, std::vector<CommandSpec>* out) {
  CommandSpec spec;
  spec.path = path;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) {
      spec.positionals = true;
      continue;
    }
    OptionSpec o;
    for (const std::string& s : option->get_snames()) o.names.push_back("-" + s);
    for (const std::string& l : option->get_lnames()) o.names.push_back("--" + l);
    Classify(*option, &o);
    spec.options.push_back(std::move(o));
  }
  const auto all = [](const CLI::App*) { return true; };
  std::vector<const CLI::App*> subs = app.get_subcommands(all);
  for (const CLI::App* sub : subs) spec.subcommands.push_back(sub->get_name());
  out->push_back(std::move(spec));
  for (const CLI::App* sub : subs) {
    Collect(path.empty() ? sub->get_name() : path + " " + sub->get_name(), *sub, out);
  }
}

// Every name and choice is pasted into the script unquoted (case patterns,
// compgen -W words): refuse anything that would need quoting, rather than
// emit a script that breaks or runs something.
bool ShellSafe(const std::string& word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '+' || ch == '/';
  });
}

std::string Join(const std::vector<std::string>& words, const std::string& sep) {
  std::string s;
  for (const std::string& w : words) s += (s.empty() ? "" : sep) + w;
  return s;
}

// The case branch of one command: values after its options, then option
// names, subcommand names and file names.
std::string CommandBranch(const CommandSpec& c) {
  std::vector<std::string> names, numbers, texts;
  std::string s = "    \"" + c.path + "\")\n";
  std::string choices;
  for (const OptionSpec& o : c.options) {
    names.insert(names.end(), o.names.begin(), o.names.end());
    switch (o.kind) {
      case ValueKind::kNone:
        break;
      case ValueKind::kChoices:
        choices += "        " + Join(o.names, " | ") + ") COMPREPLY=($(compgen -W \"" +
                   Join(o.choices, " ") + "\" -- \"$cur\")); return ;;\n";
        break;
      case ValueKind::kNumber:
        numbers.insert(numbers.end(), o.names.begin(), o.names.end());
        break;
      case ValueKind::kText:
        texts.insert(texts.end(), o.names.begin(), o.names.end());
        break;
    }
  }
  if (!choices.empty() || !numbers.empty() || !texts.empty()) {
    s += "      case \"$prev\" in\n" + choices;
    if (!numbers.empty()) s += "        " + Join(numbers, " | ") + ") return ;;\n";
    if (!texts.empty()) s += "        " + Join(texts, " | ") + ") _dpsanitize_files; return ;;\n";
    s += "      esac\n";
  }
  s += "      if [[ $cur == -* ]]; then\n";
  s += "        COMPREPLY=($(compgen -W \"" + Join(names, " ") + "\" -- \"$cur\"))\n";
  s += "        return\n";
  s += "      fi\n";
  if (!c.subcommands.empty()) {
    s += "      ((i == COMP_CWORD)) && COMPREPLY=($(compgen -W \"" + Join(c.subcommands, " ") +
         "\" -- \"$cur\"))\n";
  }
  if (c.positionals) s += "      _dpsanitize_files\n";
  s += "      ;;\n";
  return s;
}

}  // namespace

StatusOr<std::string> BashCompletion(const std::vector<NamedApp>& commands) {
  std::vector<CommandSpec> specs;
  std::vector<std::string> top_subcommands;
  for (const NamedApp& c : commands) {
    Collect(c.name, *c.app, &specs);
    if (!c.name.empty()) top_subcommands.push_back(c.name);
  }
  for (CommandSpec& spec : specs) {
    if (spec.path.empty()) {
      spec.subcommands.insert(spec.subcommands.end(), top_subcommands.begin(),
                              top_subcommands.end());
    }
  }
  // Which words on the command line are (sub)command names: "parent/name".
  std::vector<std::string> steps;
  for (const CommandSpec& spec : specs) {
    const std::vector<std::string> words =
        spec.path.empty() ? std::vector<std::string>{} : Split(spec.path, ' ');
    for (const std::string& w : words) {
      if (!ShellSafe(w)) return InternalError("completion: command name '{}' needs quoting", w);
    }
    for (const OptionSpec& o : spec.options) {
      for (const std::string& w : o.names) {
        if (!ShellSafe(w)) return InternalError("completion: option name '{}' needs quoting", w);
      }
      for (const std::string& w : o.choices) {
        if (!ShellSafe(w)) return InternalError("completion: choice '{}' needs quoting", w);
      }
    }
    for (const std::string& sub : spec.subcommands) {
      steps.push_back("\"" + spec.path + "/" + sub + "\"");
    }
  }

  std::string s;
  s += "# bash completion for dpsanitize\n";
  s += "# Generated by `dpsanitize completion bash` from the CLI11 definitions of\n"
       "# every command (the ones --help prints), by the build: do not edit.\n"
       "# Needs bash only, not the bash-completion package's helpers.\n\n";
  s += "# File names matching $cur, one per line (names with spaces stay whole).\n";
  s += "_dpsanitize_files() {\n";
  s += "  local f\n";
  s += "  compopt -o filenames 2>/dev/null\n";
  s += "  while IFS= read -r f; do COMPREPLY+=(\"$f\"); done < <(compgen -f -- \"$cur\")\n";
  s += "}\n\n";
  s += "_dpsanitize() {\n";
  s += "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmd=\"\" i\n";
  s += "  COMPREPLY=()\n";
  s += "  ((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD - 1]}\"\n";
  s += "  # bash splits \"--opt=value\" at '=' (COMP_WORDBREAKS): complete the value.\n";
  s += "  if [[ $cur == \"=\" ]]; then\n";
  s += "    cur=\"\"\n";
  s += "  elif [[ $prev == \"=\" ]] && ((COMP_CWORD > 1)); then\n";
  s += "    prev=\"${COMP_WORDS[COMP_CWORD - 2]}\"\n";
  s += "  fi\n";
  s += "  # The (sub)command: subcommand names right after the program's name. The\n";
  s += "  # loop stops at the first other word; i == COMP_CWORD when none came yet.\n";
  s += "  for ((i = 1; i < COMP_CWORD; i++)); do\n";
  s += "    case \"$cmd/${COMP_WORDS[i]}\" in\n";
  s += "      " + Join(steps, " | ") + ") cmd=\"${cmd:+$cmd }${COMP_WORDS[i]}\" ;;\n";
  s += "      *) break ;;\n";
  s += "    esac\n";
  s += "  done\n";
  s += "  case \"$cmd\" in\n";
  for (const CommandSpec& spec : specs) s += CommandBranch(spec);
  s += "  esac\n";
  s += "}\n\n";
  s += "complete -F _dpsanitize dpsanitize\n";
  return s;
}

}  // namespace dpsanitize
