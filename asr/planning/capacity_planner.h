// asr/planning/capacity_planner.h: what replication of a set of VMs needs
// before it is turned on: the bandwidth that keeps up with the copy frequency
// (and so meets the RPO), the replica storage of the base copy plus the
// recovery points kept, and whether a given link is enough, with every step
// of the arithmetic written out so an administrator can check it.
//
//   model::CapacityPlanInput in;
//   model::CapacityDiskInput* d = in.add_disks();
//   d->set_name("VM1/disk0");
//   d->set_used_bytes(40ull << 30);
//   d->set_churn_bytes_per_hour(2ull << 30);
//   in.set_copy_frequency_seconds(300);
//   in.set_recovery_points_to_retain(24);
//   in.set_compression_ratio(1.6);
//   in.set_headroom(0.2);
//   in.set_link_mbps(10);
//   ASR_ASSIGN_OR_RETURN(model::CapacityPlan plan, ComputeCapacityPlan(in));
//   for (const std::string& line : plan.arithmetic()) std::cout << line << "\n";
//
// The model (what it assumes):
//   - churn is the bytes of DISTINCT blocks changed per hour, spread evenly:
//     a block written many times within one cycle is sent once, so churn
//     measured over one copy interval (asrctl capacity measure, or a cycle's
//     bytes changed) is the right input, not the guest's write volume;
//   - changed bytes per cycle = churn per hour * copy frequency / 3600; each
//     cycle sends them compressed by the ratio (bytes changed / bytes sent of
//     recent cycles; 1 = incompressible) within one copy interval, so the
//     mean rate is sent bytes per cycle / copy frequency, and the required
//     rate adds the headroom for bursts and protocol overhead;
//   - the replica stores blocks uncompressed: the base is the disks' used
//     bytes, and every retained recovery point keeps one cycle's changed
//     blocks (its reverse delta: the old contents of the blocks the next
//     cycle changed, asr/replication/replica_store.h); app-consistent points within
//     the retention window (retained points * copy frequency) are kept in
//     addition, one cycle's changed blocks each;
//   - initial replication and resynchronization are not included: they need
//     the base size once, at whatever rate the link gives.
//
// MeasureDiskChurn scans a disk file (VHDX, VHD or raw) twice, `duration`
// apart, and counts the blocks whose contents differ: the churn a change
// tracker would have recorded for one cycle of that length, and the used
// bytes: the blocks that are not all zeros (what a replica stores).
//
// Thread safety: free functions, no shared state.
#ifndef ASR_PLANNING_CAPACITY_PLANNER_H_
#define ASR_PLANNING_CAPACITY_PLANNER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/model/capacity.pb.h"
#include "asr/model/protection.pb.h"

namespace asr::planning {

// Checks the input (copy frequency > 0, ratio >= 1 or 0 for 1, headroom >= 0,
// at least one disk) and computes the plan.
absl::StatusOr<model::CapacityPlan> ComputeCapacityPlan(const model::CapacityPlanInput& in);

// An input from protected items and their policies: every disk with its
// size as the used bytes, churn 0 (the caller sets it), the copy frequency,
// retained points and app-consistent frequency of the first item's policy
// (items with another policy are refused: plan them separately), and a
// compression ratio of 1 (an item's cycles record the bytes sent but not the
// bytes changed, so the ratio is the caller's: a measured one, or 1 for the
// safe side). `policies` are looked up by the items' policy_id.
absl::StatusOr<model::CapacityPlanInput> PlanInputFromItems(
    const std::vector<model::ProtectedItem>& items,
    const std::vector<model::ReplicationPolicy>& policies);

// Scans `path` at the start and after `duration` and reports the blocks of
// `block_size` bytes (default 64 KiB) that changed.
absl::StatusOr<model::CapacityMeasurement> MeasureDiskChurn(const std::string& path,
                                                            absl::Duration duration,
                                                            uint32_t block_size = 64 * 1024);

// "1.50 GiB", "512.0 KiB", "17 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace asr::planning

#endif  // ASR_PLANNING_CAPACITY_PLANNER_H_
