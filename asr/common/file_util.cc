#include "asr/common/file_util.h"

#include <filesystem>
#include <memory>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"

namespace asr {
namespace {

using platform::AddContext;
using platform::Env;
using platform::ErrorKind;
using platform::ErrorKindOf;
using platform::File;
using platform::OpenOptions;

// A File over a descriptor the caller keeps: handed back, not closed.
class BorrowedFile {
 public:
  explicit BorrowedFile(int fd) : file_(platform::AdoptNativeFile(fd)) {}
  ~BorrowedFile() { file_->ReleaseNativeHandle(); }
  BorrowedFile(const BorrowedFile&) = delete;
  BorrowedFile& operator=(const BorrowedFile&) = delete;
  File& operator*() const { return *file_; }

 private:
  std::unique_ptr<File> file_;
};

}  // namespace

absl::Status ErrnoToStatus(int err, absl::string_view context) {
  return platform::SystemError(err, context);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  absl::StatusOr<std::unique_ptr<File>> f = Env::Default()->Open(path, OpenOptions());
  if (!f.ok()) return AddContext(f.status(), absl::StrCat("cannot open ", path));
  std::string out;
  char buf[65536];
  for (;;) {
    absl::StatusOr<size_t> n = (*f)->Read(buf, sizeof(buf));
    if (!n.ok()) return AddContext(n.status(), absl::StrCat("cannot read ", path));
    if (*n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what) {
  BorrowedFile f(fd);
  absl::Status s = platform::WriteFully(*f, data.data(), data.size());
  return AddContext(s, absl::StrCat("cannot write ", what));
}

absl::Status PreadAll(int fd, void* buf, size_t size, uint64_t offset, absl::string_view what) {
  BorrowedFile f(fd);
  absl::StatusOr<size_t> n = platform::ReadFully(*f, offset, buf, size);
  if (!n.ok()) return AddContext(n.status(), absl::StrCat("cannot read ", what));
  if (*n < size) {
    return absl::OutOfRangeError(absl::StrCat("unexpected end of ", what, " at offset ",
                                              offset + *n, " (wanted ", size, " bytes at offset ",
                                              offset, ")"));
  }
  return absl::OkStatus();
}

absl::Status PwriteAll(int fd, const void* data, size_t size, uint64_t offset,
                       absl::string_view what) {
  BorrowedFile f(fd);
  return AddContext(platform::WriteFully(*f, offset, data, size),
                    absl::StrCat("cannot write ", what));
}

absl::Status FsyncDirectory(const std::string& dir) {
  OpenOptions o;
  o.directory = true;
  absl::StatusOr<std::unique_ptr<File>> f = Env::Default()->Open(dir, o);
  if (!f.ok()) return AddContext(f.status(), absl::StrCat("cannot open directory ", dir));
  return AddContext((*f)->Sync(), absl::StrCat("cannot fsync directory ", dir));
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data,
                                 platform::FileMode mode) {
  Env* env = Env::Default();
  std::string tmp = absl::StrCat(path, ".tmp.", platform::ProcessId());
  {
    OpenOptions o;
    o.access = OpenOptions::Access::kWrite;
    o.create = o.exclusive = o.no_follow = true;
    o.mode = mode;
    absl::StatusOr<std::unique_ptr<File>> f = env->Open(tmp, o);
    if (!f.ok() && ErrorKindOf(f.status()) == ErrorKind::kExists) {
      // Left by a crashed writer with our PID, or planted: remove the name
      // (a link is removed, not followed) and create it afresh.
      absl::Status u = env->Unlink(tmp);
      if (!u.ok() && ErrorKindOf(u) != ErrorKind::kNotFound) {
        return AddContext(u, absl::StrCat("cannot remove the stale ", tmp));
      }
      f = env->Open(tmp, o);
    }
    if (!f.ok()) return AddContext(f.status(), absl::StrCat("cannot create ", tmp));
    absl::Status s = AddContext(platform::WriteFully(**f, data.data(), data.size()),
                                absl::StrCat("cannot write ", tmp));
    if (s.ok()) s = AddContext((*f)->Sync(), absl::StrCat("cannot fsync ", tmp));
    if (!s.ok()) {
      (void)env->Unlink(tmp);
      return s;
    }
  }
  absl::Status r = env->Rename(tmp, path);
  if (!r.ok()) {
    (void)env->Unlink(tmp);
    return AddContext(r, absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  return FsyncDirectory(DirName(path));
}

absl::Status MakeDirectories(const std::string& dir, platform::FileMode mode) {
  if (dir.empty()) return absl::InvalidArgumentError("empty directory name");
  Env* env = Env::Default();
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    const platform::FileMode m = pos == std::string::npos || pos + 1 == dir.size() ? mode : 0755;
    absl::Status s = env->MakeDirectory(partial, m);
    if (!s.ok() && ErrorKindOf(s) != ErrorKind::kExists) {
      return AddContext(s, absl::StrCat("cannot create directory ", partial));
    }
  }
  absl::StatusOr<platform::FileInfo> info = env->Stat(dir);
  if (!info.ok()) return AddContext(info.status(), absl::StrCat("cannot stat ", dir));
  if (info->type != platform::FileType::kDirectory) {
    return absl::InvalidArgumentError(absl::StrCat(dir, " exists and is not a directory"));
  }
  return absl::OkStatus();
}

bool PathExists(const std::string& path) { return Env::Default()->Stat(path).ok(); }

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  bool a_slash = a.back() == '/';
  bool b_slash = b.front() == '/';
  if (a_slash && b_slash) return absl::StrCat(a, b.substr(1));
  if (a_slash || b_slash) return absl::StrCat(a, b);
  return absl::StrCat(a, "/", b);
}

std::string DirName(absl::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return ErrnoToStatus(ec.value(), absl::StrCat("remove ", path));
  return absl::OkStatus();
}

}  // namespace asr
