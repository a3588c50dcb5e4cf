// Listing a replica directory's recovery points and restoring one, beside a
// running receiver (under the shared apply lock); their JSON form. Declared
// in replica_store.h.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "asr/common/file_lock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/replication/replica_internal.h"
#include "asr/replication/replica_layout.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {
namespace {

using State = ReplicaStore::State;

disk::DiskFormat FormatForPath(const std::string& path) {
  auto ends = [&](absl::string_view s) { return absl::EndsWith(path, s); };
  if (ends(".vhd") || ends(".VHD")) return disk::DiskFormat::kVhd;
  if (ends(".raw") || ends(".img")) return disk::DiskFormat::kRaw;
  return disk::DiskFormat::kVhdx;
}

}  // namespace

// ------------------------------------------------------ listing and restoring

namespace {

// The committed state of `dir` under a shared apply lock, recovering an
// interrupted apply first when no receiver holds the directory.
absl::StatusOr<State> LockedState(const std::string& dir, FileLock& apply) {
  if (!PathExists(JoinPath(dir, kReplicaStateFile))) {
    return absl::NotFoundError(
        absl::StrCat(dir, " is not a replica directory (no ", kReplicaStateFile, ")"));
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    ASR_RETURN_IF_ERROR(apply.LockShared(JoinPath(dir, "apply.lock")));
    ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
    if (!loaded.state.overlay.pending().empty()) {
      // An interrupted change of views or failover (replica_layout.h):
      // finished under the exclusive lock.
      apply.Release();
      ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir, "apply.lock")));
      ASR_ASSIGN_OR_RETURN(loaded, LoadReplicaState(dir));
      if (!loaded.state.applying) {
        ASR_RETURN_IF_ERROR(RecoverLayout(dir, &loaded.state));
      }
      apply.Release();
      continue;
    }
    if (!loaded.state.applying) return std::move(loaded.state);
    const State& s = loaded.state;
    apply.Release();
    // A receiver died while applying; finish its work with its policy.
    ReplicaOptions o;
    o.additional_points = s.additional_points;
    o.point_interval = absl::Seconds(s.interval_s);
    o.retention = absl::Seconds(s.retention_s);
    o.format = s.replica_file == "replica.vhd" ? disk::DiskFormat::kVhd : disk::DiskFormat::kVhdx;
    absl::StatusOr<std::unique_ptr<ReplicaStore>> store = ReplicaStore::Open(dir, o);
    if (!store.ok() && !absl::IsFailedPrecondition(store.status())) return store.status();
  }
  return absl::UnavailableError(
      absl::StrCat(dir, ": a cycle is being applied; try again in a moment"));
}

}  // namespace

absl::StatusOr<std::vector<RecoveryPoint>> ListRecoveryPoints(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedState(dir, apply));
  return s.points;
}

absl::StatusOr<ReplicaInfo> ReadReplicaInfo(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedState(dir, apply));
  ReplicaInfo i;
  i.has_replica = s.has_replica;
  i.replication_id = s.replication_id;
  i.source_disk_id = s.source_disk_id;
  i.virtual_size = s.virtual_size;
  i.block_size = s.block_size;
  i.current_cycle = s.current_cycle;
  i.replica_path = JoinPath(dir, s.replica_file);
  return i;
}

