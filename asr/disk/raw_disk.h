// asr/disk/raw_disk.h: VirtualDisk over a plain file or device holding the
// disk's bytes as they are (format "raw"), so conversions work to and from
// raw images. Never probed: OpenDisk uses it only when asked for "raw".
//
//   OpenOptions o;
//   o.format = DiskFormat::kRaw;
//   ASR_ASSIGN_OR_RETURN(auto disk, OpenDisk("/tmp/disk.img", OpenMode::kReadOnly, o));
#ifndef ASR_DISK_RAW_DISK_H_
#define ASR_DISK_RAW_DISK_H_

#include <memory>
#include <string>

#include "asr/disk/disk_file.h"
#include "asr/disk/virtual_disk.h"

namespace asr::disk {

// Thread safety: as VirtualDisk. The allocation map reports the whole range
// present (holes are not probed).
class RawDisk : public VirtualDisk {
 public:
  static absl::StatusOr<std::unique_ptr<VirtualDisk>> Open(std::unique_ptr<DiskFile> file,
                                                           OpenMode mode);
  // Creates a sparse file of options.virtual_size bytes (or opens a
  // character device such as /dev/null for writing, with that size).
  static absl::StatusOr<std::unique_ptr<VirtualDisk>> Create(const std::string& path,
                                                             const CreateOptions& options);
  ~RawDisk() override;

 protected:
  absl::Status DoRead(uint64_t offset, uint8_t* out, size_t length) override;
  absl::Status DoWrite(uint64_t offset, const uint8_t* data, size_t length) override;
  absl::Status DoAllocationMap(uint64_t offset, uint64_t length,
                               std::vector<Extent>* out) override;
  absl::Status DoFlush() override;
  bool DoEnableDirectWrites() override { return file_->EnableDirectWrites(); }
  uint32_t write_alignment() const override { return 1; }

 private:
  RawDisk() = default;
  std::unique_ptr<DiskFile> file_;
};

}  // namespace asr::disk

#endif  // ASR_DISK_RAW_DISK_H_
