// Tests for the VHDX implementation: fixed and dynamic disks with several
// block and sector sizes, write/reopen/read, allocation maps, header GUID
// updates and a clean log after Close.
#include <cstring>
#include <tuple>

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

using testing::FirstDifference;
using testing::Pattern;
using testing::ReadAll;
using testing::RefDisk;
using testing::TempPath;

std::unique_ptr<VirtualDisk> Create(const std::string& path, DiskType type, uint64_t size,
                                    uint32_t block, uint32_t lss) {
  CreateOptions o;
  o.format = DiskFormat::kVhdx;
  o.type = type;
  o.virtual_size = size;
  o.block_size = block;
  o.logical_sector_size = lss;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  return d.ok() ? std::move(*d) : nullptr;
}

VhdxHeader CurrentHeader(const std::string& path) {
  std::string bytes = testing::ReadFileBytes(path);
  auto h1 = ParseVhdxHeader(reinterpret_cast<const uint8_t*>(bytes.data()) + kVhdxHeader1Offset);
  auto h2 = ParseVhdxHeader(reinterpret_cast<const uint8_t*>(bytes.data()) + kVhdxHeader2Offset);
  EXPECT_TRUE(h1.ok() && h2.ok());
  if (!h1.ok()) return *h2;
  if (!h2.ok()) return *h1;
  return h2->sequence_number > h1->sequence_number ? *h2 : *h1;
}

class VhdxRoundTrip
    : public ::testing::TestWithParam<std::tuple<DiskType, uint32_t /*block*/, uint32_t /*lss*/>> {
};

