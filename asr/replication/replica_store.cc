#include "asr/replication/replica_store.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_lock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/platform/env.h"
#include "asr/replication/direct_writer.h"
#include "asr/replication/partial_cycle.h"
#include "asr/replication/point_manifest.h"
#include "asr/replication/replica_internal.h"
#include "asr/replication/replica_layout.h"
#include "asr/replication/replica_repair.h"
#include "asr/replication/replica_state.h"

namespace asr::replication {
namespace {

using State = ReplicaStore::State;

// The names in `dir` (none if it cannot be read).
std::vector<std::string> ListDir(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = platform::Env::Default()->ListDirectory(dir);
  return names.ok() ? *std::move(names) : std::vector<std::string>();
}

// FailedPrecondition when the replica in `dir` is failed over (its state
// file says so: views and failover are changed beside a running receiver).
absl::Status CheckNotFailedOver(const std::string& dir, const model::ReplicaFailoverState& f) {
  if (!f.active()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the replica is failed over; ", dir, " accepts no cycles ",
      f.committed() ? "(the failover is committed): replicate in the reverse direction instead"
                    : "until the failover is canceled (CancelFailover) or, once committed, "
                      "replicate in the reverse direction"));
}

// The layout fields of the state file (replica_layout.h) into `s`, which a
// store keeps in memory while views and failover change the file beside it;
// an interrupted change of the layout is finished first. The caller holds
// the exclusive apply lock.
absl::Status RefreshLayout(const std::string& dir, ReplicaStore::State* s) {
  ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
  ReplicaStore::State& f = loaded.state;
  if (!f.applying) ASR_RETURN_IF_ERROR(RecoverLayout(dir, &f));
  if (!f.has_replica) return absl::OkStatus();
  s->overlay = f.overlay;
  s->failover = f.failover;
  s->replica_file = f.replica_file;
  s->generation = std::max(s->generation, f.generation);
  if (f.failover.active()) {
    s->points = f.points;
    s->current_cycle = f.current_cycle;
  }
  return absl::OkStatus();
}

// Removes `path`; a failure is ignored (debris is removed best effort).
void RemoveFile(const std::string& path) { (void)platform::Env::Default()->Unlink(path); }

// Copies the record stored in `from` into `to` unchanged.
absl::Status CopyRecord(const BlockLogReader& from, const BlockLogRecord& rec, BlockLogWriter& to) {
  if (rec.type == RecordType::kZero) return to.AppendZero(rec.offset, rec.length);
  std::string payload;
  ASR_RETURN_IF_ERROR(from.ReadPayload(rec, &payload));
  return to.AppendBlock(rec.offset, rec.length, rec.codec, rec.raw_crc, payload);
}

std::string ReplicaFileName(disk::DiskFormat format) {
  return format == disk::DiskFormat::kVhd ? "replica.vhd" : "replica.vhdx";
}

}  // namespace

// --------------------------------------------------------------- ReplicaStore

ReplicaStore::ReplicaStore(std::string dir, ReplicaOptions options)
    : dir_(std::move(dir)),
      options_(std::move(options)),
      additional_points_(options_.additional_points),
      point_interval_(options_.point_interval),
      retention_(options_.retention) {}

ReplicaStore::~ReplicaStore() { receiver_lock_.Release(); }

void ReplicaStore::Hook(const char* step) const {
  if (options_.step_hook) options_.step_hook(step);
}

absl::StatusOr<std::unique_ptr<ReplicaStore>> ReplicaStore::Open(const std::string& dir,
                                                                 const ReplicaOptions& options) {
  ASR_RETURN_IF_ERROR(CheckPointOptions(options));
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "journal")));
  ASR_RETURN_IF_ERROR(MakeDirectories(JoinPath(dir, "points")));
  std::unique_ptr<ReplicaStore> store(new ReplicaStore(dir, options));
  absl::Status locked = store->receiver_lock_.TryLock(JoinPath(dir, "receiver.lock"));
  if (absl::IsFailedPrecondition(locked)) {
    return absl::FailedPreconditionError(
        absl::StrCat(locked.message(), ": another receiver is serving this replica directory"));
  }
  ASR_RETURN_IF_ERROR(locked);
  if (!options.writer.empty()) {
    ASR_RETURN_IF_ERROR(CheckDisplayName("writer", options.writer, kMaxIdentifierBytes));
  }
  ASR_ASSIGN_OR_RETURN(LoadedState loaded, LoadReplicaState(dir));
  State& st = loaded.state;
  const bool exists = PathExists(JoinPath(dir, kReplicaStateFile));
  if (!st.writer.empty() && !options.writer.empty() && st.writer != options.writer) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica in ", dir, " is written by '", st.writer,
                     "' (recorded when it was created), but this receiver was told its writer is '",
                     options.writer, "'; start it with --writer ", st.writer,
                     ", or give the other host's disk its own replica directory"));
  }
  bool save = loaded.legacy;  // an older receiver's text format: rewrite it once
  if (exists && st.writer.empty() && !options.writer.empty()) {
    st.writer = options.writer;  // a replica from before writers were recorded
    save = true;
  }
  if (save) ASR_RETURN_IF_ERROR(SaveReplicaState(dir, st));
  {
    absl::MutexLock l(&store->mu_);
    store->writer_ = st.writer.empty() ? options.writer : st.writer;
    store->state_ = std::make_unique<State>(std::move(st));
  }
  ASR_RETURN_IF_ERROR(store->Recover());
  return store;
}

