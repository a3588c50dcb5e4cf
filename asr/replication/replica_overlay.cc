#include "asr/replication/replica_overlay.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_lock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/platform/error.h"
#include "asr/replication/block_log.h"
#include "asr/replication/manifest.h"
#include "asr/replication/point_manifest.h"
#include "asr/replication/replica_internal.h"
#include "asr/replication/replica_layout.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/verifier.h"

namespace asr::replication {
namespace {

using State = ReplicaStore::State;
using Step = model::ReplicaOverlayStep;
using View = model::ReplicaOverlayView;

constexpr char kFailoverName[] = "failover";

// The directory's state under its exclusive apply lock, an interrupted
// apply or layout change finished first.
absl::StatusOr<State> LockedForLayout(const std::string& dir, FileLock& apply) {
  if (!PathExists(JoinPath(dir, kReplicaStateFile))) {
    return absl::NotFoundError(
        absl::StrCat(dir, " is not a replica directory (no ", kReplicaStateFile, ")"));
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir, "apply.lock")));
    ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
    if (!loaded.state.applying) {
      ASR_RETURN_IF_ERROR(RecoverLayout(dir, &loaded.state));
      return std::move(loaded.state);
    }
    // A receiver died while applying (a running one holds the lock until
    // its apply ends): finish its work as a restart would.
    const State& s = loaded.state;
    apply.Release();
    ReplicaOptions o;
    o.additional_points = s.additional_points;
    o.point_interval = absl::Seconds(s.interval_s);
    o.retention = absl::Seconds(s.retention_s);
    o.format =
        absl::EndsWith(s.replica_file, ".vhd") ? disk::DiskFormat::kVhd : disk::DiskFormat::kVhdx;
    absl::StatusOr<std::unique_ptr<ReplicaStore>> store = ReplicaStore::Open(dir, o);
    if (!store.ok() && !absl::IsFailedPrecondition(store.status())) return store.status();
  }
  return absl::UnavailableError(absl::StrCat(
      dir,
      ": a cycle committed to the replica is not applied yet (its receiver retries it); "
      "try again in a moment"));
}

absl::Status CheckViewName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      ok = false;
    }
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("view name '", EscapeForMessage(name), "' must be 1..64 of a-z, 0-9 and '-'"));
  }
  return absl::OkStatus();
}

// The index of point `id` (0: the latest) in s.points, else NotFound
// naming the points kept.
absl::StatusOr<size_t> FindPoint(const std::string& dir, const State& s, uint64_t id) {
  if (!s.has_replica || s.points.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " holds no replica yet: replicate the disk first"));
  }
  if (id == 0) return s.points.size() - 1;
  for (size_t i = 0; i < s.points.size(); ++i) {
    if (s.points[i].id == id) return i;
  }
  std::string have;
  for (const RecoveryPoint& p : s.points) absl::StrAppend(&have, have.empty() ? "" : ", ", p.id);
  return absl::NotFoundError(
      absl::StrCat("recovery point ", id, " is not kept in ", dir, " (kept: ", have, ")"));
}

const View* FindView(const State& s, absl::string_view name) {
  for (const View& v : s.overlay.views()) {
    if (v.name() == name) return &v;
  }
  return nullptr;
}

void RemoveView(State* s, absl::string_view name) {
  auto* views = s->overlay.mutable_views();
  for (int i = 0; i < views->size(); ++i) {
    if (views->Get(i).name() == name) {
      views->DeleteSubrange(i, 1);
      return;
    }
  }
}

OverlayInfo ToInfo(const std::string& dir, const View& v) {
  OverlayInfo i;
  i.name = v.name();
  i.path = LayoutPath(dir, v.path());
  i.point_id = v.point_id();
  i.source_time = absl::FromUnixMicros(v.source_time_us());
  i.app_consistent = v.app_consistent();
  i.bytes_written = v.bytes_written();
  return i;
}

