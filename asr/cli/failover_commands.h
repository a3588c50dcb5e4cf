// asr/cli/failover_commands.h: failover of protected VMs from the command
// line (asr/failover/failover_service.h): test failover and its cleanup,
// planned and unplanned failover, change of recovery point, commit, cancel,
// reverse replication and failback, each one job.
//
//   asrctl failover test VM [--tag LatestAvailable | --point ID]
//       [--network None|Isolated|VmNetwork [--network-id NET]] [--pki DIR]
//   asrctl failover cleanup VM
//   asrctl failover planned VM [--optimize ForSynchronization|ForDownTime] --pki DIR
//   asrctl failover unplanned VM [--tag T | --point ID] [--source-side-action] [--pki DIR]
//   asrctl failover change-point VM (--point ID | --tag T)
//   asrctl failover commit VM
//   asrctl failover cancel VM
//   asrctl reprotect VM --pki DIR
//   asrctl failback VM --pki DIR
//
// `asrctl item show VM` shows the test failover state, the last failover
// times and the data-loss estimate. A planned failover ForDownTime ends
// Suspended; `asrctl job resume ID --pki DIR` does the rest.
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterFailoverCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_FAILOVER_COMMANDS_H_
#define ASR_CLI_FAILOVER_COMMANDS_H_

#include <functional>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "asr/cli/command.h"

namespace asr {
class SiteRecovery;
}  // namespace asr

namespace asr::cli {

void RegisterFailoverCommands(CommandRegistry& registry);

// Runs `operation` over the state with the fabric as host and, when a PKI
// directory is given (--pki, else ASR_PKI), a recovery endpoint in this
// process, so that the last cycles of a failover, reverse replication or
// failback reach the replicas. Used by the commands that run failovers
// (here and `plan failover`).
absl::Status WithRecoveryEndpoint(const CommandContext& ctx, const ParsedArgs& args,
                                  const std::function<absl::Status(SiteRecovery&)>& operation);

// The flags WithRecoveryEndpoint reads: pki, address, receiver-name,
// listen, point-interval.
std::set<std::string> RecoveryEndpointFlags();

}  // namespace asr::cli

#endif  // ASR_CLI_FAILOVER_COMMANDS_H_
