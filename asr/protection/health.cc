#include "asr/protection/health.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "asr/protection/item_state.h"

namespace asr::protection {
namespace {

model::HealthError Error(const std::string& code, const std::string& severity,
                         const std::string& message, const std::string& action) {
  model::HealthError e;
  e.set_code(code);
  e.set_severity(severity);
  e.set_message(message);
  e.set_recommended_action(action);
  return e;
}

void Raise(HealthReport& r, model::ReplicationHealth h) {
  if (h == model::Critical || (h == model::Warning && r.health == model::Normal)) r.health = h;
}

}  // namespace

int CopyFrequencySeconds(const model::ReplicationPolicy& policy) {
  if (policy.replication_provider() == model::HyperVReplica2012) return 300;
  const int f = policy.replication_frequency_in_seconds();
  return f > 0 ? f : 300;
}

std::string HumanDuration(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return absl::StrCat(seconds, " s");
  const int64_t minutes = seconds / 60;
  if (minutes < 60) return absl::StrCat(minutes, " min");
  const int64_t hours = minutes / 60;
  if (minutes % 60 == 0) return absl::StrCat(hours, " h");
  return absl::StrCat(hours, " h ", minutes % 60, " min");
}

HealthReport ComputeHealth(const model::ProtectedItem& item, const model::ReplicationPolicy& policy,
                           absl::Time now) {
  HealthReport r;
  const int64_t now_s = absl::ToUnixSeconds(now);
  if (item.last_recovery_point_time_unix() > 0) {
    r.rpo_seconds = std::max<int64_t>(0, now_s - item.last_recovery_point_time_unix());
  }
  switch (item.protection_state()) {
    case model::EnablingFailed:
    case model::InitialReplicationFailed:
    case model::DisablingFailed:
    case model::ProtectionFailed:
    case model::PlannedFailoverFailed:
    case model::UnplannedFailoverFailed:
    case model::CommitFailoverFailedOnRecovery:
    case model::CancelFailoverFailedOnRecovery:
    case model::ChangeRecoveryPointFailed:
    case model::ReprotectFailed:
      Raise(r, model::Critical);
      r.errors.push_back(Error(model::ProtectionState_Name(item.protection_state()), "Error",
                               StateDescription(item),
                               item.current_scenario().job_id().empty()
                                   ? "disable protection, or enable it again"
                                   : absl::StrCat("see job ", item.current_scenario().job_id(),
                                                  "; restart it once the cause is fixed")));
      break;
    default:
      break;
  }
  for (const model::HealthError& e : item.health_errors()) {
    if (e.code() == "ResyncRequired") {
      Raise(r, model::Critical);
      r.errors.push_back(e);
    }
  }
  const int f = CopyFrequencySeconds(policy);
  if (item.protection_state() == model::Protected && item.last_recovery_point_time_unix() > 0 &&
      r.rpo_seconds > 2 * static_cast<int64_t>(f)) {
    const bool critical = r.rpo_seconds > 12 * static_cast<int64_t>(f);
    Raise(r, critical ? model::Critical : model::Warning);
    r.errors.push_back(
        Error("RpoExceeded", critical ? "Error" : "Warning",
              absl::StrCat("RPO ", HumanDuration(r.rpo_seconds), " exceeds ", critical ? 12 : 2,
                           "x the ", f, " s copy frequency"),
              "check that the site service runs (asrctl site run), that the recovery endpoint is "
              "reachable and the last cycles' errors"));
  }
  const int n = item.recent_cycles_size();
  const int first = std::max(0, n - 10);
  int failed = 0;
  std::string last_error;
  for (int i = first; i < n; ++i) {
    if (!item.recent_cycles(i).ok()) {
      ++failed;
      last_error = item.recent_cycles(i).error();
    }
  }
  if (failed > 0) {
    bool last3 = n - first >= 3;
    for (int i = std::max(first, n - 3); i < n && last3; ++i) last3 = !item.recent_cycles(i).ok();
    Raise(r, last3 ? model::Critical : model::Warning);
    r.errors.push_back(
        Error("CyclesFailing", last3 ? "Error" : "Warning",
              absl::StrCat(failed, " of the last ", n - first, " cycles failed: ", last_error),
              "fix the cause named in the error; the site service retries"));
  }
  return r;
}

}  // namespace asr::protection
