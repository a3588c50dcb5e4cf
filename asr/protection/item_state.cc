#include "asr/protection/item_state.h"

#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/jobs/rule_error.h"

namespace asr::protection {

bool Replicates(model::ProtectionState state) {
  return state == model::Protected || state == model::InitialReplicationInProgress ||
         state == model::PlannedFailoverInitiated || state == model::UnplannedFailoverInitiated ||
         state == model::ReprotectInitiated;
}

bool TestFailoverActive(const model::ProtectedItem& item) {
  return !item.test_failover_state().empty() && item.test_failover_state() != "None";
}

namespace {

std::vector<std::string> StateOperations(const model::ProtectedItem& item) {
  auto ops = [](std::initializer_list<absl::string_view> names) {
    std::vector<std::string> v;
    for (absl::string_view n : names) v.emplace_back(n);
    return v;
  };
  switch (item.protection_state()) {
    case model::Protected: {
      std::vector<std::string> v = ops({kPlannedFailover, kUnplannedFailover});
      if (!TestFailoverActive(item) || item.test_failover_state() == "TestFailoverFailed" ||
          item.test_failover_state() == "TestFailoverInitiated") {
        v.emplace_back(kTestFailover);
      }
      if (!TestFailoverActive(item)) v.emplace_back(kDisableProtection);
      for (const model::HealthError& e : item.health_errors()) {
        if (e.code() == "ResyncRequired") {
          v.emplace_back(kRepairReplication);
          break;
        }
      }
      if (item.reversed()) v.emplace_back(kFailback);
      return v;
    }
    case model::EnablingFailed:
    case model::InitialReplicationFailed:
    case model::InitialReplicationInProgress:
    case model::InitialReplicationCompletedOnPrimary:
    case model::DisablingFailed:
    case model::ProtectionFailed:
    case model::TestFailoverInProgress:  // a test is test_failover_state now
      return ops({kDisableProtection});
    case model::PlannedFailoverInitiated:
    case model::PlannedFailoverFailed:
    case model::PlannedFailoverInProgress:  // the earlier name of Initiated
      return ops({kPlannedFailover, kCancelFailover});
    case model::PlannedFailoverCompleted:
      return ops({kCommit, kCancelFailover});
    case model::UnplannedFailoverInitiated:
    case model::UnplannedFailoverFailed:
    case model::UnplannedFailoverInProgress:  // the earlier name of Initiated
      return ops({kUnplannedFailover, kCancelFailover});
    case model::FailedOver:
      return ops({kCommit, kChangePit, kCancelFailover});
    case model::ChangeRecoveryPointInitiated:
    case model::ChangeRecoveryPointFailed:
      return ops({kChangePit, kCancelFailover});
    case model::CommitFailoverInProgressOnRecovery:
    case model::CommitFailoverFailedOnRecovery:
      return ops({kCommit});
    case model::CancelFailoverInProgressOnRecovery:
    case model::CancelFailoverFailedOnRecovery:
      return ops({kCancelFailover});
    case model::Committed:
    case model::ReprotectInitiated:
    case model::ReprotectFailed:
    case model::ReverseReplicationInProgress:  // the earlier name of ReprotectInitiated
      if (TestFailoverActive(item)) return ops({kReverseReplicate});
      return ops({kReverseReplicate, kDisableProtection});
    default:
      return {};
  }
}

}  // namespace

std::vector<std::string> AllowedOperations(const model::ProtectedItem& item) {
  std::vector<std::string> v = StateOperations(item);
  if (TestFailoverActive(item)) v.emplace_back(kTestFailoverCleanup);
  return v;
}

absl::Status CheckAllowed(const model::ProtectedItem& item, absl::string_view operation) {
  if (operation == kReplicate) {
    if (Replicates(item.protection_state())) return absl::OkStatus();
  } else {
    for (const std::string& op : AllowedOperations(item)) {
      if (op == operation) return absl::OkStatus();
    }
  }
  std::vector<std::string> allowed = AllowedOperations(item);
  const std::string name = item.vm_name().empty() ? item.vm_id() : item.vm_name();
  std::string action =
      allowed.empty()
          ? std::string(item.current_scenario().job_id().empty()
                            ? "wait for the running operation to finish"
                            : absl::StrCat("wait for job ", item.current_scenario().job_id(), " (",
                                           item.current_scenario().scenario_name(), ") to finish"))
          : absl::StrCat("allowed now: ", absl::StrJoin(allowed, ", "));
  return jobs::RuleError(
      absl::StatusCode::kFailedPrecondition, "OperationNotAllowedInState",
      absl::StrCat(operation, " is not allowed for VM '", name, "' in protection state ",
                   model::ProtectionState_Name(item.protection_state())),
      action);
}

std::string StateDescription(const model::ProtectedItem& item) {
  switch (item.protection_state()) {
    case model::EnablingProtection:
      return "Protection is being enabled";
    case model::EnablingFailed:
      return "Enabling protection failed; restart the job or disable protection";
    case model::InitialReplicationInProgress:
      return "Initial replication is in progress";
    case model::InitialReplicationFailed:
      return "Initial replication failed; restart the job or disable protection";
    case model::InitialReplicationCompletedOnPrimary:
      return "The offline package is exported; it waits to be imported on the recovery side";
    case model::Protected:
      return "Protected";
    case model::DisablingProtection:
      return "Protection is being disabled";
    case model::DisablingFailed:
      return "Disabling protection failed; disable it again";
    case model::PlannedFailoverInitiated:
      return "Planned failover is in progress (or was interrupted: run it again or cancel it)";
    case model::PlannedFailoverCompleted:
      return "Planned failover completed: the replica VM runs; commit or cancel the failover";
    case model::PlannedFailoverFailed:
      return "Planned failover failed; run it again or cancel the failover";
    case model::UnplannedFailoverInitiated:
      return "Unplanned failover is in progress (or was interrupted: run it again or cancel it)";
    case model::UnplannedFailoverFailed:
      return "Unplanned failover failed; run it again or cancel the failover";
    case model::FailedOver:
      return "Failed over: the replica VM runs; commit, change the recovery point or cancel";
    case model::Committed:
      return "The failover is committed; reverse replication (reprotect) protects the VM again";
    case model::CommitFailoverInProgressOnRecovery:
      return "The failover is being committed";
    case model::CommitFailoverFailedOnRecovery:
      return "Committing the failover failed; commit again";
    case model::CancelFailoverInProgressOnRecovery:
      return "The failover is being cancelled";
    case model::CancelFailoverFailedOnRecovery:
      return "Cancelling the failover failed; cancel again";
    case model::ChangeRecoveryPointInitiated:
      return "The recovery point is being changed";
    case model::ChangeRecoveryPointFailed:
      return "Changing the recovery point failed; change it again or cancel the failover";
    case model::ReprotectInitiated:
      return "Reverse replication is being set up";
    case model::ReprotectFailed:
      return "Reverse replication failed; run it again or disable protection";
    default:
      return model::ProtectionState_Name(item.protection_state());
  }
}

}  // namespace asr::protection
