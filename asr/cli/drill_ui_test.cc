#include "asr/cli/drill_ui.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ParsedArgs Args(std::map<std::string, std::vector<std::string>> values,
                std::set<std::string> bools = {}) {
  ParsedArgs a;
  for (const auto& [flag, all] : values) {
    a.values[flag] = all.back();
    a.all_values[flag] = all;
  }
  a.bools = std::move(bools);
  return a;
}

TEST(DrillOptions, Defaults) {
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(Args({}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->dir, ".drill");
  EXPECT_FALSE(o->keep);
  EXPECT_EQ(o->vms, 3);
  EXPECT_EQ(o->disk_size_bytes, 64u << 20);
  EXPECT_EQ(o->seconds, 75);
  EXPECT_TRUE(o->disks.empty());
}

TEST(DrillOptions, Flags) {
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(
      Args({{"dir", {"/tmp/d"}}, {"vms", {"5"}}, {"disk-size", {"128M"}}, {"seconds", {"40"}}},
           {"keep"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->dir, "/tmp/d");
  EXPECT_TRUE(o->keep);
  EXPECT_EQ(o->vms, 5);
  EXPECT_EQ(o->disk_size_bytes, 128u << 20);
  EXPECT_EQ(o->disk_size, "128M");
  EXPECT_EQ(o->seconds, 40);
}

TEST(DrillOptions, VmsZeroIsAClearError) {
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(Args({{"vms", {"0"}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("--vms"));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("at least 3"));
  EXPECT_FALSE(ParseDrillOptions(Args({{"vms", {"two"}}})).ok());
  EXPECT_FALSE(ParseDrillOptions(Args({{"vms", {"17"}}})).ok());
}

TEST(DrillOptions, SecondsAndSizeChecked) {
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(Args({{"seconds", {"5"}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("--seconds"));
  o = ParseDrillOptions(Args({{"disk-size", {"1M"}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("at least 8M"));
  EXPECT_FALSE(ParseDrillOptions(Args({{"disk-size", {"lots"}}})).ok());
}

TEST(DrillOptions, MissingDiskIsAClearError) {
  const std::string dir = asr::testing::TestDir("drill_missing");
  const std::string missing = dir + "/nope.vhdx";
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(Args({{"disk", {missing}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("--disk " + missing));
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("VHD or VHDX"));
}

TEST(DrillOptions, DiskMustBeAVhdOrVhdxFile) {
  const std::string dir = asr::testing::TestDir("drill_disks");
  const std::string text = dir + "/notes.txt";
  ASSERT_TRUE(WriteFileAtomically(text, "x").ok());
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(Args({{"disk", {text}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr(".vhd or .vhdx"));
  o = ParseDrillOptions(Args({{"disk", {dir}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("not a regular file"));

  const std::string a = dir + "/a.vhdx", b = dir + "/b.VHD";
  ASSERT_TRUE(WriteFileAtomically(a, "x").ok());
  ASSERT_TRUE(WriteFileAtomically(b, "x").ok());
  o = ParseDrillOptions(Args({{"disk", {a, b}}}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->disks, (std::vector<std::string>{a, b}));
}

TEST(DrillOptions, QemuChecked) {
  absl::StatusOr<DrillOptions> o = ParseDrillOptions(Args({}, {"qemu", "no-qemu"}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("not both"));
  o = ParseDrillOptions(Args({{"qemu-guest", {"/tmp"}}}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("--qemu-guest is for --qemu"));
  // Without qemu-system-x86_64 in PATH, or without the guest: what to give.
  o = ParseDrillOptions(Args({}, {"qemu"}));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(o.status().message()),
              ::testing::AnyOf(HasSubstr("--qemu-guest DIR"), HasSubstr("qemu-system-x86_64")));
  const std::string dir = asr::testing::TestDir("drill_guest");
  o = ParseDrillOptions(Args({{"qemu-guest", {dir}}}, {"qemu"}));
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()),
              ::testing::AnyOf(HasSubstr("has no vmlinuz"), HasSubstr("qemu-system-x86_64")));
  o = ParseDrillOptions(Args({}, {"no-qemu"}));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->qemu);
}

TEST(ProgressLine, Renders) {
  EXPECT_EQ(RenderProgressLine("copy", 0.5, absl::Seconds(12), 10),
            "  copy [#####.....]  50%  12.0 s");
  EXPECT_EQ(RenderProgressLine("copy", 0, absl::ZeroDuration(), 4), "  copy [....]   0%  0.0 s");
  EXPECT_EQ(RenderProgressLine("copy", 7, absl::Seconds(61), 4), "  copy [####] 100%  1 min 01 s");
  EXPECT_EQ(RenderProgressLine("copy", -1, absl::Seconds(1), 4), "  copy [....]   0%  1.0 s");
}

TEST(ProgressBar, TerminalRedrawsInPlace) {
  std::ostringstream out;
  {
    ProgressBar bar(out, /*terminal=*/true, "replication");
    bar.Update(0.25, absl::Seconds(1));
    bar.Update(0.5, absl::Seconds(2));
    bar.Done(absl::Seconds(4), "done");
  }
  const std::string s = out.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1) << s;  // one line, redrawn
  EXPECT_THAT(s, HasSubstr("\r  replication [#######"));
  EXPECT_THAT(s, HasSubstr("\x1b[K"));
  EXPECT_TRUE(absl::EndsWith(s, "\r\x1b[K  replication: done (4.0 s)\n")) << s;
}

TEST(ProgressBar, PlainLinesWhenNotATerminal) {
  std::ostringstream out;
  ProgressBar bar(out, /*terminal=*/false, "replication");
  for (int i = 0; i <= 20; ++i) bar.Update(i / 20.0, absl::Seconds(i));
  bar.Done(absl::Seconds(21), "done");
  bar.Done(absl::Seconds(22), "again");  // once only
  const std::string s = out.str();
  EXPECT_THAT(s, Not(HasSubstr("\r")));
  EXPECT_THAT(s, Not(HasSubstr("\x1b")));
  std::vector<std::string> lines = absl::StrSplit(s, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines,
            (std::vector<std::string>{"  replication ...", "  replication: 25% (5.0 s)",
                                      "  replication: 50% (10.0 s)", "  replication: 75% (15.0 s)",
                                      "  replication: done (21.0 s)"}));
}

std::vector<SummaryRow> Rows() {
  return {{"Enable protection", true, absl::Seconds(3.25), "4 VMs protected"},
          {"Unplanned failover", true, absl::Seconds(75), "12 writes (384 KiB) lost"},
          {"Jobs", false, absl::Milliseconds(40), "job-7 | Failed"}};
}

TEST(Summary, TableAlignsColumns) {
  const std::string t = FormatSummaryTable(Rows());
  std::vector<std::string> lines = absl::StrSplit(t, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << t;
  EXPECT_EQ(lines[0], "step                result    duration  detail");
  EXPECT_EQ(lines[1], "------------------  ------  ----------  ------");
  EXPECT_EQ(lines[2], "Enable protection   ok           3.2 s  4 VMs protected");
  EXPECT_EQ(lines[3], "Unplanned failover  ok      1 min 15 s  12 writes (384 KiB) lost");
  EXPECT_EQ(lines[4], "Jobs                FAILED       0.0 s  job-7 | Failed");
  EXPECT_EQ(lines[5], "2 of 3 steps held");
}

TEST(Summary, Markdown) {
  const std::string m = FormatSummaryMarkdown(Rows());
  EXPECT_THAT(m, HasSubstr("| step | result | duration | detail |\n| --- | --- | ---: | --- |\n"));
  EXPECT_THAT(m, HasSubstr("| Enable protection | ok | 3.2 s | 4 VMs protected |\n"));
  EXPECT_THAT(m, HasSubstr("| Jobs | FAILED | 0.0 s | job-7 \\| Failed |\n"));
  EXPECT_THAT(m, HasSubstr("2 of 3 steps held."));
}

TEST(Summary, StepDuration) {
  EXPECT_EQ(FormatStepDuration(absl::Milliseconds(1500)), "1.5 s");
  EXPECT_EQ(FormatStepDuration(absl::Seconds(125)), "2 min 05 s");
  EXPECT_EQ(FormatStepDuration(-absl::Seconds(1)), "0.0 s");
}

}  // namespace
}  // namespace asr::cli
