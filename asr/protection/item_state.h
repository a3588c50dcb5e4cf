// asr/protection/item_state.h: what may be done with a protected item in
// each protection state (the Site Recovery "allowedOperations"), and the
// refusal of anything else. The states and how an item moves between them
// are drawn in protection_service.h.
//
//   ASR_RETURN_IF_ERROR(CheckAllowed(item, kDisableProtection));
//   item.clear_allowed_operations();
//   for (const std::string& op : AllowedOperations(item)) item.add_allowed_operations(op);
//
// Allowed operations by state (names from ReplicationProtectedItemOperation):
//
//   EnablingProtection, DisablingProtection       (a job is running) none
//   EnablingFailed, InitialReplicationFailed,
//   InitialReplicationInProgress,
//   InitialReplicationCompletedOnPrimary,
//   DisablingFailed                               DisableProtection
//   Protected                                     PlannedFailover, UnplannedFailover,
//                                                 TestFailover, DisableProtection
//                                                 (+ RepairReplication when a disk
//                                                 needs a resynchronization;
//                                                 + Failback when reversed)
//   PlannedFailoverInitiated, ...Failed           PlannedFailover, CancelFailover
//   PlannedFailoverCompleted                      Commit, CancelFailover
//   UnplannedFailoverInitiated, ...Failed         UnplannedFailover, CancelFailover
//   FailedOver (unplanned, not committed)         Commit, ChangePit, CancelFailover
//   ChangeRecoveryPointInitiated, ...Failed       ChangePit, CancelFailover
//   CommitFailoverInProgressOnRecovery,
//   CommitFailoverFailedOnRecovery                Commit
//   CancelFailoverInProgressOnRecovery,
//   CancelFailoverFailedOnRecovery                CancelFailover
//   Committed, ReprotectInitiated,
//   ReprotectFailed                               ReverseReplicate, DisableProtection
//
// An *Initiated state is a failover job running, or one a stopped process
// left: the operation may run again (it continues where it stopped; a
// running one is refused as busy) or be cancelled. A test failover is a
// state of its own (test_failover_state): TestFailover only when none exists
// (or the last one failed or was interrupted), TestFailoverCleanup whenever one exists, and
// DisableProtection only once it is cleaned up.
#ifndef ASR_PROTECTION_ITEM_STATE_H_
#define ASR_PROTECTION_ITEM_STATE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asr/model/protection.pb.h"

namespace asr::protection {

inline constexpr absl::string_view kPlannedFailover = "PlannedFailover";
inline constexpr absl::string_view kUnplannedFailover = "UnplannedFailover";
inline constexpr absl::string_view kTestFailover = "TestFailover";
inline constexpr absl::string_view kDisableProtection = "DisableProtection";
inline constexpr absl::string_view kRepairReplication = "RepairReplication";
inline constexpr absl::string_view kTestFailoverCleanup = "TestFailoverCleanup";
inline constexpr absl::string_view kCommit = "Commit";
inline constexpr absl::string_view kCancelFailover = "CancelFailover";
inline constexpr absl::string_view kChangePit = "ChangePit";
inline constexpr absl::string_view kReverseReplicate = "ReverseReplicate";
inline constexpr absl::string_view kFailback = "Failback";
// Not an allowedOperations value: replication cycles of the site service.
inline constexpr absl::string_view kReplicate = "Replicate";

// The operations allowed on `item` now, in the order above.
std::vector<std::string> AllowedOperations(const model::ProtectedItem& item);

// OK when `operation` is allowed; otherwise FailedPrecondition (rule
// "OperationNotAllowedInState") naming the VM, the operation, the state
// and what is allowed instead.
absl::Status CheckAllowed(const model::ProtectedItem& item, absl::string_view operation);

// Whether an item in this state replicates: Protected and initial
// replication (the site service schedules only Protected items), and a
// planned or unplanned failover before the replica is failed over (its
// last cycle), and reverse replication's first (scan) cycle. Failed-over,
// committed and failed states do not.
bool Replicates(model::ProtectionState state);

// Whether a test failover exists (its state is set and not "None").
bool TestFailoverActive(const model::ProtectedItem& item);

// A sentence for the state ("Initial replication is in progress", ...).
std::string StateDescription(const model::ProtectedItem& item);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_ITEM_STATE_H_
