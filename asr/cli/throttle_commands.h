// asr/cli/throttle_commands.h: bandwidth throttles of replication from the
// command line: a weekly schedule of limits for the whole site or one VM,
// stored with the site (asr/protection/throttle.h).
//
//   asrctl throttle set --site --limit "Mon-Fri 08:00-18:00 50Mbit/s" --default unlimited
//       --utc-offset +01:00
//   asrctl throttle set --vm VM1 --limit "Mon-Fri 08:00-18:00 20Mbit/s" --limit
//       "Sat,Sun 00:00-24:00 100Mbit/s" --default 200Mbit/s
//   asrctl throttle show [--site | --vm VM] [--json]    (none: every throttle)
//   asrctl throttle clear (--site | --vm VM)
//
// `asrctl item show VM` shows the limit in force and the expected RPO.
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterThrottleCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_THROTTLE_COMMANDS_H_
#define ASR_CLI_THROTTLE_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterThrottleCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_THROTTLE_COMMANDS_H_
