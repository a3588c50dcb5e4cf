// asr/cli/core_commands.h: `asrctl version` and `asrctl init`.
#ifndef ASR_CLI_CORE_COMMANDS_H_
#define ASR_CLI_CORE_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterCoreCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_CORE_COMMANDS_H_
