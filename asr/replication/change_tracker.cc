#include "asr/replication/change_tracker.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/byte_codec.h"

namespace asr::replication {
namespace {

constexpr char kMagic[8] = {'A', 'S', 'R', 'C', 'B', 'T', '0', '2'};
constexpr char kMagicV1[8] = {'A', 'S', 'R', 'C', 'B', 'T', '0', '1'};
constexpr uint32_t kStateClean = 1;
constexpr uint32_t kStateInUse = 2;

uint64_t Popcount(const std::vector<uint64_t>& v) {
  uint64_t n = 0;
  for (uint64_t w : v) n += __builtin_popcountll(w);
  return n;
}

void PutFingerprint(ByteWriter& w, const std::optional<disk::DiskFingerprint>& fp) {
  w.Str(fp ? disk::SerializeDiskFingerprint(*fp) : std::string());
}

bool GetFingerprint(ByteReader& r, std::optional<disk::DiskFingerprint>* out) {
  std::string bytes;
  if (!r.Str(&bytes)) return false;
  out->reset();
  if (bytes.empty()) return true;
  absl::StatusOr<disk::DiskFingerprint> fp = disk::ParseDiskFingerprint(bytes);
  if (!fp.ok()) return false;
  *out = *fp;
  return true;
}

}  // namespace

std::string TrackerPath(const std::string& disk_path) { return disk_path + ".asrcbt"; }

ChangeTracker::ChangeTracker(std::string disk_path, uint64_t virtual_size, uint32_t block_size)
    : disk_path_(std::move(disk_path)),
      path_(TrackerPath(disk_path_)),
      virtual_size_(virtual_size),
      block_size_(block_size),
      blocks_((virtual_size + block_size - 1) / block_size) {
  absl::MutexLock l(&mu_);
  current_.assign((blocks_ + 63) / 64, 0);
  pending_.assign((blocks_ + 63) / 64, 0);
}

ChangeTracker::~ChangeTracker() { (void)Close(); }

absl::StatusOr<std::unique_ptr<ChangeTracker>> ChangeTracker::Open(const std::string& disk_path,
                                                                   uint64_t virtual_size,
                                                                   uint32_t block_size) {
  if (block_size == 0 || virtual_size == 0) {
    return absl::InvalidArgumentError("change tracker needs a disk size and a block size");
  }
  std::unique_ptr<ChangeTracker> t(new ChangeTracker(disk_path, virtual_size, block_size));
  ASR_RETURN_IF_ERROR(t->Init(/*host=*/true));
  absl::MutexLock l(&t->mu_);
  ASR_RETURN_IF_ERROR(t->PersistLocked(/*in_use=*/true));
  return t;
}

absl::StatusOr<std::unique_ptr<ChangeTracker>> ChangeTracker::OpenForCycle(
    const std::string& disk_path, uint64_t virtual_size, uint32_t block_size) {
  if (block_size == 0 || virtual_size == 0) {
    return absl::InvalidArgumentError("change tracker needs a disk size and a block size");
  }
  std::unique_ptr<ChangeTracker> t(new ChangeTracker(disk_path, virtual_size, block_size));
  t->cycle_only_ = true;
  ASR_RETURN_IF_ERROR(t->Init(/*host=*/false));
  return t;
}

absl::Status ChangeTracker::Init(bool host) {
  absl::Status locked = lock_.TryLock(path_ + ".lock");
  if (absl::IsFailedPrecondition(locked)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the change tracker of ", disk_path_,
                     " is open elsewhere (a host recording writes, or a replication cycle)"));
  }
  ASR_RETURN_IF_ERROR(locked);
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(Load());
  absl::StatusOr<disk::DiskFingerprint> now = disk::TakeDiskFingerprint(disk_path_);
  if (!now.ok()) {
    if (absl::IsNotFound(now.status())) return now.status();
    MarkLocked(absl::StrCat("cannot fingerprint ", disk_path_, ": ", now.status().message()));
    return absl::OkStatus();
  }
  if (!needs_scan_) {
    std::string why = vouched_ ? disk::DescribeDiskChange(*vouched_, *now, disk_path_)
                               : std::string("the change map vouches for no state of the disk");
    if (!why.empty()) MarkLocked(std::move(why));
  }
  if (host) {
    // From here on the host answers for every write.
    vouched_ = *now;
  } else {
    cycle_start_ = *now;
  }
  return absl::OkStatus();
}

