// asr/protection/health.h: a protected item's replication health (Normal,
// Warning, Critical) with the reasons, and its recovery point objective
// (RPO: how old the newest whole recovery point is), computed from the item,
// its policy and the clock, never stored.
//
//   HealthReport h = ComputeHealth(item, policy, clock.Now());
//   // h.health == model::Warning, h.errors[0].message() ==
//   //   "RPO 14 min exceeds 2x the 300 s copy frequency"
//
// Rules (F = the copy frequency: 30, 300 or 900 s; 300 s for
// HyperVReplica2012):
//   RpoExceeded     Protected, RPO > 2F (a point was missed): Warning; > 12F: Critical
//   CyclesFailing   any of the last 10 cycles failed: Warning ("3 of the last
//                   10 cycles failed: <the latest error>"); the last 3
//                   failed: Critical
//   <state>         EnablingFailed, InitialReplicationFailed,
//                   DisablingFailed, ProtectionFailed: Critical
//   ResyncRequired  a disk's replica needs a resynchronization: Critical
// Normal otherwise (also while initial replication runs).
//
// Thread safety: pure functions.
#ifndef ASR_PROTECTION_HEALTH_H_
#define ASR_PROTECTION_HEALTH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "asr/model/protection.pb.h"

namespace asr::protection {

struct HealthReport {
  model::ReplicationHealth health = model::Normal;
  std::vector<model::HealthError> errors;
  int64_t rpo_seconds = 0;  // 0 while there is no recovery point yet
};

// The copy frequency the policy's hosts honour, in seconds.
int CopyFrequencySeconds(const model::ReplicationPolicy& policy);

HealthReport ComputeHealth(const model::ProtectedItem& item, const model::ReplicationPolicy& policy,
                           absl::Time now);

// "45 s", "14 min", "2 h 5 min".
std::string HumanDuration(int64_t seconds);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_HEALTH_H_
