// asr/cli/command.h: how `asrctl` subcommands are declared and parsed.
//
// Each subsystem contributes a group of commands ("disk", "replica", ...)
// from its own file, registered in asrctl_main.cc:
//
//   int DiskInfo(const CommandContext& ctx, const ParsedArgs& args) {
//     ASR_ASSIGN_OR_RETURN ... ;  // errors: ctx.Fail(status)
//     ctx.out << ...;
//     return 0;
//   }
//   void RegisterDiskCommands(CommandRegistry& r) {
//     r.Add({"disk info", "disk info FILE [--json]", "Show a virtual disk's format ...",
//            /*value_flags=*/{}, /*bool_flags=*/{}, 1, 1, DiskInfo});
//   }
//
// Global flags (--state-dir DIR, --json) are parsed before the command and
// reach it through CommandContext.
#ifndef ASR_CLI_COMMAND_H_
#define ASR_CLI_COMMAND_H_

#include <functional>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::cli {

struct CommandContext {
  std::string state_dir;       // --state-dir, default ./asr-state
  bool json = false;           // --json: machine-readable output on stdout
  std::istream* in = nullptr;  // standard input (e.g. --proxy-password-stdin)
  std::ostream* out;           // normal output
  std::ostream* err;           // diagnostics

  // Prints "asrctl: <message>" to err and returns the exit code for a failed
  // command (2 for bad usage/arguments, 1 otherwise).
  int Fail(const absl::Status& status) const;
};

// Arguments after the command words: positionals and --flags.
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // --flag VALUE or --flag=VALUE
  std::set<std::string> bools;                // --flag

  bool Has(const std::string& flag) const;
  // The value of --flag, or `def` when absent.
  std::string Get(const std::string& flag, const std::string& def = "") const;
  // The value of --flag, InvalidArgument naming it when absent.
  absl::StatusOr<std::string> Require(const std::string& flag) const;
};

struct CommandSpec {
  std::string name;   // command words, e.g. "disk info"
  std::string usage;  // e.g. "disk info FILE [--json]"
  std::string help;   // one line
  std::set<std::string> value_flags;  // flags that take a value (without "--")
  std::set<std::string> bool_flags;   // flags without value (without "--")
  int min_positional = 0;
  int max_positional = 0;  // -1: unlimited
  std::function<int(const CommandContext&, const ParsedArgs&)> run;
};

class CommandRegistry {
 public:
  void Add(CommandSpec spec);
  // Runs argv (without the program name) with std::cin as its input.
  // Returns the process exit code.
  int Run(const std::vector<std::string>& argv, std::ostream& out, std::ostream& err) const;
  // The same, reading standard input from `in`.
  int Run(const std::vector<std::string>& argv, std::istream& in, std::ostream& out,
          std::ostream& err) const;
  void PrintHelp(std::ostream& os) const;

 private:
  std::vector<CommandSpec> commands_;
};

// `text` as a JSON string literal, quotes included ("a\"b" for a"b).
std::string JsonQuote(absl::string_view text);

// Parses a size with an optional K, M, G or T suffix (powers of 1024; a
// trailing "B"/"iB" is accepted), e.g. "64K", "1G", "512".
absl::StatusOr<uint64_t> ParseSize(const std::string& text);

// Parses a whole decimal number in [min, max]; the error names `what`.
absl::StatusOr<int64_t> ParseInt(const std::string& text, const std::string& what, int64_t min,
                                 int64_t max);

}  // namespace asr::cli

#endif  // ASR_CLI_COMMAND_H_
