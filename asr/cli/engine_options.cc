#include "asr/cli/engine_options.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "absl/base/const_init.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr/model/cli.pb.h"
#include "asr/model/json.h"
#include "asr/qemu/qemu_host.h"

namespace asr::cli {
namespace {

constexpr char kFabricVariable[] = "ASR_FABRIC";
constexpr char kQemuHostVariable[] = "ASR_QEMU_HOST";

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

std::string FabricDirFor(const CommandContext& ctx) {
  return ctx.fabric_dir.empty() ? Env(kFabricVariable) : ctx.fabric_dir;
}

absl::StatusOr<fabric::SimulatedFabric*> FabricFor(const CommandContext& ctx) {
  std::string dir = FabricDirFor(ctx);
  if (dir.empty()) return nullptr;
  // One fabric object per directory for the whole process: commands run
  // one after another (or in-process tests run many) and each engine keeps
  // a pointer to its host.
  static absl::Mutex mu(absl::kConstInit);
  static auto* fabrics = new std::map<std::string, std::unique_ptr<fabric::SimulatedFabric>>();
  absl::MutexLock l(&mu);
  auto it = fabrics->find(dir);
  if (it != fabrics->end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<fabric::SimulatedFabric>> opened =
      fabric::SimulatedFabric::Open(dir);
  if (!opened.ok()) {
    return absl::Status(
        opened.status().code(),
        absl::StrCat("cannot open the simulated fabric in ", dir, " (--fabric or ", kFabricVariable,
                     "): ", opened.status().message(),
                     "; create one with 'asrctl fabric init --dir ", dir, " --example'"));
  }
  fabric::SimulatedFabric* f = opened->get();
  fabrics->emplace(dir, std::move(*opened));
  return f;
}

std::string QemuHostDirFor(const CommandContext& ctx) {
  return ctx.qemu_host_dir.empty() ? Env(kQemuHostVariable) : ctx.qemu_host_dir;
}

absl::StatusOr<fabric::HostCallbacks*> HostFor(const CommandContext& ctx) {
  const std::string qemu_dir = QemuHostDirFor(ctx);
  if (qemu_dir.empty()) {
    absl::StatusOr<fabric::SimulatedFabric*> f = FabricFor(ctx);
    if (!f.ok()) return f.status();
    return *f;
  }
  if (!FabricDirFor(ctx).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("both a simulated fabric (", FabricDirFor(ctx), ": --fabric or ",
                     kFabricVariable, ") and a QEMU host (", qemu_dir, ": --qemu-host or ",
                     kQemuHostVariable, ") are named; name one host"));
  }
  // One QemuHost per directory for the whole process, as for fabrics.
  static absl::Mutex mu(absl::kConstInit);
  static auto* hosts = new std::map<std::string, std::unique_ptr<qemu::QemuHost>>();
  absl::MutexLock l(&mu);
  auto it = hosts->find(qemu_dir);
  if (it != hosts->end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<qemu::QemuHost>> opened = qemu::QemuHost::Open(qemu_dir);
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("cannot open the QEMU host in ", qemu_dir, " (--qemu-host or ",
                                     kQemuHostVariable, "): ", opened.status().message()));
  }
  qemu::QemuHost* h = opened->get();
  hosts->emplace(qemu_dir, std::move(*opened));
  return h;
}

SiteRecoveryOptions EngineOptions(const CommandContext& ctx) {
  SiteRecoveryOptions options;
  options.key_provider = KeyProviderFor(ctx);
  return options;
}

absl::StatusOr<SiteRecoveryOptions> EngineOptionsWithHost(const CommandContext& ctx) {
  SiteRecoveryOptions options = EngineOptions(ctx);
  absl::StatusOr<fabric::HostCallbacks*> host = HostFor(ctx);
  if (!host.ok()) return host.status();
  options.host = *host;
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
