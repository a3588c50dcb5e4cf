// asr/cli/disk_commands.h: `asrctl disk ...`: info, create, convert,
// compare, map and check for VHD, VHDX and raw images (see asr/disk).
//
//   asr::cli::CommandRegistry registry;
//   asr::cli::RegisterDiskCommands(registry);
//   // asrctl disk create --format vhdx --type dynamic --size 64G a.vhdx
//   // asrctl disk convert a.vhdx a.vhd --format vhd --type dynamic
//   // asrctl disk compare a.vhdx a.vhd   (exit 0 same, 1 different, 2 error)
#ifndef ASR_CLI_DISK_COMMANDS_H_
#define ASR_CLI_DISK_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterDiskCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_DISK_COMMANDS_H_
