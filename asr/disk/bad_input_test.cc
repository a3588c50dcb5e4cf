// Damaged and hostile images: each must fail with a clear error that names
// the file and what is wrong, never crash or read outside the file.
#include <cstring>
#include <functional>

#include "absl/strings/match.h"
#include "asr/common/crc32c.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/test_util.h"
#include "asr/disk/vhd_format.h"
#include "asr/disk/vhdx_format.h"
#include "asr/disk/virtual_disk.h"
#include "gtest/gtest.h"

namespace asr::disk {
namespace {

using ::asr::testing::StatusIs;

using testing::TempPath;

std::string MakeVhdx(const std::string& name, DiskType type = DiskType::kDynamic) {
  std::string path = TempPath(name);
  CreateOptions o;
  o.format = DiskFormat::kVhdx;
  o.type = type;
  o.virtual_size = 8 << 20;
  o.block_size = 1 << 20;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  EXPECT_OK((*d)->WriteAt(0, testing::Pattern(2 << 20, 1)));
  return path;
}

std::string MakeVhd(const std::string& name, DiskType type = DiskType::kDynamic) {
  std::string path = TempPath(name);
  CreateOptions o;
  o.format = DiskFormat::kVhd;
  o.type = type;
  o.virtual_size = 8 << 20;
  auto d = CreateDisk(path, o);
  EXPECT_OK(d);
  EXPECT_OK((*d)->WriteAt(0, testing::Pattern(4 << 20, 1)));
  return path;
}

void ExpectError(const std::string& path, absl::StatusCode code, const std::string& words) {
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  ASSERT_FALSE(d.ok()) << path << " opened but should not";
  EXPECT_EQ(d.status().code(), code) << d.status();
  EXPECT_TRUE(absl::StrContains(d.status().message(), path)) << d.status();
  EXPECT_TRUE(absl::StrContains(d.status().message(), words)) << d.status();
}

// Rewrites a 4 KiB VHDX header slot after `edit`, with a valid checksum.
void EditHeaders(const std::string& path, const std::function<void(VhdxHeader&)>& edit) {
  std::string f = testing::ReadFileBytes(path);
  for (uint64_t off : {kVhdxHeader1Offset, kVhdxHeader2Offset}) {
    auto h = ParseVhdxHeader(reinterpret_cast<const uint8_t*>(f.data()) + off);
    ASSERT_OK(h);
    edit(*h);
    uint8_t raw[kVhdxHeaderSize];
    SerializeVhdxHeader(*h, raw);
    testing::PatchFile(path, off, raw, sizeof(raw));
  }
}

// Edits the metadata region (asr layout: at 2 MiB) item bytes.
void PatchMetadataItem(const std::string& path, const Guid& id, const void* data, size_t n) {
  std::string f = testing::ReadFileBytes(path);
  const uint8_t* t = reinterpret_cast<const uint8_t*>(f.data()) + 2 * kMiB;
  uint16_t count = LoadLe16(t + 10);
  for (int i = 0; i < count; ++i) {
    const uint8_t* e = t + 32 + 32 * i;
    if (Guid::FromBytes(e) == id) {
      testing::PatchFile(path, 2 * kMiB + LoadLe32(e + 16), data, n);
      return;
    }
  }
  FAIL() << "item not found";
}

void SetBatEntry(const std::string& path, uint64_t index, uint64_t entry) {
  uint8_t raw[8];
  StoreLe64(raw, entry);
  testing::PatchFile(path, 3 * kMiB + 8 * index, raw, 8);  // asr layout: BAT at 3 MiB
}

TEST(BadVhdx, TooSmall) {
  std::string p = MakeVhdx("small.vhdx");
  testing::TruncateFile(p, 512 * 1024);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "too small");
}

TEST(BadVhdx, TruncatedPayload) {
  std::string p = MakeVhdx("trunc.vhdx");
  testing::TruncateFile(p, testing::FileSize(p) - kMiB);
  ExpectError(p, absl::StatusCode::kOutOfRange, "past the end of the file");
}

TEST(BadVhdx, BothHeadersCorruptIsDataLoss) {
  std::string p = MakeVhdx("hdr.vhdx");
  uint8_t x = 0xFF;
  testing::PatchFile(p, kVhdxHeader1Offset + 200, &x, 1);
  testing::PatchFile(p, kVhdxHeader2Offset + 200, &x, 1);
  ExpectError(p, absl::StatusCode::kDataLoss, "checksum mismatch");
}

TEST(BadVhdx, OneCorruptHeaderIsAWarning) {
  std::string p = MakeVhdx("hdr1.vhdx");
  uint8_t x = 0xFF;
  testing::PatchFile(p, kVhdxHeader1Offset + 200, &x, 1);
  auto d = OpenDisk(p, OpenMode::kReadOnly);
  ASSERT_OK(d);
  ASSERT_FALSE((*d)->info().warnings.empty());
}

TEST(BadVhdx, WrongSignatureIsNotAnImage) {
  std::string p = MakeVhdx("sig.vhdx");
  testing::PatchFile(p, 0, "xhdxfile", 8);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "not a VHD or VHDX");
}

