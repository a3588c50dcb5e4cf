// asr/replication/replica_overlay.h: writable views of a replica's recovery
// points without copying the disk, for test failover, failover before
// commit, change of recovery point, cancel and commit; and adopting a
// surviving disk as a replica for reverse replication.
//
// The replica's file (DIR/replica.vhdx, "the replica") is frozen into a
// base when the first view is made: it is renamed to DIR/base-G.vhdx and
// DIR/replica.vhdx becomes a differencing disk over it (O(1), no data
// copied), so production cycles go on into the replica while every view
// reads the base. A view is a differencing disk over the base that holds
// only the blocks where its point differs from the base (the reverse
// deltas between that point and the latest): creating one costs what
// those deltas hold, never the disk's size. When the last view is gone
// and the replica is not failed over, the replica is merged back into one
// file (cost: what was replicated meanwhile), crash-safely (state phases
// in replica.state; Open finishes an interrupted freeze or merge).
//
//   // Test failover: a test VM on a view of the latest point.
//   ASR_ASSIGN_OR_RETURN(OverlayInfo v,
//                        CreateOverlay(dir, {.name = "test-j17", .point_id = 0}));
//   host->CreateReplicaVm(test spec with disk v.path) ... StartVm ...
//   ASR_RETURN_IF_ERROR(DeleteOverlay(dir, "test-j17"));    // cleanup
//
//   // Failover: the replica VM's own disk path shows point P, the replica
//   // refuses cycles; Cancel rolls back, Commit makes it final.
//   ASR_ASSIGN_OR_RETURN(OverlayInfo f, BeginFailover(dir, p, vm_disk_path));
//   ASR_ASSIGN_OR_RETURN(f, ChangeFailoverPoint(dir, other_point));
//   ASR_RETURN_IF_ERROR(CancelFailover(dir));   // or CommitFailover(dir)
//
//   // Reverse replication: the old primary's surviving disk becomes the
//   // replica of the failed-over VM's disk; a scan cycle then sends only
//   // the blocks whose digests differ.
//   ASR_RETURN_IF_ERROR(AdoptDiskAsReplica(new_dir, old_disk_path, adopt));
//
// Files (DIR is the replica directory; .vhd instead of .vhdx for a VHD
// replica):
//   replica.vhdx        the replica; once frozen a differencing disk over
//                       the base; while failed over the failover view (the
//                       VM's disk), the latest point then held aside in
//                       latest-G.vhdx (the state's replica file)
//   base-G.vhdx         the frozen base, never written while it exists
//   overlays/NAME.vhdx  a view (or the path the request gave)
// Every change of these files is a transaction over replica.state
// (replica_layout.h): a process killed at any step leaves a directory that
// Open, listing, restore and every function here complete or roll back to a
// whole layout; a frozen replica without views (and not failed over) is
// merged back then too.
//
// While failed over, the receiver refuses the sender at HELLO and at
// CYCLE_START (FailedPrecondition "the replica is failed over; ..." saying
// what to do); restores, listing and views of the points go on.
// After CommitFailover the VM's disk stays a differencing disk over the
// base in DIR (both files are the VM's now); AdoptDiskAsReplica merges such
// a chain into one file when the disk becomes a replica again.
//
// Thread safety and processes: every function takes the directory's
// apply lock exclusively (a running receiver's cycle finishes first; the
// next waits), so they run beside a receiver of the same directory.
#ifndef ASR_REPLICATION_REPLICA_OVERLAY_H_
#define ASR_REPLICATION_REPLICA_OVERLAY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace asr::replication {

struct OverlayRequest {
  // [a-z0-9-]{1,64}, unique in the directory ("test-<job>", ...);
  // "failover" is reserved for BeginFailover.
  std::string name;
  // The replica's point (ListRecoveryPoints id); 0 = the latest.
  uint64_t point_id = 0;
  // Where the view's disk goes; "" = DIR/overlays/NAME.vhdx (.vhd for a
  // VHD replica). An existing file is refused (AlreadyExists).
  std::string path;
};

struct OverlayInfo {
  std::string name;
  std::string path;        // the view's disk (a differencing disk)
  uint64_t point_id = 0;   // the point it shows
  absl::Time source_time;  // that point's source time
  bool app_consistent = false;
  uint64_t bytes_written = 0;  // what making it wrote (the deltas' blocks)
};