absl::Status ReplicaStore::CheckPointOptions(const ReplicaOptions& options) {
  if (options.additional_points < 0 || options.additional_points > 24) {
    return absl::InvalidArgumentError(
        absl::StrCat("additional recovery points must be 0..24, not ", options.additional_points));
  }
  if (options.point_interval < absl::ZeroDuration() || options.retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the recovery points' interval (", absl::FormatDuration(options.point_interval),
        ") and retention (", absl::FormatDuration(options.retention), ") cannot be negative"));
  }
  return absl::OkStatus();
}

absl::Status ReplicaStore::UpdatePointOptions(const ReplicaOptions& options) {
  ASR_RETURN_IF_ERROR(CheckPointOptions(options));
  absl::MutexLock l(&mu_);
  additional_points_ = options.additional_points;
  point_interval_ = options.point_interval;
  retention_ = options.retention;
  return absl::OkStatus();
}

absl::Status ReplicaStore::Recover() {
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir_, "apply.lock")));
  absl::MutexLock l(&mu_);
  // Views and failover (replica_overlay.h): an interrupted change of the
  // layout is finished first (a cycle's apply never runs beside one).
  if (!state_->applying) ASR_RETURN_IF_ERROR(RefreshLayout(dir_, state_.get()));
  if (state_->applying) {
    hello_.virtual_size = state_->virtual_size;
    hello_.block_size = state_->block_size;
    hello_.replication_id = state_->replication_id;
    hello_.source_disk_id = state_->source_disk_id;
    ASR_RETURN_IF_ERROR(FinishApply(nullptr));
  }
  // An interrupted cycle kept for resuming (partial_cycle.h): the next
  // cycle's, with its data, or nothing.
  const uint64_t next = state_->has_replica ? state_->current_cycle + 1 : 1;
  const std::string direct_file = ReplicaFileName(options_.format);
  std::optional<PartialCycle> partial;
  if (state_->current_cycle != UINT64_MAX) {
    partial = LoadPartialCycle(dir_, next, direct_file);
  }
  if (partial && (partial->direct == state_->has_replica ||
                  (state_->has_replica && !(partial->flags & kCycleFull) &&
                   partial->base_cycle != state_->current_cycle))) {
    partial.reset();
  }
  const std::string partial_record = absl::StrCat("cycle-", next, ".resume");
  const std::string partial_journal = absl::StrCat("cycle-", next, ".blog.tmp");
  const std::string partial_direct = absl::StrCat(direct_file, ".tmp");
  // Whatever the committed state does not reference is debris of an
  // interrupted cycle.
  std::set<std::string> keep;
  for (const RecoveryPoint& p : state_->points) {
    if (!p.delta_file.empty()) keep.insert(p.delta_file);
  }
  for (const std::string& n : ListDir(JoinPath(dir_, "journal"))) {
    if (partial && (n == partial_record || (!partial->direct && n == partial_journal))) continue;
    RemoveFile(JoinPath(dir_, JoinPath("journal", n)));
  }
  for (const std::string& n : ListDir(JoinPath(dir_, "points"))) {
    std::string rel = JoinPath("points", n);
    if (!keep.count(rel)) RemoveFile(JoinPath(dir_, rel));
  }
  partial_ = std::move(partial);
  for (const std::string& n : ListDir(dir_)) {
    if (partial_ && partial_->direct && n == partial_direct) continue;
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      RemoveFile(JoinPath(dir_, n));
    }
  }
  if (!state_->has_replica) {
    // A first cycle renamed its replica into place but died before the
    // state recorded it: not a point.
    for (disk::DiskFormat f : {disk::DiskFormat::kVhdx, disk::DiskFormat::kVhd}) {
      RemoveFile(JoinPath(dir_, ReplicaFileName(f)));
    }
  }
  return absl::OkStatus();
}

