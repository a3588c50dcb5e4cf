// asr/replication/vm_points.h: recovery points of a whole VM, across the
// replica directories of its disks.
//
// A VM point is one instant of the source VM: the primary host freezes the
// VM's writes across all its disks, and each disk's cycle is sent with that
// instant as its source time (SendOptions::source_time). Each replica keeps
// and prunes its points by source time (replica_store.h), so the replicas
// of one VM keep the same instants. A VM point is whole when every disk's
// replica holds a point at its instant; only whole points are offered.
//
//   std::vector<std::string> dirs = {"/replicas/vm1/disk0", "/replicas/vm1/disk1"};
//   ASR_ASSIGN_OR_RETURN(VmPoint p, LatestWholePoint(dirs));
//   ASR_RETURN_IF_ERROR(RestoreVmPoint(dirs, p.source_time,
//                                      {"/restore/disk0.vhdx", "/restore/disk1.vhdx"}, {}));
//
// All or nothing without a multi-disk transaction. Each disk's replica
// commits its point on its own (crash-safely, replica_store.h). If the
// recovery host (or the sender) dies between two disks' commits of the VM
// point at T3, T3 is in some directories only:
//
//   disk0: T1 T2 T3        CommonPoints: T1 T2  -> LatestWholePoint: T2
//   disk1: T1 T2           (T3 is not whole, so it is not offered)
//
// so the previous whole point, T2, is what a failover restores, and it is
// intact: a disk that committed T3 keeps T2 as an older point (its reverse
// delta), as long as it keeps additional points (and T2 is not merged away
// by point_interval spacing: then the whole point before it is the latest
// whole one). Nothing is lost: the sender's next cycle of disk1 (its
// change tracking still holds the writes up to T3, or a newer point's)
// completes a newer instant on every disk, and pruning, which goes by source
// times only, drops the same instants on every disk. Keep at least one
// additional point on every disk of a VM with more than one disk.
//
// Thread safety: the functions read the directories under the shared apply
// lock, beside a running receiver; a point pruned by a commit between the
// listing and the restore makes RestoreVmPoint fail (NotFound): list again.
#ifndef ASR_REPLICATION_VM_POINTS_H_
#define ASR_REPLICATION_VM_POINTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {

// One whole point of a VM.
struct VmPoint {
  absl::Time source_time;
  // Each directory's point at that instant, in the order of the directories
  // (the newest, should a directory hold two at the same instant).
  std::vector<uint64_t> point_ids;
  bool app_consistent = false;  // only if every disk's point is
};

// The points whose source time every directory holds, oldest first (newest
// last). InvalidArgument for no directory or one listed twice; errors of
// ListRecoveryPoints (NotFound: not a replica directory). A directory
// without points yet leaves none.
absl::StatusOr<std::vector<VmPoint>> CommonPoints(const std::vector<std::string>& replica_dirs);

// The newest of CommonPoints; NotFound when there is none.
absl::StatusOr<VmPoint> LatestWholePoint(const std::vector<std::string>& replica_dirs);

// Restores the whole point at `source_time` (to the microsecond), each
// directory's to the output path at the same index (RestorePoint). NotFound
// when the point is not whole (naming the directories without it);
// InvalidArgument when the counts differ or an output is given twice. On a
// failure the outputs written so far are removed.
absl::Status RestoreVmPoint(const std::vector<std::string>& replica_dirs, absl::Time source_time,
                            const std::vector<std::string>& out_paths,
                            const RestoreOptions& options);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_VM_POINTS_H_
