#include "asr/disk/vhdx_format.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/common/crc32c.h"
#include "asr/disk/byte_order.h"
#include "asr/disk/utf16.h"

namespace asr::disk {
namespace {

const Guid& MakeGuid(const char* text) {
  // Leaked on purpose: constant tables live for the whole program.
  return *new Guid(Guid::Parse(text).value());
}

// CRC-32C of `size` bytes with the 4-byte checksum at `at` taken as zero.
uint32_t CrcWithHole(const uint8_t* p, size_t size, size_t at) {
  static const uint8_t kZero[4] = {0, 0, 0, 0};
  uint32_t crc = Crc32cExtend(0, p, at);
  crc = Crc32cExtend(crc, kZero, 4);
  return Crc32cExtend(crc, p + at + 4, size - at - 4);
}

}  // namespace

const Guid& VhdxBatRegionGuid() {
  static const Guid& g = MakeGuid("2DC27766-F623-4200-9D64-115E9BFD4A08");
  return g;
}
const Guid& VhdxMetadataRegionGuid() {
  static const Guid& g = MakeGuid("8B7CA206-4790-4B9A-B8FE-575F050F886E");
  return g;
}
const Guid& VhdxFileParametersGuid() {
  static const Guid& g = MakeGuid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");
  return g;
}
const Guid& VhdxVirtualDiskSizeGuid() {
  static const Guid& g = MakeGuid("2FA54224-CD1B-4876-B211-5DBED83BF4B8");
  return g;
}
const Guid& VhdxVirtualDiskIdGuid() {
  static const Guid& g = MakeGuid("BECA12AB-B2E6-4523-93EF-C309E000C746");
  return g;
}
const Guid& VhdxLogicalSectorSizeGuid() {
  static const Guid& g = MakeGuid("8141BF1D-A96F-4709-BA47-F233A8FAAB5F");
  return g;
}
const Guid& VhdxPhysicalSectorSizeGuid() {
  static const Guid& g = MakeGuid("CDA348C7-445D-4471-9CC9-E9885251C556");
  return g;
}
const Guid& VhdxParentLocatorGuid() {
  static const Guid& g = MakeGuid("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C");
  return g;
}
const Guid& VhdxParentLocatorTypeGuid() {
  static const Guid& g = MakeGuid("B04AEFB7-D19E-4A81-B789-25B8E9445913");
  return g;
}

absl::StatusOr<VhdxHeader> ParseVhdxHeader(const uint8_t* p) {
  if (std::memcmp(p, "head", 4) != 0) {
    return absl::InvalidArgumentError("bad header signature (expected 'head')");
  }
  uint32_t stored = LoadLe32(p + 4);
  uint32_t computed = CrcWithHole(p, kVhdxHeaderSize, 4);
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "header checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed));
  }
  VhdxHeader h;
  h.sequence_number = LoadLe64(p + 8);
  h.file_write_guid = Guid::FromBytes(p + 16);
  h.data_write_guid = Guid::FromBytes(p + 32);
  h.log_guid = Guid::FromBytes(p + 48);
  h.log_version = LoadLe16(p + 64);
  h.version = LoadLe16(p + 66);
  h.log_length = LoadLe32(p + 68);
  h.log_offset = LoadLe64(p + 72);
  if (h.version != 1) {
    return absl::InvalidArgumentError(absl::StrCat("unsupported VHDX version ", h.version));
  }
  if (h.log_length % kMiB != 0 || h.log_offset % kMiB != 0) {
    return absl::InvalidArgumentError(absl::StrCat("log offset ", h.log_offset, " / length ",
                                                   h.log_length, " not 1 MiB aligned"));
  }
  if (h.log_length != 0 && h.log_offset < kVhdxHeaderSectionSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("log offset ", h.log_offset, " lies inside the header section"));
  }
  return h;
}

void SerializeVhdxHeader(const VhdxHeader& h, uint8_t* p) {
  std::memset(p, 0, kVhdxHeaderSize);
  std::memcpy(p, "head", 4);
  StoreLe64(p + 8, h.sequence_number);
  h.file_write_guid.CopyTo(p + 16);
  h.data_write_guid.CopyTo(p + 32);
  h.log_guid.CopyTo(p + 48);
  StoreLe16(p + 64, h.log_version);
  StoreLe16(p + 66, h.version);
  StoreLe32(p + 68, h.log_length);
  StoreLe64(p + 72, h.log_offset);
  StoreLe32(p + 4, Crc32c(p, kVhdxHeaderSize));
}