absl::Status ReplicaStore::CompleteInterruptedApply() {
  {
    absl::MutexLock l(&mu_);
    if (!state_->applying) return absl::OkStatus();
  }
  absl::Status s = Recover();
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the newest point of the replica in ", dir_,
                     " is committed but could not be written into it: ", s.message(),
                     "; fix the cause (e.g. free space) and retry: the point is applied first"));
  }
  return absl::OkStatus();
}

ReplicaInfo ReplicaStore::info() const {
  absl::MutexLock l(&mu_);
  ReplicaInfo i;
  i.writer = writer_;
  i.has_replica = state_->has_replica;
  i.replication_id = state_->replication_id;
  i.source_disk_id = state_->source_disk_id;
  i.virtual_size = state_->virtual_size;
  i.block_size = state_->block_size;
  i.current_cycle = state_->current_cycle;
  i.replica_path = JoinPath(dir_, state_->replica_file);
  return i;
}

std::vector<RecoveryPoint> ReplicaStore::points() const {
  absl::MutexLock l(&mu_);
  return state_->points;
}

ResumeCounters ReplicaStore::resume_counters() const {
  absl::MutexLock l(&mu_);
  return resume_;
}

uint64_t ReplicaStore::peak_cycle_memory() const {
  absl::MutexLock l(&mu_);
  return peak_cycle_memory_;
}

void ReplicaStore::NoteCycleMemory(uint64_t bytes) {
  absl::MutexLock l(&mu_);
  peak_cycle_memory_ = std::max(peak_cycle_memory_, bytes);
}

void ReplicaStore::EndCycle() {
  absl::MutexLock l(&mu_);
  cycle_open_ = false;
}

absl::Status ReplicaStore::AuthorizeWriter(absl::string_view identity) const {
  absl::MutexLock l(&mu_);
  if (writer_.empty()) {
    return absl::FailedPreconditionError(
        "this receiver has no named writer for its replica, so it accepts none: start it with "
        "'asrctl replica serve --writer HOST' (HOST: the common name of the primary host's "
        "certificate)");
  }
  if (identity.empty()) {
    return absl::PermissionDeniedError(
        "a connection without a host certificate name is not authorized to replicate to this "
        "receiver");
  }
  if (identity != writer_) {
    return absl::PermissionDeniedError(
        absl::StrCat("host certificate CN=", EscapeForMessage(identity),
                     " is not authorized to replicate to this "
                     "receiver"));
  }
  return absl::OkStatus();
}

