// asr/replication/change_detector.h: finding what changed in a disk since
// the last replicated state. One interface, four producers of a CyclePlan:
//
//   initial       every allocated block is sent; zero/unallocated ranges
//                 become ZERO_RANGE frames (no data read)
//   tracked       only the blocks the ChangeTracker marked are read
//   scan          every allocated block is read once and compared, by its
//                 128-bit digest, with the source-side manifest; unallocated and
//                 zero ranges are compared without reading
//   differencing  the blocks a differencing child holds itself (kPresent
//                 or kZero extents of its own layer) over the replicated parent
//
// A plan lists block runs with an action; the sender's workers hash each
// block they read, so "compare" costs no second read:
//
//   ASR_ASSIGN_OR_RETURN(auto detector, MakeDetector(CycleMode::kScan, {}));
//   ASR_ASSIGN_OR_RETURN(CyclePlan plan, detector->Plan(*disk, 64 << 10, &manifest));
//   for (const PlannedRun& r : plan.runs) { ... }
#ifndef ASR_REPLICATION_CHANGE_DETECTOR_H_
#define ASR_REPLICATION_CHANGE_DETECTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/disk/virtual_disk.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/manifest.h"
#include "asr/replication/protocol.h"

namespace asr::replication {

enum class BlockAction : uint8_t {
  kRead,  // read the blocks; send each whose digest differs from the base
          // manifest (every one when there is no base)
  kZero,  // the blocks read as zeros now; send a ZERO_RANGE for those whose
          // base digest is not zero (all of them when there is no base)
};

struct PlannedRun {
  uint64_t first_block = 0;
  uint64_t block_count = 0;
  BlockAction action = BlockAction::kRead;
};

struct CyclePlan {
  std::vector<PlannedRun> runs;  // ascending, non-overlapping
  bool full_coverage = false;    // every block of the disk is covered
  uint64_t planned_read_bytes = 0;
};

// Thread safety: a detector is used by one thread at a time.
class ChangeDetector {
 public:
  virtual ~ChangeDetector() = default;
  // `base` is the manifest of the replica's current point (nullptr when none).
  virtual absl::StatusOr<CyclePlan> Plan(disk::VirtualDisk& disk, uint32_t block_size,
                                         const Manifest* base) = 0;
  virtual CycleMode mode() const = 0;
};

std::unique_ptr<ChangeDetector> MakeInitialDetector();
std::unique_ptr<ChangeDetector> MakeScanDetector();
std::unique_ptr<ChangeDetector> MakeDifferencingDetector();
// `blocks`: the tracker's pending blocks (ChangeTracker::BeginCycle()).
std::unique_ptr<ChangeDetector> MakeTrackedDetector(std::vector<uint64_t> blocks);

// Adds run [first, first+count) with `action` to `plan`, merging with the
// previous run when adjacent and of the same action.
void AppendRun(CyclePlan* plan, uint64_t first, uint64_t count, BlockAction action);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_CHANGE_DETECTOR_H_