absl::StatusOr<std::vector<VhdxRegion>> ParseVhdxRegionTable(const uint8_t* p) {
  if (std::memcmp(p, "regi", 4) != 0) {
    return absl::InvalidArgumentError("bad region table signature (expected 'regi')");
  }
  uint32_t stored = LoadLe32(p + 4);
  uint32_t computed = CrcWithHole(p, kVhdxRegionTableSize, 4);
  if (stored != computed) {
    return absl::DataLossError(absl::StrFormat(
        "region table checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed));
  }
  uint32_t count = LoadLe32(p + 8);
  if (count > 2047) {
    return absl::InvalidArgumentError(
        absl::StrCat("region table has ", count, " entries (at most 2047)"));
  }
  std::vector<VhdxRegion> out;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = p + 16 + 32 * i;
    VhdxRegion r;
    r.guid = Guid::FromBytes(e);
    r.file_offset = LoadLe64(e + 16);
    r.length = LoadLe32(e + 24);
    r.required = LoadLe32(e + 28);
    if (r.file_offset % kMiB != 0 || r.file_offset < kVhdxHeaderSectionSize ||
        r.length % kMiB != 0 || r.length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("region ", r.guid.ToString(), " at offset ", r.file_offset, " length ",
                       r.length, " is not 1 MiB aligned after the header section"));
    }
    for (const VhdxRegion& o : out) {
      if (o.guid == r.guid) {
        return absl::InvalidArgumentError(
            absl::StrCat("region ", r.guid.ToString(), " listed twice"));
      }
    }
    out.push_back(r);
  }
  return out;
}

void SerializeVhdxRegionTable(const std::vector<VhdxRegion>& regions, uint8_t* p) {
  std::memset(p, 0, kVhdxRegionTableSize);
  std::memcpy(p, "regi", 4);
  StoreLe32(p + 8, static_cast<uint32_t>(regions.size()));
  for (size_t i = 0; i < regions.size(); ++i) {
    uint8_t* e = p + 16 + 32 * i;
    regions[i].guid.CopyTo(e);
    StoreLe64(e + 16, regions[i].file_offset);
    StoreLe32(e + 24, regions[i].length);
    StoreLe32(e + 28, regions[i].required);
  }
  StoreLe32(p + 4, Crc32c(p, kVhdxRegionTableSize));
}

absl::StatusOr<std::vector<VhdxMetadataEntry>> ParseVhdxMetadataTable(const uint8_t* p,
                                                                      uint64_t region_length) {
  if (std::memcmp(p, "metadata", 8) != 0) {
    return absl::InvalidArgumentError("bad metadata table signature (expected 'metadata')");
  }
  uint16_t count = LoadLe16(p + 10);
  if (count > 2047) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata table has ", count, " entries (at most 2047)"));
  }
  std::vector<VhdxMetadataEntry> out;
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  for (uint16_t i = 0; i < count; ++i) {
    const uint8_t* e = p + 32 + 32 * i;
    VhdxMetadataEntry m;
    m.item_id = Guid::FromBytes(e);
    m.offset = LoadLe32(e + 16);
    m.length = LoadLe32(e + 20);
    uint32_t flags = LoadLe32(e + 24);
    m.is_user = flags & 1;
    m.is_virtual_disk = flags & 2;
    m.is_required = flags & 4;
    if (m.length == 0) {
      if (m.offset != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metadata item ", m.item_id.ToString(), " has length 0 but offset ", m.offset));
      }
    } else if (m.offset < kVhdxMetadataTableSize || m.length > kMiB ||
               static_cast<uint64_t>(m.offset) + m.length > region_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metadata item ", m.item_id.ToString(), " (offset ", m.offset, ", length ", m.length,
          ") lies outside the metadata region (", region_length, " bytes)"));
    }
    for (const VhdxMetadataEntry& o : out) {
      if (o.item_id == m.item_id && o.is_user == m.is_user) {
        return absl::InvalidArgumentError(
            absl::StrCat("metadata item ", m.item_id.ToString(), " listed twice"));
      }
    }
    if (m.length != 0) spans.push_back({m.offset, static_cast<uint64_t>(m.offset) + m.length});
    out.push_back(m);
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i) {
    if (spans[i].first < spans[i - 1].second) {
      return absl::InvalidArgumentError(absl::StrCat("metadata items overlap at offset ",
                                                     spans[i].first));
    }
  }
  return out;
}

