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
  uint64_t bytes_read = 0;     // read from src (present ranges only)
  uint64_t bytes_written = 0;  // handed to the output (non-zero runs)
};

struct CopyOptions {
  // Bytes read from src at a time (reads are aligned to this size).
  size_t buffer_size = 4u << 20;
  // All-zero runs of at least this many bytes, aligned to it, are not
  // written (qemu-img convert -S, default 4 KiB). A power of two.
  size_t zero_granularity = 4096;
  // Read the next buffer on the calling thread while a second thread writes
  // the previous one (src and dst are separate objects, so this is safe).
  bool overlap = true;
  // Make the output durable before returning: dst.Flush() / fdatasync of a
  // raw file and of its new directory entry. false is qemu-img's default
  // (-t unsafe): the data is in the page cache when the call returns.
  // VHD/VHDX outputs still flush in Close() for their crash-safe metadata.
  bool flush = true;
};

// Copies src's merged content into dst (same virtual size, or dst larger).
// Ranges no layer holds, and all-zero runs (options.zero_granularity), are
// skipped: dst must read zeros there already (a freshly created disk does),
// and a dynamic dst leaves all-zero blocks unallocated.
absl::StatusOr<CopyStats> CopyDisk(VirtualDisk& src, VirtualDisk& dst,
                                   const CopyOptions& options = {});

struct RawFileOptions {
  bool overwrite = false;    // replace an existing regular file
  bool preallocate = false;  // fallocate the whole file (a "fixed" raw image)
};

// Writes src's merged content to `path` as a raw image. A new regular file
// (AlreadyExists unless options.overwrite) is first sized with ftruncate and
// only non-zero runs are written, so ranges that are absent or zero in src
// stay holes (unless preallocated). An existing block device is written in
// full (zeros included: it holds old data) and must be at least src's size;
// a character device such as /dev/null gets the non-zero runs.
absl::StatusOr<CopyStats> CopyDiskToRawFile(VirtualDisk& src, const std::string& path,
                                            const RawFileOptions& file_options,
                                            const CopyOptions& options = {});

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
