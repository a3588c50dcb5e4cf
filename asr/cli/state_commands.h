// asr/cli/state_commands.h: where the state lives and, for a PostgreSQL
// state, the server's role, the writer lease and the standbys; and the
// promotion of a standby at the recovery site after the primary site is
// lost (README "Control-plane state in PostgreSQL").
//
//   asrctl --state-dir postgresql://asr@db-chi/asr state show
//   asrctl --state-dir postgresql://asr@db-chi/asr state promote --confirm
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterStateCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_STATE_COMMANDS_H_
#define ASR_CLI_STATE_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterStateCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_STATE_COMMANDS_H_
