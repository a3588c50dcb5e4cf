// asr/cli/drill_command.h: `asrctl drill`, a disaster-recovery drill on the
// embedded default, the README's main command (tools/drill.sh runs it).
//
//   asrctl drill [--dir DIR] [--keep] [--vms N] [--disk-size SIZE] [--disk FILE]...
//                [--seconds S] [--qemu --qemu-guest DIR | --no-qemu]
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
// With --qemu, one real QEMU VM (the test guest of asr/qemu) on sites of
// its own is protected, replicated and failed over planned, its replica's
// guest proving every record it wrote is there.
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

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/cli/command.h"
#include "asr/cli/drill_ui.h"
#include "asr/fabric/simulated_fabric.h"

namespace asr::cli {

void RegisterDrillCommand(CommandRegistry& registry);

// The drill's report, written at its end over the drill's directory (its
// state in DIR/state): the summary table as Markdown in DIR/summary.md and,
// when the state exists, the report of asr/report/report.h with the steps
// first (DIR/report.html, DIR/report.md). `*path` is the HTML file, or the
// summary when the drill failed before its state existed.
absl::Status WriteDrillReport(const std::string& dir, const std::vector<SummaryRow>& rows,
                              std::string* path);

// The acknowledged guest writes of `vm_id` that the fabric's write log
// holds after the marker of host point `host_point_id` (and before that of
// `next_host_point_id`, when given): what a failover to that point loses.
struct LostWrites {
  uint64_t point_seq = 0;  // the point marker's sequence number in the log
  uint64_t writes = 0;
  uint64_t bytes = 0;
  int64_t first_us = 0, last_us = 0;  // the first and last of them
  std::map<std::string, uint64_t> writes_by_disk;
};
// NotFound when the log has no marker of the point.
absl::StatusOr<LostWrites> WritesAfterPoint(const std::vector<fabric::WriteLogRecord>& log,
                                            const std::string& vm_id,
                                            const std::string& host_point_id,
                                            const std::string& next_host_point_id = "");

// How many of the acknowledged writes of `vm_id`'s `disk_id` logged after
// sequence number `after_seq` (a point marker's) appear whole in the disk
// image `image_path`; `*checked` gets how many were looked at. A disk
// failed over to that point must show none of them.
absl::StatusOr<uint64_t> LaterWritesOnDisk(const std::vector<fabric::WriteLogRecord>& log,
                                           const std::string& vm_id, const std::string& disk_id,
                                           uint64_t after_seq, const std::string& image_path,
                                           uint64_t* checked);

}  // namespace asr::cli

#endif  // ASR_CLI_DRILL_COMMAND_H_
