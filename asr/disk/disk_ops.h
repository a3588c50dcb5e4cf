// asr/disk/disk_ops.h: whole-disk operations built on VirtualDisk: copy
// (convert), compare, the merged allocation map of a differencing chain, and
// a structural check with a readable report.
//
//   ASR_ASSIGN_OR_RETURN(auto src, OpenDisk("a.vhdx", OpenMode::kReadOnly));
//   CreateOptions o; o.format = DiskFormat::kVhd; o.virtual_size = src->virtual_size();
//   ASR_ASSIGN_OR_RETURN(auto dst, CreateDisk("a.vhd", o));
//   ASR_RETURN_IF_ERROR(CopyDisk(*src, *dst));
//   ASR_ASSIGN_OR_RETURN(CompareResult r, CompareDisks(*src, *dst));
#ifndef ASR_DISK_DISK_OPS_H_
#define ASR_DISK_DISK_OPS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/disk/virtual_disk.h"

namespace asr::disk {

// The allocation map of the whole chain: kPresent where some layer holds
// data, kZero where the first layer that decides says zero, kAbsent where no
// layer has anything (reads as zeros).
absl::StatusOr<std::vector<Extent>> GetChainAllocationMap(VirtualDisk& disk, uint64_t offset,
                                                          uint64_t length);

struct CopyStats {
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
};

// Copies src's merged content into dst (same virtual size, or dst larger).
// Ranges no layer holds, and all-zero buffers, are skipped: dst must read
// zeros there already (a freshly created disk does). `buffer_size` bytes are
// read at a time.
absl::StatusOr<CopyStats> CopyDisk(VirtualDisk& src, VirtualDisk& dst,
                                   size_t buffer_size = 8u << 20);

struct CompareResult {
  bool identical = false;
  uint64_t first_difference = 0;  // valid when !identical
  bool size_differs = false;      // sizes differ (the extra part was compared to zero)
};

// Compares merged content; a larger disk's extra bytes must be zero.
absl::StatusOr<CompareResult> CompareDisks(VirtualDisk& a, VirtualDisk& b,
                                           size_t buffer_size = 8u << 20);

struct CheckReport {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;  // facts found while checking
  bool ok() const { return errors.empty(); }
};

// Opens `path` read-only (which validates every structure and BAT entry),
// then runs extra consistency checks (header copies, region table copies,
// VHD footer copy, readable chain). Never modifies the file.
CheckReport CheckDisk(const std::string& path, const OpenOptions& options = {});

}  // namespace asr::disk

#endif  // ASR_DISK_DISK_OPS_H_