absl::Status RestorePoint(const std::string& dir, uint64_t point_id, const std::string& out_path,
                          const RestoreOptions& options) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedState(dir, apply));
  size_t idx = s.points.size();
  for (size_t i = 0; i < s.points.size(); ++i) {
    if (s.points[i].id == point_id) idx = i;
  }
  if (idx == s.points.size()) {
    std::string have;
    for (const RecoveryPoint& p : s.points) absl::StrAppend(&have, have.empty() ? "" : ", ", p.id);
    return absl::NotFoundError(absl::StrCat("recovery point ", point_id, " is not kept in ", dir,
                                            " (kept: ", have.empty() ? "none" : have, ")"));
  }
  const uint32_t bs = s.block_size;
  const uint64_t vs = s.virtual_size;
  // block offset -> (delta index, record); the oldest delta at/after the point wins.
  std::vector<std::unique_ptr<BlockLogReader>> deltas;
  std::map<uint64_t, std::pair<size_t, BlockLogRecord>> overrides;
  for (size_t i = idx; i + 1 < s.points.size(); ++i) {
    ASR_ASSIGN_OR_RETURN(auto r, BlockLogReader::Open(JoinPath(dir, s.points[i].delta_file)));
    for (const BlockLogRecord& rec : r->records()) {
      overrides.emplace(rec.offset, std::make_pair(deltas.size(), rec));
    }
    deltas.push_back(std::move(r));
  }
  ASR_ASSIGN_OR_RETURN(auto replica,
                       disk::OpenDisk(JoinPath(dir, s.replica_file), disk::OpenMode::kReadOnly));
  disk::CreateOptions co;
  co.format = options.format == disk::DiskFormat::kAuto ? FormatForPath(out_path) : options.format;
  co.type = co.format == disk::DiskFormat::kRaw ? disk::DiskType::kFixed : disk::DiskType::kDynamic;
  co.virtual_size = vs;
  co.overwrite = options.overwrite;
  if (!options.overwrite && PathExists(out_path)) {
    return absl::AlreadyExistsError(absl::StrCat(out_path, " exists; choose another output"));
  }
  ASR_ASSIGN_OR_RETURN(auto out, disk::CreateDisk(out_path, co));
  std::string buf;
  auto write_nonzero = [&](uint64_t off, const uint8_t* p, uint64_t n) -> absl::Status {
    if (IsAllZero(p, n)) return absl::OkStatus();
    return out->WriteAt(off, absl::MakeConstSpan(p, n));
  };
  // The replica's data, except where an older point differs.
  ASR_RETURN_IF_ERROR(ForPresent(*replica, 0, vs, [&](uint64_t o, uint64_t n) -> absl::Status {
    uint64_t start = o / bs * bs;
    uint64_t end = std::min<uint64_t>((o + n + bs - 1) / bs * bs, vs);
    for (uint64_t c = start; c < end; c += kIoChunk) {
      uint64_t m = std::min<uint64_t>(kIoChunk, end - c);
      buf.resize(m);
      uint8_t* p = reinterpret_cast<uint8_t*>(buf.data());
      ASR_RETURN_IF_ERROR(replica->ReadAt(c, absl::MakeSpan(p, m)));
      for (uint64_t b = 0; b < m; b += bs) {
        uint64_t len = std::min<uint64_t>(bs, m - b);
        if (overrides.count(c + b)) continue;
        ASR_RETURN_IF_ERROR(write_nonzero(c + b, p + b, len));
      }
    }
    return absl::OkStatus();
  }));
  std::string data;
  for (const auto& [off, ref] : overrides) {
    if (ref.second.type != RecordType::kBlock) continue;  // zero: the new disk reads zeros
    ASR_RETURN_IF_ERROR(deltas[ref.first]->ReadData(ref.second, &data));
    ASR_RETURN_IF_ERROR(
        write_nonzero(off, reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }
  ASR_RETURN_IF_ERROR(out->Flush());
  return out->Close();
}

model::ReplicaPointList PointsToProto(const std::vector<RecoveryPoint>& points) {
  model::ReplicaPointList list;
  for (const RecoveryPoint& p : points) {
    model::ReplicaPoint* m = list.add_points();
    m->set_id(p.id);
    m->set_time(absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", p.time, absl::UTCTimeZone()));
    m->set_source_time(
        absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", p.source_time, absl::UTCTimeZone()));
    m->set_consistency(p.app_consistent ? "app" : "crash");
    m->set_latest(p.latest);
    m->set_mode(CycleModeName(p.mode));
  }
  return list;
}

std::string PointsToJson(const std::vector<RecoveryPoint>& points) {
  // A JSON array of the list's messages, each through the one JSON function.
  std::vector<std::string> items;
  const model::ReplicaPointList list = PointsToProto(points);
  for (const model::ReplicaPoint& p : list.points()) {
    items.push_back(model::ToJson(p));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

}  // namespace asr::replication
