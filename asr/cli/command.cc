#include "asr/cli/command.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <iostream>
#include <istream>
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/jobs/rule_error.h"

namespace asr::cli {
namespace {

constexpr char kExitCodeUrl[] = "asr/cli/exit-code";

// Flags whose value names an object.
constexpr const char* kIdentifierFlags[] = {
    "active-node-name",
    "cloud",
    "cluster-node",
    "failover-network",
    "friendly-name",
    "host",
    "id",
    "item",
    "name",
    "nic",
    "pairing",
    "policy",
    "primary",
    "provider-version",
    "recovery",
    "recovery-host",
    "region",
    "replica-network",
    "replica-subnet",
    "scenario",
    "server",
    "site",
    "source",
    "source-server",
    "state",
    "target",
    "target-server",
    "vm",
};

// Flags whose value is a secret: never echoed in a message, so not checked here.
bool IsSecretFlag(const std::string& flag) { return flag == "proxy-password"; }

// Every argument of a parsed command line against the identifier rules.
absl::Status ValidateArguments(const CommandContext& ctx, const ParsedArgs& args) {
  ASR_RETURN_IF_ERROR(ValidatePath("--state-dir", ctx.state_dir));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("--key-file", ctx.key_file, kMaxPathBytes));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("--fabric", ctx.fabric_dir, kMaxPathBytes));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("--qemu-host", ctx.qemu_host_dir, kMaxPathBytes));
  for (size_t i = 0; i < args.positional.size(); ++i) {
    ASR_RETURN_IF_ERROR(ValidatePath(absl::StrCat("argument ", i + 1), args.positional[i]));
  }
  for (const auto& [flag, values] : args.all_values) {
    if (IsSecretFlag(flag)) continue;
    const std::string name = absl::StrCat("--", flag);
    for (const std::string& value : values) {
      if (IsIdentifierFlag(flag)) {
        ASR_RETURN_IF_ERROR(ValidateIdentifier(name, value));
      } else {
        ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier(name, value, kMaxPathBytes));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool IsIdentifierFlag(const std::string& flag) {
  for (const char* f : kIdentifierFlags) {
    if (flag == f) return true;
  }
  return false;
}

absl::Status WithExitCode(absl::Status status, int exit_code) {
  if (!status.ok()) status.SetPayload(kExitCodeUrl, absl::Cord(absl::StrCat(exit_code)));
  return status;
}

absl::Status QuietFailure(int exit_code) {
  return WithExitCode(absl::Status(absl::StatusCode::kAborted, ""), exit_code);
}

int ExitCodeFor(const absl::Status& status, std::ostream& err) {
  if (status.ok()) return 0;
  if (!status.message().empty()) err << "asrctl: " << status.message() << "\n";
  std::string job = jobs::JobIdOf(status);
  if (!job.empty()) {
    err << "  job " << job << " failed; see 'asrctl job show " << job
        << "', fix the cause and 'asrctl job restart " << job << "'\n";
  }
  absl::optional<absl::Cord> code = status.GetPayload(kExitCodeUrl);
  int exit_code = 0;
  if (code.has_value() && absl::SimpleAtoi(std::string(*code), &exit_code)) return exit_code;
  return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

bool ParsedArgs::Has(const std::string& flag) const {
  return values.count(flag) > 0 || bools.count(flag) > 0;
}

std::vector<std::string> ParsedArgs::GetAll(const std::string& flag) const {
  auto it = all_values.find(flag);
  return it == all_values.end() ? std::vector<std::string>() : it->second;
}

std::string ParsedArgs::Get(const std::string& flag, const std::string& def) const {
  auto it = values.find(flag);
  return it == values.end() ? def : it->second;
}

absl::StatusOr<std::string> ParsedArgs::Require(const std::string& flag) const {
  auto it = values.find(flag);
  if (it == values.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag, " is required"));
  }
  return it->second;
}

void CommandRegistry::Add(CommandSpec spec) { commands_.push_back(std::move(spec)); }

void CommandRegistry::PrintHelp(std::ostream& os) const {
  os << "usage: asrctl [--state-dir DIR] [--key-file PATH] [--fabric DIR | --qemu-host DIR] "
        "[--json] COMMAND [ARGS]\n\n"
        "  --key-file PATH  the key-encryption key that wraps the vault's keys (or set\n"
        "                   ASR_KEY_FILE=PATH, or ASR_KEY_ENCRYPTION_KEY to 64 hex digits);\n"
        "                   create one with 'asrctl key-provider init --key-file PATH'\n"
        "  --fabric DIR     the simulated VMM fabric that is the host (or set ASR_FABRIC=DIR);\n"
        "                   create one with 'asrctl fabric init DIR --example'\n"
        "  --qemu-host DIR  a QEMU host (DIR/config.json: VMM servers, hosts, QEMU VMs and\n"
        "                   their VHDX/VHD disks) that is the host instead (or set\n"
        "                   ASR_QEMU_HOST=DIR); see asr/qemu/README.md\n\n"
        "commands:\n";
  for (const CommandSpec& c : commands_) {
    os << "  " << c.usage << "\n      " << c.help << "\n";
  }
}

namespace {

std::vector<std::string> Words(const std::string& name) {
  return absl::StrSplit(name, ' ', absl::SkipEmpty());
}

absl::StatusOr<ParsedArgs> ParseRest(const CommandSpec& spec, const std::vector<std::string>& a,
                                     size_t start, CommandContext& ctx) {
  ParsedArgs out;
  for (size_t i = start; i < a.size(); ++i) {
    const std::string& arg = a[i];
    if (arg == "--") {
      for (++i; i < a.size(); ++i) out.positional.push_back(a[i]);
      break;
    }
    if (arg.size() > 2 && arg[0] == '-' && arg[1] == '-') {
      std::string name = arg.substr(2);
      std::string value;
      bool has_value = false;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (name == "json") {
        ctx.json = true;
        out.bools.insert(name);
        continue;
      }
      if (name == "state-dir") {
        if (!has_value) {
          if (i + 1 >= a.size()) return absl::InvalidArgumentError("--state-dir needs a value");
          value = a[++i];
        }
        ctx.state_dir = value;
        continue;
      }
      if (name == "key-file") {
        if (!has_value) {
          if (i + 1 >= a.size()) return absl::InvalidArgumentError("--key-file needs a value");
          value = a[++i];
        }
        ctx.key_file = value;
        continue;
      }
      if (name == "fabric" && !spec.value_flags.count(name)) {
        if (!has_value) {
          if (i + 1 >= a.size()) return absl::InvalidArgumentError("--fabric needs a value");
          value = a[++i];
        }
        ctx.fabric_dir = value;
        continue;
      }
      if (name == "qemu-host" && !spec.value_flags.count(name)) {
        if (!has_value) {
          if (i + 1 >= a.size()) return absl::InvalidArgumentError("--qemu-host needs a value");
          value = a[++i];
        }
        ctx.qemu_host_dir = value;
        continue;
      }
      if (spec.bool_flags.count(name)) {
        if (has_value) {
          return absl::InvalidArgumentError(absl::StrCat("--", name, " takes no value"));
        }
        out.bools.insert(name);
        continue;
      }
      if (spec.value_flags.count(name)) {
        if (!has_value) {
          if (i + 1 >= a.size()) {
            return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
          }
          value = a[++i];
        }
        out.values[name] = value;
        out.all_values[name].push_back(value);
        continue;
      }
      return absl::InvalidArgumentError(absl::StrCat("unknown option --", name, " for '", spec.name,
                                                     "'; usage: asrctl ", spec.usage));
    }
    out.positional.push_back(arg);
  }
  int n = static_cast<int>(out.positional.size());
  if (n < spec.min_positional || (spec.max_positional >= 0 && n > spec.max_positional)) {
    return absl::InvalidArgumentError(absl::StrCat("wrong number of arguments for '", spec.name,
                                                   "'; usage: asrctl ", spec.usage));
  }
  return out;
}

}  // namespace

int CommandRegistry::Run(const std::vector<std::string>& argv, std::ostream& out,
                         std::ostream& err) const {
  return Run(argv, std::cin, out, err);
}

int CommandRegistry::Run(const std::vector<std::string>& argv, std::istream& in, std::ostream& out,
                         std::ostream& err) const {
  CommandContext ctx;
  ctx.state_dir = "./asr-state";
  ctx.in = &in;
  ctx.out = &out;
  ctx.err = &err;
  // Global flags before the command words.
  size_t i = 0;
  while (i < argv.size() && absl::StartsWith(argv[i], "--")) {
    const std::string& a = argv[i];
    if (a == "--json") {
      ctx.json = true;
      ++i;
    } else if (a == "--state-dir") {
      if (i + 1 >= argv.size()) {
        return ExitCodeFor(absl::InvalidArgumentError("--state-dir needs a value"), err);
      }
      ctx.state_dir = argv[i + 1];
      i += 2;
    } else if (absl::StartsWith(a, "--state-dir=")) {
      ctx.state_dir = a.substr(strlen("--state-dir="));
      ++i;
    } else if (a == "--key-file") {
      if (i + 1 >= argv.size()) {
        return ExitCodeFor(absl::InvalidArgumentError("--key-file needs a value"), err);
      }
      ctx.key_file = argv[i + 1];
      i += 2;
    } else if (absl::StartsWith(a, "--key-file=")) {
      ctx.key_file = a.substr(strlen("--key-file="));
      ++i;
    } else if (a == "--fabric") {
      if (i + 1 >= argv.size()) {
        return ExitCodeFor(absl::InvalidArgumentError("--fabric needs a value"), err);
      }
      ctx.fabric_dir = argv[i + 1];
      i += 2;
    } else if (absl::StartsWith(a, "--fabric=")) {
      ctx.fabric_dir = a.substr(strlen("--fabric="));
      ++i;
    } else if (a == "--qemu-host") {
      if (i + 1 >= argv.size()) {
        return ExitCodeFor(absl::InvalidArgumentError("--qemu-host needs a value"), err);
      }
      ctx.qemu_host_dir = argv[i + 1];
      i += 2;
    } else if (absl::StartsWith(a, "--qemu-host=")) {
      ctx.qemu_host_dir = a.substr(strlen("--qemu-host="));
      ++i;
    } else if (a == "--help") {
      PrintHelp(out);
      return 0;
    } else {
      return ExitCodeFor(absl::InvalidArgumentError(
                             absl::StrCat("unknown option ", a, "; run 'asrctl help' for usage")),
                         err);
    }
  }
  if (i >= argv.size() || argv[i] == "help") {
    PrintHelp(i >= argv.size() ? err : out);
    return i >= argv.size() ? 2 : 0;
  }
  // Longest match of command words.
  const CommandSpec* best = nullptr;
  size_t best_words = 0;
  for (const CommandSpec& c : commands_) {
    std::vector<std::string> w = Words(c.name);
    if (w.size() > argv.size() - i || w.size() <= best_words) continue;
    bool match = true;
    for (size_t k = 0; k < w.size(); ++k) {
      if (argv[i + k] != w[k]) {
        match = false;
        break;
      }
    }
    if (match) {
      best = &c;
      best_words = w.size();
    }
  }
  if (best == nullptr) {
    std::vector<std::string> similar;
    for (const CommandSpec& c : commands_) {
      if (Words(c.name)[0] == argv[i]) similar.push_back(c.usage);
    }
    if (!similar.empty()) {
      return ExitCodeFor(
          absl::InvalidArgumentError(absl::StrCat(
              "unknown command '", absl::StrJoin(argv.begin() + i, argv.end(), " "),
              "'; did you mean one of:\n  asrctl ", absl::StrJoin(similar, "\n  asrctl "))),
          err);
    }
    return ExitCodeFor(absl::InvalidArgumentError(absl::StrCat(
                           "unknown command '", argv[i], "'; run 'asrctl help' for the list")),
                       err);
  }
  auto parsed = ParseRest(*best, argv, i + best_words, ctx);
  if (!parsed.ok()) return ExitCodeFor(parsed.status(), err);
  absl::Status valid = ValidateArguments(ctx, *parsed);
  if (!valid.ok()) return ExitCodeFor(valid, err);
  return ExitCodeFor(best->run(ctx, *parsed), err);
}

absl::StatusOr<uint64_t> ParseSize(const std::string& text) {
  std::string t = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  if (absl::EndsWith(t, "IB"))
    t = t.substr(0, t.size() - 2);
  else if (t.size() > 1 && absl::EndsWith(t, "B"))
    t = t.substr(0, t.size() - 1);
  uint64_t mult = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'K':
        mult = 1ull << 10;
        break;
      case 'M':
        mult = 1ull << 20;
        break;
      case 'G':
        mult = 1ull << 30;
        break;
      case 'T':
        mult = 1ull << 40;
        break;
      default:
        break;
    }
    if (mult != 1) t.pop_back();
  }
  uint64_t n = 0;
  if (t.empty() ||
      !std::all_of(t.begin(), t.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(t, &n)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid size '", text, "': use a whole number with an optional K, M, G or T suffix"));
  }
  if (n != 0 && mult > UINT64_MAX / n) {
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is too large"));
  }
  return n * mult;
}

absl::StatusOr<int64_t> ParseInt(const std::string& text, const std::string& what, int64_t min,
                                 int64_t max) {
  int64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": '", text, "' is not a whole number"));
  }
  if (v < min || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", v, " is out of range (", min, " to ", max, ")"));
  }
  return v;
}

}  // namespace asr::cli
