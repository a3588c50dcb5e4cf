#include "asr/cli/core_commands.h"

#include <ostream>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/cli/engine_options.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

absl::Status Version(const CommandContext& ctx, const ParsedArgs&) {
  if (ctx.json) {
    model::VersionOutput v;
    v.set_version(asr_version_string());
    *ctx.out << model::ToJson(v) << "\n";
  } else {
    *ctx.out << "asrctl " << asr_version_string() << "\n";
  }
  return absl::OkStatus();
}

absl::Status Init(const CommandContext& ctx, const ParsedArgs&) {
  auto engine = SiteRecovery::Open(ctx.state_dir, EngineOptions(ctx));
  if (!engine.ok()) return engine.status();
  bool was = (*engine)->IsInitialized();
  // The vault's keys are wrapped by the key provider's key: without a usable
  // one, stop before writing anything.
  if (!(*engine)->fabric().vault().Get().ok()) {
    absl::Status keys = (*engine)->fabric().vault().CheckKeyProvider();
    if (!keys.ok()) return keys;
  }
  absl::Status s = (*engine)->Initialize();
  if (!s.ok()) return s;
  // A vault ready for 'asrctl key generate', 'server register', ...
  auto vault = (*engine)->EnsureDefaultVault();
  if (!vault.ok()) return vault.status();
  auto sites = (*engine)->repository().List<model::Site>();
  if (!sites.ok()) return sites.status();
  if (ctx.json) {
    model::InitOutput o;
    o.set_state_dir((*engine)->state_dir());
    o.set_already_initialized(was);
    for (model::Site& site : *sites) *o.add_sites() = std::move(site);
    *o.mutable_vault() = *vault;
    *ctx.out << model::ToJson(o) << "\n";
  } else {
    *ctx.out << (was ? "state directory already initialized: " : "initialized state directory ")
             << (*engine)->state_dir() << "\n  sites: primary, recovery\n  vault: " << vault->name()
             << " (" << vault->region() << ")\n";
  }
  return absl::OkStatus();
}

SiteRecoveryOptions ReadOnly(const CommandContext& ctx) {
  SiteRecoveryOptions o = EngineOptions(ctx);
  o.read_only = true;
  o.create_if_missing = false;
  return o;
}

absl::Status ObjectGet(const CommandContext& ctx, const ParsedArgs& a) {
  auto engine = SiteRecovery::Open(ctx.state_dir, ReadOnly(ctx));
  if (!engine.ok()) return engine.status();
  auto json = (*engine)->GetObjectJson(a.positional[0], a.positional[1]);
  if (!json.ok()) return json.status();
  *ctx.out << *json << "\n";
  return absl::OkStatus();
}

absl::Status ObjectList(const CommandContext& ctx, const ParsedArgs& a) {
  auto engine = SiteRecovery::Open(ctx.state_dir, ReadOnly(ctx));
  if (!engine.ok()) return engine.status();
  auto json = (*engine)->ListObjectsJson(a.positional[0]);
  if (!json.ok()) return json.status();
  *ctx.out << *json << "\n";
  return absl::OkStatus();
}

}  // namespace

void RegisterCoreCommands(CommandRegistry& r) {
  r.Add({"version", "version [--json]", "Print the asr version.", {}, {}, 0, 0, Version});
  r.Add({"init",
         "init [--state-dir DIR] --key-file PATH [--json]",
         "Create a state directory holding the sites \"primary\" and \"recovery\" and the "
         "vault, whose keys the key file's key wraps (or ASR_KEY_FILE / "
         "ASR_KEY_ENCRYPTION_KEY).",
         {},
         {},
         0,
         0,
         Init});
  r.Add({"object get",
         "object get KIND ID [--json]",
         "Print a stored object (cloud, vm, policy, job, ...) as JSON.",
         {},
         {},
         2,
         2,
         ObjectGet});
  r.Add({"object list",
         "object list KIND [--json]",
         "Print all stored objects of a kind as JSON.",
         {},
         {},
         1,
         1,
         ObjectList});
}

}  // namespace asr::cli
