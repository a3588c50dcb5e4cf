// asr/disk/virtual_disk.h: one interface over the virtual-disk formats asr
// reads and writes: VHD (fixed, dynamic, differencing), VHDX (fixed, dynamic,
// differencing, with log replay) and raw files.
//
// Opening probes the format (VHDX: "vhdxfile" at offset 0; VHD: "conectix"
// footer at the end or its copy at offset 0). Differencing disks open their
// parents read-only, recursively, up to OpenOptions::max_chain_depth.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<VirtualDisk> disk,
//                        OpenDisk("/vms/a.vhdx", OpenMode::kReadOnly));
//   std::vector<uint8_t> buf(1 << 20);
//   ASR_RETURN_IF_ERROR(disk->ReadAt(0, absl::MakeSpan(buf)));
//   ASR_ASSIGN_OR_RETURN(std::vector<Extent> map,
//                        disk->GetAllocationMap(0, disk->virtual_size()));
//
//   CreateOptions opts;
//   opts.format = DiskFormat::kVhdx;
//   opts.type = DiskType::kDynamic;
//   opts.virtual_size = 64ull << 30;
//   ASR_ASSIGN_OR_RETURN(auto out, CreateDisk("/vms/b.vhdx", opts));
//   ASR_RETURN_IF_ERROR(out->WriteAt(4096, data));
//   ASR_RETURN_IF_ERROR(out->Close());
//
// For the replicator: ReadAt takes any offset/length and coalesces physically
// contiguous blocks into large preads; GetAllocationMap costs time in
// proportion to the metadata (BAT entries and, for differencing disks, sector
// bitmaps), never to the disk size; for a differencing child, the kPresent
// extents of GetAllocationMap are exactly the data the child holds itself,
// in ascending offset order, stable across calls while the disk is unchanged.
#ifndef ASR_DISK_VIRTUAL_DISK_H_
#define ASR_DISK_VIRTUAL_DISK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "asr/disk/disk_file.h"

namespace asr::disk {

enum class DiskFormat { kAuto, kRaw, kVhd, kVhdx };
enum class DiskType { kFixed, kDynamic, kDifferencing };
enum class OpenMode { kReadOnly, kReadWrite };

const char* DiskFormatName(DiskFormat f);  // "raw", "vhd", "vhdx", "auto"
const char* DiskTypeName(DiskType t);      // "fixed", "dynamic", "differencing"
absl::StatusOr<DiskFormat> ParseDiskFormat(const std::string& name);
absl::StatusOr<DiskType> ParseDiskType(const std::string& name);

// What a range of this file's own layer holds.
enum class ExtentState {
  kPresent,  // data stored in this file
  kZero,     // defined to read as zeros by this file (e.g. VHDX PAYLOAD_BLOCK_ZERO)
  kAbsent,   // not in this file: read from the parent, or zeros without one
};
const char* ExtentStateName(ExtentState s);  // "present", "zero", "absent"

struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
  ExtentState state = ExtentState::kAbsent;
  bool operator==(const Extent& o) const {
    return offset == o.offset && length == o.length && state == o.state;
  }
};

// Descriptive facts about an open disk.
struct DiskInfo {
  std::string path;
  DiskFormat format = DiskFormat::kRaw;
  DiskType type = DiskType::kFixed;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;  // allocation unit (raw: 1 MiB nominal)
  uint32_t logical_sector_size = 512;
  uint32_t physical_sector_size = 512;
  uint64_t file_size = 0;
  std::string disk_id;                // VHD unique ID / VHDX virtual disk ID, "{...}"
  std::string data_write_guid;        // VHDX only
  std::string parent_path;            // resolved path of the parent, if any
  std::string parent_id;              // VHD parent unique ID / VHDX parent_linkage
  bool log_replayed = false;          // VHDX: a dirty log was replayed on open
  std::vector<std::string> warnings;  // non-fatal oddities found on open
};

// A virtual disk. Public calls check bounds (OutOfRange past virtual_size)
// and then run under an internal mutex: a disk object may be shared between
// threads, but its calls are serialized. A differencing disk reads its
// parent through the parent's own public calls (and so its own mutex).
class VirtualDisk {
 public:
  virtual ~VirtualDisk();
  VirtualDisk(const VirtualDisk&) = delete;
  VirtualDisk& operator=(const VirtualDisk&) = delete;

