// asr/cli/drill_ui.h: the parts of `asrctl drill` that print and parse,
// kept apart from the steps so they can be tested alone: its options,
// the progress bar of its long steps and the summary table at its end.
//
//   ASR_ASSIGN_OR_RETURN(DrillOptions o, ParseDrillOptions(args));
//   ProgressBar bar(std::cout, platform::IsTerminal(1), "initial replication");
//   bar.Update(0.4, absl::Seconds(12));   // a terminal: the line redrawn in place
//   bar.Done(absl::Seconds(30), "ok");    // not a terminal: one plain line here
//   std::cout << FormatSummaryTable(rows);
//
// Thread safety: a ProgressBar is used by one thread at a time; the free
// functions are thread-safe.
#ifndef ASR_CLI_DRILL_UI_H_
#define ASR_CLI_DRILL_UI_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/cli/command.h"

namespace asr::cli {

struct DrillOptions {
  std::string dir = ".drill";  // everything the drill makes
  bool keep = false;           // leave `dir` after a drill that held
  int vms = 3;                 // protected VMs of the simulated fabric (VM1 has two disks)
  uint64_t disk_size_bytes = 64ull << 20;  // every simulated disk
  std::string disk_size = "64M";           // as given
  std::vector<std::string> disks;          // the user's own VHD/VHDX files (absolute)
  int seconds = 75;                        // the site service's period with the workload
  // --qemu: one real QEMU VM too, booting the test guest in `qemu_guest`
  // (vmlinuz, initrd.gz, cmdline: asr/qemu/guest/build_guest.sh's output).
  bool qemu = false;
  std::string qemu_guest;
  std::string qemu_system;  // the qemu-system-x86_64 found in PATH
};

inline constexpr int kDrillMinVms = 3;
inline constexpr int kDrillMaxVms = 16;
inline constexpr int kDrillMinSeconds = 30;

// The drill's flags: --dir DIR, --keep, --vms N (3..16), --disk-size SIZE,
// --disk FILE (repeatable: an existing .vhd or .vhdx file), --seconds S
// (at least 30: one cycle at the policy's 30 s frequency), --qemu with
// --qemu-guest DIR (qemu-system-x86_64 must be in PATH) or --no-qemu.
// InvalidArgument naming the flag, the value and what to give instead.
absl::StatusOr<DrillOptions> ParseDrillOptions(const ParsedArgs& args);

// One line of a progress bar, without line ending: "  LABEL [#####.....]
// 50%  12 s". `fraction` is clamped to [0, 1]; `width` is the bar's cells.
std::string RenderProgressLine(const std::string& label, double fraction, absl::Duration elapsed,
                               int width = 30);

// The progress of one long step. On a terminal the line is redrawn in
// place ("\r" and erase to the end of the line) at every Update and ended
// by Done; elsewhere Update prints nothing but a plain line at each
// quarter, and Done one line with the outcome.
class ProgressBar {
 public:
  ProgressBar(std::ostream& out, bool terminal, std::string label);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(double fraction, absl::Duration elapsed);
  // Ends the bar: "LABEL: OUTCOME (N s)".
  void Done(absl::Duration elapsed, const std::string& outcome);

 private:
  std::ostream& out_;
  const bool terminal_;
  const std::string label_;
  int quarters_printed_ = 0;  // plain mode: 25%, 50%, 75% lines printed
  bool done_ = false;
};

// One step of the drill as the summary shows it.
struct SummaryRow {
  std::string step;
  bool ok = false;
  absl::Duration duration;
  std::string detail;  // e.g. "RPO 12 s", "3 writes (96 KiB) lost, 21:10:04-21:10:31"
  absl::Time start = absl::UnixEpoch();  // when the step began (the report's timeline)
};

// "12.3 s", "2 min 05 s".
std::string FormatStepDuration(absl::Duration d);

// The summary as a text table with aligned columns (step, result,
// duration, detail) and a last line "N of M steps held".
std::string FormatSummaryTable(const std::vector<SummaryRow>& rows);

// The same as a Markdown table ('|' in cells escaped).
std::string FormatSummaryMarkdown(const std::vector<SummaryRow>& rows);

}  // namespace asr::cli

#endif  // ASR_CLI_DRILL_UI_H_
