// asr/replication/change_tracker.h: tracked mode's change map — the host
// reports every guest write, and the tracker remembers which replication
// blocks changed since the last acknowledged cycle, in a file next to the
// disk (DISK.asrcbt, the analogue of Hyper-V's .hrl log).
//
//   ASR_ASSIGN_OR_RETURN(auto tracker, ChangeTracker::Open(disk, size, 64 << 10));
//   // ... open the disk for writing only now, after the tracker ...
//   ASR_RETURN_IF_ERROR(tracker->RecordWrite(offset, length));  // each guest write
//   ...
//   ASR_RETURN_IF_ERROR(tracker->Close());                      // clean shutdown
//
// Trust rule: the tracker is trusted only if it can prove it saw every
// write. It cannot see a writer it was not told about (qemu, a mounted
// VHDX, a restore from backup, a copy over the file), so it keeps, with the
// map, the disk's fingerprint at the moment it last vouched for the map
// (asr/disk/disk_fingerprint.h: inode, size, times, and a VHDX's
// DataWriteGuid). Whoever opens the map compares that fingerprint with the
// disk as it is now; a difference means somebody else wrote, and the disk
// NEEDS SCAN with a reason that says what changed. The map also carries an
// "in use" marker, set (durably) when a host opens it and cleared by Close()
// after the map is written: a map still marked in use (the host died),
// missing, truncated, corrupt, of an older format or made for another size
// NEEDS SCAN too. A sender then falls back to a scan, and only a successful
// full-coverage cycle (initial or scan) clears the mark. Writes are
// recorded in memory and persisted at Checkpoint(), at each cycle
// transition and at Close().
//
// Who vouches when:
//   host (Open)            vouches for the disk as it is at every persist:
//                          it answers for every write while it holds the
//                          map, so it must open the map BEFORE it opens the
//                          disk for writing, and close the disk first;
//   sender (OpenForCycle)  takes the disk's fingerprint as the cycle starts
//                          (before reading) and, when the cycle commits,
//                          vouches for exactly that: a write during the
//                          cycle is caught by the next cycle.
// A lock file (DISK.asrcbt.lock) keeps a second tracker, in this or another
// process, from opening the map meanwhile (FailedPrecondition).
//
// Cycle states of the two bitmaps (current: writes since the cycle began;
// pending: blocks of the cycle in flight):
//
//          RecordWrite                      BeginCycle
//   +---> [current |= w] ----------> pending |= current; current = 0
//   |                                     |                   |
//   |                        CommitCycle  |                   | AbortCycle / crash
//   |                      (receiver ack) v                   v   of the sender
//   +------------------------------ pending = 0      pending kept: resent
//                                                    by the next cycle
//
// Thread safety: all methods are safe to call concurrently (internal mutex).
#ifndef ASR_REPLICATION_CHANGE_TRACKER_H_
#define ASR_REPLICATION_CHANGE_TRACKER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/file_lock.h"
#include "asr/disk/disk_fingerprint.h"

namespace asr::replication {

std::string TrackerPath(const std::string& disk_path);

class ChangeTracker {
 public:
  // Opens (or creates) the change map for `disk_path` and marks it in use;
  // NEEDS SCAN when the disk changed since the map last vouched for it.
  // FailedPrecondition when another tracker has the map open.
  static absl::StatusOr<std::unique_ptr<ChangeTracker>> Open(const std::string& disk_path,
                                                             uint64_t virtual_size,
                                                             uint32_t block_size);
  // Opens the map for one replication cycle by a process that records no
  // writes (a sender that is not the host): the map is not marked in use
  // (nobody else may have it open meanwhile, as with Open), RecordWrite is
  // refused, and only CommitCycle writes the file. A crash before that
  // leaves the file as it was: its blocks are resent, never missed.
  // FailedPrecondition when another tracker (a host) has the map open.
  static absl::StatusOr<std::unique_ptr<ChangeTracker>> OpenForCycle(const std::string& disk_path,
                                                                     uint64_t virtual_size,
                                                                     uint32_t block_size);
  ~ChangeTracker();  // closes cleanly when Close() was not called (ignoring errors)

  // Records a guest write of [offset, offset+length). InvalidArgument past
  // the end of the disk; FailedPrecondition after Close().
  absl::Status RecordWrite(uint64_t offset, uint64_t length);

  // Whether the map cannot be trusted, and why.
  bool needs_scan() const;
  std::string needs_scan_reason() const;

  // Moves current into pending (persisted) and returns the pending blocks'
  // indices in ascending order.
  absl::StatusOr<std::vector<uint64_t>> BeginCycle();
  // The cycle was acknowledged: clears pending; a full-coverage cycle
  // (initial or scan) also clears NEEDS SCAN.
  absl::Status CommitCycle(bool full_coverage);

  // Persists the map (still in use).
  absl::Status Checkpoint();
  // Persists the map, marks it cleanly closed and releases the lock.
  absl::Status Close();

  // Marks the disk NEEDS SCAN with `reason` (persisted at once), e.g. when
  // a verification found blocks that changed without the tracker.
  absl::Status MarkNeedsScan(const std::string& reason);

  uint32_t block_size() const { return block_size_; }
  uint64_t block_count() const { return blocks_; }
  // Number of blocks currently marked (current | pending).
  uint64_t marked_blocks() const;

 private:
  ChangeTracker(std::string disk_path, uint64_t virtual_size, uint32_t block_size);
  // Takes the lock, loads the map and compares its fingerprint with the
  // disk's; `host`: vouches for the disk as it is now.
  absl::Status Init(bool host);
  absl::Status PersistLocked(bool in_use) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkLocked(std::string why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Host: records the disk as it is now as vouched for (NEEDS SCAN when the
  // disk cannot be fingerprinted).
  void VouchNowLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string disk_path_;
  const std::string path_;
  const uint64_t virtual_size_;
  const uint32_t block_size_;
  const uint64_t blocks_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> current_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> pending_ ABSL_GUARDED_BY(mu_);
  bool needs_scan_ ABSL_GUARDED_BY(mu_) = false;
  std::string reason_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cycle_only_ = false;  // OpenForCycle
  // The disk as the map last vouched for it (none: nothing vouched yet).
  std::optional<disk::DiskFingerprint> vouched_ ABSL_GUARDED_BY(mu_);
  // OpenForCycle: the disk as the cycle found it, vouched for at commit.
  std::optional<disk::DiskFingerprint> cycle_start_ ABSL_GUARDED_BY(mu_);
  FileLock lock_;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_CHANGE_TRACKER_H_
