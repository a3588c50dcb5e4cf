// asr/disk/vhd_format.h: the on-disk structures of the Microsoft VHD format
// (footer, dynamic disk header, CHS geometry), parsed from and serialized to
// big-endian byte buffers. Pure functions: no I/O, safe on any input.
//
//   uint8_t raw[512];  // read from the end of the file
//   ASR_ASSIGN_OR_RETURN(VhdFooter footer, ParseVhdFooter(raw));
//   if (footer.disk_type == kVhdTypeDynamic) { ... }
#ifndef ASR_DISK_VHD_FORMAT_H_
#define ASR_DISK_VHD_FORMAT_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "asr/disk/guid.h"

namespace asr::disk {

constexpr uint32_t kVhdSectorSize = 512;
constexpr size_t kVhdFooterSize = 512;
constexpr size_t kVhdDynamicHeaderSize = 1024;
constexpr uint32_t kVhdTypeFixed = 2;
constexpr uint32_t kVhdTypeDynamic = 3;
constexpr uint32_t kVhdTypeDifferencing = 4;
constexpr uint32_t kVhdUnallocated = 0xFFFFFFFFu;
constexpr uint64_t kVhdNoDataOffset = 0xFFFFFFFFFFFFFFFFull;
// 2040 GiB: the largest VHD Hyper-V and qemu accept (0xFF000000 sectors).
constexpr uint64_t kVhdMaxSize = 0xFF000000ull * 512;
constexpr uint32_t kVhdDefaultBlockSize = 2u << 20;
// Seconds from the Unix epoch to the VHD epoch (2000-01-01 00:00:00 UTC).
constexpr uint64_t kVhdEpochOffset = 946684800;
// Platform codes of the parent locators asr reads and writes.
constexpr uint32_t kVhdPlatformW2ru = 0x57327275;  // "W2ru": relative, UTF-16LE
constexpr uint32_t kVhdPlatformW2ku = 0x57326B75;  // "W2ku": absolute, UTF-16LE

struct VhdGeometry {
  uint16_t cylinders = 0;
  uint8_t heads = 0;
  uint8_t sectors_per_track = 0;
  uint64_t Bytes() const {
    return static_cast<uint64_t>(cylinders) * heads * sectors_per_track * kVhdSectorSize;
  }
};

// CHS geometry for `size` bytes, by the algorithm in the VHD specification's
// appendix (capped at 65535/16/255).
VhdGeometry ComputeVhdGeometry(uint64_t size);

struct VhdFooter {
  uint32_t features = 2;
  uint32_t format_version = 0x00010000;
  uint64_t data_offset = kVhdNoDataOffset;
  uint32_t timestamp = 0;
  std::array<uint8_t, 4> creator_app{{'a', 's', 'r', ' '}};
  uint32_t creator_version = 0x00010000;
  uint32_t creator_host_os = 0x5769326B;  // "Wi2k"
  uint64_t original_size = 0;
  uint64_t current_size = 0;
  VhdGeometry geometry;
  uint32_t disk_type = kVhdTypeFixed;
  Guid unique_id;
  uint8_t saved_state = 0;
};

struct VhdParentLocator {
  uint32_t platform_code = 0;
  uint32_t data_space = 0;  // in 512-byte sectors per the specification
  uint32_t data_length = 0;
  uint64_t data_offset = 0;
};

struct VhdDynamicHeader {
  uint64_t data_offset = kVhdNoDataOffset;
  uint64_t table_offset = 0;
  uint32_t header_version = 0x00010000;
  uint32_t max_table_entries = 0;
  uint32_t block_size = kVhdDefaultBlockSize;
  Guid parent_unique_id;
  uint32_t parent_timestamp = 0;
  std::string parent_name;  // UTF-8 (stored UTF-16BE, 512 bytes)
  std::array<VhdParentLocator, 8> locators{};
};

// One's complement of the byte sum of `size` bytes, skipping the 4 bytes at
// `checksum_offset`.
uint32_t VhdChecksum(const uint8_t* p, size_t size, size_t checksum_offset);

// Parses a 512-byte footer. InvalidArgument for a wrong cookie or an
// unsupported disk type/version, DataLoss for a checksum mismatch.
absl::StatusOr<VhdFooter> ParseVhdFooter(const uint8_t* p);
// Writes 512 bytes including the checksum.
void SerializeVhdFooter(const VhdFooter& f, uint8_t* p);

// Parses the 1024-byte dynamic disk header (cookie "cxsparse", checksum,
// version, power-of-two block size). Offsets are checked against the file by
// the caller.
absl::StatusOr<VhdDynamicHeader> ParseVhdDynamicHeader(const uint8_t* p);
void SerializeVhdDynamicHeader(const VhdDynamicHeader& h, uint8_t* p);

// Bytes of the per-block sector bitmap, rounded up to whole sectors.
inline uint32_t VhdBitmapSize(uint32_t block_size) {
  uint32_t bits_bytes = (block_size / kVhdSectorSize + 7) / 8;
  return (bits_bytes + kVhdSectorSize - 1) / kVhdSectorSize * kVhdSectorSize;
}

}  // namespace asr::disk

#endif  // ASR_DISK_VHD_FORMAT_H_