absl::Status ReplicaStore::CheckHello(const Hello& h) const {
  if (h.block_size < kMinBlockSize || h.block_size > kMaxBlockSize ||
      (h.block_size & (h.block_size - 1)) != 0 || h.virtual_size == 0 || h.replication_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("protocol violation: HELLO with block size ",
                                                   h.block_size, ", disk size ", h.virtual_size,
                                                   ", replication id '", h.replication_id, "'"));
  }
  {
    // Views and failover change the state file beside a receiver.
    ASR_ASSIGN_OR_RETURN(LoadedState on_disk, LoadReplicaState(dir_));
    ASR_RETURN_IF_ERROR(CheckNotFailedOver(dir_, on_disk.state.failover));
  }
  absl::MutexLock l(&mu_);
  if (!state_->has_replica) return absl::OkStatus();
  if (h.replication_id != state_->replication_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("this replica directory holds replication ", state_->replication_id, ", not ",
                     h.replication_id, "; give each disk its own replica directory"));
  }
  if (h.virtual_size != state_->virtual_size || h.block_size != state_->block_size) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica is ", state_->virtual_size, " bytes in ", state_->block_size,
                     "-byte blocks; the sender has ", h.virtual_size, " in ", h.block_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CycleWriter>> ReplicaStore::BeginCycle(const Hello& hello,
                                                                      const CycleStart& start) {
  ASR_RETURN_IF_ERROR(CheckHello(hello));
  {
    ASR_ASSIGN_OR_RETURN(LoadedState on_disk, LoadReplicaState(dir_));
    ASR_RETURN_IF_ERROR(CheckNotFailedOver(dir_, on_disk.state.failover));
  }
  absl::MutexLock l(&mu_);
  if (cycle_open_) {
    return absl::UnavailableError(
        "another cycle of this replica is being received; retry when it ends");
  }
  if (state_->applying) {
    return absl::FailedPreconditionError(
        "an earlier cycle failed while being applied; it is retried when the next sender "
        "connects, or when the receiver restarts");
  }
  if (!state_->has_replica) {
    if (!start.full()) {
      return absl::FailedPreconditionError(
          "the replica has no point yet: the first cycle must be an initial replication");
    }
  } else {
    if (!start.full() && start.base_cycle != state_->current_cycle) {
      return absl::FailedPreconditionError(
          absl::StrCat("cycle ", start.cycle, " is a delta over point ", start.base_cycle,
                       " but the replica is at point ", state_->current_cycle));
    }
  }
  // Only the next number: a sender cannot skip ahead (a cycle of 2^64-1
  // would leave no number for the rightful sender's next one).
  if (state_->current_cycle == UINT64_MAX) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica in ", dir_, " is at point ", state_->current_cycle,
                     ", the last cycle number; re-create the replica to continue"));
  }
  const uint64_t expected = state_->current_cycle + 1;
  if (start.cycle != expected) {
    return absl::FailedPreconditionError(
        absl::StrCat("cycle ", start.cycle, " refused: the replica is at point ",
                     state_->current_cycle, ", so the next cycle must be number ", expected));
  }
  hello_ = hello;
  // A kept interrupted cycle: continued when this is the same cycle and
  // plan (partial_cycle.h), else dropped, its record first.
  std::optional<PartialCycle> partial = std::move(partial_);
  partial_.reset();
  if (partial && !(partial->Matches(hello, start) && partial->direct == !state_->has_replica)) {
    RemoveFile(PartialCyclePath(dir_, partial->cycle));
    partial.reset();
  }
  std::unique_ptr<CycleWriter> w(new CycleWriter(this, start));
  w->block_size_ = hello.block_size;
  w->by_crc_ = std::min(kProtocolVersion, hello.max_version) >= kDigestByCrcVersion;
  w->long_codec_ = std::min(kProtocolVersion, hello.max_version) >= kLongCodecVersion;
  w->virtual_size_ = hello.virtual_size;
  w->mark_.cycle = start.cycle;
  w->mark_.base_cycle = start.base_cycle;
  w->mark_.mode = static_cast<uint8_t>(start.mode);
  w->mark_.flags = start.flags;
  w->mark_.plan_id = start.plan_id;
  w->mark_.replication_id = hello.replication_id;
  w->mark_.source_disk_id = hello.source_disk_id;
  w->mark_.virtual_size = hello.virtual_size;
  w->mark_.block_size = hello.block_size;
  w->mark_.direct = !state_->has_replica;
  if (!state_->has_replica) {
    // The first point: straight into a new replica file (see the diagram).
    w->direct_ = true;
    w->direct_file_ = ReplicaFileName(options_.format);
    w->direct_tmp_ = JoinPath(dir_, absl::StrCat(w->direct_file_, ".tmp"));
    disk::CreateOptions co;
    co.format = options_.format;
    co.type = disk::DiskType::kDynamic;
    co.virtual_size = hello.virtual_size;
    co.block_size = options_.format == disk::DiskFormat::kVhdx ? options_.disk_block_size : 0;
    co.overwrite = true;
    if (partial) {  // the interrupted first cycle's new replica, flushed up to its checkpoint
      absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> kept =
          disk::OpenDisk(w->direct_tmp_, disk::OpenMode::kReadWrite);
      if (kept.ok() && (*kept)->virtual_size() == hello.virtual_size) {
        w->direct_disk_ = *std::move(kept);
        w->ResumeFrom(*partial);
      } else {
        RemoveFile(PartialCyclePath(dir_, partial->cycle));
        partial.reset();
      }
    }
    if (!w->direct_disk_) {
      ASR_ASSIGN_OR_RETURN(w->direct_disk_, disk::CreateDisk(w->direct_tmp_, co));
    }
    // The new replica's data is written once and read back only at restore
    // or failover: past the page cache (no copy into it, no writeback of it
    // competing with the sender for the CPU) where the file system allows.
    (void)w->direct_disk_->EnableDirectWrites();
    // Only to start writeback early: without it the final flush waits longer.
    absl::StatusOr<std::unique_ptr<platform::File>> writeback =
        platform::Env::Default()->Open(w->direct_tmp_, platform::OpenOptions());
    if (writeback.ok()) w->writeback_ = std::move(*writeback);
    w->writer_ = std::make_unique<DirectWriter>(
        w->direct_disk_.get(), [this](const char* step) { Hook(step); }, w->writeback_.get());
    cycle_open_ = w->holds_slot_ = true;  // until w ends (its destructor)
    w->resumable_ = start.resumable;
    if (partial) ++resume_.resumed_cycles, resume_.resumed_bytes += partial->raw_bytes;
    return w;
  }
  w->journal_path_ = JoinPath(dir_, absl::StrCat("journal/cycle-", start.cycle, ".blog"));
  if (partial) {  // the interrupted cycle's journal, cut to its checkpoint
    absl::Status reopened = w->journal_.Reopen(w->journal_path_, partial->journal_bytes,
                                               partial->journal_records, partial->raw_bytes);
    if (reopened.ok()) {
      w->ResumeFrom(*partial);
    } else {
      RemoveFile(PartialCyclePath(dir_, partial->cycle));
      partial.reset();
    }
  }
  if (!partial) {
    ASR_RETURN_IF_ERROR(
        w->journal_.Create(w->journal_path_, start.cycle, hello.block_size, hello.virtual_size));
  }
  cycle_open_ = w->holds_slot_ = true;  // until w ends (its destructor)
  w->resumable_ = start.resumable;
  if (partial) ++resume_.resumed_cycles, resume_.resumed_bytes += partial->raw_bytes;
  return w;
}

