// The POSIX (Linux) implementation of asr/platform/env.h and file.h.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr::platform {
namespace {

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymbolicLink;
  if (S_ISCHR(mode)) return FileType::kCharacterDevice;
  if (S_ISBLK(mode)) return FileType::kBlockDevice;
  if (S_ISFIFO(mode)) return FileType::kFifo;
  if (S_ISSOCK(mode)) return FileType::kSocket;
  return FileType::kOther;
}

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = TypeOf(st.st_mode);
  info.permissions = st.st_mode & 07777;
  info.device = static_cast<uint64_t>(st.st_dev);
  info.inode = static_cast<uint64_t>(st.st_ino);
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime_ns = Nanos(st.st_mtim);
  info.ctime_ns = Nanos(st.st_ctim);
  return info;
}

// Thread safety: as File.
class PosixFile final : public File {
 public:
  explicit PosixFile(int fd) : fd_(fd) {}
  ~PosixFile() override {
    if (fd_ >= 0) {
      Unlock();
      ::close(fd_);
    }
  }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  absl::StatusOr<size_t> ReadAt(uint64_t offset, void* buf, size_t size) const override {
    for (;;) {
      ssize_t n = ::pread(fd_, buf, size, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return SystemError(errno);
    }
  }
  absl::StatusOr<size_t> WriteAt(uint64_t offset, const void* data, size_t size) override {
    for (;;) {
      ssize_t n = ::pwrite(fd_, data, size, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return SystemError(errno);
    }
  }
  absl::StatusOr<size_t> Read(void* buf, size_t size) override {
    for (;;) {
      ssize_t n = ::read(fd_, buf, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return SystemError(errno);
    }
  }
  absl::StatusOr<size_t> Write(const void* data, size_t size) override {
    for (;;) {
      ssize_t n = ::write(fd_, data, size);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return SystemError(errno);
    }
  }
  absl::Status Sync() override { return ::fsync(fd_) == 0 ? absl::OkStatus() : SystemError(errno); }
  absl::Status DataSync() override {
    return ::fdatasync(fd_) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status Truncate(uint64_t size) override {
    return ::ftruncate(fd_, static_cast<off_t>(size)) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status Allocate(uint64_t offset, uint64_t size) override {
    return ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(size)) == 0
               ? absl::OkStatus()
               : SystemError(errno);
  }
  absl::StatusOr<FileInfo> Stat() const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return SystemError(errno);
    return InfoOf(st);
  }
  absl::StatusOr<uint64_t> SeekToEnd() override {
    off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0) return SystemError(errno);
    return static_cast<uint64_t>(end);
  }
  absl::Status StartWriteback() override {
#if defined(__linux__)
    return ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE) == 0 ? absl::OkStatus()
                                                                    : SystemError(errno);
#else
    return absl::OkStatus();
#endif
  }
  absl::Status SetPermissions(FileMode mode) override {
    return ::fchmod(fd_, mode) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status SetNonBlocking(bool non_blocking) override {
    int fl = ::fcntl(fd_, F_GETFL);
    if (fl < 0) return SystemError(errno);
    fl = non_blocking ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return ::fcntl(fd_, F_SETFL, fl) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status Lock(bool wait) override {
    while (::flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
      if (errno != EINTR) return SystemError(errno);
    }
    locked_ = true;
    return absl::OkStatus();
  }
  absl::Status LockShared() override {
    while (::flock(fd_, LOCK_SH) != 0) {
      if (errno != EINTR) return SystemError(errno);
    }
    locked_ = true;
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<File>> OpenDirect() const override {
    const std::string self = absl::StrCat("/proc/self/fd/", fd_);
    int fd = ::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return SystemError(errno == EINVAL ? EOPNOTSUPP : errno);
    auto direct = std::make_unique<PosixFile>(fd);
    struct stat a, b;
    if (::fstat(fd, &a) != 0 || ::fstat(fd_, &b) != 0 || a.st_dev != b.st_dev ||
        a.st_ino != b.st_ino) {
      return SystemError(EOPNOTSUPP);
    }
    return std::unique_ptr<File>(std::move(direct));
  }
  absl::Status Close() override {
    if (fd_ >= 0) Unlock();
    int fd = fd_;
    fd_ = -1;
    if (fd >= 0 && ::close(fd) != 0) return SystemError(errno);
    return absl::OkStatus();
  }
  int native_handle() const override { return fd_; }
  int ReleaseNativeHandle() override {
    int fd = fd_;
    fd_ = -1;
    locked_ = false;
    return fd;
  }

 private:
  // A lock belongs to the open file, which a child forked by any thread of
  // this process shares until it execs (the descriptor is close-on-exec):
  // closing only this descriptor would leave the lock held by the child
  // meanwhile, and another open of the state in this process would find it
  // taken. Unlocking explicitly releases it for every sharer at once.
  void Unlock() {
    if (!locked_) return;
    locked_ = false;
    while (::flock(fd_, LOCK_UN) != 0 && errno == EINTR) {
    }
  }
  bool locked_ = false;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& path,
                                             const OpenOptions& options) override {
    int flags = O_CLOEXEC | O_NOCTTY;
    switch (options.access) {
      case OpenOptions::Access::kRead:
        flags |= O_RDONLY;
        break;
      case OpenOptions::Access::kWrite:
        flags |= O_WRONLY;
        break;
      case OpenOptions::Access::kReadWrite:
        flags |= O_RDWR;
        break;
    }
    if (options.create) flags |= O_CREAT;
    if (options.exclusive) flags |= O_EXCL;
    if (options.truncate) flags |= O_TRUNC;
    if (options.no_follow) flags |= O_NOFOLLOW;
    if (options.non_blocking) flags |= O_NONBLOCK;
    if (options.directory) flags |= O_DIRECTORY;
    for (;;) {
      int fd = ::open(path.c_str(), flags, static_cast<mode_t>(options.mode));
      if (fd >= 0) return std::unique_ptr<File>(std::make_unique<PosixFile>(fd));
      if (errno != EINTR) return SystemError(errno);
    }
  }
  absl::StatusOr<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return SystemError(errno);
    return InfoOf(st);
  }
  absl::StatusOr<FileInfo> LinkStat(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return SystemError(errno);
    return InfoOf(st);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return ::rename(from.c_str(), to.c_str()) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status Unlink(const std::string& path) override {
    return ::unlink(path.c_str()) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status HardLink(const std::string& from, const std::string& to) override {
    return ::link(from.c_str(), to.c_str()) == 0 ? absl::OkStatus() : SystemError(errno);
  }
  absl::Status MakeDirectory(const std::string& path, FileMode mode) override {
    return ::mkdir(path.c_str(), static_cast<mode_t>(mode)) == 0 ? absl::OkStatus()
                                                                 : SystemError(errno);
  }
  absl::StatusOr<std::string> MakeTempDirectory(const std::string& prefix) override {
    std::string dir = absl::StrCat(prefix, "XXXXXX");
    if (::mkdtemp(dir.data()) == nullptr) return SystemError(errno);
    return dir;
  }
  absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& path) override {
    DIR* d = ::opendir(path.c_str());
    if (d == nullptr) return SystemError(errno);
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string name(e->d_name);
      if (name != "." && name != "..") out.push_back(std::move(name));
    }
    ::closedir(d);
    return out;
  }
  absl::Status SyncDirectory(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return SystemError(errno);
    PosixFile dir(fd);
    return dir.Sync();
  }
  absl::StatusOr<std::string> CurrentDirectory() override {
    char buf[4096];
    if (::getcwd(buf, sizeof(buf)) == nullptr) return SystemError(errno);
    return std::string(buf);
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();
  return env;
}

std::unique_ptr<File> AdoptNativeFile(int handle) { return std::make_unique<PosixFile>(handle); }

absl::StatusOr<std::unique_ptr<File>> CreateAnonymousFile(const std::string& name) {
  int fd = ::memfd_create(name.c_str(), MFD_CLOEXEC);
  if (fd < 0) return SystemError(errno);
  return std::unique_ptr<File>(std::make_unique<PosixFile>(fd));
}

int64_t CoarseRealTimeNanos() {
  struct timespec now;
  ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return Nanos(now);
}

void Sleep(absl::Duration d) { absl::SleepFor(d); }

int ProcessId() { return static_cast<int>(::getpid()); }

bool IsTerminal(int handle) { return ::isatty(handle) == 1; }

bool FillRandom(void* buf, size_t size) {
  char* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::getrandom(p + done, size - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

void* AllocateAligned(size_t alignment, size_t size) {
  void* p = nullptr;
  if (::posix_memalign(&p, alignment, size) != 0) return nullptr;
  return p;
}

void FreeAligned(void* p) { ::free(p); }

void AdviseHugePages(void* p, size_t size) { (void)::madvise(p, size, MADV_HUGEPAGE); }

}  // namespace asr::platform
