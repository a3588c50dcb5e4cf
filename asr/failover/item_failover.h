// asr/failover/item_failover.h: the failover operations of one protected
// VM, as recovery plans run them (one VM of a plan's group, in parallel
// with the group's other VMs, inside the plan's job). FailoverService
// (failover_service.h) implements it and also runs each operation as a job
// of its own (asrctl failover ..., asr_failover_*, .NET, PowerShell).
//
//   ItemFailover& f = sr->failover();
//   FailoverInput in;
//   in.item_ref = "VM1";
//   in.direction = "PrimaryToRecovery";
//   in.recovery_tag = "Latest";
//   ASR_RETURN_IF_ERROR(f.RunItemOperation("UnplannedFailover", in, steps));
//
// Each operation checks the item's allowedOperations first
// (FailedPrecondition, rule "OperationNotAllowedInState", naming the state
// and what is allowed). An operation that fails leaves the item in a state
// with a way forward (retry the operation, cancel, or repair), and running
// it again continues where it stopped (steps that are done are not done
// again): a plan's job restarted after a crash re-runs it.
#ifndef ASR_FAILOVER_ITEM_FAILOVER_H_
#define ASR_FAILOVER_ITEM_FAILOVER_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "asr/model/protection.pb.h"

namespace asr::failover {

// Operation names (ReplicationProtectedItemOperation values).
inline constexpr absl::string_view kTestFailover = "TestFailover";
inline constexpr absl::string_view kTestFailoverCleanup = "TestFailoverCleanup";
inline constexpr absl::string_view kPlannedFailover = "PlannedFailover";
inline constexpr absl::string_view kUnplannedFailover = "UnplannedFailover";
inline constexpr absl::string_view kCommit = "Commit";
inline constexpr absl::string_view kCancelFailover = "CancelFailover";
inline constexpr absl::string_view kChangePit = "ChangePit";
inline constexpr absl::string_view kReverseReplicate = "ReverseReplicate";
inline constexpr absl::string_view kFailback = "Failback";

// Whether `item` is where `operation` leaves a VM: a job (or a plan's VM)
// run again after a crash, whose operation had completed before the job
// could record it, is then done, though the operation is no longer
// allowed. False for operations that leave no state of their own
// (ChangePit).
inline bool IsWhereOperationEnds(const model::ProtectedItem& item, absl::string_view operation) {
  const model::ProtectionState s = item.protection_state();
  if (operation == kPlannedFailover) return s == model::PlannedFailoverCompleted;
  if (operation == kUnplannedFailover) return s == model::FailedOver;
  if (operation == kCommit) return s == model::Committed;
  if (operation == kCancelFailover) return s == model::Protected;
  if (operation == kReverseReplicate) return s == model::Protected;
  if (operation == kFailback) return s == model::Protected && !item.reversed();
  if (operation == kTestFailover) return item.test_failover_state() == "TestFailoverCompleted";
  if (operation == kTestFailoverCleanup) return item.test_failover_state() == "None";
  return false;
}

struct FailoverInput {
  std::string item_ref;  // protected item id, or its VM's id or name
  // "PrimaryToRecovery" or "RecoveryToPrimary" (PossibleOperationsDirections).
  std::string direction = "PrimaryToRecovery";
  // Which point: "Latest", "LatestAvailable",
  // "LatestAvailableApplicationConsistent", "LatestAvailableCrashConsistent"
  // (unplanned only), or empty with recovery_point_id set.
  std::string recovery_tag = "LatestAvailable";
  std::string recovery_point_id;
  // Test failover: "None" (NICs not connected), "Isolated" (a network the
  // engine creates and deletes at cleanup) or "VmNetwork" (network_id).
  std::string network_type = "None";
  std::string network_id;
  // Planned failover: "ForDownTime" or "ForSynchronization".
  std::string optimize = "ForSynchronization";
  // Unplanned failover: shut the source down first when reachable.
  bool perform_source_side_action = false;
};

// How an operation reports its steps: runs `fn` as a step named `id`
// (stable across retries, e.g. "shutdown-source") with a friendly name;
// a step that already succeeded may be skipped by the reporter. The
// default reporter just calls `fn`.
using StepRunner = std::function<absl::Status(absl::string_view id, absl::string_view friendly_name,
                                              const std::function<absl::Status()>& fn)>;

class ItemFailover {
 public:
  virtual ~ItemFailover() = default;
  // Runs `operation` (one of the names above) on `input.item_ref`, its
  // steps through `steps` (may be empty). Thread-safe: operations on
  // different items may run concurrently; operations on one item are
  // serialized.
  virtual absl::Status RunItemOperation(absl::string_view operation, const FailoverInput& input,
                                        const StepRunner& steps) = 0;
};

}  // namespace asr::failover

#endif  // ASR_FAILOVER_ITEM_FAILOVER_H_