absl::Status ReplicaStore::CommitFirstPoint(const CycleStart& start,
                                            const std::string& replica_file) {
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.Lock(JoinPath(dir_, "apply.lock")));
  absl::MutexLock l(&mu_);
  const Clock& clock = options_.clock ? *options_.clock : Clock::Real();
  State next = *state_;
  next.has_replica = true;
  next.writer = writer_;
  next.replication_id = hello_.replication_id;
  next.source_disk_id = hello_.source_disk_id;
  next.virtual_size = hello_.virtual_size;
  next.block_size = hello_.block_size;
  next.replica_file = replica_file;
  next.current_cycle = start.cycle;
  next.additional_points = additional_points_;
  next.interval_s = absl::ToInt64Seconds(point_interval_);
  next.retention_s = absl::ToInt64Seconds(retention_);
  RecoveryPoint p;
  p.id = start.cycle;
  p.time = clock.Now();
  p.source_time = absl::FromUnixMicros(start.source_time_us);
  p.app_consistent = start.app_consistent();
  p.mode = start.mode;
  p.latest = true;
  next.points.assign(1, p);
  SaveLatestManifest(dir_, std::nullopt, start.cycle, replica_file, hello_.block_size);
  Hook("manifest");
  Hook("save-first");
  absl::Status saved = SaveReplicaState(dir_, next);
  if (!saved.ok()) {
    (void)SaveReplicaState(dir_, *state_);  // as in MarkApplying
    return saved;
  }
  *state_ = std::move(next);
  Hook("committed");
  return absl::OkStatus();
}

