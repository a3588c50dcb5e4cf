#include "asr/fabric/replica_vm_spec.h"

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"

namespace asr::fabric {

absl::Status CheckReplicaVmSpec(const model::ReplicaVmSpec& spec) {
  if (spec.replica_vm_id().empty()) {
    return absl::InvalidArgumentError("a replica VM needs an id (replica_vm_id)");
  }
  for (const model::VirtualDisk& d : spec.disks()) {
    if (d.path().empty() || !PathExists(DirName(d.path()))) {
      return absl::NotFoundError(absl::StrCat("disk '", d.id(), "' of replica VM '",
                                              spec.replica_vm_id(), "': the directory of '",
                                              d.path(), "' does not exist; create it first"));
    }
  }
  return absl::OkStatus();
}

absl::Status SameReplicaVm(const model::VirtualMachine& existing,
                           const model::ReplicaVmSpec& spec) {
  bool same = existing.host_id() == spec.host_id() && existing.disks_size() == spec.disks_size();
  for (int i = 0; same && i < spec.disks_size(); ++i) {
    same = existing.disks(i).path() == spec.disks(i).path();
  }
  if (!same) {
    return absl::AlreadyExistsError(
        absl::StrCat("VM '", spec.replica_vm_id(), "' already exists on host ", existing.host_id(),
                     " with other disks; delete it first or use another id"));
  }
  return absl::OkStatus();
}

}  // namespace asr::fabric