View MakeView(const std::string& name, const std::string& path, const RecoveryPoint& p,
              uint64_t bytes) {
  View v;
  v.set_name(name);
  v.set_path(path);
  v.set_point_id(p.id);
  v.set_source_time_us(absl::ToUnixMicros(p.source_time));
  v.set_app_consistent(p.app_consistent);
  v.set_bytes_written(bytes);
  v.set_created_us(absl::ToUnixMicros(absl::Now()));
  return v;
}

// Makes `out` a differencing disk over the frozen base that shows point
// s.points[idx]: the blocks where the latest point (`latest_file`, a
// differencing disk over the base) holds its own data, and the blocks of
// the reverse deltas from that point on (the oldest delta's wins, as
// RestorePoint composes them). Returns the bytes written.
absl::StatusOr<uint64_t> BuildView(const std::string& dir, const State& s, size_t idx,
                                   const std::string& latest_file, const std::string& out) {
  const uint32_t bs = s.block_size;
  const uint64_t vs = s.virtual_size;
  std::vector<std::unique_ptr<BlockLogReader>> deltas;
  std::map<uint64_t, std::pair<size_t, BlockLogRecord>> overrides;
  for (size_t i = idx; i + 1 < s.points.size(); ++i) {
    ASR_ASSIGN_OR_RETURN(auto r, BlockLogReader::Open(JoinPath(dir, s.points[i].delta_file)));
    for (const BlockLogRecord& rec : r->records()) {
      overrides.emplace(rec.offset, std::make_pair(deltas.size(), rec));
    }
    deltas.push_back(std::move(r));
  }
  ASR_ASSIGN_OR_RETURN(auto latest,
                       disk::OpenDisk(JoinPath(dir, latest_file), disk::OpenMode::kReadOnly));
  // The blocks the latest point holds apart from the base.
  std::map<uint64_t, bool> blocks;  // offset -> from an override
  if (latest->parent() != nullptr) {
    ASR_ASSIGN_OR_RETURN(std::vector<disk::Extent> own, latest->GetAllocationMap(0, vs));
    for (const disk::Extent& e : own) {
      if (e.state == disk::ExtentState::kAbsent || e.length == 0) continue;
      for (uint64_t b = e.offset / bs * bs; b < e.offset + e.length; b += bs) blocks[b] = false;
    }
  }
  for (const auto& [off, ref] : overrides) blocks[off] = true;

  disk::CreateOptions co;
  // The base's format, whatever the view's name says (a differencing
  // disk's parent is of its own format).
  co.format = LayoutExtension(s) == ".vhd" ? disk::DiskFormat::kVhd : disk::DiskFormat::kVhdx;
  co.type = disk::DiskType::kDifferencing;
  co.parent_path = JoinPath(dir, s.overlay.base_file());
  co.overwrite = true;
  ASR_ASSIGN_OR_RETURN(auto view, disk::CreateDisk(out, co));
  uint64_t written = 0;
  std::string data;
  // Adjacent blocks are written together.
  std::string batch;
  uint64_t batch_off = 0;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    ASR_RETURN_IF_ERROR(view->WriteAt(
        batch_off,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(batch.data()), batch.size())));
    written += batch.size();
    batch.clear();
    return absl::OkStatus();
  };
  for (const auto& [off, overridden] : blocks) {
    if (off >= vs) continue;
    const uint32_t len = BlockLen(off, bs, vs);
    if (overridden) {
      const auto& ref = overrides.at(off);
      if (ref.second.type == RecordType::kBlock) {
        ASR_RETURN_IF_ERROR(deltas[ref.first]->ReadData(ref.second, &data));
      } else {
        data.assign(ref.second.length, '\0');
      }
    } else {
      data.resize(len);
      ASR_RETURN_IF_ERROR(
          latest->ReadAt(off, absl::MakeSpan(reinterpret_cast<uint8_t*>(data.data()), len)));
    }
    if (!batch.empty() && (batch_off + batch.size() != off || batch.size() >= kIoChunk)) {
      ASR_RETURN_IF_ERROR(flush());
    }
    if (batch.empty()) batch_off = off;
    batch.append(data);
  }
  ASR_RETURN_IF_ERROR(flush());
  ASR_RETURN_IF_ERROR(view->Close());
  LayoutHook("view-made");
  return written;
}