void ChangeTracker::MarkLocked(std::string why) {
  needs_scan_ = true;
  reason_ = std::move(why);
  std::fill(current_.begin(), current_.end(), 0);
  std::fill(pending_.begin(), pending_.end(), 0);
}

void ChangeTracker::VouchNowLocked() {
  absl::StatusOr<disk::DiskFingerprint> now = disk::TakeDiskFingerprint(disk_path_);
  if (now.ok()) {
    vouched_ = *now;
  } else {
    vouched_.reset();
    MarkLocked(absl::StrCat("cannot fingerprint ", disk_path_, ": ", now.status().message()));
  }
}

absl::Status ChangeTracker::Load() {
  auto mark = [&](std::string why) {
    MarkLocked(std::move(why));
    return absl::OkStatus();
  };
  if (!PathExists(path_)) {
    return mark("no change map existed: writes before tracking began are unknown");
  }
  ASR_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path_));
  if (bytes.size() >= 8 && bytes.compare(0, 8, kMagicV1, 8) == 0) {
    return mark("the change map was written by an older asr that could not detect outside writes");
  }
  if (bytes.size() < 12 || bytes.compare(0, 8, kMagic, 8) != 0) {
    return mark("the change map is not a change map");
  }
  ByteReader tail(absl::string_view(bytes).substr(bytes.size() - 4));
  uint32_t crc = 0;
  tail.U32(&crc);
  if (crc != Crc32c(bytes.data(), bytes.size() - 4)) {
    return mark("the change map is corrupt (checksum mismatch)");
  }
  ByteReader r(absl::string_view(bytes).substr(8, bytes.size() - 12));
  uint32_t state = 0, bs = 0;
  uint8_t ns = 0;
  uint64_t vs = 0, words = 0;
  std::string reason;
  std::optional<disk::DiskFingerprint> vouched;
  if (!r.U32(&state) || !r.U8(&ns) || !r.Str(&reason) || !GetFingerprint(r, &vouched) ||
      !r.U64(&vs) || !r.U32(&bs) || !r.U64(&words)) {
    return mark("the change map is truncated");
  }
  if (vs != virtual_size_ || bs != block_size_ || words != current_.size() ||
      r.Rest().size() != 2 * words * 8) {
    return mark(absl::StrCat("the change map was made for another geometry (", vs, " bytes, ", bs,
                             "-byte blocks)"));
  }
  r.Bytes(current_.data(), words * 8);
  r.Bytes(pending_.data(), words * 8);
  needs_scan_ = ns != 0;
  reason_ = reason;
  vouched_ = vouched;
  if (state != kStateClean && !needs_scan_) {
    return mark("the tracker was not shut down cleanly; writes may have been missed");
  }
  return absl::OkStatus();
}

absl::Status ChangeTracker::PersistLocked(bool in_use) {
  if (cycle_only_) in_use = false;
  ByteWriter w;
  w.Bytes(kMagic, 8);
  w.U32(in_use ? kStateInUse : kStateClean);
  w.U8(needs_scan_ ? 1 : 0);
  w.Str(reason_);
  PutFingerprint(w, vouched_);
  w.U64(virtual_size_);
  w.U32(block_size_);
  w.U64(current_.size());
  w.Bytes(current_.data(), current_.size() * 8);
  w.Bytes(pending_.data(), pending_.size() * 8);
  w.U32(Crc32c(w.data().data(), w.data().size()));
  if (cycle_only_) {
    // Atomic but not forced to disk: after a power loss the file is the old
    // map (its blocks are resent) or fails its checksum (NEEDS SCAN).
    platform::Env* env = platform::Env::Default();
    std::string tmp = absl::StrCat(path_, ".tmp.", platform::ProcessId());
    platform::OpenOptions o;
    o.access = platform::OpenOptions::Access::kWrite;
    o.create = o.truncate = true;
    o.mode = 0644;
    absl::StatusOr<std::unique_ptr<platform::File>> f = env->Open(tmp, o);
    if (!f.ok()) return platform::AddContext(f.status(), absl::StrCat("cannot create ", tmp));
    absl::Status st =
        platform::AddContext(platform::WriteFully(**f, w.data().data(), w.data().size()),
                             absl::StrCat("cannot write ", tmp));
    f->reset();
    if (!st.ok()) {
      (void)env->Unlink(tmp);
      return st;
    }
    absl::Status renamed = env->Rename(tmp, path_);
    if (!renamed.ok()) {
      (void)env->Unlink(tmp);
      return platform::AddContext(renamed, absl::StrCat("cannot rename ", tmp, " to ", path_));
    }
    return absl::OkStatus();
  }
  return WriteFileAtomically(path_, w.data());
}

