// asr/cli/capacity_commands.h: capacity planning from the command line: the
// bandwidth and replica storage replication needs, with the arithmetic shown
// (asr/planning/capacity_planner.h), and the churn of disks observed for a
// while.
//
//   asrctl capacity plan --disks 4 --disk-used 40G --churn 2G --copy-frequency 300
//       --points 24 --app-consistent 4 --compression 1.6 --link-mbps 20
//   asrctl capacity plan --vm VM1 --churn 1G        (disks and policy of VM1)
//   asrctl capacity measure --vm VM1 --duration 60s (or --disk FILE.vhdx)
//   asrctl --json capacity plan --vm VM1 --churn 750M   (the measured churn per hour)
//
// A plan from protected VMs takes their disks (the disk size as the used
// size unless --disk-used says otherwise) and their policy's copy frequency,
// retained points and app-consistent frequency; every flag overrides.
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterCapacityCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_CAPACITY_COMMANDS_H_
#define ASR_CLI_CAPACITY_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterCapacityCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_CAPACITY_COMMANDS_H_