absl::Status ReplicaStore::MarkApplying(const std::string& journal, const CycleStart& start,
                                        std::unique_ptr<FileLock>* apply_lock) {
  auto apply = std::make_unique<FileLock>();
  ASR_RETURN_IF_ERROR(apply->Lock(JoinPath(dir_, "apply.lock")));
  absl::MutexLock l(&mu_);
  ASR_RETURN_IF_ERROR(RefreshLayout(dir_, state_.get()));
  ASR_RETURN_IF_ERROR(CheckNotFailedOver(dir_, state_->failover));
  const Clock& clock = options_.clock ? *options_.clock : Clock::Real();
  // The new state is made in a copy and becomes the store's only once it is
  // durable: a failure below leaves the store at its previous point, as the
  // sender is told.
  State s = *state_;
  std::string undo_path;  // removed again when the commit point is not reached
  auto fail = [&](absl::Status st) {
    if (!undo_path.empty()) RemoveFile(undo_path);
    return st;
  };
  // Capture the undo (the current point's contents where this cycle writes)
  // while the replica still is that point.
  std::string undo_rel;
  if (s.has_replica && additional_points_ > 0) {
    absl::Status captured = [&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(std::unique_ptr<BlockLogReader> log, BlockLogReader::Open(journal));
      undo_rel = absl::StrCat("points/point-", s.current_cycle, "-", ++s.generation, ".blog");
      undo_path = JoinPath(dir_, undo_rel);
      ASR_ASSIGN_OR_RETURN(
          auto replica, disk::OpenDisk(JoinPath(dir_, s.replica_file), disk::OpenMode::kReadOnly));
      BlockLogWriter undo;
      ASR_RETURN_IF_ERROR(
          undo.Create(JoinPath(dir_, undo_rel), s.current_cycle, s.block_size, s.virtual_size));
      BlockCompressor compressor(1);
      EncodedBlock enc;
      std::string old;
      std::set<uint64_t> seen;
      auto capture = [&](uint64_t off) -> absl::Status {
        if (!seen.insert(off).second) return absl::OkStatus();
        uint32_t len = BlockLen(off, s.block_size, s.virtual_size);
        old.resize(len);
        ASR_RETURN_IF_ERROR(
            replica->ReadAt(off, absl::MakeSpan(reinterpret_cast<uint8_t*>(old.data()), len)));
        const uint8_t* p = reinterpret_cast<const uint8_t*>(old.data());
        if (IsAllZero(p, len)) return undo.AppendZero(off, len);
        compressor.Encode(p, len, &enc);
        return undo.AppendBlock(off, len, static_cast<uint8_t>(enc.codec), Crc32c(p, len),
                                enc.payload);
      };
      ASR_RETURN_IF_ERROR(ForEachJournalEntry(
          *log, [&](uint64_t off, const uint8_t*, uint64_t) { return capture(off); },
          [&](uint64_t off, uint64_t len) {
            // Only blocks the replica holds can change when zeroed.
            return ForPresent(*replica, off, len, [&](uint64_t o, uint64_t n) -> absl::Status {
              uint64_t first = o / s.block_size, last = (o + n - 1) / s.block_size;
              for (uint64_t b = first; b <= last; ++b) {
                ASR_RETURN_IF_ERROR(capture(b * s.block_size));
              }
              return absl::OkStatus();
            });
          }));
      ASR_RETURN_IF_ERROR(undo.Seal(kZeroDigest));
      return replica->Close();
    }();
    if (!captured.ok()) return fail(captured);
    Hook("undo");
  }
  // The commit point: from here on, recovery rolls forward.
  s.applying = true;
  s.apply_start = start;
  s.apply_journal = journal.substr(dir_.size() + 1);
  s.apply_undo = undo_rel;
  s.apply_time_us = absl::ToUnixMicros(clock.Now());
  if (!s.has_replica) {
    s.replication_id = hello_.replication_id;
    s.source_disk_id = hello_.source_disk_id;
    s.virtual_size = hello_.virtual_size;
    s.block_size = hello_.block_size;
    s.replica_file = ReplicaFileName(options_.format);
  }
  s.additional_points = additional_points_;
  s.interval_s = absl::ToInt64Seconds(point_interval_);
  s.retention_s = absl::ToInt64Seconds(retention_);
  s.writer = writer_;
  Hook("save-applying");
  absl::Status saved = SaveReplicaState(dir_, s);
  if (!saved.ok()) {
    // The file may hold either state now (a failure after the rename):
    // put the previous one back so that a restart agrees with the sender's
    // error ACK and the store's memory. The sender resends the cycle.
    (void)SaveReplicaState(dir_, *state_);
    return fail(saved);
  }
  *state_ = std::move(s);
  Hook("applying");
  *apply_lock = std::move(apply);
  return absl::OkStatus();
}