TEST(BadVhdx, BothRegionTablesCorrupt) {
  std::string p = MakeVhdx("regions.vhdx");
  uint8_t x = 0x42;
  testing::PatchFile(p, kVhdxRegionTable1Offset + 40, &x, 1);
  testing::PatchFile(p, kVhdxRegionTable2Offset + 40, &x, 1);
  ExpectError(p, absl::StatusCode::kDataLoss, "region table");
}

TEST(BadVhdx, BlockSizeNotPowerOfTwo) {
  std::string p = MakeVhdx("bs.vhdx");
  uint8_t v[4];
  StoreLe32(v, 3 << 20);
  PatchMetadataItem(p, VhdxFileParametersGuid(), v, 4);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "block size");
}

TEST(BadVhdx, AbsurdVirtualSize) {
  std::string p = MakeVhdx("huge.vhdx");
  uint8_t v[8];
  StoreLe64(v, 1ull << 60);
  PatchMetadataItem(p, VhdxVirtualDiskSizeGuid(), v, 8);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "64 TiB");
}

TEST(BadVhdx, SizeLargerThanBatRegion) {
  std::string p = MakeVhdx("bigbat.vhdx");
  uint8_t v[8];
  StoreLe64(v, 1ull << 40);  // 1 TiB with 1 MiB blocks needs 8 MiB of BAT
  PatchMetadataItem(p, VhdxVirtualDiskSizeGuid(), v, 8);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "too small");
}

TEST(BadVhdx, BatEntryPastEnd) {
  std::string p = MakeVhdx("batend.vhdx");
  SetBatEntry(p, 5, MakeBatEntry(kPayloadFullyPresent, 1ull << 40));
  ExpectError(p, absl::StatusCode::kOutOfRange, "block 5");
}

TEST(BadVhdx, BatEntriesOverlap) {
  std::string p = MakeVhdx("overlap.vhdx");
  std::string f = testing::ReadFileBytes(p);
  uint64_t e0 = LoadLe64(reinterpret_cast<const uint8_t*>(f.data()) + 3 * kMiB);
  SetBatEntry(p, 4, e0);  // block 4 shares block 0's space
  ExpectError(p, absl::StatusCode::kInvalidArgument, "overlapping");
}

TEST(BadVhdx, BatEntryIntoHeaderSection) {
  std::string p = MakeVhdx("intohdr.vhdx");
  SetBatEntry(p, 2, MakeBatEntry(kPayloadFullyPresent, 0));
  ExpectError(p, absl::StatusCode::kInvalidArgument, "header section");
}

TEST(BadVhdx, ReservedBatState) {
  std::string p = MakeVhdx("state4.vhdx");
  SetBatEntry(p, 2, 4);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "reserved state");
}

TEST(BadVhdx, PartiallyPresentInDynamicDisk) {
  std::string p = MakeVhdx("partial.vhdx");
  std::string f = testing::ReadFileBytes(p);
  uint64_t e0 = LoadLe64(reinterpret_cast<const uint8_t*>(f.data()) + 3 * kMiB);
  SetBatEntry(p, 0, (e0 & ~7ull) | kPayloadPartiallyPresent);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "partially present");
}

TEST(BadVhdx, UnmappedStatesReadAsZero) {
  // Not an error: states 3 (spec) and 5 (qemu) both mean unmapped.
  std::string p = MakeVhdx("unmapped.vhdx");
  SetBatEntry(p, 0, kPayloadUnmapped);
  SetBatEntry(p, 1, kPayloadUnmappedQemu);
  auto d = OpenDisk(p, OpenMode::kReadOnly);
  ASSERT_OK(d);
  std::vector<uint8_t> buf(2 << 20, 1);
  ASSERT_OK((*d)->ReadAt(0, absl::MakeSpan(buf)));
  EXPECT_EQ(buf, std::vector<uint8_t>(2 << 20, 0));
  auto map = (*d)->GetAllocationMap(0, 2 << 20);
  ASSERT_OK(map);
  ASSERT_EQ(map->size(), 1u);
  EXPECT_EQ((*map)[0].state, ExtentState::kZero);
}

