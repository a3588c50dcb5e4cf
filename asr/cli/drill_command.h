// asr/cli/drill_command.h: `asrctl drill`, a disaster-recovery drill on the
// embedded default, the README's main command (tools/drill.sh runs it).
//
//   asrctl drill [--dir DIR] [--keep] [--vms N] [--disk-size SIZE] [--disk FILE]...
//                [--seconds S]
//
// Two sites (New York primary, Chicago recovery) in a state directory
// under DIR, a simulated VMM fabric whose VM disks are real VHDX files
// (VM1 with a system and a data disk, VM2 ... VMN, and a VM whose disks are
// copies of the user's --disk files), registration with a real key,
// pairing, a policy, network and storage mappings, protection of every VM,
// the site service replicating at the policy's 30 s frequency while a
// guest workload writes; then a recovery plan (VM1 in group 1, VM2 in
// group 2, a script action updating a DNS zone file) drives a test
// failover, its cleanup and a planned failover with the zero-data-loss
// check, commit, reverse replication and failback; VM3 takes an unplanned
// failover to an older point with the data lost reported write by write.
// Every step is checked against the data (the fabric's write log,
// `qemu-img check`, states and health); the first check that fails stops
// the drill with exit code 1, saying what failed and where the logs are.
//
// The steps are asrctl's own commands, run in this process through the
// registry (their output goes to DIR/drill.log); the site service and the
// guest workload run as child processes of this executable. Long steps
// show a progress bar on a terminal (plain lines otherwise); a summary
// table ends the drill and is written by WriteDrillReport.
//
// Registered in asrctl_main.cc after every other command (the drill runs
// them through `registry`, which must outlive it):
//
//   asr::cli::RegisterDrillCommand(registry);
//
// Thread safety: registration is not thread-safe; one drill at a time.
#ifndef ASR_CLI_DRILL_COMMAND_H_
#define ASR_CLI_DRILL_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "asr/cli/command.h"
#include "asr/cli/drill_ui.h"

namespace asr::cli {

void RegisterDrillCommand(CommandRegistry& registry);

// The one place the drill's report is written: for now the summary table
// as Markdown in DIR/summary.md; the path written goes to `*path`.
absl::Status WriteDrillReport(const std::string& dir, const std::vector<SummaryRow>& rows,
                              std::string* path);

}  // namespace asr::cli

#endif  // ASR_CLI_DRILL_COMMAND_H_
