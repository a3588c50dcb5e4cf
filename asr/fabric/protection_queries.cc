#include "asr/fabric/protection_queries.h"

#include "asr/common/status_macros.h"

namespace asr::fabric {

absl::StatusOr<std::vector<std::string>> ProtectedVmNames(const repository::ObjectRepository& repo,
                                                          const ProtectedItemFilter& matches) {
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, repo.List<model::ProtectedItem>());
  std::vector<std::string> names;
  for (const model::ProtectedItem& item : items) {
    absl::StatusOr<model::VirtualMachine> vm = repo.Get<model::VirtualMachine>(item.vm_id());
    if (matches(item, vm.ok() ? &*vm : nullptr)) {
      names.push_back(vm.ok() ? vm->name() : item.vm_id());
    }
  }
  return names;
}

}  // namespace asr::fabric
