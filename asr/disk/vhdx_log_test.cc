// The VHDX log: sequence finding on built logs, and a pending log entry in a
// real file replayed read-only (in memory; file untouched) and read-write
// (into the file, then LogGuid cleared).
#include "asr/disk/vhdx_log.h"

#include <cstring>

#include "absl/strings/match.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/test_util.h"
#include "asr/disk/vhdx_format.h"
#include "asr/disk/virtual_disk.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using ::asr::testing::StatusIs;

using testing::Pattern;
using testing::TempPath;

std::string PageOf(uint8_t v) { return std::string(4096, static_cast<char>(v)); }

TEST(VhdxLogParse, NewestCompleteSequenceWins) {
  Guid g = Guid::Random();
  std::string log(64 * 4096, '\0');
  std::string p1 = PageOf(1), p2 = PageOf(2), p3 = PageOf(3);
  // Entry seq 5 at 0 (tail 0), seq 6 at its end (tail 0): a two-entry sequence.
  std::string e5 = BuildVhdxLogEntry(g, 5, 0, kMiB, kMiB, {},
                                     {{0x300000, reinterpret_cast<const uint8_t*>(p1.data())}});
  std::string e6 = BuildVhdxLogEntry(g, 6, 0, kMiB, kMiB, {{0x310000, 8192}},
                                     {{0x300000, reinterpret_cast<const uint8_t*>(p2.data())}});
  log.replace(0, e5.size(), e5);
  log.replace(e5.size(), e6.size(), e6);
  // An older, self-contained entry elsewhere (other sequence) is ignored.
  std::string e2 = BuildVhdxLogEntry(g, 2, 40 * 4096, kMiB, kMiB, {},
                                     {{0x300000, reinterpret_cast<const uint8_t*>(p3.data())}});
  log.replace(40 * 4096, e2.size(), e2);
  auto r = FindVhdxLogReplay(log, g);
  ASSERT_OK(r);
  ASSERT_TRUE(r->found);
  EXPECT_EQ(r->head_sequence, 6u);
  EXPECT_EQ(r->entry_count, 2u);
  ASSERT_EQ(r->writes.size(), 3u);
  EXPECT_EQ(r->writes[0].data, p1);
  EXPECT_TRUE(r->writes[1].data.empty());  // zero descriptor first in entry 6
  EXPECT_EQ(r->writes[1].length, 8192u);
  EXPECT_EQ(r->writes[2].data, p2);

  // Tear entry 6: the newest valid sequence is then entry 5 alone? No: 5's
  // head tail (0) is itself, so it is a valid one-entry sequence.
  log[e5.size() + 4096 + 100] ^= 1;
  r = FindVhdxLogReplay(log, g);
  ASSERT_OK(r);
  ASSERT_TRUE(r->found);
  EXPECT_EQ(r->head_sequence, 5u);
  ASSERT_EQ(r->writes.size(), 1u);
  EXPECT_EQ(r->writes[0].data, p1);

  // Another LogGuid sees nothing.
  r = FindVhdxLogReplay(log, Guid::Random());
  ASSERT_OK(r);
  EXPECT_FALSE(r->found);
}

TEST(VhdxLogParse, EntryWrappingAroundTheEnd) {
  Guid g = Guid::Random();
  std::string log(8 * 4096, '\0');
  std::string p = PageOf(9), q = PageOf(10);
  std::string e = BuildVhdxLogEntry(g, 1, 6 * 4096, kMiB, kMiB, {},
                                    {{0x300000, reinterpret_cast<const uint8_t*>(p.data())},
                                     {0x301000, reinterpret_cast<const uint8_t*>(q.data())}});
  ASSERT_EQ(e.size(), 3u * 4096);
  // Sectors 6, 7 and 0.
  log.replace(6 * 4096, 2 * 4096, e.substr(0, 2 * 4096));
  log.replace(0, 4096, e.substr(2 * 4096));
  auto r = FindVhdxLogReplay(log, g);
  ASSERT_OK(r);
  ASSERT_TRUE(r->found);
  ASSERT_EQ(r->writes.size(), 2u);
  EXPECT_EQ(r->writes[1].data, q);
}

TEST(VhdxLogParse, RejectsBadLogSize) {
  EXPECT_FALSE(FindVhdxLogReplay(std::string(100, '\0'), Guid::Random()).ok());
}

// Builds an asr VHDX with data in block 0, then leaves a pending log entry
// that maps block 3 to a new payload block (and zeroes one page of it), as a
// crash between log flush and in-place update would.
struct Pending {
  std::string path;
  std::vector<uint8_t> expect;  // expected virtual content
};

