// asr/cli/protection_commands.h: protecting VMs from the command line:
// enable, onboard and disable protection, the protected items with their
// health and recovery points, and the site service in the foreground.
//
//   asrctl --fabric /srv/fab protect enable --vm VM1 --pki pki
//   asrctl --fabric /srv/fab protect onboard --vm VM2 --recovery-host hv-chi-01
//       --replica-dir /replicas/vm2-d0 --replica-dir /replicas/vm2-d1
//   asrctl item list
//   asrctl item show VM1            (state, health with reasons, allowed operations,
//                                    last point, RPO, disks, replica VM)
//   asrctl item points VM1
//   asrctl --fabric /srv/fab site run --pki pki [--duration 10m]   (until SIGTERM/SIGINT)
//   asrctl --fabric /srv/fab protect disable --vm VM1 [--force]
//
// The host is the simulated fabric of --fabric DIR (or ASR_FABRIC;
// engine_options.h). The transport's PKI directory is --pki DIR, else
// ASR_PKI (`asrctl pki init` makes it). `protect enable` and `protect
// onboard` with a PKI directory run a recovery endpoint in this process for
// the job (a site service that only serves replicas), so that the initial
// replication completes without a `site run` elsewhere.
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterProtectionCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_PROTECTION_COMMANDS_H_
#define ASR_CLI_PROTECTION_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterProtectionCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_PROTECTION_COMMANDS_H_