TEST_P(VhdxRoundTrip, WriteReopenRead) {
  auto [type, block, lss] = GetParam();
  std::string path = TempPath("rt.vhdx");
  const uint64_t size = 24 << 20;
  RefDisk ref(size);
  std::string data_guid_before;
  {
    auto d = Create(path, type, size, block, lss);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->block_size(), block);
    EXPECT_EQ(d->logical_sector_size(), lss);
    EXPECT_EQ(d->info().type, type);
    data_guid_before = d->info().data_write_guid;
    ref.Write(d.get(), 0, Pattern(4096, 1));
    ref.Write(d.get(), 777, Pattern(5000, 2));  // unaligned: read-modify-write
    uint64_t boundary = block < size ? block : (4u << 20);
    ref.Write(d.get(), boundary - 1000, Pattern(3000, 3));  // crosses a block boundary
    ref.Write(d.get(), 9 << 20, Pattern(5 << 20, 4));
    ref.Write(d.get(), size - lss, Pattern(lss, 5));
    EXPECT_NE(d->info().data_write_guid, data_guid_before);
    // Reads before close see the uncommitted BAT.
    EXPECT_EQ(FirstDifference(ReadAll(d.get()), ref.bytes()), -1);
    ASSERT_OK(d->Close());
  }
  VhdxHeader h = CurrentHeader(path);
  EXPECT_TRUE(h.log_guid.IsZero()) << "Close must leave the log clean";
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ((*d)->info().format, DiskFormat::kVhdx);
  EXPECT_EQ((*d)->info().type, type);
  EXPECT_EQ((*d)->virtual_size(), size);
  EXPECT_FALSE((*d)->info().log_replayed);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
  auto map = (*d)->GetAllocationMap(0, size);
  ASSERT_OK(map);
  uint64_t covered = 0;
  for (const Extent& e : *map) {
    EXPECT_EQ(e.offset, covered);
    covered += e.length;
    if (type == DiskType::kFixed) {
      EXPECT_EQ(e.state, ExtentState::kPresent);
    }
  }
  EXPECT_EQ(covered, size);
  if (type == DiskType::kDynamic) {
    // Every byte written non-zero lies in a present extent; a block never
    // written is absent.
    for (uint64_t off : {uint64_t{0}, uint64_t{9 << 20}, size - 1}) {
      bool found = false;
      for (const Extent& e : *map) {
        if (off >= e.offset && off < e.offset + e.length) {
          found = e.state == ExtentState::kPresent;
        }
      }
      EXPECT_TRUE(found) << off;
    }
    uint64_t untouched = 16 << 20;  // between 14 MiB+ and the last sector
    if (block <= (4u << 20)) {
      bool absent = false;
      for (const Extent& e : *map) {
        if (untouched >= e.offset && untouched < e.offset + e.length) {
          absent = e.state == ExtentState::kAbsent;
        }
      }
      EXPECT_TRUE(absent);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, VhdxRoundTrip,
                         ::testing::Values(std::make_tuple(DiskType::kDynamic, 1u << 20, 512u),
                                           std::make_tuple(DiskType::kDynamic, 1u << 20, 4096u),
                                           std::make_tuple(DiskType::kDynamic, 8u << 20, 512u),
                                           std::make_tuple(DiskType::kDynamic, 32u << 20, 4096u),
                                           std::make_tuple(DiskType::kFixed, 1u << 20, 512u),
                                           std::make_tuple(DiskType::kFixed, 8u << 20, 4096u)));

TEST(Vhdx, ManyBlocksCommitThroughTheLogRepeatedly) {
  // 1 MiB blocks, 200 MiB sparse disk, a write in each block: several log
  // commits (threshold 64 dirty pages is per-page, so force many pages via
  // flushes) and log wrap-around.
  std::string path = TempPath("many.vhdx");
  const uint64_t size = 200ull << 20;
  RefDisk ref(size);
  {
    auto d = Create(path, DiskType::kDynamic, size, 1 << 20, 512);
    ASSERT_NE(d, nullptr);
    for (uint64_t b = 0; b < 200; b += 3) {
      ref.Write(d.get(), b << 20, Pattern(512, static_cast<uint32_t>(b)));
      ASSERT_OK(d->Flush());
    }
    ASSERT_OK(d->Close());
  }
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
}

TEST(Vhdx, ReopenForWriteKeepsData) {
  std::string path = TempPath("reopen.vhdx");
  RefDisk ref(8 << 20);
  {
    auto d = Create(path, DiskType::kDynamic, 8 << 20, 1 << 20, 512);
    ref.Write(d.get(), 0, Pattern(1 << 20, 1));
  }
  {
    auto d = OpenDisk(path, OpenMode::kReadWrite);
    ASSERT_OK(d);
    ref.Write(d->get(), 3 << 20, Pattern(4096, 2));
  }
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
}

TEST(Vhdx, ReadOnlyOpenDoesNotTouchTheFile) {
  std::string path = TempPath("untouched.vhdx");
  {
    auto d = Create(path, DiskType::kDynamic, 8 << 20, 1 << 20, 512);
    RefDisk ref(8 << 20);
    ref.Write(d.get(), 0, Pattern(4096, 1));
  }
  std::string before = testing::ReadFileBytes(path);
  {
    auto d = OpenDisk(path, OpenMode::kReadOnly);
    ASSERT_OK(d);
    ReadAll(d->get());
    EXPECT_THAT((*d)->WriteAt(0, Pattern(512, 1)), StatusIs(absl::StatusCode::kFailedPrecondition));
  }
  EXPECT_EQ(testing::ReadFileBytes(path), before);
}

TEST(VhdxFormat, GeometryMatchesSpecExamples) {
  // 512 B sectors, 1 MiB blocks: chunk ratio 4096; 1 GiB => 1024 entries.
  VhdxGeometry g = ComputeVhdxGeometry(1ull << 30, 1 << 20, 512, false);
  EXPECT_EQ(g.chunk_ratio, 4096u);
  EXPECT_EQ(g.bat_entries, 1024u);
  EXPECT_EQ(ComputeVhdxGeometry(1ull << 30, 32 << 20, 512, false).chunk_ratio, 128u);
  EXPECT_EQ(ComputeVhdxGeometry(1ull << 30, 32 << 20, 4096, false).chunk_ratio, 1024u);
  VhdxGeometry d = ComputeVhdxGeometry(1ull << 30, 1 << 20, 512, true);
  EXPECT_EQ(d.bat_entries, 4097u);
  EXPECT_EQ(d.BitmapIndex(0), 4096u);
  EXPECT_EQ(g.PayloadIndex(4096), 4097u);
}

TEST(VhdxFormat, GuidTextRoundTrip) {
  auto g = Guid::Parse("{2DC27766-F623-4200-9D64-115E9BFD4A08}");
  ASSERT_OK(g);
  EXPECT_EQ(g->bytes[0], 0x66);
  EXPECT_EQ(g->bytes[3], 0x2D);
  EXPECT_EQ(g->bytes[8], 0x9D);
  EXPECT_EQ(g->ToString(), "{2dc27766-f623-4200-9d64-115e9bfd4a08}");
  EXPECT_FALSE(Guid::Parse("2DC27766-F623-4200-9D64").ok());
}

}  // namespace
}  // namespace asr::disk