std::string Absolute(const std::string& path) {
  if (absl::StartsWith(path, "/")) return path;
  absl::StatusOr<std::string> cwd = platform::Env::Default()->CurrentDirectory();
  return cwd.ok() ? JoinPath(*cwd, path) : path;
}

bool SameFile(const std::string& a, const std::string& b) {
  platform::Env* env = platform::Env::Default();
  absl::StatusOr<platform::FileInfo> x = env->Stat(a), y = env->Stat(b);
  return x.ok() && y.ok() && x->inode == y->inode && x->device == y->device;
}

// Whether `path` is a view over `dir`'s base (so that deleting it deletes
// nothing else, whatever the state file says).
bool IsViewOverBase(const std::string& dir, const State& s, const std::string& path) {
  if (s.overlay.base_file().empty()) return false;
  absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> d =
      disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  return d.ok() && (*d)->parent() != nullptr &&
         SameFile((*d)->info().parent_path, JoinPath(dir, s.overlay.base_file()));
}

absl::Status MergeIfUnused(const std::string& dir, State* s) {
  if (s->overlay.views().empty() && !s->failover.active()) return MergeReplica(dir, s);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OverlayInfo> CreateOverlay(const std::string& dir, const OverlayRequest& request) {
  ASR_RETURN_IF_ERROR(CheckViewName(request.name));
  if (request.name == kFailoverName) {
    return absl::InvalidArgumentError(
        "the view name 'failover' is reserved for BeginFailover; choose another");
  }
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  if (s.failover.committed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the failover of ", dir,
                     " is committed: its recovery points are gone, so there is "
                     "nothing to make a view of"));
  }
  ASR_ASSIGN_OR_RETURN(size_t idx, FindPoint(dir, s, request.point_id));
  if (FindView(s, request.name) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("a view named '", request.name, "' exists in ",
                                                 dir, "; delete it first or choose another name"));
  }
  const std::string ext = LayoutExtension(s);
  const std::string rel =
      request.path.empty() ? JoinPath("overlays", request.name + ext) : Absolute(request.path);
  const std::string path = LayoutPath(dir, rel);
  if (PathExists(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat(path, " exists; choose another path for the view"));
  }
  if (request.path.empty()) ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "overlays")));
  ASR_RETURN_IF_ERROR(FreezeReplica(dir, &s));
  const std::string tmp = path + ".tmp";
  absl::StatusOr<uint64_t> bytes = BuildView(dir, s, idx, s.replica_file, tmp);
  if (!bytes.ok()) {
    (void)platform::Env::Default()->Unlink(tmp);
    (void)MergeIfUnused(dir, &s);  // the freeze was for this view only
    return bytes.status();
  }
  State next = s;
  *next.overlay.add_views() = MakeView(request.name, rel, s.points[idx], *bytes);
  Step* st = next.overlay.add_pending();
  st->set_kind(Step::RENAME);
  st->set_from(rel + ".tmp");
  st->set_to(rel);
  st->set_to_is_new(true);
  absl::Status committed = CommitLayout(dir, std::move(next), &s);
  if (!committed.ok()) {
    // Not saved: the new file is debris; saved: recovery finishes it.
    if (FindView(s, request.name) == nullptr) (void)platform::Env::Default()->Unlink(tmp);
    return committed;
  }
  return ToInfo(dir, *FindView(s, request.name));
}

absl::StatusOr<std::vector<OverlayInfo>> ListOverlays(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  std::vector<OverlayInfo> out;
  for (const View& v : s.overlay.views()) out.push_back(ToInfo(dir, v));
  std::sort(out.begin(), out.end(),
            [](const OverlayInfo& a, const OverlayInfo& b) { return a.name < b.name; });
  return out;
}

