// asr/fabric/protection_queries.h: questions about protected VMs that several
// rules ask before they allow a change ("unpair only when nothing is
// protected", "delete a policy only when no VM uses it", ...).
//
//   ASR_ASSIGN_OR_RETURN(std::vector<std::string> vms,
//       ProtectedVmNames(repo, [&](const model::ProtectedItem& item,
//                                    const model::VirtualMachine*) {
//         return item.policy_id() == policy.id();
//       }));
//   if (!vms.empty()) return RuleError(..., absl::StrJoin(vms, ", "), ...);
#ifndef ASR_FABRIC_PROTECTION_QUERIES_H_
#define ASR_FABRIC_PROTECTION_QUERIES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/protection.pb.h"
#include "asr/repository/object_repository.h"

namespace asr::fabric {

// Decides whether a protected item counts; `vm` is its VM, or nullptr when
// the VM is no longer in the inventory.
using ProtectedItemFilter =
    std::function<bool(const model::ProtectedItem& item, const model::VirtualMachine* vm)>;

// The names of the VMs whose protected items pass `matches` (a VM's id when
// the VM is gone from the inventory), in protected-item order. Reads only.
absl::StatusOr<std::vector<std::string>> ProtectedVmNames(const repository::ObjectRepository& repo,
                                                          const ProtectedItemFilter& matches);

}  // namespace asr::fabric

#endif  // ASR_FABRIC_PROTECTION_QUERIES_H_
