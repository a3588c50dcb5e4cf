// asr/cli/control_commands.h: asrctl verbs of the control plane:
//
//   asrctl vault create --name N --region R | vault show
//   asrctl key generate [--output FILE] | key verify FILE
//   asrctl server register --credentials FILE --friendly-name NAME
//          [--proxy-address A --proxy-port P --proxy-user U --proxy-password PW]
//          [--sync-all-clouds] [--encryption-enabled PFX] [--site primary|recovery]
//          [--provider-version V] [--cluster-node NODE [--active-node]]
//   asrctl server unregister NAME | server list
//   asrctl inventory sync --server NAME [--file inventory.json] [--cloud CLOUD]
//          (without --file: the --fabric host reports it)
//   asrctl cloud pair --primary CLOUD --recovery CLOUD | cloud unpair PAIRING
//   asrctl policy create --name N --replication-provider P ... (Az parameter
//          names in kebab case) | policy update --name N ... | policy delete N
//   asrctl policy associate --policy P --pairing X | policy dissociate --pairing X
//   asrctl policy list | policy show N
//   asrctl job list [--state S] [--target ID] [--since T] [--until T] [--scenario S]
//   asrctl job show|cancel|resume|restart JOB
//
// Every verb takes --json. State-changing verbs run as jobs and print the
// job (with --json: the Job object).
//
//   CommandRegistry r;
//   RegisterControlCommands(r);
#ifndef ASR_CLI_CONTROL_COMMANDS_H_
#define ASR_CLI_CONTROL_COMMANDS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/cli/command.h"
#include "asr/model/job.pb.h"

namespace asr::cli {

void RegisterControlCommands(CommandRegistry& registry);

// Prints a finished job: its state, each task with notes and errors.
void PrintJob(const CommandContext& ctx, const model::Job& job);

// A job operation's outcome: the job (text, or the Job object with --json),
// or its error (whose job id ExitCodeFor turns into how to restart it).
absl::Status ReportJob(const CommandContext& ctx, const absl::StatusOr<model::Job>& job);

}  // namespace asr::cli

#endif  // ASR_CLI_CONTROL_COMMANDS_H_
