#include "asr/disk/disk_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"

namespace asr::disk {

DiskFile::DiskFile(int fd, std::string path, uint64_t size, bool writable, bool is_device)
    : fd_(fd), path_(std::move(path)), size_(size), writable_(writable), is_device_(is_device) {}

DiskFile::~DiskFile() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (fd_ >= 0) ::close(fd_);
}

bool DiskFile::EnableDirectWrites() {
  if (direct_fd_ >= 0) return true;
  if (!writable_ || is_device_) return false;
  // Reopened through the descriptor, not the path: the same file even if
  // the path was renamed or replaced since.
  const std::string self = absl::StrCat("/proc/self/fd/", fd_);
  int fd = ::open(self.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat a, b;
  if (::fstat(fd, &a) != 0 || ::fstat(fd_, &b) != 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino) {
    ::close(fd);
    return false;
  }
  direct_fd_ = fd;
  return true;
}

namespace {

// "a FIFO", "a directory"...: what lies at a path, for refusals.
const char* FileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISREG(mode)) return "a regular file";
  return "a special file";
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::Open(const std::string& path,
                                                         bool writable) {
  return OpenChecked(path, writable, /*child=*/"");
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::OpenParent(const std::string& path,
                                                               const std::string& child) {
  return OpenChecked(path, /*writable=*/false, child);
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::OpenChecked(const std::string& path,
                                                                bool writable,
                                                                const std::string& child) {
  const bool parent = !child.empty();
  const std::string what = parent ? absl::StrCat("parent ", path, " of ", child) : path;
  const char* wanted = parent ? "not a regular file" : "not a regular file or a device";
  // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused
  // below, after fstat on what was actually opened). O_NOFOLLOW: a parent
  // named by a locator inside an image is never reached through a link.
  int flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  if (parent) flags |= O_NOFOLLOW;
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) {
    int err = errno;
    struct stat st;
    if ((err == ELOOP || err == EISDIR || err == ENXIO || err == EOPNOTSUPP) &&
        (parent ? ::lstat(path.c_str(), &st) : ::stat(path.c_str(), &st)) == 0 &&
        !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is ", FileTypeName(st.st_mode), ", ", wanted));
    }
    return ErrnoToStatus(err, absl::StrCat("cannot open ", what));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("cannot stat ", what));
  }
  const bool dev = S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode);
  if (!S_ISREG(st.st_mode) && (parent || !dev)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", FileTypeName(st.st_mode), ", ", wanted));
  }
  // Reads and writes of what remains (files and devices) block as usual.
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoToStatus(err, absl::StrCat("cannot open ", what));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end > 0) size = static_cast<uint64_t>(end);
  }
  return std::unique_ptr<DiskFile>(new DiskFile(fd, path, size, writable, dev));
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::Create(const std::string& path,
                                                           bool overwrite) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
    return Open(path, /*writable=*/true);
  }
  int flags = O_RDWR | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) return ErrnoToStatus(errno, absl::StrCat("cannot create ", path));
  return std::unique_ptr<DiskFile>(new DiskFile(fd, path, 0, true, false));
}

absl::Status DiskFile::Read(uint64_t offset, void* buf, size_t size,
                            absl::string_view what) const {
  if (size == 0) return absl::OkStatus();
  char* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd_, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat(path_, ": cannot read ", what));
    }
    if (n == 0) {
      return absl::OutOfRangeError(absl::StrCat(path_, ": ", what, " at offset ", offset,
                                                " (", size, " bytes) lies past the end of the file"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status DiskFile::Write(uint64_t offset, const void* data, size_t size,
                             absl::string_view what) {
  if (!writable_) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": opened read-only"));
  }
  const char* p = static_cast<const char*>(data);
  size_t done = 0;
  const bool aligned = offset % kDirectAlignment == 0 && size % kDirectAlignment == 0 &&
                       reinterpret_cast<uintptr_t>(data) % kDirectAlignment == 0;
  if (direct_fd_ >= 0 && aligned) {
    while (done < size) {
      ssize_t n = ::pwrite(direct_fd_, p + done, size - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL) {
        // The file system wants another alignment: buffered from here on.
        ::close(direct_fd_);
        direct_fd_ = -1;
        break;
      }
      if (n < 0) return ErrnoToStatus(errno, absl::StrCat(path_, ": cannot write ", what));
      done += static_cast<size_t>(n);
      // A short direct write leaves an unaligned rest: the loop below.
      if (done < size && (done % kDirectAlignment) != 0) break;
    }
  }
  while (done < size) {
    ssize_t n = ::pwrite(fd_, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, absl::StrCat(path_, ": cannot write ", what));
    }
    done += static_cast<size_t>(n);
  }
  if (offset + size > size_) size_ = offset + size;
  return absl::OkStatus();
}

absl::Status DiskFile::Truncate(uint64_t size) {
  if (is_device_) return absl::OkStatus();
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return ErrnoToStatus(errno, absl::StrCat(path_, ": cannot set file size to ", size));
  }
  size_ = size;
  return absl::OkStatus();
}

void DiskFile::Reserve(uint64_t offset, uint64_t size) {
  if (is_device_ || size == 0) return;
  (void)::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(size));
  struct stat st;
  if (::fstat(fd_, &st) == 0 && static_cast<uint64_t>(st.st_size) > size_) {
    size_ = static_cast<uint64_t>(st.st_size);
  }
}

absl::Status DiskFile::Sync() {
  if (is_device_) return absl::OkStatus();
  if (::fdatasync(fd_) != 0) {
    return ErrnoToStatus(errno, absl::StrCat(path_, ": cannot flush to stable storage"));
  }
  return absl::OkStatus();
}

}  // namespace asr::disk
