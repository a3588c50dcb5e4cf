// asr/replication/replica_store.h: the recovery host's replica of one disk
// and its recovery points, applied crash-safely.
//
// Directory layout (REPLICA_DIR):
//   replica.vhdx          the latest recovery point, a normal VHDX that
//                         qemu-img and Hyper-V read (VHD when asked)
//   replica.state         what is committed: identity, writer (the CN of
//                         the one host allowed to write), current point, the
//                         kept points and their delta files, and the phase;
//                         the ReplicaState message's JSON and its CRC-32C
//                         (replica_state.h), replaced atomically (write
//                         temp, fsync, rename, fsync dir)
//   journal/cycle-N.blog  a received cycle's redo journal (sealed, fsynced)
//   points/point-P-G.blog the reverse delta of older point P: P's contents
//                         of the blocks where the next newer kept point
//                         differs (G: a generation, new on every rewrite)
//   receiver.lock         flock: one receiver per directory
//   apply.lock            flock: exclusive while a cycle is applied, shared
//                         while points are listed or restored
//
// The first cycle (no replica yet: the previous point is "nothing") needs
// no journal: its blocks are written, as they arrive, straight into a new
// replica.vhdx.tmp; CYCLE_END matches: flush, rename to replica.vhdx, fsync
// dir, state := {idle, current: N}, ACK. A crash before the state is saved
// leaves no replica (the temporary or renamed file is debris, deleted on
// recovery), never a torn one.
//
// Applying a later cycle N (class CycleWriter, then ReplicaStore's commit):
//
//   [Receiving] BLOCK/ZERO_RANGE frames verified (CRC-32C, cycle digest)
//       |       and appended to journal/cycle-N.blog.tmp; the
//       |       decoded blocks are also kept in memory (up to a budget)
//       |  CYCLE_END matches: seal, fsync, rename, fsync dir
//       v
//   [Sealed] ---- capture undo: the replica's current contents of every
//       |         block the journal touches -> points/point-(N-1)-G.blog
//       |         (skipped when no additional points are kept)
//       |  state := {phase: applying N, journal, undo}     <- the commit point
//       |  ACK (the point is durable: a crash from here rolls forward)
//       v
//   [Applying] write the blocks (from memory, else the journal) into
//       |  replica.vhdx, flush
//       |  prune/merge reverse deltas into new files (fsync)
//       |  state := {phase: idle, current: N, points}
//       v
//   [Committed] delete the journal and unreferenced delta files
//
// The state changes only once it is durable: each step builds the next
// state in a copy, saves it (temp, fsync, rename, fsync dir) and only then
// makes it the store's. A save that fails leaves the store, its state file
// (the previous one is written back) and a restart at the previous point,
// as the sender's error ACK says; its retry commits the point.
//
// A state file is data, not a list of files to trust: every name in it
// must be a plain name in its place (replica_state.h), else Open, listing
// and restore refuse it (DataLoss) and nothing is read or deleted.
//
// Crash recovery (on Open): phase idle -> the replica is the current
// point; any journal, temp or unreferenced file is deleted (a cycle that
// had not reached the commit point is simply lost and the sender resends
// it), except the next cycle's kept partial data (see Resume below).
// Phase applying -> the sealed journal is applied again from the start
// (idempotent: it holds whole blocks), then committed. Either way the
// replica equals a whole point, never a mix.
//
// Resume of an interrupted cycle (protocol 5; protocol.h "Resume",
// partial_cycle.h): while a cycle is received, each CYCLE_CHECKPOINT marks
// where its data may be kept. Every ReplicaOptions::resume_sync_bytes of
// blocks, and when the cycle is interrupted (the connection breaks or
// stalls past its timeout, the receiver closes), the data up to the last
// checkpoint is made durable (journal fsync; a first cycle's new replica
// flushed) and then journal/cycle-N.resume records it. The state file is
// not touched: the replica stays on its last whole point, points and
// restores never see the partial cycle, and recovery keeps only the next
// cycle's record with its data (everything else is debris, as above). A
// CYCLE_START of that cycle with the same plan continues it (the journal
// cut back to the checkpoint, or the new replica reopened); any other
// drops it first. A cycle that fails its checks keeps nothing. The commit
// is unchanged: the cycle digest covers the kept and the new frames alike.
//
// Recovery points: the latest point is replica.vhdx itself; each older
// kept point P is a reverse delta over the next newer kept point. Restoring
// P writes, for each block, the value from the oldest delta at or after P
// that holds it, else the replica's — without touching the replica. A
// point demoted from latest is kept for one more cycle (the previous
// instant, whatever its spacing and age: a VM's disks commit one after
// another, and a crash between them must leave the previous whole point on
// every disk); when it is demoted further it stays only if it is at least
// point_interval after the previous kept point; a dropped middle point's
// delta is merged into its older neighbour's (the older one's blocks win);
// points past the retention age or over the count are dropped oldest first.
// Spacing and age are measured in source time (the instant the primary
// host's snapshot was taken, CycleStart::source_time_us), the age behind the
// newest point's: the disks of one VM replicate with the same source times,
// so each of their replicas keeps and drops the same instants (vm_points.h).
// UpdatePointOptions changes the count, spacing and age from the next
// commit; fewer points are pruned then.
//
//   ReplicaOptions o;
//   o.additional_points = 4;
//   o.point_interval = absl::Hours(1);
//   ASR_ASSIGN_OR_RETURN(auto store, ReplicaStore::Open("/replicas/vm1-disk0", o));
//   ASR_ASSIGN_OR_RETURN(auto cycle, store->BeginCycle(hello, start));
//   ASR_RETURN_IF_ERROR(cycle->AddBlock(header, payload));
//   ASR_ASSIGN_OR_RETURN(uint64_t point, cycle->Commit(end));
//   ASR_RETURN_IF_ERROR(RestorePoint("/replicas/vm1-disk0", point, "/tmp/r.vhdx", {}));
//
// Files, one concept each: replica_store.cc (the store: open, recovery,
// commit, apply, pruning), cycle_writer.h (a cycle being received),
// direct_writer.h (a first cycle's writes on their own thread),
// aligned_bytes.h (its buffers), replica_state.h (replica.state, the
// ReplicaState message), replica_restore.cc (listing, restore, JSON),
// replica_internal.h (block helpers they share).
#ifndef ASR_REPLICATION_REPLICA_STORE_H_
#define ASR_REPLICATION_REPLICA_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/common/file_lock.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/replication.pb.h"
#include "asr/replication/block_codec.h"
#include "asr/replication/cycle_writer.h"
#include "asr/replication/disk_digest.h"
#include "asr/replication/protocol.h"

