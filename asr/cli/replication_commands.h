// asr/cli/replication_commands.h: `asrctl replicate`, `asrctl replica ...`
// and `asrctl tracker ...`: the replication data plane from the command line
// (see asr/replication).
//
//   asrctl pki init --dir pki
//   asrctl replica serve --listen 127.0.0.1:8084 --dir replica --pki pki &
//   asrctl replicate --to 127.0.0.1:8084 --disk vm.vhdx --mode initial --pki pki
//   asrctl tracker write --disk vm.vhdx --offset 1M --length 64K --seed 7
//   asrctl replicate --to 127.0.0.1:8084 --disk vm.vhdx --mode tracked --pki pki --json
//   asrctl replica points --dir replica
//   asrctl replica restore --dir replica --point 1 --out restored.vhdx
//   asrctl replica verify --to 127.0.0.1:8084 --disk vm.vhdx --pki pki --json
//   asrctl replicate --to 127.0.0.1:8084 --disk vm.vhdx --mode scan --pki pki --verify-every 10
//   # offline initial replication: a package carried to the recovery site
//   asrctl replicate --mode offline-export --disk vm.vhdx --export /media/pkg
//   asrctl replica import --dir replica --package /media/pkg --writer primary-host
#ifndef ASR_CLI_REPLICATION_COMMANDS_H_
#define ASR_CLI_REPLICATION_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterReplicationCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_REPLICATION_COMMANDS_H_