void SerializeVhdxMetadataTable(const std::vector<VhdxMetadataEntry>& entries, uint8_t* p) {
  std::memset(p, 0, kVhdxMetadataTableSize);
  std::memcpy(p, "metadata", 8);
  StoreLe16(p + 10, static_cast<uint16_t>(entries.size()));
  for (size_t i = 0; i < entries.size(); ++i) {
    uint8_t* e = p + 32 + 32 * i;
    entries[i].item_id.CopyTo(e);
    StoreLe32(e + 16, entries[i].offset);
    StoreLe32(e + 20, entries[i].length);
    StoreLe32(e + 24, (entries[i].is_user ? 1u : 0u) | (entries[i].is_virtual_disk ? 2u : 0u) |
                          (entries[i].is_required ? 4u : 0u));
  }
}

const std::string* VhdxParentLocator::Find(absl::string_view key) const {
  for (const auto& kv : entries) {
    if (kv.first == key) return &kv.second;
  }
  return nullptr;
}

absl::StatusOr<VhdxParentLocator> ParseVhdxParentLocator(absl::string_view item) {
  const auto* p = reinterpret_cast<const uint8_t*>(item.data());
  if (item.size() < 20) {
    return absl::InvalidArgumentError(
        absl::StrCat("parent locator is ", item.size(), " bytes (needs at least 20)"));
  }
  VhdxParentLocator out;
  out.locator_type = Guid::FromBytes(p);
  uint16_t count = LoadLe16(p + 18);
  if (20 + static_cast<uint64_t>(count) * 12 > item.size()) {
    return absl::InvalidArgumentError(absl::StrCat("parent locator claims ", count,
                                                   " entries but is only ", item.size(),
                                                   " bytes"));
  }
  for (uint16_t i = 0; i < count; ++i) {
    const uint8_t* e = p + 20 + 12 * i;
    uint32_t ko = LoadLe32(e), vo = LoadLe32(e + 4);
    uint16_t kl = LoadLe16(e + 8), vl = LoadLe16(e + 10);
    if (ko == 0 || vo == 0 || kl == 0 || vl == 0 ||
        static_cast<uint64_t>(ko) + kl > item.size() ||
        static_cast<uint64_t>(vo) + vl > item.size()) {
      return absl::InvalidArgumentError(absl::StrCat("parent locator entry ", i,
                                                     " points outside the locator"));
    }
    auto key = Utf16ToUtf8(item.substr(ko, kl), false);
    auto value = Utf16ToUtf8(item.substr(vo, vl), false);
    if (!key.ok() || !value.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent locator entry ", i, " is not valid UTF-16"));
    }
    if (out.Find(*key) != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("parent locator key '", *key, "' appears twice"));
    }
    out.entries.emplace_back(*key, *value);
  }
  return out;
}

std::string SerializeVhdxParentLocator(const VhdxParentLocator& locator) {
  std::string header(20 + 12 * locator.entries.size(), '\0');
  auto* h = reinterpret_cast<uint8_t*>(header.data());
  locator.locator_type.CopyTo(h);
  StoreLe16(h + 18, static_cast<uint16_t>(locator.entries.size()));
  std::string data;
  for (size_t i = 0; i < locator.entries.size(); ++i) {
    std::string k = Utf8ToUtf16(locator.entries[i].first, false);
    std::string v = Utf8ToUtf16(locator.entries[i].second, false);
    uint8_t* e = h + 20 + 12 * i;
    StoreLe32(e, static_cast<uint32_t>(header.size() + data.size()));
    data += k;
    StoreLe32(e + 4, static_cast<uint32_t>(header.size() + data.size()));
    data += v;
    StoreLe16(e + 8, static_cast<uint16_t>(k.size()));
    StoreLe16(e + 10, static_cast<uint16_t>(v.size()));
  }
  return header + data;
}

