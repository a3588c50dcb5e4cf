// asr/disk/disk_file.h: the host file under a virtual disk. Positioned reads
// and writes (pread/pwrite) whose errors name the file and the structure
// being accessed, plus size tracking, truncation and fdatasync.
//
//   ASR_ASSIGN_OR_RETURN(auto file, DiskFile::Open("/vms/a.vhdx", /*writable=*/false));
//   uint8_t header[4096];
//   ASR_RETURN_IF_ERROR(file->Read(65536, header, sizeof(header), "header 1"));
#ifndef ASR_DISK_DISK_FILE_H_
#define ASR_DISK_DISK_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/platform/file.h"

namespace asr::disk {

// Thread safety: Read is safe from several threads at once; Write, Truncate
// and size() need external synchronization against each other (the disk
// classes hold their own mutex).
class DiskFile {
 public:
  // Opens an existing regular file or device. A missing file is NotFound
  // naming the path; a FIFO, socket or directory is InvalidArgument ("<path>
  // is a FIFO, not a regular file or a device"). Never blocks opening.
  static absl::StatusOr<std::unique_ptr<DiskFile>> Open(const std::string& path, bool writable);
  // Opens `path`, the parent named by the locator of differencing disk
  // `child`, read-only: a regular file only, not through a symbolic link,
  // never blocking ("parent /x/p.vhdx of /x/c.vhdx is a FIFO, not a regular
  // file"). The locator is data inside an image, so it may name anything.
  static absl::StatusOr<std::unique_ptr<DiskFile>> OpenParent(const std::string& path,
                                                              const std::string& child);
  // Creates a new file (AlreadyExists unless `overwrite`). Character devices
  // such as /dev/null are opened for writing as they are.
  static absl::StatusOr<std::unique_ptr<DiskFile>> Create(const std::string& path, bool overwrite);
  // Wraps an already open file (a platform::MemoryFile in tests and
  // fuzzers); `name` stands for the path in messages. A regular file only.
  static absl::StatusOr<std::unique_ptr<DiskFile>> FromFile(std::unique_ptr<platform::File> file,
                                                            std::string name, bool writable);
  ~DiskFile();
  DiskFile(const DiskFile&) = delete;
  DiskFile& operator=(const DiskFile&) = delete;

  // Reads exactly `size` bytes at `offset`; short reads are OutOfRange
  // "<path>: <what> ... past end of file".
  absl::Status Read(uint64_t offset, void* buf, size_t size, absl::string_view what) const;
  // Writes all of `data` at `offset`, extending the tracked size.
  absl::Status Write(uint64_t offset, const void* data, size_t size, absl::string_view what);
  // Sets the file length (grows with a hole, or shrinks).
  absl::Status Truncate(uint64_t size);
  // Best-effort space reservation for [offset, offset+size); never fails on
  // file systems without fallocate.
  void Reserve(uint64_t offset, uint64_t size);
  // fdatasync.
  absl::Status Sync();
  // From now on, Write calls whose offset, size and buffer address are all
  // multiples of kDirectAlignment go around the page cache (O_DIRECT): for
  // writing a large new image once, without the copy into the cache and its
  // writeback later. Other writes stay buffered; Linux keeps both coherent,
  // and Sync covers both. False (and nothing changes) when the file system
  // refuses O_DIRECT; should it refuse an aligned write later, that write and
  // all after it are buffered.
  bool EnableDirectWrites();
  static constexpr size_t kDirectAlignment = 4096;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool writable() const { return writable_; }
  // True for character devices (e.g. /dev/null) where size is meaningless.
  bool is_device() const { return is_device_; }

 private:
  DiskFile(std::unique_ptr<platform::File> file, std::string path, uint64_t size, bool writable,
           bool is_device);
  // Open and OpenParent; `child` is empty for a disk opened by itself.
  static absl::StatusOr<std::unique_ptr<DiskFile>> OpenChecked(const std::string& path,
                                                               bool writable,
                                                               const std::string& child);

  std::unique_ptr<platform::File> file_;
  std::unique_ptr<platform::File> direct_;  // O_DIRECT, when enabled
  std::string path_;
  uint64_t size_;
  bool writable_;
  bool is_device_;
};

}  // namespace asr::disk

#endif  // ASR_DISK_DISK_FILE_H_