absl::Status DeleteOverlay(const std::string& dir, absl::string_view name) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  const View* v = FindView(s, name);
  if (v == nullptr) return absl::OkStatus();
  if (name == kFailoverName && s.failover.active()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the view 'failover' is the failed-over VM's disk; end the failover with "
                     "CancelFailover (or make it final with CommitFailover) instead"));
  }
  State next = s;
  const std::string path = v->path();
  RemoveView(&next, name);
  // Only a view over this base is deleted, whatever the state file says.
  if (IsViewOverBase(dir, s, LayoutPath(dir, path))) {
    if (absl::StartsWith(path, "/")) {
      // Outside the directory: removed while the state still names it (a
      // crash leaves the entry, which a second call drops).
      ASR_RETURN_IF_ERROR(platform::Env::Default()->Unlink(path));
      ASR_RETURN_IF_ERROR(FsyncDirectory(DirName(path)));
    } else {
      Step* st = next.overlay.add_pending();
      st->set_kind(Step::REMOVE);
      st->set_from(path);
    }
  }
  ASR_RETURN_IF_ERROR(CommitLayout(dir, std::move(next), &s));
  return MergeIfUnused(dir, &s);
}

absl::StatusOr<OverlayInfo> BeginFailover(const std::string& dir, uint64_t point_id,
                                          const std::string& vm_disk_path) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  if (s.failover.active()) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir, " is already failed over to point ", s.failover.point_id(),
        s.failover.committed() ? " (committed)"
                               : "; use ChangeFailoverPoint, or CancelFailover first"));
  }
  ASR_ASSIGN_OR_RETURN(size_t idx, FindPoint(dir, s, point_id));
  const std::string vm_name = VmDiskName(s);
  const std::string vm = JoinPath(dir, vm_name);
  const std::string linked = Absolute(vm_disk_path);
  if (!SameFile(linked, vm)) {
    return absl::InvalidArgumentError(
        absl::StrCat(vm_disk_path, " is not the replica VM's disk of ", dir, ": give ", vm,
                     " or its hard link (AdoptDiskAsReplica makes one)"));
  }
  ASR_RETURN_IF_ERROR(FreezeReplica(dir, &s));
  State next = s;
  const uint64_t g = ++next.generation;
  const std::string ext = LayoutExtension(s);
  const std::string held = absl::StrCat("latest-", g, ext);
  const std::string made = absl::StrCat("failover-", g, ext);
  absl::StatusOr<uint64_t> bytes = BuildView(dir, s, idx, s.replica_file, JoinPath(dir, made));
  if (!bytes.ok()) {
    (void)platform::Env::Default()->Unlink(JoinPath(dir, made));
    (void)MergeIfUnused(dir, &s);
    return bytes.status();
  }
  const RecoveryPoint& p = s.points[idx];
  if (linked != vm) next.overlay.set_linked_disk_path(linked);
  model::ReplicaFailoverState& f = next.failover;
  f.set_active(true);
  f.set_committed(false);
  f.set_point_id(p.id);
  f.set_source_time_us(absl::ToUnixMicros(p.source_time));
  f.set_app_consistent(p.app_consistent);
  f.set_vm_disk_path(linked);
  f.set_held_file(held);
  *next.overlay.add_views() = MakeView(kFailoverName, vm_name, p, *bytes);
  next.replica_file = held;
  Step* a = next.overlay.add_pending();
  a->set_kind(Step::RENAME);
  a->set_from(vm_name);
  a->set_to(held);
  a->set_to_is_new(true);
  Step* b = next.overlay.add_pending();
  b->set_kind(Step::RENAME);
  b->set_from(made);
  b->set_to(vm_name);
  absl::Status committed = CommitLayout(dir, std::move(next), &s);
  if (!committed.ok()) {
    if (!s.failover.active()) (void)platform::Env::Default()->Unlink(JoinPath(dir, made));
    return committed;
  }
  OverlayInfo info = ToInfo(dir, *FindView(s, kFailoverName));
  info.path = s.failover.vm_disk_path();
  return info;
}

