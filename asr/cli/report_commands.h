// asr/cli/report_commands.h: `asrctl report`, the report of a state
// directory (asr/report/report.h): a Markdown summary on standard output or
// in a file, and one self-contained HTML page with charts of the RPO over
// time, the bytes changed and sent per cycle, the time per step of each
// failover and the timeline of each recovery plan job's groups.
//
//   asrctl report --state DIR                       (Markdown on stdout)
//   asrctl report --state DIR --html report.html    (and Markdown on stdout)
//   asrctl report --state DIR --html r.html --markdown r.md
//   asrctl --state-dir DIR report --html r.html     (the global flag works too)
//
// The state is opened read-only: a report can be made while a site service
// runs on it.
//
// Registered in asrctl_main.cc:
//
//   asr::cli::RegisterReportCommands(registry);
//
// Thread safety: registration is not thread-safe; commands run one at a time.
#ifndef ASR_CLI_REPORT_COMMANDS_H_
#define ASR_CLI_REPORT_COMMANDS_H_

#include "asr/cli/command.h"

namespace asr::cli {

void RegisterReportCommands(CommandRegistry& registry);

}  // namespace asr::cli

#endif  // ASR_CLI_REPORT_COMMANDS_H_
