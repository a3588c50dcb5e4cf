// asr/failover/unavailable_item_failover.h: an ItemFailover that cannot fail
// anything over. It stands in where no per-VM failover is wired yet, so
// that recovery plans can be created, edited and listed; running one fails
// each VM with FailedPrecondition "failover is not available".
//
//   UnavailableItemFailover none;
//   RecoveryPlanService plans(repo, jobs, protection, groups, clock, &none);
#ifndef ASR_FAILOVER_UNAVAILABLE_ITEM_FAILOVER_H_
#define ASR_FAILOVER_UNAVAILABLE_ITEM_FAILOVER_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asr/failover/item_failover.h"

namespace asr::failover {

class UnavailableItemFailover : public ItemFailover {
 public:
  absl::Status RunItemOperation(absl::string_view operation, const FailoverInput& input,
                                const StepRunner& steps) override {
    return absl::FailedPreconditionError(
        absl::StrCat("failover is not available: this build runs no per-VM ", operation, " for '",
                     input.item_ref, "'; use a build with the failover service"));
  }
};

}  // namespace asr::failover

#endif  // ASR_FAILOVER_UNAVAILABLE_ITEM_FAILOVER_H_
