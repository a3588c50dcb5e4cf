#include "asr/cli/drill_ui.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/file.h"

namespace asr::cli {

absl::StatusOr<DrillOptions> ParseDrillOptions(const ParsedArgs& args) {
  DrillOptions o;
  if (args.Has("dir")) o.dir = args.Get("dir");
  if (o.dir.empty()) return absl::InvalidArgumentError("--dir needs a directory");
  o.keep = args.bools.count("keep") > 0;
  if (args.Has("vms")) {
    absl::StatusOr<int64_t> n = ParseInt(args.Get("vms"), "--vms", kDrillMinVms, kDrillMaxVms);
    if (!n.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          n.status().message(), ": the drill needs at least ", kDrillMinVms,
          " VMs (VM1 and VM2 go through the recovery plan, VM3 takes the unplanned failover)"));
    }
    o.vms = static_cast<int>(*n);
  }
  if (args.Has("disk-size")) {
    ASR_ASSIGN_OR_RETURN(o.disk_size_bytes, ParseSize(args.Get("disk-size")));
    if (o.disk_size_bytes < (8ull << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--disk-size ", args.Get("disk-size"), " is too small: give at least 8M"));
    }
    o.disk_size = args.Get("disk-size");
  }
  if (args.Has("seconds")) {
    absl::StatusOr<int64_t> s = ParseInt(args.Get("seconds"), "--seconds", kDrillMinSeconds, 86400);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(s.status().message(), ": the site service runs at least ", kDrillMinSeconds,
                       " s, one cycle at the policy's 30 s frequency"));
    }
    o.seconds = static_cast<int>(*s);
  }
  platform::Env* env = platform::Env::Default();
  for (const std::string& disk : args.GetAll("disk")) {
    std::string path = disk;
    if (!absl::StartsWith(path, "/")) {
      ASR_ASSIGN_OR_RETURN(std::string cwd, env->CurrentDirectory());
      path = JoinPath(cwd, path);
    }
    absl::StatusOr<platform::FileInfo> info = env->Stat(path);
    if (!info.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--disk ", disk, ": ", info.status().message(),
                       "; give the path of a VHD or VHDX file to protect (it is copied, never "
                       "changed)"));
    }
    if (info->type != platform::FileType::kRegular) {
      return absl::InvalidArgumentError(
          absl::StrCat("--disk ", disk, " is not a regular file; give a VHD or VHDX file"));
    }
    if (!absl::EndsWithIgnoreCase(path, ".vhdx") && !absl::EndsWithIgnoreCase(path, ".vhd")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--disk ", disk, " does not end in .vhd or .vhdx; give a VHD or VHDX file"));
    }
    o.disks.push_back(path);
  }
  if (args.bools.count("qemu") && args.bools.count("no-qemu")) {
    return absl::InvalidArgumentError("give --qemu or --no-qemu, not both");
  }
  o.qemu = args.bools.count("qemu") > 0;
  if (args.Has("qemu-guest") && !o.qemu) {
    return absl::InvalidArgumentError("--qemu-guest is for --qemu: give both or neither");
  }
  if (o.qemu) {
    const char* path = std::getenv("PATH");
    for (absl::string_view dir :
         absl::StrSplit(path == nullptr ? "" : path, ':', absl::SkipEmpty())) {
      std::string p = JoinPath(dir, "qemu-system-x86_64");
      if (PathExists(p)) {
        o.qemu_system = p;
        break;
      }
    }
    if (o.qemu_system.empty()) {
      return absl::InvalidArgumentError(
          "--qemu needs qemu-system-x86_64 in PATH (Debian: apt-get install qemu-system-x86), "
          "or give --no-qemu");
    }
    if (!args.Has("qemu-guest")) {
      return absl::InvalidArgumentError(
          "--qemu needs --qemu-guest DIR, the test guest (vmlinuz, initrd.gz, cmdline): "
          "`bazel build //asr/qemu:guest_image` makes it in bazel-bin/asr/qemu/guest, "
          "asr/qemu/guest/build_guest.sh DIR by hand (tools/drill.sh does it for you)");
    }
    o.qemu_guest = args.Get("qemu-guest");
    if (!absl::StartsWith(o.qemu_guest, "/")) {
      ASR_ASSIGN_OR_RETURN(std::string cwd, env->CurrentDirectory());
      o.qemu_guest = JoinPath(cwd, o.qemu_guest);
    }
    for (const char* f : {"vmlinuz", "initrd.gz", "cmdline"}) {
      if (!PathExists(JoinPath(o.qemu_guest, f))) {
        return absl::InvalidArgumentError(
            absl::StrCat("--qemu-guest ", args.Get("qemu-guest"), " has no ", f,
                         "; give the directory asr/qemu/guest/build_guest.sh wrote "
                         "(bazel-bin/asr/qemu/guest after `bazel build //asr/qemu:guest_image`)"));
      }
    }
  }
  return o;
}

