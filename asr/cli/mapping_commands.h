// asr/cli/mapping_commands.h: the `asrctl network-map`, `asrctl storage-map`
// and `asrctl placement` commands over asr/mapping's MappingService.
//
//   asrctl network-map add --source VMNetwork1-NewYork --target VMNetwork1-Chicago
//   asrctl network-map list [--source NET [--target NET]]
//   asrctl network-map resolve --vm VM1 [--failback --replica-network NET|none]
//   asrctl network-map remove VMNetwork1-NewYork
//   asrctl storage-map add --source GOLD --target GOLD_TARGET
//   asrctl storage-map resolve --vm VM1 [--host HOST]
//   asrctl placement show --vm VM1
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterMappingCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_MAPPING_COMMANDS_H_
#define ASR_CLI_MAPPING_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterMappingCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_MAPPING_COMMANDS_H_
