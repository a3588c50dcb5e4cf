#include "asr/replication/resume.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/platform/env.h"
#include "asr/replication/manifest.h"

namespace asr::replication {

Digest PlanIdentity(const std::string& replication_id, const CycleStart& start, uint32_t block_size,
                    uint64_t chunk_blocks, uint64_t virtual_size, const CyclePlan& plan,
                    const std::vector<disk::DiskFingerprint>& chain) {
  Sha256Stream s;
  s.Update("asr-plan-1", 10);
  auto str = [&s](const std::string& v) {
    s.UpdateU64(v.size());
    s.Update(v.data(), v.size());
  };
  str(replication_id);
  s.UpdateU64(start.cycle);
  s.UpdateU64(start.base_cycle);
  s.UpdateU64(static_cast<uint64_t>(start.mode));
  s.UpdateU64(start.flags);
  s.UpdateU64(block_size);
  s.UpdateU64(chunk_blocks);
  s.UpdateU64(virtual_size);
  s.UpdateU64(plan.runs.size());
  for (const PlannedRun& r : plan.runs) {
    s.UpdateU64(r.first_block);
    s.UpdateU64(r.block_count);
    s.UpdateU64(static_cast<uint64_t>(r.action));
  }
  s.UpdateU64(chain.size());
  for (const disk::DiskFingerprint& fp : chain) {
    s.UpdateU64(fp.verifiable ? 1 : 0);
    s.UpdateU64(fp.device);
    s.UpdateU64(fp.inode);
    s.UpdateU64(fp.file_size);
    s.UpdateU64(static_cast<uint64_t>(fp.mtime_ns));
    s.UpdateU64(static_cast<uint64_t>(fp.ctime_ns));
    s.UpdateU64(fp.vhdx ? 1 : 0);
    str(fp.data_write_guid);
    s.UpdateU64(fp.header_sequence);
  }
  return s.Finish();
}

namespace {
std::string NewIdPath(const std::string& disk_path) { return ManifestPath(disk_path) + ".newid"; }
}  // namespace

absl::StatusOr<std::string> FirstReplicationId(const std::string& disk_path) {
  absl::StatusOr<std::string> kept = ReadFileToString(NewIdPath(disk_path));
  if (kept.ok()) {
    std::string id(absl::StripAsciiWhitespace(*kept));
    if (CheckIdentifier("replication id", id).ok()) return id;
  }
  std::string id = NewReplicationId();
  absl::Status saved = WriteFileAtomically(NewIdPath(disk_path), id + "\n");
  if (!saved.ok()) return saved;
  return id;
}

void ClearNewReplicationId(const std::string& disk_path) {
  (void)platform::Env::Default()->Unlink(NewIdPath(disk_path));
}

bool IsResumableFailure(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

absl::StatusOr<CycleStats> ReplicateDiskResuming(const std::string& disk_path, CycleMode mode,
                                                 const StreamConnector& connect,
                                                 const SendOptions& options,
                                                 const ResumeOptions& resume,
                                                 std::unique_ptr<net::ByteStream>* last_stream) {
  const int attempts = std::max(1, resume.max_attempts);
  absl::Duration delay = resume.first_delay;
  uint64_t resent = 0;
  uint64_t written = 0;  // raw position the previous attempt had written up to
  bool interrupted = false;
  absl::Status last;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      absl::SleepFor(delay);
      delay = std::min(delay * 2, resume.max_delay);
    }
    absl::StatusOr<std::unique_ptr<net::ByteStream>> stream = connect();
    if (!stream.ok()) {
      last = stream.status();
      if (!IsResumableFailure(last)) return last;
      continue;
    }
    SendOptions opts = options;
    bool counted = false;  // this attempt's resume position taken into account
    uint64_t position = 0;
    auto account = [&](uint64_t held) {
      if (counted) return;
      counted = true;
      if (interrupted && written > held) resent += written - held;
    };
    opts.progress = [&](const CycleProgress& p) {
      account(p.resumed_bytes);
      position = p.raw_position;
      if (options.progress) options.progress(p);
    };
    absl::StatusOr<CycleStats> st = ReplicateDisk(disk_path, mode, **stream, opts);
    if (st.ok() && last_stream != nullptr) {
      *last_stream = *std::move(stream);
    } else {
      (void)(*stream)->Close();
    }
    if (st.ok()) {
      account(st->resumed_bytes);
      st->resent_bytes = resent;
      st->attempts = static_cast<uint32_t>(attempt);
      return st;
    }
    last = st.status();
    if (!IsResumableFailure(last)) return last;
    if (counted) {  // this attempt streamed: where it got to
      written = position;
      interrupted = true;
    }
  }
  return absl::Status(last.code(), absl::StrCat(last.message(), " (gave up after ", attempts,
                                                " connection attempts)"));
}

}  // namespace asr::replication
