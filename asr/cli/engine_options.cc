#include "asr/cli/engine_options.h"

#include <cstdlib>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"

namespace asr::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

absl::Status KeyProviderInit(const CommandContext& ctx, const ParsedArgs&) {
  const std::string& path = ctx.key_file;
  if (path.empty()) {
    return absl::InvalidArgumentError(
        "--key-file PATH is required: where to create the key file (outside the state "
        "directory, readable by the service's account only)");
  }
  absl::StatusOr<std::string> key_id = fabric::CreateKeyFile(path);
  if (!key_id.ok()) return key_id.status();
  if (ctx.json) {
    model::KeyProviderInitOutput o;
    o.set_key_file(path);
    o.set_key_id(*key_id);
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << "created key file " << path << " (mode 0600), key id " << *key_id
             << "\n  pass --key-file " << path << " (or set ASR_KEY_FILE=" << path
             << ") to every asrctl command that creates or uses the vault; keep a backup of "
                "it: the vault's keys open only with it\n";
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<fabric::KeyProvider> KeyProviderFor(const CommandContext& ctx) {
  if (!ctx.key_file.empty()) return std::make_shared<fabric::KeyFileProvider>(ctx.key_file);
  std::string file = Env(fabric::kKeyFileVariable);
  if (!file.empty()) return std::make_shared<fabric::KeyFileProvider>(file);
  if (!Env(fabric::kKeyEncryptionKeyVariable).empty()) {
    return std::make_shared<fabric::EnvironmentKeyProvider>(fabric::kKeyEncryptionKeyVariable);
  }
  return nullptr;
}

SiteRecoveryOptions EngineOptions(const CommandContext& ctx) {
  SiteRecoveryOptions options;
  options.key_provider = KeyProviderFor(ctx);
  return options;
}

void RegisterKeyProviderCommands(CommandRegistry& r) {
  r.Add({"key-provider init",
         "key-provider init --key-file PATH [--json]",
         "Create a key file holding a new key-encryption key (64 hex digits, mode 0600) for "
         "wrapping the vault's keys; never overwrites one.",
         {},
         {},
         0,
         0,
         KeyProviderInit});
}

}  // namespace asr::cli
