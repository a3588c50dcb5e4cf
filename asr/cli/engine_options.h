// asr/cli/engine_options.h: the SiteRecoveryOptions an asrctl command opens
// its state directory with, and where its key-encryption key comes from:
// --key-file PATH, else the environment variable ASR_KEY_FILE (a path),
// else ASR_KEY_ENCRYPTION_KEY (64 hex digits), else none (then vault
// operations say how to configure one). The key is read only when a command
// needs the vault's private keys.
//
// The host (fabric::HostCallbacks: inventories, host configuration, the VM
// calls protection makes) is chosen by the command line:
//   simulated  the simulated fabric in --fabric DIR, else in the directory
//              ASR_FABRIC names (`asrctl fabric init --dir DIR` makes one);
//   qemu       real QEMU VMs: the QEMU host in --qemu-host DIR, else in the
//              directory ASR_QEMU_HOST names (DIR/config.json, format in
//              asr/qemu/qemu_host.h). Its VMs outlive the asrctl process
//              that started them; every asrctl process opens the directory
//              and finds them (`asrctl site run` and `asrctl failover
//              planned` may run at once).
// Naming both kinds is refused. With neither, there is no host: inventories
// come as documents and protection says that no host can describe VMs.
//
//   ASR_ASSIGN_OR_RETURN(SiteRecoveryOptions options, EngineOptionsWithHost(ctx));
//   options.create_if_missing = false;
//   ASR_ASSIGN_OR_RETURN(auto sr, SiteRecovery::Open(ctx.state_dir, options));
//
// Thread safety: reads the environment; call from the command's thread.
#ifndef ASR_CLI_ENGINE_OPTIONS_H_
#define ASR_CLI_ENGINE_OPTIONS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/cli/command.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/fabric/key_provider.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {

// The key provider of this command line, or null when none is configured.
std::shared_ptr<fabric::KeyProvider> KeyProviderFor(const CommandContext& ctx);

// The directory of the simulated fabric of this command line: --fabric,
// else ASR_FABRIC, else "".
std::string FabricDirFor(const CommandContext& ctx);

// The simulated fabric of FabricDirFor(ctx), opened once per process and
// directory and kept until the process exits (engines point at it); null
// when no fabric is named. An error naming the directory and how to create
// a fabric when it holds none.
absl::StatusOr<fabric::SimulatedFabric*> FabricFor(const CommandContext& ctx);

// The QEMU host's directory of this command line: --qemu-host, else
// ASR_QEMU_HOST, else "".
std::string QemuHostDirFor(const CommandContext& ctx);

// The host of this command line: the QEMU host of QemuHostDirFor(ctx) (opened
// once per process and directory), else FabricFor(ctx) (null for none).
// InvalidArgument when both a fabric and a QEMU host are named.
absl::StatusOr<fabric::HostCallbacks*> HostFor(const CommandContext& ctx);

// Default options with KeyProviderFor(ctx) (no host).
SiteRecoveryOptions EngineOptions(const CommandContext& ctx);

// EngineOptions(ctx) with HostFor(ctx) attached: for the commands that
// reach the host (registration, inventory, policies, mappings, protection).
absl::StatusOr<SiteRecoveryOptions> EngineOptionsWithHost(const CommandContext& ctx);

// Registers "key-provider init --key-file PATH" (also accepts the global
// --key-file): creates a key file (0600, never over an existing file).
void RegisterKeyProviderCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_ENGINE_OPTIONS_H_