namespace asr::replication {

struct ReplicaOptions {
  int additional_points = 0;                          // 0..24, besides the latest
  absl::Duration point_interval = absl::Hours(1);     // spacing of kept points (source time)
  absl::Duration retention = absl::Hours(24);         // older points are pruned (source time)
  const Clock* clock = nullptr;                       // default: the real clock
  disk::DiskFormat format = disk::DiskFormat::kVhdx;  // of a new replica
  uint32_t disk_block_size = 2 << 20;                 // allocation unit of a new replica
  // The identity allowed to write the replica: the common name of the
  // primary host's certificate (ByteStream::PeerIdentity()). A replica
  // records its writer when it is created and accepts no other: Open fails
  // (FailedPrecondition, naming both) when this differs from the recorded
  // one; a replica that records none (new, or from before writers were
  // recorded) takes this one. With neither, every writer is refused.
  std::string writer;
  // Test hook: called at named steps of an apply ("sealed", "undo",
  // "save-applying" before the commit point's save, "applying",
  // "apply-write" after each write into the replica, "applied",
  // "committed"; resume: "resume-synced" after a periodic sync's record,
  // "resume-kept" after an interrupted cycle's; for a first cycle
  // "direct-write" after each write into the
  // new replica, "direct-flushed", "direct-renamed", "save-first" before
  // its state's save, "committed") so tests can inject failures (e.g. kill
  // the process, or make the save fail).
  std::function<void(const char* step)> step_hook;
  // Resume (protocol 5): a cycle's received data (journal, or a first
  // cycle's new replica) is made durable, with a record of where it ends,
  // every this many raw bytes of blocks, and whenever the cycle is
  // interrupted; a crash loses at most this much (an interrupted connection
  // nothing). 0: at every checkpoint (about every read chunk of the sender).
  uint64_t resume_sync_bytes = 32 << 20;
};

// What resuming did for a store (ReplicaStore::resume_counters).
struct ResumeCounters {
  uint64_t resumed_cycles = 0;     // cycles that continued a kept partial one
  uint64_t resumed_bytes = 0;      // raw bytes of blocks they did not receive again
  uint64_t interruptions = 0;      // cycles interrupted (connection lost, receiver closed)
  uint64_t kept_cycles = 0;        // of them, kept for a resume
  uint64_t dropped_bytes = 0;      // raw bytes received after the last checkpoint, dropped
  uint64_t max_dropped_bytes = 0;  // the most one interruption dropped
  // The same in bytes of the stream (frames, a frame cut short included):
  // what the receiver had read after the last checkpoint when the session
  // broke, all of which the sender sends again.
  uint64_t dropped_stream_bytes = 0;
  uint64_t max_dropped_stream_bytes = 0;
  uint64_t syncs = 0;  // periodic syncs of received data
};

struct RecoveryPoint {
  uint64_t id = 0;         // the cycle that produced it
  absl::Time time;         // when the recovery host committed it
  absl::Time source_time;  // the source snapshot's instant (the sender's)
  bool app_consistent = false;
  bool latest = false;
  CycleMode mode = CycleMode::kInitial;
  std::string delta_file;  // relative to the directory; empty for the latest
};

struct ReplicaInfo {
  bool has_replica = false;
  std::string replication_id;
  std::string source_disk_id;
  uint64_t virtual_size = 0;
  uint32_t block_size = 0;
  uint64_t current_cycle = 0;
  std::string replica_path;
  std::string writer;  // recorded, else configured; empty: none
};

// What a peer can make a cycle cost the receiver, each refused with
// ResourceExhausted naming the limit (a real sender sends each block of the
// disk at most once per cycle, and stays far inside all of them):
//  - entries (blocks plus zero ranges): at most the disk's blocks;
//  - decoded bytes of blocks: at most the disk's virtual size;
//  - the journal: at most the virtual size plus kJournalOverheadPerBlock per
//    block plus kJournalOverhead (record headers, group headers);
//  - memory: decoded blocks and the entries' metadata kept for the apply
//    share one budget (256 MiB); past it the apply reads the journal again.
//    Direct writes of a first cycle use the writer's fixed buffer pool.
inline constexpr uint64_t kJournalOverheadPerBlock = 64;
inline constexpr uint64_t kJournalOverhead = 1 << 20;

// Thread safety: all public methods are serialized by an internal mutex;
// at most one cycle is open at a time (BeginCycle refuses a second).
class ReplicaStore {
 public:
  // Opens (creating when missing) a replica directory, takes its receiver
  // lock (FailedPrecondition when another receiver holds it) and recovers
  // an interrupted apply.
  static absl::StatusOr<std::unique_ptr<ReplicaStore>> Open(const std::string& dir,
                                                            const ReplicaOptions& options);
  ~ReplicaStore();