absl::StatusOr<OverlayInfo> ChangeFailoverPoint(const std::string& dir, uint64_t point_id) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  if (!s.failover.active()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " is not failed over; begin a failover first"));
  }
  if (s.failover.committed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the failover of ", dir, " is committed: its recovery points are gone"));
  }
  ASR_ASSIGN_OR_RETURN(size_t idx, FindPoint(dir, s, point_id));
  State next = s;
  const uint64_t g = ++next.generation;
  const std::string made = absl::StrCat("failover-", g, LayoutExtension(s));
  ASR_ASSIGN_OR_RETURN(uint64_t bytes, BuildView(dir, s, idx, s.replica_file, JoinPath(dir, made)));
  const RecoveryPoint& p = s.points[idx];
  const std::string vm_name = VmDiskName(s);
  RemoveView(&next, kFailoverName);
  *next.overlay.add_views() = MakeView(kFailoverName, vm_name, p, bytes);
  next.failover.set_point_id(p.id);
  next.failover.set_source_time_us(absl::ToUnixMicros(p.source_time));
  next.failover.set_app_consistent(p.app_consistent);
  Step* b = next.overlay.add_pending();
  b->set_kind(Step::RENAME);
  b->set_from(made);
  b->set_to(vm_name);
  absl::Status committed = CommitLayout(dir, std::move(next), &s);
  if (!committed.ok()) {
    if (s.generation < g) (void)platform::Env::Default()->Unlink(JoinPath(dir, made));
    return committed;
  }
  OverlayInfo info = ToInfo(dir, *FindView(s, kFailoverName));
  info.path = s.failover.vm_disk_path();
  return info;
}

absl::Status CancelFailover(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  if (!s.failover.active()) return absl::OkStatus();
  if (s.failover.committed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the failover of ", dir,
                     " is committed and cannot be canceled; replicate in the "
                     "reverse direction to fail back"));
  }
  State next = s;
  const std::string vm_name = VmDiskName(s);
  Step* a = next.overlay.add_pending();
  a->set_kind(Step::RENAME);
  a->set_from(s.failover.held_file());
  a->set_to(vm_name);
  next.replica_file = vm_name;
  next.failover.Clear();
  RemoveView(&next, kFailoverName);
  ASR_RETURN_IF_ERROR(CommitLayout(dir, std::move(next), &s));
  return MergeIfUnused(dir, &s);
}

absl::Status CommitFailover(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  if (!s.failover.active()) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " is not failed over; there is nothing to commit"));
  }
  if (s.failover.committed()) return absl::OkStatus();
  State next = s;
  RecoveryPoint kept;
  for (const RecoveryPoint& p : s.points) {
    if (p.id == s.failover.point_id()) kept = p;
    if (!p.delta_file.empty()) {
      Step* st = next.overlay.add_pending();
      st->set_kind(Step::REMOVE);
      st->set_from(p.delta_file);
    }
  }
  kept.delta_file.clear();
  kept.latest = true;
  next.points.assign(1, kept);
  next.current_cycle = kept.id;
  const std::string vm_name = VmDiskName(s);
  Step* h = next.overlay.add_pending();
  h->set_kind(Step::REMOVE);
  h->set_from(s.failover.held_file());
  // The latest point's digests describe what is discarded now.
  Step* m = next.overlay.add_pending();
  m->set_kind(Step::REMOVE);
  m->set_from(kPointManifestFile);
  next.replica_file = vm_name;
  next.failover.set_committed(true);
  next.failover.clear_held_file();
  return CommitLayout(dir, std::move(next), &s);
}

absl::StatusOr<FailoverInfo> ReadFailoverInfo(const std::string& dir) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(dir, apply));
  FailoverInfo i;
  i.failed_over = s.failover.active();
  i.committed = s.failover.committed();
  i.point_id = s.failover.point_id();
  i.source_time = absl::FromUnixMicros(s.failover.source_time_us());
  i.vm_disk_path = s.failover.vm_disk_path();
  return i;
}

// ------------------------------------------------------------------ adopting

