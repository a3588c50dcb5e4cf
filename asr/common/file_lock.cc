#include "asr/common/file_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"

namespace asr {

absl::Status FileLock::TryLock(const std::string& path) { return Acquire(path, false, false); }
absl::Status FileLock::Lock(const std::string& path) { return Acquire(path, true, false); }
absl::Status FileLock::LockShared(const std::string& path) { return Acquire(path, true, true); }

absl::Status FileLock::Acquire(const std::string& path, bool wait, bool shared) {
  Release();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) return ErrnoToStatus(errno, absl::StrCat("cannot open lock file ", path));
  while (::flock(fd_, (shared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    Release();
    if (err == EWOULDBLOCK) return absl::FailedPreconditionError(absl::StrCat(path, " is locked"));
    return ErrnoToStatus(err, absl::StrCat("flock ", path));
  }
  return absl::OkStatus();
}

void FileLock::Release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int FileLock::Take() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

}  // namespace asr
