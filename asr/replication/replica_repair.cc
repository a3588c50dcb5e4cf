#include "asr/replication/replica_repair.h"

#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/env.h"

namespace asr::replication {
namespace {

constexpr uint64_t kMiB = 1 << 20;

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

bool PointsPastTheEnd(const absl::Status& s) {
  return absl::IsOutOfRange(s) && absl::StrContains(s.message(), "past the end of the file");
}

}  // namespace

uint64_t MaxReplicaFileSize(uint64_t virtual_size) {
  // Payload blocks are 1..256 MiB, powers of two, one per data block: at
  // most the size rounded up to 256 MiB. The block table has at most two
  // 8-byte entries per MiB (a payload and a sector bitmap entry); headers,
  // log and metadata as asr and qemu write them fit in 16 MiB.
  const uint64_t table = RoundUp((virtual_size + kMiB - 1) / kMiB * 16, kMiB);
  return RoundUp(virtual_size, 256 * kMiB) + table + 16 * kMiB;
}

absl::StatusOr<bool> ExtendTruncatedReplica(const std::string& path, uint64_t virtual_size) {
  absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> d =
      disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  if (d.ok()) return false;
  if (!PointsPastTheEnd(d.status())) return d.status();
  const uint64_t want = MaxReplicaFileSize(virtual_size);
  platform::OpenOptions o;
  o.access = platform::OpenOptions::Access::kReadWrite;
  o.no_follow = true;
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<platform::File> f, platform::Env::Default()->Open(path, o));
  ASR_ASSIGN_OR_RETURN(platform::FileInfo info, f->Stat());
  if (info.size < want) {
    ASR_RETURN_IF_ERROR(f->Truncate(want));
    ASR_RETURN_IF_ERROR(f->Sync());
  }
  d = disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  if (!d.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the replica's VHDX structure is unusable even after extending ", path, " to ", want,
        " bytes (", d.status().message(),
        "); repair: disable and enable protection again (or replicate into an empty replica "
        "directory), which sends the whole disk"));
  }
  return true;
}

}  // namespace asr::replication