absl::Status ReplicaStore::FinishApply(const CycleWriter* kept) {
  State& s = *state_;
  const std::string journal = JoinPath(dir_, s.apply_journal);
  const std::string replica_path = JoinPath(dir_, s.replica_file);
  std::unique_ptr<disk::VirtualDisk> replica;
  const bool fresh = !s.has_replica;
  if (fresh) {
    disk::CreateOptions co;
    co.format = options_.format;
    co.type = disk::DiskType::kDynamic;
    co.virtual_size = s.virtual_size;
    co.block_size = options_.format == disk::DiskFormat::kVhdx ? options_.disk_block_size : 0;
    co.overwrite = true;
    ASR_ASSIGN_OR_RETURN(replica, disk::CreateDisk(replica_path, co));
  } else {
    ASR_ASSIGN_OR_RETURN(replica, disk::OpenDisk(replica_path, disk::OpenMode::kReadWrite));
  }
  // The latest point's block digests (point_manifest.h), updated below with
  // the blocks written; rebuilt from the replica when there is none.
  std::optional<PointManifest> manifest = ManifestToUpdate(
      dir_, s.current_cycle, s.apply_start.cycle, s.virtual_size, s.block_size, fresh);
  // Redo: adjacent blocks are written together.
  std::string batch;
  uint64_t batch_off = 0;
  auto flush_batch = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    ASR_RETURN_IF_ERROR(replica->WriteAt(
        batch_off,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(batch.data()), batch.size())));
    batch.clear();
    Hook("apply-write");
    return absl::OkStatus();
  };
  std::string zeros;
  auto on_block = [&](uint64_t off, const uint8_t* p, uint64_t n) -> absl::Status {
    if (!batch.empty() && (batch_off + batch.size() != off || batch.size() >= kIoChunk)) {
      ASR_RETURN_IF_ERROR(flush_batch());
    }
    if (batch.empty()) batch_off = off;
    batch.append(reinterpret_cast<const char*>(p), n);
    if (manifest.has_value()) {
      for (uint64_t o = 0; o < n; o += s.block_size) {
        manifest->SetBlock(off + o, p + o, std::min<uint64_t>(s.block_size, n - o));
      }
    }
    return absl::OkStatus();
  };
  auto on_zero = [&](uint64_t off, uint64_t len) -> absl::Status {
    ASR_RETURN_IF_ERROR(flush_batch());
    if (manifest.has_value()) manifest->SetZero(off, len);
    if (fresh) return absl::OkStatus();  // a new disk reads as zeros already
    return ForPresent(*replica, off, len, [&](uint64_t o, uint64_t n) -> absl::Status {
      while (n > 0) {
        uint64_t m = std::min<uint64_t>(n, kIoChunk);
        zeros.assign(m, '\0');
        ASR_RETURN_IF_ERROR(replica->WriteAt(
            o, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(zeros.data()), m)));
        o += m;
        n -= m;
      }
      return absl::OkStatus();
    });
  };
  // The cycle's blocks and zero ranges, in order: decoded in memory, or
  // from the journal.
  if (kept != nullptr) {
    for (const CycleWriter::Kept& k : kept->kept_) {
      if (k.zero) {
        ASR_RETURN_IF_ERROR(on_zero(k.offset, k.length));
      } else {
        ASR_RETURN_IF_ERROR(on_block(k.offset, k.data, k.length));
      }
    }
  } else {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<BlockLogReader> log, BlockLogReader::Open(journal));
    ASR_RETURN_IF_ERROR(ForEachJournalEntry(*log, on_block, on_zero));
  }
  ASR_RETURN_IF_ERROR(flush_batch());
  ASR_RETURN_IF_ERROR(replica->Close());  // flushes
  Hook("applied");
  SaveLatestManifest(dir_, std::move(manifest), s.apply_start.cycle, s.replica_file, s.block_size);
  Hook("manifest");

  // The new list of points.
  State next = s;
  std::vector<std::string> drop_files;
  if (!next.points.empty()) {
    next.points.back().latest = false;
    next.points.back().delta_file = s.apply_undo;
  }
  RecoveryPoint p;
  p.id = s.apply_start.cycle;
  p.time = absl::FromUnixMicros(s.apply_time_us);
  p.source_time = absl::FromUnixMicros(s.apply_start.source_time_us);
  p.app_consistent = s.apply_start.app_consistent();
  p.mode = s.apply_start.mode;
  p.latest = true;
  next.points.push_back(p);
  std::vector<RecoveryPoint>& pts = next.points;
  auto drop_oldest = [&]() {
    if (!pts.front().delta_file.empty()) drop_files.push_back(pts.front().delta_file);
    pts.erase(pts.begin());
  };
  // Undeltaed older points cannot be restored: drop them.
  while (pts.size() > 1 && pts.front().delta_file.empty()) drop_oldest();
  // Spacing: the point just demoted is always kept for one more cycle (so
  // that a VM whose disks commit one after another always has the previous
  // instant on every disk: a crash between two disks' commits leaves that
  // whole point); the one demoted before it stays only if far enough from
  // the one before. By source time, as retention below: every disk of a VM
  // gets the same source times, so each keeps the same instants
  // (vm_points.h).
  if (pts.size() >= 4) {
    RecoveryPoint& q = pts[pts.size() - 4];
    RecoveryPoint& d = pts[pts.size() - 3];
    if (d.source_time - q.source_time < point_interval_) {
      ASR_ASSIGN_OR_RETURN(auto qr, BlockLogReader::Open(JoinPath(dir_, q.delta_file)));
      ASR_ASSIGN_OR_RETURN(auto dr, BlockLogReader::Open(JoinPath(dir_, d.delta_file)));
      std::string merged = absl::StrCat("points/point-", q.id, "-", ++next.generation, ".blog");
      BlockLogWriter w;
      ASR_RETURN_IF_ERROR(w.Create(JoinPath(dir_, merged), q.id, s.block_size, s.virtual_size));
      std::set<uint64_t> have;
      for (const BlockLogRecord& r : qr->records()) {
        have.insert(r.offset);
        ASR_RETURN_IF_ERROR(CopyRecord(*qr, r, w));
      }
      for (const BlockLogRecord& r : dr->records()) {
        if (!have.count(r.offset)) ASR_RETURN_IF_ERROR(CopyRecord(*dr, r, w));
      }
      ASR_RETURN_IF_ERROR(w.Seal(kZeroDigest));
      drop_files.push_back(q.delta_file);
      drop_files.push_back(d.delta_file);
      q.delta_file = merged;
      pts.erase(pts.end() - 3);
    }
  }
  // Retention age (behind the newest point's source time, not this host's
  // clock, for the same reason) and count, oldest first.
  const absl::Time newest = pts.back().source_time;
  // The point before the latest is kept whatever its age (see above).
  while (pts.size() > 2 && newest - pts.front().source_time > retention_) drop_oldest();
  while (pts.size() > 1 + static_cast<size_t>(additional_points_)) drop_oldest();

  next.applying = false;
  next.has_replica = true;
  next.current_cycle = s.apply_start.cycle;
  next.apply_journal.clear();
  next.apply_undo.clear();
  ASR_RETURN_IF_ERROR(SaveReplicaState(dir_, next));
  *state_ = next;
  Hook("committed");
  RemoveFile(journal);
  for (const std::string& f : drop_files) RemoveFile(JoinPath(dir_, f));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReplicaStore::CheckVerifyRequest(const VerifyRequest& r) const {
  absl::MutexLock l(&mu_);
  if (!state_->has_replica) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica in ", dir_, " has no recovery point yet; nothing to verify"));
  }
  if (state_->applying) {
    return absl::FailedPreconditionError(
        absl::StrCat("the newest point of the replica in ", dir_,
                     " is not completely applied yet; verify after the next cycle"));
  }
  const uint64_t total = (state_->virtual_size + state_->block_size - 1) / state_->block_size;
  if (r.block_size != state_->block_size || r.first_block > total ||
      r.block_count > total - r.first_block) {
    return absl::InvalidArgumentError(
        absl::StrCat("verification of blocks ", r.first_block, "..+", r.block_count, " of ",
                     r.block_size, " bytes does not match the replica: ", total, " blocks of ",
                     state_->block_size, " bytes (", state_->virtual_size, " bytes)"));
  }
  return state_->current_cycle;
}