// A view of `request.point_id`. NotFound for an unknown point (naming the
// points kept), FailedPrecondition for a directory without a replica yet.
absl::StatusOr<OverlayInfo> CreateOverlay(const std::string& dir, const OverlayRequest& request);
// The views of the directory (the failover one included), sorted by name.
absl::StatusOr<std::vector<OverlayInfo>> ListOverlays(const std::string& dir);
// Deletes the view's disk (what was written to it is discarded); OK when
// there is no such view (idempotent). The last one gone, the replica is
// merged back into one file unless it is failed over.
absl::Status DeleteOverlay(const std::string& dir, absl::string_view name);

// Failover of the VM whose disk is `vm_disk_path` (DIR/replica.vhdx, or a
// hard link of it made by AdoptDiskAsReplica): from now on that path is a
// view of `point_id` (0 = latest) named "failover", and the directory
// refuses cycles (FailedPrecondition "the replica is failed over") until
// CancelFailover. The views of running tests stay valid.
absl::StatusOr<OverlayInfo> BeginFailover(const std::string& dir, uint64_t point_id,
                                          const std::string& vm_disk_path);
// Before commit: the VM's disk path shows `point_id` instead (what the VM
// wrote meanwhile is discarded; the VM must be off: not checked here, the
// caller stops it). FailedPrecondition when not failed over or committed.
absl::StatusOr<OverlayInfo> ChangeFailoverPoint(const std::string& dir, uint64_t point_id);
// Back to before BeginFailover: the VM's disk path is the replica at its
// latest point again, cycles are accepted. OK when not failed over.
absl::Status CancelFailover(const std::string& dir);
// Makes the failover final: the recovery points are discarded (the VM's
// disk path keeps what it shows and what the VM wrote), the directory
// stays refusing cycles. FailedPrecondition when not failed over.
absl::Status CommitFailover(const std::string& dir);

struct FailoverInfo {
  bool failed_over = false;
  bool committed = false;
  uint64_t point_id = 0;
  absl::Time source_time;
  std::string vm_disk_path;
};
absl::StatusOr<FailoverInfo> ReadFailoverInfo(const std::string& dir);

struct AdoptOptions {
  std::string replication_id;  // the reversed replication's identity
  std::string source_disk_id;  // the new source's disk identity (as the sender announces it)
  std::string writer;          // the new primary host's certificate CN ("" = any)
  int additional_points = 0;   // as ReplicaOptions
  absl::Duration point_interval = absl::Hours(1);
  absl::Duration retention = absl::Hours(24);
  // The replication block size the reversed replication uses (a power of
  // two in 4 KiB..4 MiB; the sender's manifest takes it from the replica).
  uint32_t block_size = 64 << 10;
};

// Makes `dir` (new or empty) a replica directory whose replica is the
// existing disk `disk_path` (a differencing chain of earlier failovers is
// merged into one file first): DIR/replica.vhdx is a hard link of it (same
// filesystem; InvalidArgument naming both otherwise), so the VM that owns
// `disk_path` keeps its path. Its digest manifest is computed from the
// disk, so the next cycle, a scan, sends only the blocks that differ.
// The adopted replica's state has one point (id 1, the disk as found; its
// source time is the adoption's), so a sender's next cycle of that
// replication id is accepted as a scan (see WriteAdoptedSourceManifest).
// The hard link's path is recorded: later views and failovers of the
// replica keep it naming the VM's disk, as BeginFailover's path does.
// FailedPrecondition when `dir` already holds another replica.
absl::Status AdoptDiskAsReplica(const std::string& dir, const std::string& disk_path,
                                const AdoptOptions& options);

// The sender's side of the reversal: writes the replication state next to
// `source_disk_path` (DISK.asrrepl, manifest.h) from the digests of the
// adopted replica in `adopted_dir` (its replica.digests, which Adopt wrote
// and every commit keeps), so that the next cycle of `source_disk_path`
// (any mode other than initial falls back to, or is, a scan) compares each
// source block with what the replica holds and sends only those that
// differ. The source is the failed-over VM's disk (a differencing chain is
// fine). Removes a stale DISK.asrrepl.pending and DISK.asrresync.
// FailedPrecondition when the replica has no digests of its current point
// or its size differs from the source's; the manifest is written only
// while the replica is at the point the digests describe.
//
//   ASR_RETURN_IF_ERROR(AdoptDiskAsReplica("/replicas/back/vm1-d0", old_disk, adopt));
//   ASR_RETURN_IF_ERROR(WriteAdoptedSourceManifest("/replicas/back/vm1-d0", failed_over_disk));
//   ReplicateDisk(failed_over_disk, CycleMode::kScan, stream, send);  // sends what differs
absl::Status WriteAdoptedSourceManifest(const std::string& adopted_dir,
                                        const std::string& source_disk_path);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_OVERLAY_H_
