// asr/cli/fabric_commands.h: `asrctl fabric ...`, the simulated VMM fabric
// (asr/fabric/simulated_fabric.h) from the command line: a directory that
// holds the servers, hosts and VMs of inventories with real VHDX disks,
// shared by every process that opens it (the site service included).
//
//   asrctl fabric init --dir /srv/fab --example --disk-size 64M
//   asrctl fabric init --dir /srv/fab --inventory inventory.json
//   asrctl fabric show --dir /srv/fab [--json]
//   asrctl fabric vm start|stop|off vm3 --dir /srv/fab
//   asrctl fabric workload --dir /srv/fab --duration 10s [--rate 20] [--vm vm1,vm2]
//   asrctl fabric fault set host-down hv-ny-01 --dir /srv/fab
//   asrctl fabric fault set storage-full hv-chi-01 --dir /srv/fab
//   asrctl fabric fault clear all --dir /srv/fab
//   asrctl fabric verify --dir /srv/fab --vm vm1 --disk vm1-d0 --point 7 --image replica.vhdx
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterFabricCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_FABRIC_COMMANDS_H_
#define ASR_CLI_FABRIC_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterFabricCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_FABRIC_COMMANDS_H_
