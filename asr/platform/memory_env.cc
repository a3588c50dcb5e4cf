#include "asr/platform/memory_env.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/platform/error.h"

namespace asr::platform {

size_t MemoryFileData::ReadAt(uint64_t offset, void* buf, size_t size) const {
  absl::MutexLock l(&mu_);
  if (offset >= bytes_.size()) return 0;
  size_t n = static_cast<size_t>(std::min<uint64_t>(size, bytes_.size() - offset));
  std::memcpy(buf, bytes_.data() + offset, n);
  return n;
}

void MemoryFileData::WriteAt(uint64_t offset, const void* data, size_t size) {
  absl::MutexLock l(&mu_);
  if (offset + size > bytes_.size()) bytes_.resize(offset + size, '\0');
  if (size > 0) std::memcpy(bytes_.data() + offset, data, size);
}

void MemoryFileData::Resize(uint64_t size) {
  absl::MutexLock l(&mu_);
  bytes_.resize(size, '\0');
}

uint64_t MemoryFileData::size() const {
  absl::MutexLock l(&mu_);
  return bytes_.size();
}

std::string MemoryFileData::Contents() const {
  absl::MutexLock l(&mu_);
  return bytes_;
}

bool MemoryFileData::TryLock(const void* owner) {
  absl::MutexLock l(&mu_);
  if (lock_owner_ != nullptr && lock_owner_ != owner) return false;
  lock_owner_ = owner;
  return true;
}

void MemoryFileData::Unlock(const void* owner) {
  absl::MutexLock l(&mu_);
  if (lock_owner_ == owner) lock_owner_ = nullptr;
}

MemoryFile::MemoryFile(std::string bytes)
    : MemoryFile(std::make_shared<MemoryFileData>(std::move(bytes)), true, true, 1) {}

MemoryFile::MemoryFile(std::shared_ptr<MemoryFileData> data, bool readable, bool writable,
                       uint64_t inode)
    : data_(std::move(data)), readable_(readable), writable_(writable), inode_(inode) {}

MemoryFile::~MemoryFile() { (void)Close(); }

absl::Status MemoryFile::CheckOpen() const {
  return closed_ ? SystemError(EBADF) : absl::OkStatus();
}

absl::StatusOr<size_t> MemoryFile::ReadAt(uint64_t offset, void* buf, size_t size) const {
  if (closed_ || !readable_) return SystemError(EBADF);
  return data_->ReadAt(offset, buf, size);
}

absl::StatusOr<size_t> MemoryFile::WriteAt(uint64_t offset, const void* data, size_t size) {
  if (closed_ || !writable_) return SystemError(EBADF);
  data_->WriteAt(offset, data, size);
  return size;
}

absl::StatusOr<size_t> MemoryFile::Read(void* buf, size_t size) {
  absl::StatusOr<size_t> n = ReadAt(position_, buf, size);
  if (n.ok()) position_ += *n;
  return n;
}

absl::StatusOr<size_t> MemoryFile::Write(const void* data, size_t size) {
  absl::StatusOr<size_t> n = WriteAt(position_, data, size);
  if (n.ok()) position_ += *n;
  return n;
}

absl::Status MemoryFile::Sync() { return CheckOpen(); }
absl::Status MemoryFile::DataSync() { return CheckOpen(); }

absl::Status MemoryFile::Truncate(uint64_t size) {
  if (closed_ || !writable_) return SystemError(closed_ ? EBADF : EINVAL);
  data_->Resize(size);
  return absl::OkStatus();
}

absl::Status MemoryFile::Allocate(uint64_t offset, uint64_t size) {
  if (closed_ || !writable_) return SystemError(EBADF);
  if (offset + size > data_->size()) data_->Resize(offset + size);
  return absl::OkStatus();
}

absl::StatusOr<FileInfo> MemoryFile::Stat() const {
  if (closed_) return SystemError(EBADF);
  FileInfo info;
  info.type = FileType::kRegular;
  info.permissions = permissions_;
  info.device = 0;
  info.inode = inode_;
  info.size = data_->size();
  return info;
}

absl::StatusOr<uint64_t> MemoryFile::SeekToEnd() {
  if (closed_) return SystemError(EBADF);
  position_ = data_->size();
  return position_;
}

absl::Status MemoryFile::StartWriteback() { return CheckOpen(); }

absl::Status MemoryFile::SetPermissions(FileMode mode) {
  if (closed_) return SystemError(EBADF);
  permissions_ = mode & 07777;
  return absl::OkStatus();
}

absl::Status MemoryFile::SetNonBlocking(bool) { return CheckOpen(); }

absl::Status MemoryFile::Lock(bool wait) {
  if (closed_) return SystemError(EBADF);
  while (!data_->TryLock(this)) {
    if (!wait) return SystemError(EWOULDBLOCK);
    Sleep(absl::Milliseconds(1));
  }
  locked_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<File>> MemoryFile::OpenDirect() const {
  return SystemError(EOPNOTSUPP);
}

absl::Status MemoryFile::Close() {
  if (closed_) return absl::OkStatus();
  if (locked_) data_->Unlock(this);
  closed_ = true;
  return absl::OkStatus();
}

namespace {

std::string Normalize(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Thread safety: thread-safe.
class MemoryEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<File>> Open(const std::string& raw,
                                             const OpenOptions& options) override {
    const std::string path = Normalize(raw);
    absl::MutexLock l(&mu_);
    if (dirs_.count(path) > 0) {
      if (!options.directory && options.access != OpenOptions::Access::kRead) {
        return SystemError(EISDIR);
      }
      return std::unique_ptr<File>(
          std::make_unique<MemoryFile>(std::make_shared<MemoryFileData>(), true, false, 0));
    }
    if (options.directory) return SystemError(files_.count(path) > 0 ? ENOTDIR : ENOENT);
    auto it = files_.find(path);
    if (it == files_.end()) {
      if (!options.create) return SystemError(ENOENT);
      if (!ParentExistsLocked(path)) return SystemError(ENOENT);
      it = files_.emplace(path, Entry{std::make_shared<MemoryFileData>(), next_inode_++}).first;
    } else if (options.create && options.exclusive) {
      return SystemError(EEXIST);
    }
    const bool writable = options.access != OpenOptions::Access::kRead;
    if (options.truncate && writable) it->second.data->Resize(0);
    return std::unique_ptr<File>(
        std::make_unique<MemoryFile>(it->second.data, options.access != OpenOptions::Access::kWrite,
                                     writable, it->second.inode));
  }
  absl::StatusOr<FileInfo> Stat(const std::string& raw) override {
    const std::string path = Normalize(raw);
    absl::MutexLock l(&mu_);
    FileInfo info;
    if (dirs_.count(path) > 0) {
      info.type = FileType::kDirectory;
      info.permissions = 0755;
      return info;
    }
    auto it = files_.find(path);
    if (it == files_.end()) return SystemError(ENOENT);
    info.type = FileType::kRegular;
    info.permissions = 0644;
    info.inode = it->second.inode;
    info.size = it->second.data->size();
    return info;
  }
  absl::StatusOr<FileInfo> LinkStat(const std::string& path) override { return Stat(path); }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    absl::MutexLock l(&mu_);
    auto it = files_.find(Normalize(from));
    if (it == files_.end()) return SystemError(ENOENT);
    Entry e = it->second;
    files_.erase(it);
    files_[Normalize(to)] = e;
    return absl::OkStatus();
  }
  absl::Status Unlink(const std::string& path) override {
    absl::MutexLock l(&mu_);
    return files_.erase(Normalize(path)) > 0 ? absl::OkStatus() : SystemError(ENOENT);
  }
  absl::Status HardLink(const std::string& from, const std::string& to) override {
    absl::MutexLock l(&mu_);
    auto it = files_.find(Normalize(from));
    if (it == files_.end()) return SystemError(ENOENT);
    const std::string target = Normalize(to);
    if (files_.count(target) > 0 || dirs_.count(target) > 0) return SystemError(EEXIST);
    if (!ParentExistsLocked(target)) return SystemError(ENOENT);
    files_[target] = it->second;  // shares the data: one file, two names
    return absl::OkStatus();
  }
  absl::Status MakeDirectory(const std::string& raw, FileMode) override {
    const std::string path = Normalize(raw);
    absl::MutexLock l(&mu_);
    if (dirs_.count(path) > 0 || files_.count(path) > 0) return SystemError(EEXIST);
    if (!ParentExistsLocked(path)) return SystemError(ENOENT);
    dirs_.insert(path);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> MakeTempDirectory(const std::string& prefix) override {
    for (;;) {
      std::string dir;
      {
        absl::MutexLock l(&mu_);
        dir = absl::StrCat(prefix, 100000 + next_inode_++);
      }
      absl::Status s = MakeDirectory(dir, 0700);
      if (s.ok()) return dir;
      if (ErrorKindOf(s) != ErrorKind::kExists) return s;
    }
  }
  absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& raw) override {
    const std::string dir = Normalize(raw);
    absl::MutexLock l(&mu_);
    if (dirs_.count(dir) == 0) return SystemError(files_.count(dir) > 0 ? ENOTDIR : ENOENT);
    std::vector<std::string> out;
    auto add = [&](const std::string& path) {
      if (path != dir && Parent(path) == dir) out.push_back(path.substr(path.rfind('/') + 1));
    };
    for (const auto& [path, e] : files_) add(path);
    for (const std::string& path : dirs_) add(path);
    return out;
  }
  absl::Status SyncDirectory(const std::string& raw) override {
    absl::MutexLock l(&mu_);
    return dirs_.count(Normalize(raw)) > 0 ? absl::OkStatus() : SystemError(ENOENT);
  }
  absl::StatusOr<std::string> CurrentDirectory() override { return std::string("/"); }

 private:
  struct Entry {
    std::shared_ptr<MemoryFileData> data;
    uint64_t inode;
  };
  bool ParentExistsLocked(const std::string& path) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string parent = Parent(path);
    return parent == "/" || parent == "." || dirs_.count(parent) > 0;
  }

  absl::Mutex mu_;
  std::map<std::string, Entry> files_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> dirs_ ABSL_GUARDED_BY(mu_);
  uint64_t next_inode_ ABSL_GUARDED_BY(mu_) = 2;
};

}  // namespace

std::unique_ptr<Env> NewMemoryEnv() { return std::make_unique<MemoryEnv>(); }

}  // namespace asr::platform
