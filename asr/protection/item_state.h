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
//                                                 needs a resynchronization)
//
// Operations that only failover adds (Commit, ChangePit, ReverseReplicate,
// TestFailoverCleanup, CancelFailover, Failback) are allowed in no state
// this version reaches.
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
// Not an allowedOperations value: replication cycles of the site service.
inline constexpr absl::string_view kReplicate = "Replicate";

// The operations allowed on `item` now, in the order above.
std::vector<std::string> AllowedOperations(const model::ProtectedItem& item);

// OK when `operation` is allowed; otherwise FailedPrecondition (rule
// "OperationNotAllowedInState") naming the VM, the operation, the state
// and what is allowed instead.
absl::Status CheckAllowed(const model::ProtectedItem& item, absl::string_view operation);

// Whether the site service replicates an item in this state.
bool Replicates(model::ProtectionState state);

// A sentence for the state ("Initial replication is in progress", ...).
std::string StateDescription(const model::ProtectedItem& item);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_ITEM_STATE_H_