absl::Status ChangeTracker::RecordWrite(uint64_t offset, uint64_t length) {
  if (offset > virtual_size_ || length > virtual_size_ - offset) {
    return absl::InvalidArgumentError(absl::StrCat("write [", offset, ", +", length,
                                                   ") lies past the end of the disk (",
                                                   virtual_size_, " bytes)"));
  }
  if (length == 0) return absl::OkStatus();
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("change tracker is closed");
  if (cycle_only_) {
    return absl::FailedPreconditionError(
        "change tracker was opened for a replication cycle only; it records no writes");
  }
  uint64_t first = offset / block_size_;
  uint64_t last = (offset + length - 1) / block_size_;
  for (uint64_t b = first; b <= last; ++b) current_[b / 64] |= 1ull << (b % 64);
  return absl::OkStatus();
}

bool ChangeTracker::needs_scan() const {
  absl::MutexLock l(&mu_);
  return needs_scan_;
}

std::string ChangeTracker::needs_scan_reason() const {
  absl::MutexLock l(&mu_);
  return reason_;
}

uint64_t ChangeTracker::marked_blocks() const {
  absl::MutexLock l(&mu_);
  std::vector<uint64_t> u(current_.size());
  for (size_t i = 0; i < u.size(); ++i) u[i] = current_[i] | pending_[i];
  return Popcount(u);
}

absl::StatusOr<std::vector<uint64_t>> ChangeTracker::BeginCycle() {
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("change tracker is closed");
  for (size_t i = 0; i < current_.size(); ++i) {
    pending_[i] |= current_[i];
    current_[i] = 0;
  }
  if (!cycle_only_) {
    VouchNowLocked();
    ASR_RETURN_IF_ERROR(PersistLocked(true));
  }
  std::vector<uint64_t> out;
  for (size_t i = 0; i < pending_.size(); ++i) {
    uint64_t w = pending_[i];
    while (w != 0) {
      int bit = __builtin_ctzll(w);
      out.push_back(i * 64 + bit);
      w &= w - 1;
    }
  }
  return out;
}

absl::Status ChangeTracker::CommitCycle(bool full_coverage) {
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("change tracker is closed");
  std::fill(pending_.begin(), pending_.end(), 0);
  if (cycle_only_) {
    // The cycle read the disk as it found it at its start: that is what the
    // map now describes (a write since then differs from it).
    if (full_coverage || !needs_scan_) vouched_ = cycle_start_;
  } else {
    VouchNowLocked();
  }
  if (full_coverage && vouched_) {
    needs_scan_ = false;
    reason_.clear();
  }
  return PersistLocked(true);
}

absl::Status ChangeTracker::Checkpoint() {
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("change tracker is closed");
  if (!cycle_only_) VouchNowLocked();
  return PersistLocked(true);
}

absl::Status ChangeTracker::MarkNeedsScan(const std::string& reason) {
  absl::MutexLock l(&mu_);
  if (closed_) return absl::FailedPreconditionError("change tracker is closed");
  MarkLocked(reason);
  return PersistLocked(true);
}

absl::Status ChangeTracker::Close() {
  absl::Status st;
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    if (!cycle_only_) {  // a cycle's CommitCycle wrote what changed
      VouchNowLocked();
      st = PersistLocked(false);
    }
  }
  lock_.Release();
  return st;
}

}  // namespace asr::replication