namespace {

// Replaces the disk at `path`, a differencing chain, by one standalone file
// of the same format holding what the chain reads (the VM that owns the
// path is off: it is a failed-over or replica VM's disk).
absl::Status FlattenDisk(const std::string& path) {
  std::unique_ptr<disk::VirtualDisk> chain;
  ASR_ASSIGN_OR_RETURN(chain, disk::OpenDisk(path, disk::OpenMode::kReadOnly));
  if (chain->parent() == nullptr) return absl::OkStatus();
  const std::string tmp = absl::StrCat(path, ".asrflat.tmp");
  disk::CreateOptions co;
  co.format = chain->info().format;
  co.type = disk::DiskType::kDynamic;
  co.virtual_size = chain->virtual_size();
  co.block_size = co.format == disk::DiskFormat::kVhdx ? 2 << 20 : 0;
  co.overwrite = true;
  ASR_ASSIGN_OR_RETURN(auto out, disk::CreateDisk(tmp, co));
  std::string buf;
  absl::Status copied =
      ForPresent(*chain, 0, chain->virtual_size(), [&](uint64_t o, uint64_t n) -> absl::Status {
        while (n > 0) {
          const uint64_t m = std::min<uint64_t>(n, kIoChunk);
          buf.resize(m);
          uint8_t* p = reinterpret_cast<uint8_t*>(buf.data());
          ASR_RETURN_IF_ERROR(chain->ReadAt(o, absl::MakeSpan(p, m)));
          if (!IsAllZero(p, m)) ASR_RETURN_IF_ERROR(out->WriteAt(o, absl::MakeConstSpan(p, m)));
          o += m;
          n -= m;
        }
        return absl::OkStatus();
      });
  if (copied.ok()) copied = out->Close();
  if (!copied.ok()) {
    (void)platform::Env::Default()->Unlink(tmp);
    return copied;
  }
  chain.reset();
  ASR_RETURN_IF_ERROR(platform::Env::Default()->Rename(tmp, path));
  return FsyncDirectory(DirName(path));
}

}  // namespace

absl::Status AdoptDiskAsReplica(const std::string& dir, const std::string& disk_path,
                                const AdoptOptions& options) {
  ASR_RETURN_IF_ERROR(CheckIdentifier("replication id", options.replication_id));
  ASR_RETURN_IF_ERROR(CheckSourceDiskId(options.source_disk_id));
  if (!options.writer.empty()) {
    ASR_RETURN_IF_ERROR(CheckDisplayName("writer", options.writer, kMaxIdentifierBytes));
  }
  const uint32_t bs = options.block_size;
  if (bs < kMinBlockSize || bs > kMaxBlockSize || (bs & (bs - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("block size ", bs, " must be a power of two in 4 KiB..4 MiB"));
  }
  ReplicaOptions policy;
  policy.additional_points = options.additional_points;
  policy.point_interval = options.point_interval;
  policy.retention = options.retention;
  ASR_RETURN_IF_ERROR(ReplicaStore::CheckPointOptions(policy));
  const std::string disk_abs = Absolute(disk_path);
  if (!PathExists(disk_abs)) {
    return absl::NotFoundError(absl::StrCat("no disk at ", disk_path, " to adopt"));
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "journal")));
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "points")));
  FileLock receiver;
  absl::Status locked = receiver.TryLock(JoinPath(dir, "receiver.lock"));
  if (absl::IsFailedPrecondition(locked)) {
    return absl::FailedPreconditionError(absl::StrCat(locked.message(), ": a receiver is serving ",
                                                      dir, "; stop it before adopting a disk"));
  }
  ASR_RETURN_IF_ERROR(locked);
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir, "apply.lock")));
  ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
  if (loaded.state.has_replica) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir, " already holds the replica of replication ", loaded.state.replication_id,
                     "; adopt into a new, empty directory"));
  }
  ASR_RETURN_IF_ERROR(FlattenDisk(disk_abs));
  ASR_ASSIGN_OR_RETURN(auto d, disk::OpenDisk(disk_abs, disk::OpenMode::kReadOnly));
  std::string name;
  if (d->info().format == disk::DiskFormat::kVhdx) {
    name = "replica.vhdx";
  } else if (d->info().format == disk::DiskFormat::kVhd) {
    name = "replica.vhd";
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(disk_path, " is a raw image; only a VHDX or VHD disk can be adopted"));
  }
  const std::string replica = JoinPath(dir, name);
  if (PathExists(replica) && !SameFile(replica, disk_abs)) {
    // Debris of a first cycle that never committed (the state has no replica).
    ASR_RETURN_IF_ERROR(platform::Env::Default()->Unlink(replica));
  }
  absl::Status linked = PathExists(replica) ? absl::OkStatus()
                                            : platform::Env::Default()->HardLink(disk_abs, replica);
  if (!linked.ok()) {
    if (platform::ErrorKindOf(linked) == platform::ErrorKind::kCrossDevice) {
      return absl::InvalidArgumentError(
          absl::StrCat(disk_path, " and ", dir,
                       " are on different file systems: the replica must be a hard "
                       "link of the disk; choose a replica directory on the disk's file system"));
    }
    return platform::AddContext(linked, absl::StrCat("cannot link ", disk_path, " as ", replica));
  }
  ASR_RETURN_IF_ERROR(FsyncDirectory(dir));
  // The digests of the point the disk is, for the sender's manifest and
  // local verification.
  ASR_ASSIGN_OR_RETURN(PointManifest m, BuildPointManifest(*d, 1, bs));
  ASR_RETURN_IF_ERROR(SavePointManifest(dir, m));
  State s;
  s.has_replica = true;
  s.writer = options.writer;
  s.replication_id = options.replication_id;
  s.source_disk_id = options.source_disk_id;
  s.virtual_size = d->virtual_size();
  s.block_size = bs;
  s.replica_file = name;
  s.current_cycle = 1;
  s.additional_points = options.additional_points;
  s.interval_s = absl::ToInt64Seconds(options.point_interval);
  s.retention_s = absl::ToInt64Seconds(options.retention);
  RecoveryPoint p;
  p.id = 1;
  p.time = absl::Now();
  p.source_time = p.time;
  p.mode = CycleMode::kScan;
  p.latest = true;
  s.points.push_back(p);
  s.overlay.set_linked_disk_path(disk_abs);
  return SaveReplicaState(dir, s);
}

