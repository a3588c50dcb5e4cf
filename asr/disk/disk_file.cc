#include "asr/disk/disk_file.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr::disk {

using platform::AddContext;
using platform::ErrorKind;
using platform::ErrorKindOf;
using platform::FileInfo;
using platform::FileType;
using platform::OpenOptions;

DiskFile::DiskFile(std::unique_ptr<platform::File> file, std::string path, uint64_t size,
                   bool writable, bool is_device)
    : file_(std::move(file)),
      path_(std::move(path)),
      size_(size),
      writable_(writable),
      is_device_(is_device) {}

DiskFile::~DiskFile() = default;

bool DiskFile::EnableDirectWrites() {
  if (direct_ != nullptr) return true;
  if (!writable_ || is_device_) return false;
  // Reopened through the open file, not the path: the same file even if the
  // path was renamed or replaced since.
  absl::StatusOr<std::unique_ptr<platform::File>> direct = file_->OpenDirect();
  if (!direct.ok()) return false;
  direct_ = std::move(*direct);
  return true;
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::Open(const std::string& path, bool writable) {
  return OpenChecked(path, writable, /*child=*/"");
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::OpenParent(const std::string& path,
                                                               const std::string& child) {
  return OpenChecked(path, /*writable=*/false, child);
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::FromFile(std::unique_ptr<platform::File> file,
                                                             std::string name, bool writable) {
  absl::StatusOr<FileInfo> info = file->Stat();
  if (!info.ok()) return AddContext(info.status(), absl::StrCat("cannot stat ", name));
  if (info->type != FileType::kRegular) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", platform::FileTypeName(info->type), ", not a regular file"));
  }
  const uint64_t size = info->size;
  return std::unique_ptr<DiskFile>(
      new DiskFile(std::move(file), std::move(name), size, writable, /*is_device=*/false));
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::OpenChecked(const std::string& path,
                                                                bool writable,
                                                                const std::string& child) {
  platform::Env* env = platform::Env::Default();
  const bool parent = !child.empty();
  const std::string what = parent ? absl::StrCat("parent ", path, " of ", child) : path;
  const char* wanted = parent ? "not a regular file" : "not a regular file or a device";
  // Non-blocking: opening a FIFO must not wait for a writer (it is refused
  // below, after a stat of what was actually opened). No-follow: a parent
  // named by a locator inside an image is never reached through a link.
  OpenOptions o;
  o.access = writable ? OpenOptions::Access::kReadWrite : OpenOptions::Access::kRead;
  o.non_blocking = true;
  o.no_follow = parent;
  absl::StatusOr<std::unique_ptr<platform::File>> opened = env->Open(path, o);
  if (!opened.ok()) {
    const ErrorKind kind = ErrorKindOf(opened.status());
    if (kind == ErrorKind::kLoop || kind == ErrorKind::kIsDirectory ||
        kind == ErrorKind::kNoDevice || kind == ErrorKind::kNotSupported) {
      absl::StatusOr<FileInfo> st = parent ? env->LinkStat(path) : env->Stat(path);
      if (st.ok() && st->type != FileType::kRegular) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, " is ", platform::FileTypeName(st->type), ", ", wanted));
      }
    }
    return AddContext(opened.status(), absl::StrCat("cannot open ", what));
  }
  std::unique_ptr<platform::File> file = std::move(*opened);
  absl::StatusOr<FileInfo> st = file->Stat();
  if (!st.ok()) return AddContext(st.status(), absl::StrCat("cannot stat ", what));
  const bool dev = st->is_device();
  if (st->type != FileType::kRegular && (parent || !dev)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", platform::FileTypeName(st->type), ", ", wanted));
  }
  // Reads and writes of what remains (files and devices) block as usual.
  if (absl::Status s = file->SetNonBlocking(false); !s.ok()) {
    return AddContext(s, absl::StrCat("cannot open ", what));
  }
  uint64_t size = st->size;
  if (st->type == FileType::kBlockDevice) {
    absl::StatusOr<uint64_t> end = file->SeekToEnd();
    if (end.ok() && *end > 0) size = *end;
  }
  return std::unique_ptr<DiskFile>(new DiskFile(std::move(file), path, size, writable, dev));
}

absl::StatusOr<std::unique_ptr<DiskFile>> DiskFile::Create(const std::string& path,
                                                           bool overwrite) {
  platform::Env* env = platform::Env::Default();
  absl::StatusOr<FileInfo> st = env->Stat(path);
  if (st.ok() && st->is_device()) return Open(path, /*writable=*/true);
  OpenOptions o;
  o.access = OpenOptions::Access::kReadWrite;
  o.create = true;
  o.truncate = overwrite;
  o.exclusive = !overwrite;
  o.mode = 0644;
  absl::StatusOr<std::unique_ptr<platform::File>> file = env->Open(path, o);
  if (!file.ok()) return AddContext(file.status(), absl::StrCat("cannot create ", path));
  return std::unique_ptr<DiskFile>(new DiskFile(std::move(*file), path, 0, true, false));
}

absl::Status DiskFile::Read(uint64_t offset, void* buf, size_t size, absl::string_view what) const {
  if (size == 0) return absl::OkStatus();
  absl::StatusOr<size_t> n = platform::ReadFully(*file_, offset, buf, size);
  if (!n.ok()) return AddContext(n.status(), absl::StrCat(path_, ": cannot read ", what));
  if (*n < size) {
    return absl::OutOfRangeError(absl::StrCat(path_, ": ", what, " at offset ", offset, " (", size,
                                              " bytes) lies past the end of the file"));
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
  if (direct_ != nullptr && aligned) {
    while (done < size) {
      absl::StatusOr<size_t> n = direct_->WriteAt(offset + done, p + done, size - done);
      if (!n.ok() && ErrorKindOf(n.status()) == ErrorKind::kInvalidArgument) {
        // The file system wants another alignment: buffered from here on.
        direct_.reset();
        break;
      }
      if (!n.ok()) return AddContext(n.status(), absl::StrCat(path_, ": cannot write ", what));
      done += *n;
      // A short direct write leaves an unaligned rest: the loop below.
      if (done < size && (done % kDirectAlignment) != 0) break;
    }
  }
  if (done < size) {
    absl::Status s = platform::WriteFully(*file_, offset + done, p + done, size - done);
    if (!s.ok()) return AddContext(s, absl::StrCat(path_, ": cannot write ", what));
  }
  if (offset + size > size_) size_ = offset + size;
  return absl::OkStatus();
}

absl::Status DiskFile::Truncate(uint64_t size) {
  if (is_device_) return absl::OkStatus();
  absl::Status s = file_->Truncate(size);
  if (!s.ok()) return AddContext(s, absl::StrCat(path_, ": cannot set file size to ", size));
  size_ = size;
  return absl::OkStatus();
}

void DiskFile::Reserve(uint64_t offset, uint64_t size) {
  if (is_device_ || size == 0) return;
  (void)file_->Allocate(offset, size);
  absl::StatusOr<FileInfo> st = file_->Stat();
  if (st.ok() && st->size > size_) size_ = st->size;
}

absl::Status DiskFile::Sync() {
  if (is_device_) return absl::OkStatus();
  absl::Status s = file_->DataSync();
  if (!s.ok()) return AddContext(s, absl::StrCat(path_, ": cannot flush to stable storage"));
  return absl::OkStatus();
}

}  // namespace asr::disk
