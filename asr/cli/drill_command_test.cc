#include "asr/cli/drill_command.h"

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/simulated_fabric.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using fabric::WriteLogRecord;
using ::testing::HasSubstr;

WriteLogRecord Write(uint64_t seq, const std::string& vm, const std::string& disk, uint64_t length,
                     bool acknowledged = true) {
  WriteLogRecord r;
  r.kind = WriteLogRecord::Kind::kWrite;
  r.seq = seq;
  r.time_us = static_cast<int64_t>(seq) * 1000000;
  r.vm_id = vm;
  r.disk_id = disk;
  r.length = length;
  r.acknowledged = acknowledged;
  return r;
}

WriteLogRecord Point(uint64_t seq, const std::string& vm, uint64_t point) {
  WriteLogRecord r;
  r.kind = WriteLogRecord::Kind::kPoint;
  r.seq = seq;
  r.vm_id = vm;
  r.point = point;
  return r;
}

std::vector<WriteLogRecord> Log() {
  return {Write(1, "vm3", "vm3-d0", 4096),
          Point(2, "vm3", 7),
          Write(3, "vm3", "vm3-d0", 8192),
          Write(4, "vm1", "vm1-d0", 4096),
          Write(5, "vm3", "vm3-d1", 4096),
          Write(6, "vm3", "vm3-d0", 4096, false),
          Point(7, "vm1", 8),
          Point(8, "vm3", 9),
          Write(9, "vm3", "vm3-d0", 65536)};
}

TEST(WritesAfterPoint, CountsTheAcknowledgedWritesOfTheVmAfterItsMarker) {
  absl::StatusOr<LostWrites> lost = WritesAfterPoint(Log(), "vm3", "7");
  ASSERT_TRUE(lost.ok()) << lost.status();
  EXPECT_EQ(lost->point_seq, 2u);
  EXPECT_EQ(lost->writes, 3u);  // 3, 5 and 9; not vm1's 4, not 6 (never acknowledged)
  EXPECT_EQ(lost->bytes, 8192u + 4096 + 65536);
  EXPECT_EQ(lost->first_us, 3000000);
  EXPECT_EQ(lost->last_us, 9000000);
  EXPECT_EQ(lost->writes_by_disk["vm3-d0"], 2u);
  EXPECT_EQ(lost->writes_by_disk["vm3-d1"], 1u);
}

TEST(WritesAfterPoint, UpToTheNextPoint) {
  absl::StatusOr<LostWrites> between = WritesAfterPoint(Log(), "vm3", "7", "9");
  ASSERT_TRUE(between.ok()) << between.status();
  EXPECT_EQ(between->writes, 2u);  // 3 and 5
  EXPECT_EQ(between->bytes, 8192u + 4096);
  absl::StatusOr<LostWrites> after_last = WritesAfterPoint(Log(), "vm3", "9");
  ASSERT_TRUE(after_last.ok());
  EXPECT_EQ(after_last->writes, 1u);
}

TEST(WritesAfterPoint, UnknownPoint) {
  // Point 8 is vm1's, not vm3's.
  absl::StatusOr<LostWrites> lost = WritesAfterPoint(Log(), "vm3", "8");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(lost.status().message()), HasSubstr("vm3's host point 8"));
}

WriteLogRecord Placed(uint64_t seq, uint64_t offset, uint64_t length, bool acknowledged = true) {
  WriteLogRecord r = Write(seq, "vm3", "vm3-d0", length, acknowledged);
  r.offset = offset;
  r.data_seed = 1000 + seq;
  return r;
}

TEST(LaterWritesOnDisk, FindsTheWritesAfterThePointThatAreOnTheDisk) {
  const std::string dir = asr::testing::TestDir("drill_later");
  const std::string image = dir + "/d.vhdx";
  disk::CreateOptions co;
  co.virtual_size = 8 << 20;
  co.block_size = 1 << 20;
  absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> d = disk::CreateDisk(image, co);
  ASSERT_TRUE(d.ok()) << d.status();
  const std::vector<WriteLogRecord> log = {Placed(1, 0, 4096),
                                           Point(2, "vm3", 5),
                                           Placed(3, 1 << 20, 8192),
                                           Placed(4, 2 << 20, 4096),
                                           Placed(5, 3 << 20, 4096, false),
                                           Write(6, "vm1", "vm1-d0", 4096)};
  // The disk holds write 1 (before the point) and write 3 (after it).
  for (const WriteLogRecord* w : {&log[0], &log[2]}) {
    std::vector<uint8_t> data(w->length);
    fabric::GuestData(w->data_seed, 0, data.data(), data.size());
    ASSERT_TRUE((*d)->WriteAt(w->offset, data).ok());
  }
  ASSERT_TRUE((*d)->Close().ok());
  uint64_t checked = 0;
  absl::StatusOr<uint64_t> present = LaterWritesOnDisk(log, "vm3", "vm3-d0", 2, image, &checked);
  ASSERT_TRUE(present.ok()) << present.status();
  EXPECT_EQ(checked, 2u);   // 3 and 4; 5 was never acknowledged, 6 is vm1's
  EXPECT_EQ(*present, 1u);  // 3
  present = LaterWritesOnDisk(log, "vm3", "vm3-d0", 3, image, &checked);
  ASSERT_TRUE(present.ok());
  EXPECT_EQ(checked, 1u);
  EXPECT_EQ(*present, 0u);
}

TEST(DrillReport, WritesTheSummaryAsMarkdown) {
  const std::string dir = asr::testing::TestDir("drill_report");
  std::string path;
  ASSERT_TRUE(WriteDrillReport(dir, {{"Protect", true, absl::Seconds(2), "3 VMs"}}, &path).ok());
  EXPECT_EQ(path, dir + "/summary.md");
  absl::StatusOr<std::string> text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("| Protect | ok | 2.0 s | 3 VMs |"));
  EXPECT_THAT(*text, HasSubstr("1 of 1 steps held."));
}

int RunDrill(const std::vector<std::string>& args, std::string* err) {
  CommandRegistry registry;
  RegisterDrillCommand(registry);
  std::vector<std::string> argv = {"drill"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::ostringstream out, e;
  int code = registry.Run(argv, out, e);
  *err = e.str();
  return code;
}

TEST(DrillCommand, BadOptionsAreUsageErrors) {
  std::string err;
  EXPECT_EQ(RunDrill({"--vms", "0"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("--vms"));
  EXPECT_EQ(RunDrill({"--disk", "/no/such/disk.vhdx"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("--disk /no/such/disk.vhdx"));
  EXPECT_EQ(RunDrill({"--seconds", "1"}, &err), 2);
  EXPECT_EQ(RunDrill({"extra"}, &err), 2);
}

TEST(DrillCommand, RefusesADirectoryThatIsNotADrills) {
  const std::string dir = asr::testing::TestDir("drill_precious");
  ASSERT_TRUE(WriteFileAtomically(dir + "/notes.txt", "mine").ok());
  std::string err;
  EXPECT_EQ(RunDrill({"--dir", dir}, &err), 2);
  EXPECT_THAT(err, HasSubstr("is not a drill's directory"));
  absl::StatusOr<std::string> still = ReadFileToString(dir + "/notes.txt");
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(*still, "mine");
}

}  // namespace
}  // namespace asr::cli
