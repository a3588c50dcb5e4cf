// asr/common/file_lock.h: an advisory lock (platform::File::Lock, flock on
// POSIX) on a lock file, held as long as the object lives and released by the kernel when the
// process dies, so a crashed holder never leaves a stale lock behind.
//
//   FileLock lock;
//   absl::Status s = lock.TryLock(JoinPath(dir, "receiver.lock"));
//   if (absl::IsFailedPrecondition(s)) { /* somebody else holds it */ }
//
// Locks conflict between processes and between two FileLocks of one
// process (each has its own open file description).
// Thread safety: one object per thread; distinct objects are independent.
#ifndef ASR_COMMON_FILE_LOCK_H_
#define ASR_COMMON_FILE_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "asr/platform/file.h"

namespace asr {

class FileLock {
 public:
  FileLock() = default;
  ~FileLock() { Release(); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Creates `path` (0600) if needed and takes an exclusive lock without
  // waiting: FailedPrecondition "<path> is locked" when another holder has it.
  absl::Status TryLock(const std::string& path);
  // The same, waiting until the lock is free.
  absl::Status Lock(const std::string& path);
  // A shared lock, waiting while an exclusive holder has it: many shared
  // holders (readers) at once, none while an exclusive one holds it.
  absl::Status LockShared(const std::string& path);
  bool held() const { return file_ != nullptr; }
  void Release();
  // Hands the descriptor (and so the lock) to the caller, who closes it.
  int Take();

 private:
  absl::Status Acquire(const std::string& path, bool wait, bool shared);
  std::unique_ptr<platform::File> file_;
};

}  // namespace asr

#endif  // ASR_COMMON_FILE_LOCK_H_
