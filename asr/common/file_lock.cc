#include "asr/common/file_lock.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr {

absl::Status FileLock::TryLock(const std::string& path) { return Acquire(path, false, false); }
absl::Status FileLock::Lock(const std::string& path) { return Acquire(path, true, false); }
absl::Status FileLock::LockShared(const std::string& path) { return Acquire(path, true, true); }

absl::Status FileLock::Acquire(const std::string& path, bool wait, bool shared) {
  Release();
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kReadWrite;
  o.create = true;
  o.no_follow = true;
  o.mode = 0600;
  absl::StatusOr<std::unique_ptr<platform::File>> f = platform::Env::Default()->Open(path, o);
  if (!f.ok())
    return platform::AddContext(f.status(), absl::StrCat("cannot open lock file ", path));
  absl::Status s = shared ? (*f)->LockShared() : (*f)->Lock(wait);
  if (!s.ok()) {
    if (platform::ErrorKindOf(s) == platform::ErrorKind::kWouldBlock) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is locked"));
    }
    return platform::AddContext(s, absl::StrCat("flock ", path));
  }
  file_ = std::move(*f);
  return absl::OkStatus();
}

void FileLock::Release() { file_.reset(); }

int FileLock::Take() {
  if (file_ == nullptr) return -1;
  int fd = file_->ReleaseNativeHandle();
  file_.reset();
  return fd;
}

}  // namespace asr
