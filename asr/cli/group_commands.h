// asr/cli/group_commands.h: replication groups (multi-VM consistency) from
// the command line: VMs whose points are taken at one instant together
// (asr/protection/group_service.h).
//
//   asrctl group create app --vm VM1 --vm VM2 [--sync-interval 60]
//   asrctl group add app --vm VM3
//   asrctl group remove app --vm VM3
//   asrctl group show app           (members, sync interval, latest shared point, last cycles)
//   asrctl group list
//   asrctl group points app         (shared points: every member at one instant)
//   asrctl --fabric /srv/fab group replicate app --pki pki [--app-consistent]
//   asrctl group delete app
//
// `group replicate` runs one group cycle now with a recovery endpoint in
// this process (as `protect enable --pki` does); `site run` runs them at
// the group's sync interval.
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterGroupCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_GROUP_COMMANDS_H_
#define ASR_CLI_GROUP_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterGroupCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_GROUP_COMMANDS_H_