TEST(BadVhdx, UnknownRequiredMetadata) {
  std::string p = MakeVhdx("unkmeta.vhdx");
  // Turn the physical-sector-size item into an unknown required one.
  std::string f = testing::ReadFileBytes(p);
  const uint8_t* t = reinterpret_cast<const uint8_t*>(f.data()) + 2 * kMiB;
  for (int i = 0; i < LoadLe16(t + 10); ++i) {
    if (Guid::FromBytes(t + 32 + 32 * i) == VhdxPhysicalSectorSizeGuid()) {
      uint8_t junk[16] = {1, 2, 3};
      testing::PatchFile(p, 2 * kMiB + 32 + 32 * i, junk, 16);
    }
  }
  ExpectError(p, absl::StatusCode::kFailedPrecondition, "unknown required metadata");
}

TEST(BadVhdx, LogGuidWithoutValidLogIsWarningOnly) {
  std::string p = MakeVhdx("nolog.vhdx");
  EditHeaders(p, [](VhdxHeader& h) { h.log_guid = Guid::Random(); });
  auto d = OpenDisk(p, OpenMode::kReadOnly);
  ASSERT_OK(d);
  bool warned = false;
  for (const auto& w : (*d)->info().warnings) warned |= absl::StrContains(w, "no valid sequence");
  EXPECT_TRUE(warned);
}

TEST(BadVhdx, LogPastEndOfFile) {
  std::string p = MakeVhdx("logend.vhdx");
  EditHeaders(p, [](VhdxHeader& h) { h.log_offset = 1ull << 40; });
  ExpectError(p, absl::StatusCode::kOutOfRange, "log");
}

TEST(BadVhd, BadFooterChecksum) {
  std::string p = MakeVhd("cksum.vhd", DiskType::kFixed);
  uint8_t x = 0x7F;
  testing::PatchFile(p, testing::FileSize(p) - 512 + 100, &x, 1);
  ExpectError(p, absl::StatusCode::kDataLoss, "checksum mismatch");
}

TEST(BadVhd, TruncatedFixed) {
  std::string p = MakeVhd("tfixed.vhd", DiskType::kFixed);
  std::string f = testing::ReadFileBytes(p);
  std::string footer = f.substr(f.size() - 512);
  testing::TruncateFile(p, f.size() - 4096);
  testing::PatchFile(p, f.size() - 4096 - 512, footer.data(), 512);
  ExpectError(p, absl::StatusCode::kOutOfRange, "truncated");
}

TEST(BadVhd, BadDynamicHeader) {
  std::string p = MakeVhd("dynhdr.vhd");
  uint8_t x = 0x01;
  testing::PatchFile(p, 512 + 300, &x, 1);
  ExpectError(p, absl::StatusCode::kDataLoss, "dynamic header");
}

// Rewrites VHD BAT entry `i` (asr layout: BAT at 1536).
void SetVhdBat(const std::string& path, uint32_t i, uint32_t sector) {
  uint8_t raw[4];
  StoreBe32(raw, sector);
  testing::PatchFile(path, 1536 + 4ull * i, raw, 4);
}

TEST(BadVhd, BatPastEnd) {
  std::string p = MakeVhd("vbatend.vhd");
  SetVhdBat(p, 3, 0x7FFFFFFF);
  ExpectError(p, absl::StatusCode::kOutOfRange, "BAT entry 3");
}

TEST(BadVhd, BatOverlap) {
  std::string p = MakeVhd("vbatov.vhd");
  std::string f = testing::ReadFileBytes(p);
  uint32_t e0 = LoadBe32(reinterpret_cast<const uint8_t*>(f.data()) + 1536);
  SetVhdBat(p, 2, e0 + 1);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "overlap");
}

TEST(BadVhd, AbsurdSize) {
  std::string p = MakeVhd("vhuge.vhd");
  std::string f = testing::ReadFileBytes(p);
  uint8_t footer[512];
  std::memcpy(footer, f.data() + f.size() - 512, 512);
  StoreBe64(footer + 48, 1ull << 50);
  StoreBe32(footer + 64, VhdChecksum(footer, 512, 64));
  testing::PatchFile(p, f.size() - 512, footer, 512);
  ExpectError(p, absl::StatusCode::kInvalidArgument, "2040 GiB");
}

TEST(BadInput, GarbageAndEmptyFiles) {
  std::string p = TempPath("garbage.bin");
  std::vector<uint8_t> g = testing::Pattern(3 << 20, 77);
  testing::WriteFileBytes(p, std::string(g.begin(), g.end()));
  ExpectError(p, absl::StatusCode::kInvalidArgument, "not a VHD or VHDX");
  std::string e = TempPath("empty.bin");
  testing::WriteFileBytes(e, "");
  ExpectError(e, absl::StatusCode::kInvalidArgument, "not a VHD or VHDX");
  auto missing = OpenDisk(TempPath("missing.vhdx"), OpenMode::kReadOnly);
  EXPECT_THAT(missing.status(), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace asr::disk
