// asr/cli/plan_commands.h: recovery plans from the command line
// (asr/failover/recovery_plan_service.h): VMs of one cloud pairing in
// ordered groups, failed over together with script and manual actions.
//
//   asrctl plan create web --vm VM1 --vm VM2 [--groups 2]
//   asrctl plan show web
//   asrctl plan list
//   asrctl plan edit web --append-group
//   asrctl plan edit web --move-vm VM2 --to-group 2
//   asrctl plan edit web --move-group 2 --position 1
//   asrctl plan edit web --add-vm VM3 --group 1
//   asrctl plan edit web --remove-vm VM3
//   asrctl plan edit web --remove-group 2
//   asrctl plan edit web --add-action dns --group 1 --placement End
//       --types PlannedFailover,UnplannedFailover --directions PrimaryToRecovery
//       --script /opt/dns.sh --location Recovery [--timeout 120]     (one line)
//   asrctl plan edit web --add-action check --group Failover --placement Start
//       --types PlannedFailover --directions PrimaryToRecovery --manual "check the database"
//   asrctl plan edit web --remove-action dns --group 1
//   asrctl --fabric /srv/fab plan failover web --operation PlannedFailover [--direction D]
//       [--recovery-tag T] [--network-type None|Isolated|VmNetwork --network-id N]
//       [--optimize ForDownTime|ForSynchronization] [--source-side-action]
//       [--multi-vm-sync-point UseMultiVmSyncRecoveryPoint] [--max-parallel N]
//       [--pki DIR [--point-interval D]]   (a recovery endpoint in this process for the
//       last cycles of PlannedFailover, ReverseReplicate and Failback)
//   asrctl plan delete web
//
// `plan failover` runs the plan's job in this process and prints it; a
// manual action leaves it Suspended (`asrctl job resume ID` continues,
// `asrctl job cancel ID` stops), a failure leaves it Failed (`asrctl job
// restart ID` runs what did not succeed).
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterPlanCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_PLAN_COMMANDS_H_
#define ASR_CLI_PLAN_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterPlanCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_PLAN_COMMANDS_H_
