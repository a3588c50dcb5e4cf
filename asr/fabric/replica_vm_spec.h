#ifndef ASR_FABRIC_REPLICA_VM_SPEC_H_
#define ASR_FABRIC_REPLICA_VM_SPEC_H_

#include "absl/status/status.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/host.pb.h"

namespace asr::fabric {

// The checks every host makes of HostCallbacks::CreateReplicaVm's request
// before it creates anything: an id, and for each disk a path whose
// directory exists (the disk files themselves appear with initial
// replication, as on a VMM placement path).
absl::Status CheckReplicaVmSpec(const model::ReplicaVmSpec& spec);

// CreateReplicaVm is idempotent: a VM with the spec's id that is the same
// replica VM (same host, same disk paths in the same order) is returned as it
// is (OK); any other VM with that id is AlreadyExists.
absl::Status SameReplicaVm(const model::VirtualMachine& existing, const model::ReplicaVmSpec& spec);

}  // namespace asr::fabric

#endif  // ASR_FABRIC_REPLICA_VM_SPEC_H_
