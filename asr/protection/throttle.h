// asr/protection/throttle.h: bandwidth limits of replication with a weekly
// schedule, as Hyper-V administrators set with QoS policies: one for the
// whole site (every replication stream of the site shares it) and one per
// protected VM (its cycles obey both). Stored with the site as objects of
// kind "throttle" (model::Throttle): id "site", or "vm-<vm id>".
//
//   ThrottleService t(&sr->repository(), &sr->clock());
//   model::ThrottleSetRequest r;
//   r.add_limits("Mon-Fri 08:00-18:00 50Mbit/s");   // unlimited otherwise
//   r.set_utc_offset("+01:00");
//   ASR_ASSIGN_OR_RETURN(model::Throttle site, t.Set(r));
//   ASR_RETURN_IF_ERROR(t.Clear("VM1"));
//
// The site service wraps its transport with MakeThrottlingTransport: every
// stream a cycle opens is paced by the site's limiter and the VM's
// (asr/net/rate_limiter.h), whose rates follow the stored schedules
// (re-read and re-evaluated every second, so a change or a window boundary
// applies while a cycle runs).
//
// Reads of a protected item show the throttle in force (DecorateThrottle):
// the limit now and the rule that sets it, and the expected RPO: the copy
// frequency plus the time the last cycle's bytes take at the limit. Health
// is Warning ("ThrottleLimitsRpo") when that exceeds the policy's bound,
// 2x the copy frequency (the bound of RpoExceeded, health.h).
//
// Thread safety: thread-safe.
#ifndef ASR_PROTECTION_THROTTLE_H_
#define ASR_PROTECTION_THROTTLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/model/protection.pb.h"
#include "asr/model/throttle.pb.h"
#include "asr/protection/transport.h"
#include "asr/repository/object_repository.h"

namespace asr::protection {

inline constexpr char kSiteThrottleId[] = "site";

class ThrottleService {
 public:
  ThrottleService(repository::ObjectRepository* repo, const Clock* clock);

  // Sets the site's throttle (request.vm "" or "site") or a VM's (its id or
  // name; it need not be protected yet), replacing the one it had.
  // InvalidArgument for a bad rule, rate, offset or overlapping windows;
  // NotFound for an unknown VM.
  absl::StatusOr<model::Throttle> Set(const model::ThrottleSetRequest& request);
  // The throttle of the site ("" or "site") or of a VM; NotFound when none is set.
  absl::StatusOr<model::Throttle> Get(absl::string_view target) const;
  // Every throttle, the site's first.
  absl::StatusOr<std::vector<model::Throttle>> List() const;
  // Removes the throttle (unlimited from then on); NotFound when none is set.
  absl::Status Clear(absl::string_view target);

 private:
  absl::StatusOr<std::string> ThrottleIdOf(absl::string_view target, model::Throttle* t) const;
  repository::ObjectRepository* repo_;
  const Clock* clock_;
};

// "vm-<vm id>".
std::string VmThrottleId(absl::string_view vm_id);

// The limit in force for `item`'s streams at `now` (the lower of the site's
// and its VM's; 0 = unlimited).
model::ThrottleInForce ThrottleInForceFor(const repository::ObjectRepository& repo,
                                          const model::ProtectedItem& item, absl::Time now);

// Sets the item's throttle_in_force and expected_rpo_seconds, and adds the
// ThrottleLimitsRpo warning to its health when the limit makes the expected
// RPO exceed 2x the copy frequency. For reads (ProtectionService); without
// a policy (null) only the throttle in force.
void DecorateThrottle(const repository::ObjectRepository& repo,
                      const model::ReplicationPolicy* policy, absl::Time now,
                      model::ProtectedItem* item);

// `inner` whose Connect streams are paced by the site's limiter (shared by
// every stream of this transport) and the item's VM limiter. The schedules
// are read from `repo` at `clock`'s time; pacing runs on the real clock.
std::shared_ptr<Transport> MakeThrottlingTransport(std::shared_ptr<Transport> inner,
                                                   const repository::ObjectRepository* repo,
                                                   const Clock* clock);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_THROTTLE_H_
