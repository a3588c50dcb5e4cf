// asr/cli/command.h: how `asrctl` subcommands are declared and parsed.
//
// Each subsystem contributes a group of commands ("disk", "replica", ...)
// from its own file, registered in asrctl_main.cc:
//
//   absl::Status DiskInfo(const CommandContext& ctx, const ParsedArgs& args) {
//     ASR_ASSIGN_OR_RETURN(auto disk, disk::OpenVirtualDisk(args.positional[0], {}));
//     *ctx.out << ...;
//     return absl::OkStatus();
//   }
//   void RegisterDiskCommands(CommandRegistry& r) {
//     r.Add({"disk info", "disk info FILE [--json]", "Show a virtual disk's format ...",
//            /*value_flags=*/{}, /*bool_flags=*/{}, 1, 1, DiskInfo});
//   }
//
// Global flags (--state-dir DIR, --key-file PATH, --fabric DIR, --qemu-host DIR, --json) are
// parsed before
// the command and reach it through CommandContext. Every argument is checked
// before the command runs (ValidateIdentifier, asr/common/identifier.h):
// positionals and flag values must be valid UTF-8 without control
// characters, at most 4096 bytes; the values of identifier flags (--name,
// --cloud, --server, --vm, ...: IsIdentifierFlag) at most 256 bytes and not
// empty. A bad one is bad usage (exit code 2) naming the flag. A handler returns its status; the
// registry alone turns it into the exit code and the message on stderr
// (ExitCodeFor): 0 for OK, 2 for bad usage (InvalidArgument), 1 otherwise,
// "asrctl: <message>" on stderr, and for a status that names a failed job a
// line saying how to inspect and restart it.
//
// Thread safety: a CommandRegistry is filled once and then only read; Run
// may be called from several threads.
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
  std::string key_file;        // --key-file: the key-encryption key's file ("" if not given)
  std::string fabric_dir;      // --fabric: a simulated fabric's directory ("" if not given)
  std::string qemu_host_dir;   // --qemu-host: a QEMU host's directory ("" if not given)
  bool json = false;           // --json: machine-readable output on stdout
  std::istream* in = nullptr;  // standard input (e.g. --proxy-password-stdin)
  std::ostream* out;           // normal output
  std::ostream* err;           // diagnostics
};

// Arguments after the command words: positionals and --flags.
struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;  // --flag VALUE or --flag=VALUE (the last one)
  // Every value of each --flag in command-line order, for flags that may
  // repeat (--replica-dir A --replica-dir B).
  std::map<std::string, std::vector<std::string>> all_values;
  std::set<std::string> bools;  // --flag

  bool Has(const std::string& flag) const;
  // The value of --flag, or `def` when absent.
  std::string Get(const std::string& flag, const std::string& def = "") const;
  // The value of --flag, InvalidArgument naming it when absent.
  absl::StatusOr<std::string> Require(const std::string& flag) const;
  // Every value of a repeatable --flag, in order; empty when absent.
  std::vector<std::string> GetAll(const std::string& flag) const;
};

struct CommandSpec {
  std::string name;                   // command words, e.g. "disk info"
  std::string usage;                  // e.g. "disk info FILE [--json]"
  std::string help;                   // one line
  std::set<std::string> value_flags;  // flags that take a value (without "--")
  std::set<std::string> bool_flags;   // flags without value (without "--")
  int min_positional = 0;
  int max_positional = 0;  // -1: unlimited
  std::function<absl::Status(const CommandContext&, const ParsedArgs&)> run;
};

// `status` ending the command with `exit_code` instead of the usual 1 or 2
// (its message, if any, is still printed), e.g. 2 for "could not compare".
absl::Status WithExitCode(absl::Status status, int exit_code);

// A failure whose outcome the command has already printed: exit code
// `exit_code`, nothing more on stderr (e.g. "disk compare" finding a
// difference, like cmp(1)).
absl::Status QuietFailure(int exit_code);

// The one place a command's status becomes the process's exit code: 0 for
// OK; else prints "asrctl: <message>" (unless empty) to `err`, and for a
// status carrying a job id (jobs::JobIdOf) how to inspect and restart the
// job, and returns the code set by WithExitCode/QuietFailure, or 2 for
// InvalidArgument, or 1.
int ExitCodeFor(const absl::Status& status, std::ostream& err);

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

// Whether --`flag` names an object (an id or name: --name, --cloud, ...), so
// that its value gets the identifier rules rather than the path rules.
bool IsIdentifierFlag(const std::string& flag);

// Parses a size with an optional K, M, G or T suffix (powers of 1024; a
// trailing "B"/"iB" is accepted), e.g. "64K", "1G", "512".
absl::StatusOr<uint64_t> ParseSize(const std::string& text);

// Parses a whole decimal number in [min, max]; the error names `what`.
absl::StatusOr<int64_t> ParseInt(const std::string& text, const std::string& what, int64_t min,
                                 int64_t max);

}  // namespace asr::cli

#endif  // ASR_CLI_COMMAND_H_