absl::StatusOr<VhdxMetadata> ParseVhdxMetadata(absl::string_view region) {
  if (region.size() < kVhdxMetadataTableSize) {
    return absl::InvalidArgumentError("metadata region is smaller than its 64 KiB table");
  }
  auto table = ParseVhdxMetadataTable(reinterpret_cast<const uint8_t*>(region.data()),
                                      region.size());
  if (!table.ok()) return table.status();
  VhdxMetadata md;
  bool have_params = false, have_size = false, have_id = false, have_lss = false,
       have_pss = false;
  for (const VhdxMetadataEntry& e : *table) {
    absl::string_view item = region.substr(e.offset, e.length);
    const auto* p = reinterpret_cast<const uint8_t*>(item.data());
    auto need = [&](size_t n, const char* what) -> absl::Status {
      if (item.size() < n) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " metadata item is ", item.size(), " bytes (needs ", n, ")"));
      }
      return absl::OkStatus();
    };
    if (e.is_user) continue;
    if (e.item_id == VhdxFileParametersGuid()) {
      if (auto s = need(8, "file parameters"); !s.ok()) return s;
      md.block_size = LoadLe32(p);
      uint32_t flags = LoadLe32(p + 4);
      md.leave_blocks_allocated = flags & 1;
      md.has_parent = flags & 2;
      have_params = true;
    } else if (e.item_id == VhdxVirtualDiskSizeGuid()) {
      if (auto s = need(8, "virtual disk size"); !s.ok()) return s;
      md.virtual_size = LoadLe64(p);
      have_size = true;
    } else if (e.item_id == VhdxVirtualDiskIdGuid()) {
      if (auto s = need(16, "virtual disk ID"); !s.ok()) return s;
      md.virtual_disk_id = Guid::FromBytes(p);
      have_id = true;
    } else if (e.item_id == VhdxLogicalSectorSizeGuid()) {
      if (auto s = need(4, "logical sector size"); !s.ok()) return s;
      md.logical_sector_size = LoadLe32(p);
      have_lss = true;
    } else if (e.item_id == VhdxPhysicalSectorSizeGuid()) {
      if (auto s = need(4, "physical sector size"); !s.ok()) return s;
      md.physical_sector_size = LoadLe32(p);
      have_pss = true;
    } else if (e.item_id == VhdxParentLocatorGuid()) {
      auto loc = ParseVhdxParentLocator(item);
      if (!loc.ok()) return loc.status();
      md.parent_locator = std::move(*loc);
    } else if (e.is_required) {
      return absl::FailedPreconditionError(absl::StrCat(
          "unknown required metadata item ", e.item_id.ToString(), "; cannot open"));
    }
  }
  if (!have_params || !have_size || !have_lss) {
    return absl::InvalidArgumentError(absl::StrCat(
        "required metadata missing:", have_params ? "" : " file parameters",
        have_size ? "" : " virtual disk size", have_lss ? "" : " logical sector size"));
  }
  (void)have_id;
  (void)have_pss;
  if (md.block_size < kVhdxMinBlockSize || md.block_size > kVhdxMaxBlockSize ||
      (md.block_size & (md.block_size - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block size ", md.block_size, " is not a power of two from 1 MiB to 256 MiB"));
  }
  if (md.logical_sector_size != 512 && md.logical_sector_size != 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("logical sector size ", md.logical_sector_size, " is not 512 or 4096"));
  }
  if (md.physical_sector_size != 512 && md.physical_sector_size != 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("physical sector size ", md.physical_sector_size, " is not 512 or 4096"));
  }
  if (md.virtual_size == 0 || md.virtual_size > kVhdxMaxVirtualSize ||
      md.virtual_size % md.logical_sector_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "virtual disk size ", md.virtual_size,
        " is zero, above 64 TiB or not a multiple of the logical sector size"));
  }
  if (md.has_parent && !md.parent_locator.has_value()) {
    return absl::InvalidArgumentError("differencing disk without a parent locator");
  }
  return md;
}

VhdxGeometry ComputeVhdxGeometry(uint64_t virtual_size, uint32_t block_size,
                                 uint32_t logical_sector_size, bool has_parent) {
  VhdxGeometry g;
  g.chunk_ratio = ((1ull << 23) * logical_sector_size) / block_size;
  g.data_blocks = (virtual_size + block_size - 1) / block_size;
  uint64_t chunks = (g.data_blocks + g.chunk_ratio - 1) / g.chunk_ratio;
  if (has_parent) {
    g.bat_entries = chunks * (g.chunk_ratio + 1);
  } else {
    g.bat_entries = g.data_blocks == 0 ? 0 : g.data_blocks + (g.data_blocks - 1) / g.chunk_ratio;
  }
  return g;
}

}  // namespace asr::disk
