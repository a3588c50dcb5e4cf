// Copy, compare and check over VirtualDisk.
#include "asr/disk/disk_ops.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using ::asr::testing::StatusIs;

using testing::FileSize;
using testing::Pattern;
using testing::ReadAll;
using testing::TempPath;
using testing::TruncateFile;
using testing::WriteFileBytes;

std::unique_ptr<VirtualDisk> Make(const std::string& path, DiskFormat f, uint64_t size) {
  CreateOptions o;
  o.format = f;
  o.virtual_size = size;
  o.block_size = f == DiskFormat::kVhdx ? (1u << 20) : 0;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  return std::move(*d);
}

TEST(DiskOps, CopyCompareRoundTrip) {
  const uint64_t size = 8 << 20;
  auto a = Make(TempPath("ops_a.vhdx"), DiskFormat::kVhdx, size);
  ASSERT_OK(a->WriteAt(12345, Pattern(300000, 1)));
  ASSERT_OK(a->WriteAt(6 << 20, std::vector<uint8_t>(4096, 0)));  // zeros: no block
  auto b = Make(TempPath("ops_b.vhd"), DiskFormat::kVhd, size);
  auto stats = CopyDisk(*a, *b);
  ASSERT_OK(stats);
  // Written in whole 4 KiB pieces that hold data: [12 KiB, 308 KiB).
  EXPECT_EQ(stats->bytes_written, 315392u - 12288u);
  auto r = CompareDisks(*a, *b);
  ASSERT_OK(r);
  EXPECT_TRUE(r->identical);
  ASSERT_OK(b->WriteAt(7 << 20, Pattern(1, 2)));
  r = CompareDisks(*a, *b);
  ASSERT_OK(r);
  EXPECT_FALSE(r->identical);
  EXPECT_EQ(r->first_difference, 7u << 20);
  auto small = Make(TempPath("ops_small.vhdx"), DiskFormat::kVhdx, 4 << 20);
  EXPECT_THAT(CopyDisk(*a, *small).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

// Bytes the file system really holds for `path`.
uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// A 64 MiB dynamic VHDX (1 MiB blocks) with 260 KiB of data in three places,
// one block that is allocated but holds only zeros, and the rest absent.
std::unique_ptr<VirtualDisk> MakeSparseSource(const std::string& path) {
  auto d = Make(path, DiskFormat::kVhdx, 64 << 20);
  EXPECT_OK(d->WriteAt(1 << 20, Pattern(128 << 10, 1)));
  EXPECT_OK(d->WriteAt((40 << 20) + 4096, Pattern(128 << 10, 2)));
  EXPECT_OK(d->WriteAt((64 << 20) - 4096, Pattern(4096, 3)));
  // Present in the map, but all zeros: a hole in the output all the same.
  EXPECT_OK(d->WriteAt(16 << 20, Pattern(1 << 20, 4)));
  EXPECT_OK(d->WriteAt(16 << 20, std::vector<uint8_t>(1 << 20, 0)));
  return d;
}

TEST(DiskOps, RawOutputIsSparseAndIdentical) {
  auto src = MakeSparseSource(TempPath("sparse_src.vhdx"));
  auto map = src->GetAllocationMap(16 << 20, 1 << 20);
  ASSERT_OK(map);
  ASSERT_EQ(map->size(), 1u);
  ASSERT_EQ((*map)[0].state, ExtentState::kPresent);  // the zero block is allocated
  // Sequential and pipelined, with small reads so the pipeline cycles its buffers.
  for (bool overlap : {false, true}) {
    for (size_t buffer : {size_t{64} << 10, size_t{4} << 20}) {
      SCOPED_TRACE(::testing::Message() << "overlap " << overlap << " buffer " << buffer);
      std::string out = TempPath("sparse_out.raw");
      CopyOptions o;
      o.overlap = overlap;
      o.buffer_size = buffer;
      auto stats = CopyDiskToRawFile(*src, out, {}, o);
      ASSERT_OK(stats);
      EXPECT_EQ(stats->bytes_written, (256u << 10) + 4096u);
      EXPECT_EQ(FileSize(out), 64u << 20);
      // Only the data is allocated (plus at most a little file-system overhead).
      EXPECT_LE(AllocatedBytes(out), (256u << 10) + 4096u + (64u << 10));
      OpenOptions raw;
      raw.format = DiskFormat::kRaw;
      auto back = OpenDisk(out, OpenMode::kReadOnly, raw);
      ASSERT_OK(back);
      auto r = CompareDisks(*src, **back);
      ASSERT_OK(r);
      EXPECT_TRUE(r->identical) << r->first_difference;
      EXPECT_EQ(ReadAll(src.get()), ReadAll(back->get()));
    }
  }
}

TEST(DiskOps, RawOutputOverwriteAndExisting) {
  auto src = MakeSparseSource(TempPath("ow_src.vhdx"));
  std::string out = TempPath("ow_out.raw");
  WriteFileBytes(out, std::string(8 << 20, '\x5a'));  // old, fully allocated content
  EXPECT_THAT(CopyDiskToRawFile(*src, out, {}).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  RawFileOptions f;
  f.overwrite = true;
  ASSERT_OK(CopyDiskToRawFile(*src, out, f));
  // The old bytes are gone (truncated), not left in the holes.
  EXPECT_LE(AllocatedBytes(out), (256u << 10) + 4096u + (64u << 10));
  OpenOptions raw;
  raw.format = DiskFormat::kRaw;
  auto back = OpenDisk(out, OpenMode::kReadOnly, raw);
  ASSERT_OK(back);
  EXPECT_EQ(ReadAll(src.get()), ReadAll(back->get()));
  // A character device takes the data and stays what it is.
  CopyOptions no_flush;
  no_flush.flush = false;
  auto stats = CopyDiskToRawFile(*src, "/dev/null", {}, no_flush);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->bytes_written, (256u << 10) + 4096u);
  // A preallocated ("fixed") raw output has the same content.
  std::string fixed = TempPath("ow_fixed.raw");
  f.preallocate = true;
  ASSERT_OK(CopyDiskToRawFile(*src, fixed, f));
  auto fb = OpenDisk(fixed, OpenMode::kReadOnly, raw);
  ASSERT_OK(fb);
  EXPECT_EQ(ReadAll(src.get()), ReadAll(fb->get()));
}

TEST(DiskOps, ZeroRunsAreNotWritten) {
  // 64 KiB of data whose second 4 KiB page is zero: 60 KiB written; to a
  // dynamic VHDX, an all-zero present block stays unallocated.
  auto src = Make(TempPath("zr_src.vhdx"), DiskFormat::kVhdx, 8 << 20);
  std::vector<uint8_t> data = Pattern(64 << 10, 5);
  std::fill(data.begin() + 4096, data.begin() + 8192, 0);
  ASSERT_OK(src->WriteAt(0, data));
  ASSERT_OK(src->WriteAt(4 << 20, Pattern(1 << 20, 6)));
  ASSERT_OK(src->WriteAt(4 << 20, std::vector<uint8_t>(1 << 20, 0)));
  auto dst = Make(TempPath("zr_dst.vhdx"), DiskFormat::kVhdx, 8 << 20);
  CopyOptions o;
  o.buffer_size = 256 << 10;
  auto stats = CopyDisk(*src, *dst, o);
  ASSERT_OK(stats);
  EXPECT_EQ(stats->bytes_written, 60u << 10);
  auto map = dst->GetAllocationMap(0, dst->virtual_size());
  ASSERT_OK(map);
  for (const Extent& e : *map) {
    if (e.state == ExtentState::kPresent) {
      EXPECT_EQ(e.offset, 0u);
      EXPECT_EQ(e.length, 1u << 20);  // only the first block
    }
  }
  EXPECT_EQ(ReadAll(src.get()), ReadAll(dst.get()));
}

TEST(DiskOps, CopyReportsReadErrorsFromThePipeline) {
  std::string path = TempPath("rerr_src.vhdx");
  auto src = Make(path, DiskFormat::kVhdx, 16 << 20);
  ASSERT_OK(src->WriteAt(0, Pattern(12 << 20, 7)));
  ASSERT_OK(src->Close());
  OpenOptions vhdx;
  auto in = OpenDisk(path, OpenMode::kReadOnly, vhdx);
  ASSERT_OK(in);
  TruncateFile(path, FileSize(path) - (6 << 20));  // the last blocks' data is gone
  CopyOptions o;
  o.buffer_size = 1 << 20;
  auto stats = CopyDiskToRawFile(**in, TempPath("rerr_out.raw"), {}, o);
  EXPECT_FALSE(stats.ok());
  EXPECT_TRUE(absl::StrContains(stats.status().message(), path)) << stats.status();
  auto dst = Make(TempPath("rerr_dst.vhd"), DiskFormat::kVhd, 16 << 20);
  EXPECT_FALSE(CopyDisk(**in, *dst, o).ok());
}

TEST(DiskOps, CheckReportsGoodAndBad) {
  std::string p = TempPath("ops_check.vhdx");
  {
    auto d = Make(p, DiskFormat::kVhdx, 4 << 20);
    ASSERT_OK(d->WriteAt(0, Pattern(4096, 1)));
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
