// asr/replication/change_tracker.h: tracked mode's change map — the host
// reports every guest write, and the tracker remembers which replication
// blocks changed since the last acknowledged cycle, in a file next to the
// disk (DISK.asrcbt, the analogue of Hyper-V's .hrl log).
//
//   ASR_ASSIGN_OR_RETURN(auto tracker, ChangeTracker::Open(disk, size, 64 << 10));
//   ASR_RETURN_IF_ERROR(tracker->RecordWrite(offset, length));  // each guest write
//   ...
//   ASR_RETURN_IF_ERROR(tracker->Close());                      // clean shutdown
//
// Trust rule: the tracker is trusted only if it can prove it saw every
// write. The file carries an "in use" marker, set (durably) when a tracker
// opens it and cleared by Close() after the map is written. Opening a map
// that is still marked in use (the process died), missing, corrupt, or made
// for another size marks the disk NEEDS SCAN; a sender then falls back to a
// scan, and only a successful full-coverage cycle (initial or scan) clears
// the mark. Writes are recorded in memory and persisted at Checkpoint(),
// at each cycle transition and at Close().
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
// One process at a time may have a disk's tracker open.
#ifndef ASR_REPLICATION_CHANGE_TRACKER_H_
#define ASR_REPLICATION_CHANGE_TRACKER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace asr::replication {

std::string TrackerPath(const std::string& disk_path);

class ChangeTracker {
 public:
  // Opens (or creates) the change map for `disk_path` and marks it in use.
  static absl::StatusOr<std::unique_ptr<ChangeTracker>> Open(const std::string& disk_path,
                                                             uint64_t virtual_size,
                                                             uint32_t block_size);
  // Opens the map for one replication cycle by a process that records no
  // writes (a sender that is not the host): the map is not marked in use
  // (nobody else may have it open meanwhile, as with Open), RecordWrite is
  // refused, and only CommitCycle writes the file. A crash before that
  // leaves the file as it was: its blocks are resent, never missed.
  static absl::StatusOr<std::unique_ptr<ChangeTracker>> OpenForCycle(
      const std::string& disk_path, uint64_t virtual_size, uint32_t block_size);
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
  // Persists the map and marks it cleanly closed.
  absl::Status Close();

  uint32_t block_size() const { return block_size_; }
  uint64_t block_count() const { return blocks_; }
  // Number of blocks currently marked (current | pending).
  uint64_t marked_blocks() const;

 private:
  ChangeTracker(std::string path, uint64_t virtual_size, uint32_t block_size);
  absl::Status PersistLocked(bool in_use) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Load();

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
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_CHANGE_TRACKER_H_
