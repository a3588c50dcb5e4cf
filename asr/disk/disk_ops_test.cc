// Copy, compare and check over VirtualDisk.
#include "asr/disk/disk_ops.h"

#include "absl/strings/match.h"
#include "asr/disk/test_util.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using testing::Pattern;
using testing::TempPath;

std::unique_ptr<VirtualDisk> Make(const std::string& path, DiskFormat f, uint64_t size) {
  CreateOptions o;
  o.format = f;
  o.virtual_size = size;
  o.block_size = f == DiskFormat::kVhdx ? (1u << 20) : 0;
  auto d = CreateDisk(path, o);
  EXPECT_TRUE(d.ok()) << d.status();
  return std::move(*d);
}

TEST(DiskOps, CopyCompareRoundTrip) {
  const uint64_t size = 8 << 20;
  auto a = Make(TempPath("ops_a.vhdx"), DiskFormat::kVhdx, size);
  ASSERT_TRUE(a->WriteAt(12345, Pattern(300000, 1)).ok());
  ASSERT_TRUE(a->WriteAt(6 << 20, std::vector<uint8_t>(4096, 0)).ok());  // zeros: no block
  auto b = Make(TempPath("ops_b.vhd"), DiskFormat::kVhd, size);
  auto stats = CopyDisk(*a, *b);
  ASSERT_TRUE(stats.ok()) << stats.status();
  // Written in whole 64 KiB pieces that hold data: [0, 320 KiB).
  EXPECT_EQ(stats->bytes_written, 5u * 65536);
  auto r = CompareDisks(*a, *b);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->identical);
  ASSERT_TRUE(b->WriteAt(7 << 20, Pattern(1, 2)).ok());
  r = CompareDisks(*a, *b);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->identical);
  EXPECT_EQ(r->first_difference, 7u << 20);
  auto small = Make(TempPath("ops_small.vhdx"), DiskFormat::kVhdx, 4 << 20);
  EXPECT_EQ(CopyDisk(*a, *small).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DiskOps, CheckReportsGoodAndBad) {
  std::string p = TempPath("ops_check.vhdx");
  {
    auto d = Make(p, DiskFormat::kVhdx, 4 << 20);
    ASSERT_TRUE(d->WriteAt(0, Pattern(4096, 1)).ok());
  }
  CheckReport good = CheckDisk(p);
  EXPECT_TRUE(good.ok());
  EXPECT_TRUE(good.warnings.empty());
  // Damage region table 2 only: still opens, but check warns.
  uint8_t x = 0x99;
  testing::PatchFile(p, 256 * 1024 + 100, &x, 1);
  CheckReport warn = CheckDisk(p);
  EXPECT_TRUE(warn.ok());
  ASSERT_FALSE(warn.warnings.empty());
  EXPECT_TRUE(absl::StrContains(warn.warnings[0], "region table")) << warn.warnings[0];
  testing::TruncateFile(p, 2 << 20);
  CheckReport bad = CheckDisk(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.errors[0], p));
}

}  // namespace
}  // namespace asr::disk
