// asr/platform/memory_env.h: files and an Env that live in memory, for
// tests and fuzzers (LevelDB's helpers/memenv): no disk, no temporary
// directory, no system call per read.
//
//   // A fuzzer hands the disk parser its input without writing a file:
//   auto file = std::make_unique<MemoryFile>(std::string(data, data + size));
//   auto disk = asr::disk::DiskFile::FromFile(std::move(file), "fuzz-input", false);
//
//   // A test runs code against a file system of its own:
//   std::unique_ptr<Env> env = NewMemoryEnv();
//   ASR_ASSIGN_OR_RETURN(auto f, env->Open("/state/lock", options));
//
// Directories are implicit in MemoryEnv except for MakeDirectory's record of
// them; there are no symbolic links, devices or permissions checks. Locks
// are advisory as on POSIX: a second Lock on the same name without `wait`
// is kWouldBlock until the first File holding it is closed.
#ifndef ASR_PLATFORM_MEMORY_ENV_H_
#define ASR_PLATFORM_MEMORY_ENV_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "asr/platform/env.h"
#include "asr/platform/file.h"

namespace asr::platform {

// The bytes of one in-memory file, shared by every MemoryFile opened on it.
// Thread safety: thread-safe.
class MemoryFileData {
 public:
  MemoryFileData() = default;
  explicit MemoryFileData(std::string bytes) : bytes_(std::move(bytes)) {}
  size_t ReadAt(uint64_t offset, void* buf, size_t size) const;
  void WriteAt(uint64_t offset, const void* data, size_t size);
  void Resize(uint64_t size);
  uint64_t size() const;
  std::string Contents() const;
  // The advisory lock: true if taken (by `owner`), false if held by another.
  bool TryLock(const void* owner);
  void Unlock(const void* owner);

 private:
  mutable absl::Mutex mu_;
  std::string bytes_ ABSL_GUARDED_BY(mu_);
  const void* lock_owner_ ABSL_GUARDED_BY(mu_) = nullptr;
};

// A File over MemoryFileData. Reads past the end return 0; writes past it
// extend the file with zeros in between, as on a real file system.
// Thread safety: as File (ReadAt and Stat from many threads at once).
class MemoryFile final : public File {
 public:
  // A fresh file holding `bytes`, readable and writable.
  explicit MemoryFile(std::string bytes = "");
  MemoryFile(std::shared_ptr<MemoryFileData> data, bool readable, bool writable, uint64_t inode);
  ~MemoryFile() override;

  absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t size) const override;
  absl::StatusOr<size_t> WriteAt(uint64_t offset, const void* data, size_t size) override;
  absl::StatusOr<size_t> Read(void* buf, size_t size) override;
  absl::StatusOr<size_t> Write(const void* data, size_t size) override;
  absl::Status Sync() override;
  absl::Status DataSync() override;
  absl::Status Truncate(uint64_t size) override;
  absl::Status Allocate(uint64_t offset, uint64_t size) override;
  absl::StatusOr<FileInfo> Stat() const override;
  absl::StatusOr<uint64_t> SeekToEnd() override;
  // Nothing to write back: the bytes already are where they stay.
  absl::Status StartWriteback() override;
  absl::Status SetPermissions(FileMode mode) override;
  absl::Status SetNonBlocking(bool non_blocking) override;
  absl::Status Lock(bool wait) override;
  // The in-memory file knows only exclusive locks: a shared one is one.
  absl::Status LockShared() override { return Lock(true); }
  // Not supported: memory has no page cache to go around.
  absl::StatusOr<std::unique_ptr<File>> OpenDirect() const override;
  absl::Status Close() override;

  // Everything written so far.
  std::string Contents() const { return data_->Contents(); }

 private:
  absl::Status CheckOpen() const;
  std::shared_ptr<MemoryFileData> data_;
  bool readable_;
  bool writable_;
  uint64_t inode_;
  bool closed_ = false;
  bool locked_ = false;
  FileMode permissions_ = 0644;
  uint64_t position_ = 0;
};

// A new, empty in-memory file system.
std::unique_ptr<Env> NewMemoryEnv();

}  // namespace asr::platform

#endif  // ASR_PLATFORM_MEMORY_ENV_H_
