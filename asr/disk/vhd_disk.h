// asr/disk/vhd_disk.h: VirtualDisk over a Microsoft VHD file (fixed, dynamic
// or differencing). Use OpenDisk/CreateDisk from virtual_disk.h; this header
// is for the factory and for tests.
//
//   ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Open(path, false));
//   ASR_ASSIGN_OR_RETURN(auto disk, VhdDisk::Open(std::move(file), OpenMode::kReadOnly, {}, 0));
//
// Size is the footer's current size (Hyper-V semantics); a CHS geometry that
// disagrees is reported in info().warnings.
//
// Crash safety of block allocation (ordered writes, no log in VHD): the new
// block's bitmap and data are written where the old end-of-file footer was,
// then the footer at the new end of file, then the BAT entry. A crash before
// the BAT entry leaks the block's space only; a crash before the new footer
// leaves the footer copy at offset 0, which Open falls back to. Durability
// needs Flush().
#ifndef ASR_DISK_VHD_DISK_H_
#define ASR_DISK_VHD_DISK_H_

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "asr/disk/disk_file.h"
#include "asr/disk/vhd_format.h"
#include "asr/disk/virtual_disk.h"

namespace asr::disk {

// Thread safety: as VirtualDisk (calls serialized by its mutex).
class VhdDisk : public VirtualDisk {
 public:
  static absl::StatusOr<std::unique_ptr<VirtualDisk>> Open(std::unique_ptr<DiskFile> file,
                                                           OpenMode mode,
                                                           const OpenOptions& options,
                                                           int depth);
  // `parent` must be set (open) for kDifferencing.
  static absl::StatusOr<std::unique_ptr<VirtualDisk>> Create(const std::string& path,
                                                             const CreateOptions& options,
                                                             std::unique_ptr<VirtualDisk> parent);
  ~VhdDisk() override;

 protected:
  absl::Status DoRead(uint64_t offset, uint8_t* out, size_t length) override;
  absl::Status DoWrite(uint64_t offset, const uint8_t* data, size_t length) override;
  absl::Status DoAllocationMap(uint64_t offset, uint64_t length,
                               std::vector<Extent>* out) override;
  absl::Status DoFlush() override;
  bool DoEnableDirectWrites() override { return file_->EnableDirectWrites(); }
  uint32_t write_alignment() const override { return kVhdSectorSize; }

 private:
  VhdDisk() = default;
  absl::Status Load(const OpenOptions& options, int depth);
  absl::Status LoadDynamic(const OpenOptions& options, int depth);
  absl::Status OpenParent(const OpenOptions& options, int depth);
  absl::StatusOr<const std::vector<uint8_t>*> Bitmap(uint32_t block);
  absl::Status AllocateBlock(uint32_t block);
  bool SectorPresent(const std::vector<uint8_t>& bm, uint64_t sector) const {
    return (bm[sector / 8] >> (7 - sector % 8)) & 1;
  }

  std::unique_ptr<DiskFile> file_;
  VhdFooter footer_;
  VhdDynamicHeader header_;
  bool dynamic_ = false;       // dynamic or differencing
  bool differencing_ = false;
  std::vector<uint32_t> bat_;  // sector offsets, kVhdUnallocated when absent
  uint32_t bitmap_size_ = 0;
  uint64_t next_block_offset_ = 0;  // where the next allocated block goes
  std::unordered_map<uint32_t, std::vector<uint8_t>> bitmaps_;  // differencing cache
};

}  // namespace asr::disk

#endif  // ASR_DISK_VHD_DISK_H_
