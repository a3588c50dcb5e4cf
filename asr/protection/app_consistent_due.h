// asr/protection/app_consistent_due.h: whether a cycle asks the host for an
// application-consistent point (the policy's
// ApplicationConsistentSnapshotFrequencyInHours), for an item or a
// replication group alike.
//
//   bool app = AppConsistentDue(policy.application_consistent_snapshot_frequency_in_hours(),
//                               item.last_app_consistent_time_unix(), item.recent_cycles(), now);
//
// Due when the policy asks for them (hours > 0) and the last one is that
// long ago (or there was none). A host that cannot quiesce the guest (a QEMU
// guest without a running agent) makes the cycle fall back to a
// crash-consistent point (`app_consistent_fallback` of its outcome), and
// each refusal costs the cycle the host's wait for the guest (seconds): so
// after a fallback since the last app-consistent point, the next is asked
// only kAppConsistentRetryAfterFallback after it, not on every cycle.
#ifndef ASR_PROTECTION_APP_CONSISTENT_DUE_H_
#define ASR_PROTECTION_APP_CONSISTENT_DUE_H_

#include <cstdint>

#include "absl/time/time.h"

namespace asr::protection {

inline constexpr absl::Duration kAppConsistentRetryAfterFallback = absl::Hours(1);

// `recent`: the outcomes of the latest cycles, oldest first (each with
// time_unix() and app_consistent_fallback()).
template <typename Cycles>
bool AppConsistentDue(int hours, int64_t last_app_consistent_unix, const Cycles& recent,
                      absl::Time now) {
  if (hours <= 0) return false;
  if (last_app_consistent_unix != 0 &&
      now - absl::FromUnixSeconds(last_app_consistent_unix) < absl::Hours(hours)) {
    return false;
  }
  for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
    if (it->time_unix() < last_app_consistent_unix) break;
    if (!it->app_consistent_fallback().empty()) {
      return now - absl::FromUnixSeconds(it->time_unix()) >= kAppConsistentRetryAfterFallback;
    }
  }
  return true;
}

}  // namespace asr::protection

#endif  // ASR_PROTECTION_APP_CONSISTENT_DUE_H_