absl::Status ReplicaStore::DigestLatestPoint(const VerifyRequest& request, size_t batch,
                                             const DigestSink& sink) const {
  ASR_RETURN_IF_ERROR(CheckVerifyRequest(request).status());
  std::string replica_file;
  uint64_t virtual_size = 0;
  {
    absl::MutexLock l(&mu_);
    replica_file = state_->replica_file;
    virtual_size = state_->virtual_size;
  }
  // Shared, as a restore: a lister or restorer may read alongside.
  FileLock apply;
  ASR_RETURN_IF_ERROR(apply.LockShared(JoinPath(dir_, "apply.lock")));
  {
    // The latest point's file may have moved (a failover holds it aside).
    ASR_ASSIGN_OR_RETURN(LoadedState on_disk, LoadReplicaState(dir_));
    if (on_disk.state.has_replica) replica_file = on_disk.state.replica_file;
  }
  // A truncated replica is made readable (replica_repair.h): its lost blocks
  // then differ from the sender's digests, and a resynchronization resends them.
  ASR_RETURN_IF_ERROR(ExtendTruncatedReplica(JoinPath(dir_, replica_file), virtual_size).status());
  ASR_ASSIGN_OR_RETURN(auto replica,
                       disk::OpenDisk(JoinPath(dir_, replica_file), disk::OpenMode::kReadOnly));
  return DigestDiskBlocks(*replica, request.hasher, request.block_size, request.first_block,
                          request.block_count, batch, sink, nullptr);
}

}  // namespace asr::replication
