// asr/disk/vhdx_disk.h: VirtualDisk over an MS-VHDX file (fixed, dynamic or
// differencing). Use OpenDisk/CreateDisk from virtual_disk.h; this header is
// for the factory and for tests.
//
//   ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Open(path, true));
//   ASR_ASSIGN_OR_RETURN(auto disk, VhdxDisk::Open(std::move(file), OpenMode::kReadWrite, {}, 0));
//
// Log handling on open: a read-write open of a file with a dirty log
// replays it into the file (after changing FileWriteGuid), flushes, and clears
// LogGuid; a read-only open replays it into an in-memory overlay that every
// read of the file goes through, leaving the file untouched.
//
// Crash safety of our own updates. Header updates use the two-slot protocol
// (write the non-current slot with sequence+1, flush; then the other slot).
// The first write of a session updates the headers (new FileWriteGuid, new
// LogGuid, and a new DataWriteGuid before user-visible data changes) and
// starts the log with an empty entry. BAT and sector-bitmap pages change in
// memory; a commit (on Flush, Close, or when many pages are dirty) flushes the
// payload data, writes the dirty pages as one log entry (its tail pointing to
// itself) and flushes it, then writes the pages in place. A later commit
// flushes before it writes its entry, so an entry is only overwritten once its
// pages are durable. After a crash, replay re-applies the newest entry, which
// is idempotent; blocks allocated but never committed are leaked space. Close
// flushes and clears LogGuid so other readers (qemu) see a clean file.
#ifndef ASR_DISK_VHDX_DISK_H_
#define ASR_DISK_VHDX_DISK_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "asr/disk/disk_file.h"
#include "asr/disk/vhdx_format.h"
#include "asr/disk/vhdx_log.h"
#include "asr/disk/virtual_disk.h"

namespace asr::disk {

// Thread safety: as VirtualDisk (calls serialized by its mutex).
class VhdxDisk : public VirtualDisk {
 public:
  static absl::StatusOr<std::unique_ptr<VirtualDisk>> Open(std::unique_ptr<DiskFile> file,
                                                           OpenMode mode,
                                                           const OpenOptions& options,
                                                           int depth);
  // `parent` must be open for kDifferencing.
  static absl::StatusOr<std::unique_ptr<VirtualDisk>> Create(const std::string& path,
                                                             const CreateOptions& options,
                                                             std::unique_ptr<VirtualDisk> parent);
  ~VhdxDisk() override;

 protected:
  absl::Status DoRead(uint64_t offset, uint8_t* out, size_t length) override;
  absl::Status DoWrite(uint64_t offset, const uint8_t* data, size_t length) override;
  absl::Status DoAllocationMap(uint64_t offset, uint64_t length,
                               std::vector<Extent>* out) override;
  absl::Status DoFlush() override;
  bool DoEnableDirectWrites() override { return file_->EnableDirectWrites(); }
  absl::Status DoClose() override;

 private:
  VhdxDisk() = default;
  absl::Status Load(const OpenOptions& options, int depth);
  absl::Status LoadHeaders();
  absl::Status ReplayLog();
  absl::Status LoadRegions();
  absl::Status LoadMetadata();
  absl::Status LoadBat();
  absl::Status OpenParent(const OpenOptions& options, int depth);

  // Reads file bytes through the in-memory replay overlay (read-only opens
  // of a dirty file); bytes between the physical end and effective_size_
  // read as zeros.
  absl::Status ReadFile(uint64_t offset, uint8_t* out, size_t length, absl::string_view what);
  // The 4 KiB sector-bitmap page holding `bit` of chunk `chunk`'s bitmap.
  absl::StatusOr<std::vector<uint8_t>*> BitmapPage(uint64_t chunk, uint64_t bit);
  absl::StatusOr<bool> SectorPresent(uint64_t block, uint64_t sector_in_block);

  absl::Status WriteHeader(const VhdxHeader& h);  // both slots, two-slot protocol
  absl::Status BeginWrite();  // first-write header update and log start
  absl::Status Commit();      // dirty BAT/bitmap pages through the log
  absl::Status SetBatEntry(uint64_t index, uint64_t entry);
  absl::StatusOr<uint64_t> AllocateSpace(uint64_t length);

  std::unique_ptr<DiskFile> file_;
  VhdxHeader header_;
  int current_slot_ = 0;  // 0: header at 64 KiB, 1: at 128 KiB
  VhdxMetadata metadata_;
  VhdxGeometry geometry_;
  uint64_t bat_offset_ = 0;
  uint64_t bat_length_ = 0;
  uint64_t metadata_offset_ = 0;
  uint64_t metadata_length_ = 0;
  std::vector<uint64_t> bat_;  // padded to whole 4 KiB pages
  uint64_t next_free_ = 0;     // 1 MiB aligned end of all structures
  uint64_t effective_size_ = 0;
  std::vector<VhdxLogWrite> overlay_;  // read-only in-memory replay
  std::map<uint64_t, std::vector<uint8_t>> bitmap_pages_;  // by file offset
  std::set<uint64_t> dirty_bat_pages_;     // page index in the BAT region
  std::set<uint64_t> dirty_bitmap_pages_;  // file offsets
  bool session_started_ = false;
  uint64_t log_head_ = 0;
  uint64_t log_sequence_ = 0;
};

}  // namespace asr::disk

#endif  // ASR_DISK_VHDX_DISK_H_
