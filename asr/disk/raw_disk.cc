#include "asr/disk/raw_disk.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"

namespace asr::disk {

RawDisk::~RawDisk() { (void)Close(); }

absl::StatusOr<std::unique_ptr<VirtualDisk>> RawDisk::Open(std::unique_ptr<DiskFile> file,
                                                           OpenMode mode) {
  std::unique_ptr<RawDisk> d(new RawDisk());
  d->read_only_ = mode == OpenMode::kReadOnly;
  d->info_.path = file->path();
  d->info_.format = DiskFormat::kRaw;
  d->info_.type = DiskType::kFixed;
  d->info_.virtual_size = file->size();
  d->info_.file_size = file->size();
  d->info_.block_size = 1u << 20;
  d->info_.logical_sector_size = 512;
  d->info_.physical_sector_size = 512;
  d->file_ = std::move(file);
  return std::unique_ptr<VirtualDisk>(std::move(d));
}

absl::StatusOr<std::unique_ptr<VirtualDisk>> RawDisk::Create(const std::string& path,
                                                             const CreateOptions& options) {
  if (options.type == DiskType::kDifferencing) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": raw images cannot be differencing"));
  }
  ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Create(path, options.overwrite));
  if (!file->is_device()) {
    ASR_RETURN_IF_ERROR(file->Truncate(options.virtual_size));
    if (options.type == DiskType::kFixed) file->Reserve(0, options.virtual_size);
  }
  ASR_ASSIGN_OR_RETURN(auto disk, Open(std::move(file), OpenMode::kReadWrite));
  static_cast<RawDisk*>(disk.get())->info_.virtual_size = options.virtual_size;
  return disk;
}

absl::Status RawDisk::DoRead(uint64_t offset, uint8_t* out, size_t length) {
  if (file_->is_device() && !file_->writable()) return file_->Read(offset, out, length, "data");
  // Bytes past the end of a shorter file (e.g. /dev/null target) read as zero.
  uint64_t fsize = file_->size();
  size_t avail = offset >= fsize ? 0 : static_cast<size_t>(std::min<uint64_t>(length, fsize - offset));
  if (file_->is_device()) avail = 0;
  ASR_RETURN_IF_ERROR(file_->Read(offset, out, avail, "data"));
  std::memset(out + avail, 0, length - avail);
  return absl::OkStatus();
}

absl::Status RawDisk::DoWrite(uint64_t offset, const uint8_t* data, size_t length) {
  return file_->Write(offset, data, length, "data");
}

absl::Status RawDisk::DoAllocationMap(uint64_t offset, uint64_t length,
                                      std::vector<Extent>* out) {
  AppendExtent(out, offset, length, ExtentState::kPresent);
  return absl::OkStatus();
}

absl::Status RawDisk::DoFlush() {
  if (read_only_) return absl::OkStatus();
  return file_->Sync();
}

}  // namespace asr::disk
