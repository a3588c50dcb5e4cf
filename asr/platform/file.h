// asr/platform/file.h: an open file behind an interface, so that the disk
// layer, the state store and the file helpers never call the operating
// system themselves, and tests and fuzzers can hand them a file that lives
// in memory (asr/platform/memory_env.h).
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<File> f, Env::Default()->Open(path, options));
//   ASR_ASSIGN_OR_RETURN(size_t n, f->ReadAt(4096, buf, sizeof(buf)));  // 0 at the end
//   ASR_RETURN_IF_ERROR(f->DataSync());
//
// Errors are statuses made by SystemError (asr/platform/error.h): the
// message is the system's reason only; callers add what they were doing.
#ifndef ASR_PLATFORM_FILE_H_
#define ASR_PLATFORM_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace asr::platform {

// Permission bits (and on POSIX the file type bits): the same type as mode_t.
using FileMode = unsigned int;

enum class FileType {
  kRegular,
  kDirectory,
  kSymbolicLink,
  kCharacterDevice,
  kBlockDevice,
  kFifo,
  kSocket,
  kOther,
};

// "a regular file", "a FIFO", "a directory"...: for refusals.
const char* FileTypeName(FileType type);

struct FileInfo {
  FileType type = FileType::kOther;
  FileMode permissions = 0;  // the 07777 bits
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // since the Unix epoch
  int64_t ctime_ns = 0;  // status change time
  bool is_device() const {
    return type == FileType::kCharacterDevice || type == FileType::kBlockDevice;
  }
};

struct OpenOptions {
  enum class Access { kRead, kWrite, kReadWrite };
  Access access = Access::kRead;
  bool create = false;        // create if missing, with `mode` less the umask
  bool exclusive = false;     // with create: fail (kExists) if the name exists
  bool truncate = false;      // cut an existing file to length 0
  bool no_follow = false;     // never through a symbolic link (kLoop)
  bool non_blocking = false;  // opening never waits (a FIFO without a writer)
  bool directory = false;     // only a directory (for SyncDirectory-like uses)
  FileMode mode = 0644;
};

// An open file. Every file is close-on-exec and never becomes the
// controlling terminal.
// Thread safety: ReadAt and Stat may be called from several threads at once;
// everything else needs external synchronization.
class File {
 public:
  virtual ~File() = default;

  // One positioned read: the number of bytes read, 0 at or past the end.
  virtual absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t size) const = 0;
  // One positioned write: the number of bytes written (may be short).
  virtual absl::StatusOr<size_t> WriteAt(uint64_t offset, const void* data, size_t size) = 0;
  // Reads and writes at the file position, which they advance.
  virtual absl::StatusOr<size_t> Read(void* buf, size_t size) = 0;
  virtual absl::StatusOr<size_t> Write(const void* data, size_t size) = 0;
  // fsync: data and metadata.
  virtual absl::Status Sync() = 0;
  // fdatasync: data and what is needed to read it back.
  virtual absl::Status DataSync() = 0;
  virtual absl::Status Truncate(uint64_t size) = 0;
  // Reserves space for [offset, offset+size); kNotSupported where the file
  // system cannot.
  virtual absl::Status Allocate(uint64_t offset, uint64_t size) = 0;
  virtual absl::StatusOr<FileInfo> Stat() const = 0;
  // The offset of the end (the size of a block device, where Stat says 0).
  virtual absl::StatusOr<uint64_t> SeekToEnd() = 0;
  // Starts writing back the file's dirty pages without waiting for them
  // (sync_file_range SYNC_FILE_RANGE_WRITE on Linux), so that a later Sync
  // has less left to do. Durable only after Sync/DataSync; a no-op where the
  // system has no such call (and for a file in memory).
  virtual absl::Status StartWriteback() = 0;
  // Sets the permission bits (fchmod).
  virtual absl::Status SetPermissions(FileMode mode) = 0;
  // Clears (or sets) non-blocking mode after an open with non_blocking.
  virtual absl::Status SetNonBlocking(bool non_blocking) = 0;
  // An advisory exclusive lock on the whole file, held until this object is
  // closed; released by the system if the process dies. Without `wait`, a
  // lock held elsewhere is kWouldBlock. Locks conflict between two File
  // objects of one process too.
  virtual absl::Status Lock(bool wait) = 0;
  // A shared lock (waiting while an exclusive one is held elsewhere): any
  // number of shared holders at once, none beside an exclusive one.
  virtual absl::Status LockShared() = 0;
  // A second handle on the same file, for writing around the page cache
  // (O_DIRECT: offsets, sizes and buffers aligned to 4096). Reopened through
  // this handle, not the path, so it is the same file even if the path was
  // renamed since. kNotSupported where the file system refuses.
  virtual absl::StatusOr<std::unique_ptr<File>> OpenDirect() const = 0;
  // Closes now and reports the error (the destructor closes silently).
  virtual absl::Status Close() = 0;
  // The system's descriptor, or -1 for a file that has none (in memory).
  virtual int native_handle() const { return -1; }
  // Gives up the descriptor to the caller, who must close it; -1 if none.
  virtual int ReleaseNativeHandle() { return -1; }
};

// Reads `size` bytes at `offset` as far as the file goes: the number read,
// less than `size` only at the end of the file.
absl::StatusOr<size_t> ReadFully(const File& file, uint64_t offset, void* buf, size_t size);
// Writes all `size` bytes at `offset`, retrying short writes.
absl::Status WriteFully(File& file, uint64_t offset, const void* data, size_t size);
// Writes all `size` bytes at the file position.
absl::Status WriteFully(File& file, const void* data, size_t size);

}  // namespace asr::platform

#endif  // ASR_PLATFORM_FILE_H_
