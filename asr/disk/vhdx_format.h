// asr/disk/vhdx_format.h: the on-disk structures of MS-VHDX (file identifier,
// headers, region tables, metadata table and items, parent locator, BAT
// geometry), parsed from and serialized to little-endian byte buffers. Pure
// functions: no I/O, every field bounds-checked, safe on any input.
//
//   uint8_t raw[kVhdxHeaderSize];  // read at offset 64 KiB
//   ASR_ASSIGN_OR_RETURN(VhdxHeader h, ParseVhdxHeader(raw));
//   VhdxGeometry g = ComputeVhdxGeometry(size, block, 512, /*has_parent=*/false);
//   uint64_t bat_index = g.PayloadIndex(block_number);
#ifndef ASR_DISK_VHDX_FORMAT_H_
#define ASR_DISK_VHDX_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/disk/guid.h"

namespace asr::disk {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kVhdxHeaderSectionSize = kMiB;
constexpr uint64_t kVhdxHeader1Offset = 64 * 1024;
constexpr uint64_t kVhdxHeader2Offset = 128 * 1024;
constexpr uint64_t kVhdxRegionTable1Offset = 192 * 1024;
constexpr uint64_t kVhdxRegionTable2Offset = 256 * 1024;
constexpr size_t kVhdxHeaderSize = 4096;
constexpr size_t kVhdxRegionTableSize = 64 * 1024;
constexpr size_t kVhdxMetadataTableSize = 64 * 1024;
constexpr uint64_t kVhdxMaxVirtualSize = 64ull << 40;  // 64 TiB
constexpr uint32_t kVhdxMinBlockSize = 1u << 20;
constexpr uint32_t kVhdxMaxBlockSize = 256u << 20;
constexpr uint64_t kVhdxSectorBitmapBlockSize = kMiB;

// Payload BAT states (MS-VHDX 2.5.1.1); 5 is what qemu calls UNMAPPED.
constexpr uint8_t kPayloadNotPresent = 0;
constexpr uint8_t kPayloadUndefined = 1;
constexpr uint8_t kPayloadZero = 2;
constexpr uint8_t kPayloadUnmapped = 3;
constexpr uint8_t kPayloadUnmappedQemu = 5;
constexpr uint8_t kPayloadFullyPresent = 6;
constexpr uint8_t kPayloadPartiallyPresent = 7;
constexpr uint8_t kSbNotPresent = 0;
constexpr uint8_t kSbPresent = 6;

inline uint8_t BatState(uint64_t entry) { return static_cast<uint8_t>(entry & 7); }
inline uint64_t BatOffset(uint64_t entry) { return entry & ~0xFFFFFull; }
inline uint64_t MakeBatEntry(uint8_t state, uint64_t offset) {
  return (offset & ~0xFFFFFull) | state;
}

// Well-known GUIDs (MS-VHDX 2.2.3, 2.6.2).
const Guid& VhdxBatRegionGuid();
const Guid& VhdxMetadataRegionGuid();
const Guid& VhdxFileParametersGuid();
const Guid& VhdxVirtualDiskSizeGuid();
const Guid& VhdxVirtualDiskIdGuid();
const Guid& VhdxLogicalSectorSizeGuid();
const Guid& VhdxPhysicalSectorSizeGuid();
const Guid& VhdxParentLocatorGuid();
const Guid& VhdxParentLocatorTypeGuid();

struct VhdxHeader {
  uint64_t sequence_number = 0;
  Guid file_write_guid;
  Guid data_write_guid;
  Guid log_guid;
  uint16_t log_version = 0;
  uint16_t version = 1;
  uint32_t log_length = 0;
  uint64_t log_offset = 0;
};
// Checks signature "head" and CRC-32C (DataLoss on mismatch), version 1,
// 1 MiB alignment of the log fields.
absl::StatusOr<VhdxHeader> ParseVhdxHeader(const uint8_t* p);
void SerializeVhdxHeader(const VhdxHeader& h, uint8_t* p);  // 4 KiB with CRC

struct VhdxRegion {
  Guid guid;
  uint64_t file_offset = 0;
  uint32_t length = 0;
  uint32_t required = 0;
};
// Checks signature "regi", CRC-32C over 64 KiB, entry count <= 2047, 1 MiB
// alignment, no duplicate GUIDs.
absl::StatusOr<std::vector<VhdxRegion>> ParseVhdxRegionTable(const uint8_t* p);
void SerializeVhdxRegionTable(const std::vector<VhdxRegion>& regions, uint8_t* p);

struct VhdxMetadataEntry {
  Guid item_id;
  uint32_t offset = 0;
  uint32_t length = 0;
  bool is_user = false;
  bool is_virtual_disk = false;
  bool is_required = false;
};
// Parses the 64 KiB metadata table; items are checked to lie inside a region
// of `region_length` bytes, at or after 64 KiB, without overlapping.
absl::StatusOr<std::vector<VhdxMetadataEntry>> ParseVhdxMetadataTable(const uint8_t* p,
                                                                      uint64_t region_length);
void SerializeVhdxMetadataTable(const std::vector<VhdxMetadataEntry>& entries, uint8_t* p);

struct VhdxParentLocator {
  Guid locator_type;
  std::vector<std::pair<std::string, std::string>> entries;  // UTF-8 key, value
  const std::string* Find(absl::string_view key) const;
};
absl::StatusOr<VhdxParentLocator> ParseVhdxParentLocator(absl::string_view item);
std::string SerializeVhdxParentLocator(const VhdxParentLocator& locator);

// The known metadata items, validated (MS-VHDX 2.6.2).
struct VhdxMetadata {
  uint32_t block_size = 0;
  bool leave_blocks_allocated = false;
  bool has_parent = false;
  uint64_t virtual_size = 0;
  Guid virtual_disk_id;
  uint32_t logical_sector_size = 512;
  uint32_t physical_sector_size = 4096;
  std::optional<VhdxParentLocator> parent_locator;
};
// `region` is the whole metadata region (at least the table; items beyond the
// buffer are an error).
absl::StatusOr<VhdxMetadata> ParseVhdxMetadata(absl::string_view region);

struct VhdxGeometry {
  uint64_t chunk_ratio = 0;   // payload blocks per sector-bitmap block
  uint64_t data_blocks = 0;   // payload blocks covering the virtual size
  uint64_t bat_entries = 0;   // total BAT entries (payload + sector bitmap)
  uint64_t PayloadIndex(uint64_t block) const { return block + block / chunk_ratio; }
  uint64_t BitmapIndex(uint64_t chunk) const {
    return chunk * (chunk_ratio + 1) + chunk_ratio;
  }
};
VhdxGeometry ComputeVhdxGeometry(uint64_t virtual_size, uint32_t block_size,
                                 uint32_t logical_sector_size, bool has_parent);

}  // namespace asr::disk

#endif  // ASR_DISK_VHDX_FORMAT_H_