  // Reads out.size() bytes at virtual `offset` (any alignment), resolving
  // differencing chains.
  absl::Status ReadAt(uint64_t offset, absl::Span<uint8_t> out);
  // Writes at any alignment; partial sectors are read, merged and written
  // back. FailedPrecondition on a read-only disk.
  absl::Status WriteAt(uint64_t offset, absl::Span<const uint8_t> data);
  // This file's own layer over [offset, offset+length), as sorted, adjacent,
  // coalesced extents that exactly cover the range.
  absl::StatusOr<std::vector<Extent>> GetAllocationMap(uint64_t offset, uint64_t length);
  // Makes all completed writes durable (data and metadata).
  absl::Status Flush();
  // Flushes and marks the file clean (VHDX: log emptied, LogGuid cleared).
  // Further calls fail. The destructor closes too, ignoring errors.
  absl::Status Close();
  // Data writes at 4 KiB-aligned file offsets from 4 KiB-aligned buffers, in
  // whole 4 KiB units, bypass the page cache from now on (DiskFile::
  // EnableDirectWrites): for filling a new image once. False when this file
  // (or its file system) cannot; writes then stay buffered. Either way the
  // contents and Flush's guarantee are the same.
  bool EnableDirectWrites();

  const DiskInfo& info() const { return info_; }
  const std::string& path() const { return info_.path; }
  uint64_t virtual_size() const { return info_.virtual_size; }
  uint32_t block_size() const { return info_.block_size; }
  uint32_t logical_sector_size() const { return info_.logical_sector_size; }
  bool read_only() const { return read_only_; }
  // The parent of a differencing disk, else nullptr. Owned by this disk.
  VirtualDisk* parent() const { return parent_.get(); }

 protected:
  VirtualDisk() = default;

  // Implementations; called under mu_ with the range already bounds-checked.
  // DoWrite gets ranges aligned to write_alignment().
  virtual absl::Status DoRead(uint64_t offset, uint8_t* out, size_t length) = 0;
  virtual absl::Status DoWrite(uint64_t offset, const uint8_t* data, size_t length) = 0;
  virtual absl::Status DoAllocationMap(uint64_t offset, uint64_t length,
                                       std::vector<Extent>* out) = 0;
  virtual absl::Status DoFlush() = 0;
  virtual absl::Status DoClose() { return DoFlush(); }
  virtual uint32_t write_alignment() const { return info_.logical_sector_size; }
  virtual bool DoEnableDirectWrites() { return false; }

  // Reads [offset, offset+length) from the parent, or zero-fills without one.
  absl::Status ReadParent(uint64_t offset, uint8_t* out, size_t length);
  // Appends [offset, offset+length) in `state` to `out`, merging with the last
  // extent when adjacent and of the same state.
  static void AppendExtent(std::vector<Extent>* out, uint64_t offset, uint64_t length,
                           ExtentState state);

  DiskInfo info_;
  bool read_only_ = true;
  std::unique_ptr<VirtualDisk> parent_;
  absl::Mutex mu_;

 private:
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

struct OpenOptions {
  DiskFormat format = DiskFormat::kAuto;  // kRaw must be asked for explicitly
  int max_chain_depth = 32;               // differencing parents opened at most
};

// Opens `path`. Errors name the file and what is wrong: NotFound (missing
// file or parent), InvalidArgument (not a disk image / bad field),
// DataLoss (checksum mismatch), FailedPrecondition (parent linkage mismatch,
// unsupported feature).
absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDisk(const std::string& path, OpenMode mode,
                                                      const OpenOptions& options = {});

// Opens the disk in an already open file, e.g. one in memory:
//   auto file = DiskFile::FromFile(std::make_unique<platform::MemoryFile>(bytes), "input", false);
//   auto disk = OpenDisk(*std::move(file), OpenMode::kReadOnly);
// The same as the path form otherwise; parents of a differencing disk are
// opened by path, relative to file->path().
absl::StatusOr<std::unique_ptr<VirtualDisk>> OpenDisk(std::unique_ptr<DiskFile> file, OpenMode mode,
                                                      const OpenOptions& options = {});

struct CreateOptions {
  DiskFormat format = DiskFormat::kVhdx;
  DiskType type = DiskType::kDynamic;
  uint64_t virtual_size = 0;             // ignored for differencing (taken from the parent)
  uint32_t block_size = 0;               // 0: VHD 2 MiB; VHDX 32 MiB (2 MiB differencing)
  uint32_t logical_sector_size = 512;    // VHDX: 512 or 4096; VHD: 512
  uint32_t physical_sector_size = 4096;  // VHDX: 512 or 4096
  std::string parent_path;               // differencing only
  bool overwrite = false;                // replace an existing file
};

// Creates a new disk and returns it open for writing.
absl::StatusOr<std::unique_ptr<VirtualDisk>> CreateDisk(const std::string& path,
                                                        const CreateOptions& options);

}  // namespace asr::disk

#endif  // ASR_DISK_VIRTUAL_DISK_H_