  ReplicaInfo info() const;
  std::vector<RecoveryPoint> points() const;

  // Takes additional_points, point_interval and retention from `options`
  // (the other fields are fixed when the store is opened); they apply from
  // the next commit, which prunes the points they no longer keep.
  // InvalidArgument as Open for values out of range.
  absl::Status UpdatePointOptions(const ReplicaOptions& options);
  // InvalidArgument when the point fields of `options` are out of range
  // (additional_points 0..24, interval and retention not negative).
  static absl::Status CheckPointOptions(const ReplicaOptions& options);

  // Whether `identity` (the peer's certificate CN) may write this replica:
  // OK for its writer; PermissionDenied "host certificate CN=<identity> is
  // not authorized ..." for any other (the message names only the peer's
  // own identity, nothing of the replica); FailedPrecondition when the
  // replica has no writer (the receiver must be started with one).
  absl::Status AuthorizeWriter(absl::string_view identity) const;
  // Checks a sender's HELLO against this replica; the error says why a
  // sender is refused (another disk, another size; FailedPrecondition "the
  // replica is failed over; ..." while it is, replica_overlay.h).
  absl::Status CheckHello(const Hello& hello) const;
  // Completes a cycle that passed its commit point but whose apply failed
  // (say, the disk was full), as a restart of the receiver would: OK when
  // there is none or it is now applied; else FailedPrecondition saying why,
  // and the next call tries again. Receivers call it for every new sender.
  absl::Status CompleteInterruptedApply();
  // Starts receiving a cycle. FailedPrecondition when `start` is not based
  // on the current point (or is not a full copy when there is none), when
  // its number is not the current point's + 1 (the first: 1), or while an
  // interrupted apply is still incomplete, or while the replica is failed
  // over (replica_overlay.h); Unavailable while another cycle
  // is open (the CycleWriter is alive).
  absl::StatusOr<std::unique_ptr<CycleWriter>> BeginCycle(const Hello& hello,
                                                          const CycleStart& start);

