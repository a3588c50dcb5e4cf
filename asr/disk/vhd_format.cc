#include "asr/disk/vhd_format.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/utf16.h"

namespace asr::disk {

VhdGeometry ComputeVhdGeometry(uint64_t size) {
  uint64_t total = size / kVhdSectorSize;
  const uint64_t kMax = 65535ull * 16 * 255;
  if (total > kMax) total = kMax;
  uint64_t spt, heads, cth;
  if (total >= 65535ull * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = total / spt;
  } else {
    spt = 17;
    cth = total / spt;
    heads = (cth + 1023) / 1024;
    if (heads < 4) heads = 4;
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = total / spt;
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = total / spt;
    }
  }
  VhdGeometry g;
  uint64_t cyl = cth / heads;
  g.cylinders = static_cast<uint16_t>(cyl > 65535 ? 65535 : cyl);
  g.heads = static_cast<uint8_t>(heads);
  g.sectors_per_track = static_cast<uint8_t>(spt);
  return g;
}

uint32_t VhdChecksum(const uint8_t* p, size_t size, size_t checksum_offset) {
  uint32_t sum = 0;
  for (size_t i = 0; i < size; ++i) {
    if (i >= checksum_offset && i < checksum_offset + 4) continue;
    sum += p[i];
  }
  return ~sum;
}

absl::StatusOr<VhdFooter> ParseVhdFooter(const uint8_t* p) {
  if (std::memcmp(p, "conectix", 8) != 0) {
    return absl::InvalidArgumentError("no VHD footer (cookie 'conectix' missing)");
  }
  uint32_t stored = LoadBe32(p + 64);
  uint32_t computed = VhdChecksum(p, kVhdFooterSize, 64);
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "VHD footer checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed));
  }
  VhdFooter f;
  f.features = LoadBe32(p + 8);
  f.format_version = LoadBe32(p + 12);
  f.data_offset = LoadBe64(p + 16);
  f.timestamp = LoadBe32(p + 24);
  std::memcpy(f.creator_app.data(), p + 28, 4);
  f.creator_version = LoadBe32(p + 32);
  f.creator_host_os = LoadBe32(p + 36);
  f.original_size = LoadBe64(p + 40);
  f.current_size = LoadBe64(p + 48);
  f.geometry.cylinders = LoadBe16(p + 56);
  f.geometry.heads = p[58];
  f.geometry.sectors_per_track = p[59];
  f.disk_type = LoadBe32(p + 60);
  f.unique_id = Guid::FromBytes(p + 68);
  f.saved_state = p[84];
  if ((f.format_version >> 16) != 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unsupported VHD format version 0x%08x", f.format_version));
  }
  if (f.disk_type != kVhdTypeFixed && f.disk_type != kVhdTypeDynamic &&
      f.disk_type != kVhdTypeDifferencing) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported VHD disk type ", f.disk_type, " (expected 2, 3 or 4)"));
  }
  return f;
}

void SerializeVhdFooter(const VhdFooter& f, uint8_t* p) {
  std::memset(p, 0, kVhdFooterSize);
  std::memcpy(p, "conectix", 8);
  StoreBe32(p + 8, f.features);
  StoreBe32(p + 12, f.format_version);
  StoreBe64(p + 16, f.data_offset);
  StoreBe32(p + 24, f.timestamp);
  std::memcpy(p + 28, f.creator_app.data(), 4);
  StoreBe32(p + 32, f.creator_version);
  StoreBe32(p + 36, f.creator_host_os);
  StoreBe64(p + 40, f.original_size);
  StoreBe64(p + 48, f.current_size);
  StoreBe16(p + 56, f.geometry.cylinders);
  p[58] = f.geometry.heads;
  p[59] = f.geometry.sectors_per_track;
  StoreBe32(p + 60, f.disk_type);
  f.unique_id.CopyTo(p + 68);
  p[84] = f.saved_state;
  StoreBe32(p + 64, VhdChecksum(p, kVhdFooterSize, 64));
}

absl::StatusOr<VhdDynamicHeader> ParseVhdDynamicHeader(const uint8_t* p) {
  if (std::memcmp(p, "cxsparse", 8) != 0) {
    return absl::InvalidArgumentError("no VHD dynamic header (cookie 'cxsparse' missing)");
  }
  uint32_t stored = LoadBe32(p + 36);
  uint32_t computed = VhdChecksum(p, kVhdDynamicHeaderSize, 36);
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "VHD dynamic header checksum mismatch (stored 0x%08x, computed 0x%08x)", stored,
        computed));
  }
  VhdDynamicHeader h;
  h.data_offset = LoadBe64(p + 8);
  h.table_offset = LoadBe64(p + 16);
  h.header_version = LoadBe32(p + 24);
  h.max_table_entries = LoadBe32(p + 28);
  h.block_size = LoadBe32(p + 32);
  h.parent_unique_id = Guid::FromBytes(p + 40);
  h.parent_timestamp = LoadBe32(p + 56);
  auto name = Utf16ToUtf8(absl::string_view(reinterpret_cast<const char*>(p + 64), 512), true);
  if (name.ok()) h.parent_name = *name;
  for (int i = 0; i < 8; ++i) {
    const uint8_t* e = p + 576 + 24 * i;
    h.locators[i].platform_code = LoadBe32(e);
    h.locators[i].data_space = LoadBe32(e + 4);
    h.locators[i].data_length = LoadBe32(e + 8);
    h.locators[i].data_offset = LoadBe64(e + 16);
  }
  if ((h.header_version >> 16) != 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unsupported VHD dynamic header version 0x%08x", h.header_version));
  }
  if (h.block_size < kVhdSectorSize || h.block_size > (256u << 20) ||
      (h.block_size & (h.block_size - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VHD block size ", h.block_size, " is not a power of two between 512 B and 256 MiB"));
  }
  return h;
}

void SerializeVhdDynamicHeader(const VhdDynamicHeader& h, uint8_t* p) {
  std::memset(p, 0, kVhdDynamicHeaderSize);
  std::memcpy(p, "cxsparse", 8);
  StoreBe64(p + 8, h.data_offset);
  StoreBe64(p + 16, h.table_offset);
  StoreBe32(p + 24, h.header_version);
  StoreBe32(p + 28, h.max_table_entries);
  StoreBe32(p + 32, h.block_size);
  h.parent_unique_id.CopyTo(p + 40);
  StoreBe32(p + 56, h.parent_timestamp);
  std::string name = Utf8ToUtf16(h.parent_name, /*big_endian=*/true);
  std::memcpy(p + 64, name.data(), name.size() < 512 ? name.size() : 512);
  for (int i = 0; i < 8; ++i) {
    uint8_t* e = p + 576 + 24 * i;
    StoreBe32(e, h.locators[i].platform_code);
    StoreBe32(e + 4, h.locators[i].data_space);
    StoreBe32(e + 8, h.locators[i].data_length);
    StoreBe64(e + 16, h.locators[i].data_offset);
  }
  StoreBe32(p + 36, VhdChecksum(p, kVhdDynamicHeaderSize, 36));
}

}  // namespace asr::disk
