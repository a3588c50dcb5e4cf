#include "asr/protection/item_state.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/jobs/rule_error.h"

namespace asr::protection {

bool Replicates(model::ProtectionState state) {
  return state == model::Protected || state == model::InitialReplicationInProgress;
}

std::vector<std::string> AllowedOperations(const model::ProtectedItem& item) {
  switch (item.protection_state()) {
    case model::Protected: {
      std::vector<std::string> ops = {std::string(kPlannedFailover),
                                      std::string(kUnplannedFailover), std::string(kTestFailover),
                                      std::string(kDisableProtection)};
      for (const model::HealthError& e : item.health_errors()) {
        if (e.code() == "ResyncRequired") {
          ops.emplace_back(kRepairReplication);
          break;
        }
      }
      return ops;
    }
    case model::EnablingFailed:
    case model::InitialReplicationFailed:
    case model::InitialReplicationInProgress:
    case model::InitialReplicationCompletedOnPrimary:
    case model::DisablingFailed:
    case model::ProtectionFailed:
      return {std::string(kDisableProtection)};
    default:
      return {};
  }
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
    default:
      return model::ProtectionState_Name(item.protection_state());
  }
}

}  // namespace asr::protection