  // For VERIFY_REQUEST: checks `request` against the replica (the latest
  // point exists and no apply is pending: FailedPrecondition; the block size
  // and the range match the replica's geometry: InvalidArgument) and
  // returns the latest point's id.
  absl::StatusOr<uint64_t> CheckVerifyRequest(const VerifyRequest& request) const;
  // Digests the requested blocks of the latest point (the data a restore of
  // it reads) with the request's hasher, `batch` at a time into `sink`,
  // under the shared apply lock. Checks as CheckVerifyRequest first.
  absl::Status DigestLatestPoint(const VerifyRequest& request, size_t batch,
                                 const DigestSink& sink) const;

  const std::string& dir() const { return dir_; }

  // Accounting, for monitoring and tests: the most memory a cycle of this
  // store has held for the apply (decoded blocks and their metadata, bytes).
  uint64_t peak_cycle_memory() const;
  ResumeCounters resume_counters() const;

  struct State;  // the committed state file's contents (internal)

 private:
  friend class CycleWriter;
  ReplicaStore(std::string dir, ReplicaOptions options);
  absl::Status Recover();
  // Seals' aftermath: undo capture and the commit point (state applying).
  // Takes the apply lock into *apply_lock (released by FinishApply).
  absl::Status MarkApplying(const std::string& journal, const CycleStart& start,
                            std::unique_ptr<FileLock>* apply_lock);
  // The apply; `kept` (may be null) holds the journal's blocks decoded.
  absl::Status FinishApply(const CycleWriter* kept) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Commits a first cycle written directly into `replica_file`.
  absl::Status CommitFirstPoint(const CycleStart& start, const std::string& replica_file);
  void Hook(const char* step) const;
  // A CycleWriter's accounting and its end (the next cycle may begin).
  void NoteCycleMemory(uint64_t bytes);
  void EndCycle();

  const std::string dir_;
  const ReplicaOptions options_;  // its point fields: see below
  FileLock receiver_lock_;
  mutable absl::Mutex mu_;
  // The recovery-point policy, updatable (UpdatePointOptions).
  int additional_points_ ABSL_GUARDED_BY(mu_);
  absl::Duration point_interval_ ABSL_GUARDED_BY(mu_);
  absl::Duration retention_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<State> state_ ABSL_GUARDED_BY(mu_);
  Hello hello_ ABSL_GUARDED_BY(mu_);
  std::string writer_ ABSL_GUARDED_BY(mu_);  // recorded, else configured
  bool cycle_open_ ABSL_GUARDED_BY(mu_) = false;
  // An interrupted cycle kept for resuming (partial_cycle.h), found by
  // Recover or left by a broken session; BeginCycle continues or drops it.
  std::optional<PartialCycle> partial_ ABSL_GUARDED_BY(mu_);
  ResumeCounters resume_ ABSL_GUARDED_BY(mu_);
  uint64_t peak_cycle_memory_ ABSL_GUARDED_BY(mu_) = 0;
};

// Lists a replica directory's points without disturbing a running
// receiver (shared apply lock). When no receiver holds the directory, an
// interrupted apply is recovered first.
absl::StatusOr<std::vector<RecoveryPoint>> ListRecoveryPoints(const std::string& dir);
absl::StatusOr<ReplicaInfo> ReadReplicaInfo(const std::string& dir);

struct RestoreOptions {
  disk::DiskFormat format = disk::DiskFormat::kAuto;  // kAuto: from the extension
  bool overwrite = false;
};

// Writes recovery point `point_id` of `dir` to a new standalone disk at
// `out_path` (.vhd -> VHD, .raw/.img -> raw, else VHDX; dynamic). NotFound
// for an unknown point.
absl::Status RestorePoint(const std::string& dir, uint64_t point_id, const std::string& out_path,
                          const RestoreOptions& options);

// The points as the model's message (asr/model/replication.proto).
model::ReplicaPointList PointsToProto(const std::vector<RecoveryPoint>& points);

// JSON array of the points, each through asr/model/json.h:
// [{"id":"1","time":"..","sourceTime":"..","consistency":"app"|"crash",
//   "latest":bool,"mode":".."}, ...]
std::string PointsToJson(const std::vector<RecoveryPoint>& points);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_STORE_H_