Pending MakePendingLog(const std::string& name) {
  Pending p;
  p.path = TempPath(name);
  const uint64_t size = 8 << 20;
  p.expect.assign(size, 0);
  {
    CreateOptions o;
    o.format = DiskFormat::kVhdx;
    o.virtual_size = size;
    o.block_size = 1 << 20;
    auto d = CreateDisk(p.path, o);
    EXPECT_OK(d);
    std::vector<uint8_t> a = Pattern(1 << 20, 1);
    EXPECT_OK((*d)->WriteAt(0, a));
    std::copy(a.begin(), a.end(), p.expect.begin());
  }
  std::string file = testing::ReadFileBytes(p.path);
  auto* f = reinterpret_cast<uint8_t*>(file.data());
  const uint64_t bat_off = 3 * kMiB, log_off = kMiB;  // asr's layout
  const uint64_t new_block = file.size();
  EXPECT_EQ(new_block % kMiB, 0u);
  std::vector<uint8_t> b = Pattern(1 << 20, 2);
  file.append(reinterpret_cast<const char*>(b.data()), b.size());
  f = reinterpret_cast<uint8_t*>(file.data());
  // New BAT page 0: block 3 fully present at new_block.
  std::string page(reinterpret_cast<const char*>(f + bat_off), 4096);
  StoreLe64(reinterpret_cast<uint8_t*>(page.data()) + 8 * 3,
            MakeBatEntry(kPayloadFullyPresent, new_block));
  // Expected: block 3 = b with its second 4 KiB page zeroed by the log.
  std::copy(b.begin(), b.end(), p.expect.begin() + (3 << 20));
  std::fill(p.expect.begin() + (3 << 20) + 4096, p.expect.begin() + (3 << 20) + 8192, 0);
  // Header with a LogGuid, sequence above both slots.
  auto h1 = ParseVhdxHeader(f + kVhdxHeader1Offset);
  auto h2 = ParseVhdxHeader(f + kVhdxHeader2Offset);
  EXPECT_TRUE(h1.ok() && h2.ok());
  VhdxHeader h = h1->sequence_number > h2->sequence_number ? *h1 : *h2;
  uint64_t slot =
      h1->sequence_number > h2->sequence_number ? kVhdxHeader2Offset : kVhdxHeader1Offset;
  h.sequence_number += 1;
  h.log_guid = Guid::Random();
  SerializeVhdxHeader(h, f + slot);
  std::string entry =
      BuildVhdxLogEntry(h.log_guid, 7, 0, file.size(), file.size(), {{new_block + 4096, 4096}},
                        {{bat_off, reinterpret_cast<const uint8_t*>(page.data())}});
  file.replace(log_off, entry.size(), entry);
  testing::WriteFileBytes(p.path, file);
  return p;
}

TEST(VhdxLogReplay, ReadOnlyReplaysInMemoryAndLeavesFileUntouched) {
  Pending p = MakePendingLog("pending_ro.vhdx");
  std::string before = testing::ReadFileBytes(p.path);
  {
    auto d = OpenDisk(p.path, OpenMode::kReadOnly);
    ASSERT_OK(d);
    EXPECT_TRUE((*d)->info().log_replayed);
    EXPECT_EQ(testing::FirstDifference(testing::ReadAll(d->get()), p.expect), -1);
  }
  EXPECT_EQ(testing::ReadFileBytes(p.path), before);
}

TEST(VhdxLogReplay, ReadWriteReplaysIntoFileAndCleansLog) {
  Pending p = MakePendingLog("pending_rw.vhdx");
  {
    auto d = OpenDisk(p.path, OpenMode::kReadWrite);
    ASSERT_OK(d);
    EXPECT_TRUE((*d)->info().log_replayed);
    EXPECT_EQ(testing::FirstDifference(testing::ReadAll(d->get()), p.expect), -1);
  }
  auto d = OpenDisk(p.path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_FALSE((*d)->info().log_replayed);
  EXPECT_EQ(testing::FirstDifference(testing::ReadAll(d->get()), p.expect), -1);
  if (testing::HaveQemu()) {
    std::string out;
    EXPECT_EQ(testing::RunCommand("qemu-img check -f vhdx " + p.path, &out), 0) << out;
  }
}

TEST(VhdxLogReplay, QemuAgreesAfterItsOwnReplay) {
  if (!testing::HaveQemu()) GTEST_SKIP();
  Pending p = MakePendingLog("pending_qemu.vhdx");
  std::string out;
  ASSERT_EQ(testing::RunCommand("qemu-img check -r all -f vhdx " + p.path, &out), 0) << out;
  ASSERT_EQ(testing::RunCommand("qemu-img convert -f vhdx -O raw " + p.path + " " + p.path + ".raw",
                                &out),
            0)
      << out;
  std::string raw = testing::ReadFileBytes(p.path + ".raw");
  EXPECT_EQ(testing::FirstDifference(std::vector<uint8_t>(raw.begin(), raw.end()), p.expect), -1);
}

TEST(VhdxLogReplay, TornEntryIsNotReplayed) {
  Pending p = MakePendingLog("pending_torn.vhdx");
  uint8_t junk = 0x5A;
  testing::PatchFile(p.path, kMiB + 4096 + 17, &junk, 1);  // inside the data sector
  auto d = OpenDisk(p.path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_FALSE((*d)->info().log_replayed);
  std::vector<uint8_t> buf(4096);
  ASSERT_OK((*d)->ReadAt(3 << 20, absl::MakeSpan(buf)));
  EXPECT_EQ(buf, std::vector<uint8_t>(4096, 0));
}

TEST(VhdxLogReplay, TruncatedFileIsDataLoss) {
  Pending p = MakePendingLog("pending_trunc.vhdx");
  testing::TruncateFile(p.path, testing::FileSize(p.path) - kMiB);
  auto d = OpenDisk(p.path, OpenMode::kReadOnly);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(absl::StrContains(d.status().message(), "truncated")) << d.status();
}

}  // namespace
}  // namespace asr::disk
