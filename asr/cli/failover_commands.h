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

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterFailoverCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_FAILOVER_COMMANDS_H_