std::string RenderProgressLine(const std::string& label, double fraction, absl::Duration elapsed,
                               int width) {
  if (!(fraction >= 0)) fraction = 0;  // also NaN
  fraction = std::min(fraction, 1.0);
  width = std::max(width, 1);
  const int filled = static_cast<int>(std::floor(fraction * width));
  return absl::StrFormat("  %s [%s%s] %3d%%  %s", label, std::string(filled, '#'),
                         std::string(width - filled, '.'),
                         static_cast<int>(std::floor(fraction * 100)), FormatStepDuration(elapsed));
}

ProgressBar::ProgressBar(std::ostream& out, bool terminal, std::string label)
    : out_(out), terminal_(terminal), label_(std::move(label)) {
  if (!terminal_) out_ << "  " << label_ << " ...\n" << std::flush;
}

void ProgressBar::Update(double fraction, absl::Duration elapsed) {
  if (done_) return;
  if (terminal_) {
    out_ << "\r" << RenderProgressLine(label_, fraction, elapsed) << "\x1b[K" << std::flush;
    return;
  }
  while (quarters_printed_ < 3 && fraction >= 0.25 * (quarters_printed_ + 1)) {
    ++quarters_printed_;
    out_ << "  " << label_ << ": " << 25 * quarters_printed_ << "% (" << FormatStepDuration(elapsed)
         << ")\n"
         << std::flush;
  }
}

void ProgressBar::Done(absl::Duration elapsed, const std::string& outcome) {
  if (done_) return;
  done_ = true;
  if (terminal_) out_ << "\r\x1b[K";
  out_ << "  " << label_ << ": " << outcome << " (" << FormatStepDuration(elapsed) << ")\n"
       << std::flush;
}

std::string FormatStepDuration(absl::Duration d) {
  const double s = absl::ToDoubleSeconds(d);
  if (s < 60) return absl::StrFormat("%.1f s", std::max(s, 0.0));
  const int64_t whole = static_cast<int64_t>(s);
  return absl::StrFormat("%d min %02d s", whole / 60, whole % 60);
}

namespace {

int Held(const std::vector<SummaryRow>& rows) {
  return static_cast<int>(
      std::count_if(rows.begin(), rows.end(), [](const SummaryRow& r) { return r.ok; }));
}

}  // namespace

std::string FormatSummaryTable(const std::vector<SummaryRow>& rows) {
  std::vector<std::vector<std::string>> cells = {{"step", "result", "duration", "detail"}};
  for (const SummaryRow& r : rows) {
    cells.push_back({r.step, r.ok ? "ok" : "FAILED", FormatStepDuration(r.duration), r.detail});
  }
  size_t widths[3] = {0, 0, 0};
  for (const auto& row : cells) {
    for (int c = 0; c < 3; ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    const auto& row = cells[i];
    std::string line = absl::StrFormat("%-*s  %-*s  %*s  %s", static_cast<int>(widths[0]), row[0],
                                       static_cast<int>(widths[1]), row[1],
                                       static_cast<int>(widths[2]), row[2], row[3]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
    if (i == 0) {
      absl::StrAppend(&out, std::string(widths[0], '-'), "  ", std::string(widths[1], '-'), "  ",
                      std::string(widths[2], '-'), "  ", std::string(6, '-'), "\n");
    }
  }
  absl::StrAppend(&out, Held(rows), " of ", rows.size(), " steps held\n");
  return out;
}

std::string FormatSummaryMarkdown(const std::vector<SummaryRow>& rows) {
  auto cell = [](const std::string& s) {
    return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}});
  };
  std::string out = "| step | result | duration | detail |\n| --- | --- | ---: | --- |\n";
  for (const SummaryRow& r : rows) {
    absl::StrAppend(&out, "| ", cell(r.step), " | ", r.ok ? "ok" : "FAILED", " | ",
                    FormatStepDuration(r.duration), " | ", cell(r.detail), " |\n");
  }
  absl::StrAppend(&out, "\n", Held(rows), " of ", rows.size(), " steps held.\n");
  return out;
}

}  // namespace asr::cli