absl::Status WriteAdoptedSourceManifest(const std::string& adopted_dir,
                                        const std::string& source_disk_path) {
  FileLock apply;
  ASR_ASSIGN_OR_RETURN(State s, LockedForLayout(adopted_dir, apply));
  if (!s.has_replica) {
    return absl::FailedPreconditionError(
        absl::StrCat(adopted_dir, " holds no replica; adopt a disk into it first"));
  }
  ASR_ASSIGN_OR_RETURN(std::optional<PointManifest> pm, LoadPointManifest(adopted_dir));
  if (!pm.has_value() || pm->point != s.current_cycle || pm->block_size != s.block_size ||
      pm->virtual_size != s.virtual_size) {
    return absl::FailedPreconditionError(absl::StrCat(
        adopted_dir, " has no digests of its current point ", s.current_cycle,
        "; the sender must replicate it in full (an initial replication into a new directory)"));
  }
  ASR_ASSIGN_OR_RETURN(auto src, disk::OpenDisk(source_disk_path, disk::OpenMode::kReadOnly));
  if (src->virtual_size() != s.virtual_size) {
    return absl::FailedPreconditionError(
        absl::StrCat(source_disk_path, " is ", src->virtual_size(), " bytes but the replica in ",
                     adopted_dir, " is ", s.virtual_size, "; they are not the same disk"));
  }
  Manifest m;
  m.replication_id = s.replication_id;
  m.source_disk_id = src->info().disk_id;
  m.virtual_size = s.virtual_size;
  m.block_size = s.block_size;
  m.cycle = s.current_cycle;
  m.hasher = pm->hasher();
  m.digests.resize(pm->digests.size());
  for (size_t i = 0; i < pm->digests.size(); ++i) {
    std::copy(pm->digests[i].begin(), pm->digests[i].end(), m.digests[i].begin());
  }
  ASR_RETURN_IF_ERROR(SaveManifest(ManifestPath(source_disk_path), m));
  absl::Status gone = platform::Env::Default()->Unlink(PendingManifestPath(source_disk_path));
  if (!gone.ok() && !absl::IsNotFound(gone)) return gone;
  return ClearResyncMarker(source_disk_path);
}

}  // namespace asr::replication
