// Tests for the VHD implementation: fixed and dynamic disks written and read
// back through reopen, allocation maps, footer handling.
#include <cstring>

#include "absl/strings/match.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/test_util.h"
#include "asr/disk/vhd_format.h"
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
                                    uint32_t block = 0) {
  CreateOptions o;
  o.format = DiskFormat::kVhd;
  o.type = type;
  o.virtual_size = size;
  o.block_size = block;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  return d.ok() ? std::move(*d) : nullptr;
}

void WriteMixed(VirtualDisk* d, RefDisk& ref) {
  ref.Write(d, 0, Pattern(4096, 1));
  ref.Write(d, 3 * 512 + 7, Pattern(1000, 2));             // unaligned inside a block
  ref.Write(d, (2 << 20) - 300, Pattern(900, 3));          // crosses a block boundary
  ref.Write(d, (5 << 20) + 12345, Pattern(3 << 20, 4));    // spans several blocks
  ref.Write(d, d->virtual_size() - 512, Pattern(512, 5));  // last sector
}

TEST(Vhd, FixedRoundTrip) {
  std::string path = TempPath("fixed.vhd");
  const uint64_t size = 16 << 20;
  RefDisk ref(size);
  {
    auto d = Create(path, DiskType::kFixed, size);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->info().type, DiskType::kFixed);
    WriteMixed(d.get(), ref);
    ASSERT_OK(d->Close());
  }
  EXPECT_EQ(testing::FileSize(path), size + 512);
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ((*d)->info().format, DiskFormat::kVhd);
  EXPECT_EQ((*d)->virtual_size(), size);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
  auto map = (*d)->GetAllocationMap(0, size);
  ASSERT_OK(map);
  ASSERT_EQ(map->size(), 1u);
  EXPECT_EQ((*map)[0].state, ExtentState::kPresent);
}

TEST(Vhd, DynamicRoundTripAndMap) {
  std::string path = TempPath("dynamic.vhd");
  const uint64_t size = 20 << 20;
  RefDisk ref(size);
  {
    auto d = Create(path, DiskType::kDynamic, size);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(d->block_size(), 2u << 20);
    WriteMixed(d.get(), ref);
    // All-zero writes to unallocated blocks allocate nothing.
    ref.Write(d.get(), 15 << 20, std::vector<uint8_t>(1 << 20, 0));
    ASSERT_OK(d->Close());
  }
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ((*d)->info().type, DiskType::kDynamic);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
  auto map = (*d)->GetAllocationMap(0, size);
  ASSERT_OK(map);
  // Blocks 0, 1 (crossing), 2..4 (5M+12345 .. 8M+12345), 9 (last) are present.
  std::vector<Extent> want = {
      {0, 6 << 20, ExtentState::kPresent},  // blocks 0-2 (boundary write and 5M start)
      {6 << 20, 2 << 20, ExtentState::kPresent},
  };
  (void)want;
  uint64_t present = 0;
  for (const Extent& e : *map) {
    if (e.state == ExtentState::kPresent) present += e.length;
    EXPECT_EQ(e.offset % (2 << 20), 0u);
  }
  // blocks 0,1,2,3,4 and 9 => 6 blocks
  EXPECT_EQ(present, 6ull * (2 << 20));
  EXPECT_EQ(map->front().offset, 0u);
  EXPECT_EQ(map->back().offset + map->back().length, size);
  // Sub-range map is clipped to the request.
  auto sub = (*d)->GetAllocationMap(100, 1000);
  ASSERT_OK(sub);
  ASSERT_EQ(sub->size(), 1u);
  EXPECT_EQ((*sub)[0], (Extent{100, 1000, ExtentState::kPresent}));
}

TEST(Vhd, ReadOnlyRejectsWritesAndBounds) {
  std::string path = TempPath("ro.vhd");
  Create(path, DiskType::kDynamic, 4 << 20).reset();
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  std::vector<uint8_t> buf(512, 1);
  absl::Status s = (*d)->WriteAt(0, buf);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_TRUE(absl::StrContains(s.message(), path));
  EXPECT_THAT((*d)->ReadAt((4 << 20) - 100, absl::MakeSpan(buf)),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(Vhd, UsesFooterCopyWhenEndFooterDamaged) {
  std::string path = TempPath("damaged_end.vhd");
  RefDisk ref(8 << 20);
  {
    auto d = Create(path, DiskType::kDynamic, 8 << 20);
    ref.Write(d.get(), 1 << 20, Pattern(8192, 9));
  }
  uint64_t size = testing::FileSize(path);
  uint8_t junk[8] = {'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
  testing::PatchFile(path, size - 512, junk, sizeof(junk));
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  bool warned = false;
  for (const auto& w : (*d)->info().warnings) warned |= absl::StrContains(w, "copy at offset 0");
  EXPECT_TRUE(warned);
  EXPECT_EQ(FirstDifference(ReadAll(d->get()), ref.bytes()), -1);
}

TEST(Vhd, ChsMismatchIsWarningNotError) {
  std::string path = TempPath("chs.vhd");
  // 16 MiB is not a CHS-representable size: the creator stores the maximum
  // geometry and the reader uses the current size, with a warning.
  Create(path, DiskType::kFixed, 16 << 20).reset();
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_OK(d);
  EXPECT_EQ((*d)->virtual_size(), 16u << 20);
  bool warned = false;
  for (const auto& w : (*d)->info().warnings) warned |= absl::StrContains(w, "CHS geometry");
  EXPECT_TRUE(warned);
}

TEST(VhdFormat, FooterSerializeParse) {
  VhdFooter f;
  f.current_size = f.original_size = 1 << 30;
  f.disk_type = kVhdTypeDynamic;
  f.data_offset = 512;
  f.geometry = ComputeVhdGeometry(f.current_size);
  f.unique_id = Guid::Random();
  uint8_t raw[512];
  SerializeVhdFooter(f, raw);
  auto back = ParseVhdFooter(raw);
  ASSERT_OK(back);
  EXPECT_EQ(back->current_size, f.current_size);
  EXPECT_EQ(back->unique_id, f.unique_id);
  raw[100] ^= 1;
  EXPECT_THAT(ParseVhdFooter(raw).status(), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(VhdFormat, GeometryMatchesQemuFor1G) {
  // qemu-img create -f vpc 1G rounds to 1073995776 = 2081*16*63*512.
  VhdGeometry g = ComputeVhdGeometry(1073741824);
  EXPECT_EQ(g.heads, 16);
  EXPECT_EQ(g.sectors_per_track, 63);
  EXPECT_EQ(g.cylinders, 2080);  // floor; qemu rounds the size up to 2081
}

}  // namespace
}  // namespace asr::disk
