// asrctl: the command-line front end of asr. Each subsystem registers its
// commands here; see command.h for how a command is declared.
#include <iostream>
#include <string>
#include <vector>

#include "asr/cli/capacity_commands.h"
#include "asr/cli/command.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/core_commands.h"
#include "asr/cli/disk_commands.h"
#include "asr/cli/drill_command.h"
#include "asr/cli/engine_options.h"
#include "asr/cli/fabric_commands.h"
#include "asr/cli/failover_commands.h"
#include "asr/cli/group_commands.h"
#include "asr/cli/mapping_commands.h"
#include "asr/cli/pki_commands.h"
#include "asr/cli/plan_commands.h"
#include "asr/cli/protection_commands.h"
#include "asr/cli/qemu_commands.h"
#include "asr/cli/replication_commands.h"
#include "asr/cli/report_commands.h"
#include "asr/cli/state_commands.h"
#include "asr/cli/throttle_commands.h"

int main(int argc, char** argv) {
  asr::cli::CommandRegistry registry;
  asr::cli::RegisterCoreCommands(registry);
  asr::cli::RegisterControlCommands(registry);
  asr::cli::RegisterDiskCommands(registry);
  asr::cli::RegisterFabricCommands(registry);
  asr::cli::RegisterKeyProviderCommands(registry);
  asr::cli::RegisterMappingCommands(registry);
  asr::cli::RegisterPkiCommands(registry);
  asr::cli::RegisterProtectionCommands(registry);
  asr::cli::RegisterGroupCommands(registry);
  asr::cli::RegisterReplicationCommands(registry);
  asr::cli::RegisterThrottleCommands(registry);
  asr::cli::RegisterFailoverCommands(registry);
  asr::cli::RegisterPlanCommands(registry);
  asr::cli::RegisterQemuCommands(registry);
  asr::cli::RegisterCapacityCommands(registry);
  asr::cli::RegisterReportCommands(registry);
  asr::cli::RegisterStateCommands(registry);
  asr::cli::RegisterDrillCommand(registry);  // last: the drill runs the commands above
  std::vector<std::string> args(argv + 1, argv + argc);
  return registry.Run(args, std::cout, std::cerr);
}
