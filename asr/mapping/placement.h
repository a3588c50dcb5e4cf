// asr/mapping/placement.h: replica placement: which host of the recovery
// cloud receives a VM's replica, with each disk's path and each NIC's
// network and subnet.
//
//   ASR_ASSIGN_OR_RETURN(model::ReplicaPlacement p, PlaceReplica(*index, "vm-42"));
//   if (!p.placed()) return absl::FailedPreconditionError(p.explanation());
//   // p.host_id(), p.disks(i).replica_disk_path(), p.nics(i).target_subnet_name()
//
// A host of the recovery cloud qualifies when
//   1. it is connected to the logical network of every target VM network the
//      VM's NICs resolve to (network_resolver.h), and
//   2. every disk has room: on the mapped classification's storage the host
//      reaches, else at the host's default location (storage_resolver.h).
// Among qualifying hosts the best one has the most disks on mapped storage
// (fewest default-location fallbacks). Ties: the cloud's hosts, sorted by
// (name, id), are visited in a rotation that starts at index
// PlacementRotation(vm id) mod host count, and the first best host in that
// rotation wins. The rotation depends only on the VM id (FNV-1a, the same on
// every platform and run), so the answer is deterministic, and equal hosts
// share replicas evenly instead of all landing on the first name. A host
// that puts every mappable disk on mapped storage ends the search, so
// placement costs O(1) hosts per VM when most hosts qualify.
// When no host qualifies, `placed` is false, `explanation` says why in one
// sentence and `hosts` lists every candidate with its reasons.
//
// Thread safety: PlaceReplica is safe from any thread over an immutable
// FabricIndex; PlaceReplicas uses one CapacityLedger and runs on one thread.
#ifndef ASR_MAPPING_PLACEMENT_H_
#define ASR_MAPPING_PLACEMENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/storage_resolver.h"
#include "asr/model/mapping.pb.h"

namespace asr::mapping {

struct PlacementOptions {
  // The pairing to place into; "" = the pairing of the VM's protected item,
  // else the pairing whose primary cloud is the VM's cloud.
  std::string pairing_id;
  // Explain: fill every explanation and evaluate and list every candidate
  // host in `hosts` (always done when no host qualifies). Off for bulk
  // placement: the result then carries host, disk paths and NIC networks
  // only, and the search stops at the first host that cannot be beaten.
  bool explain = true;
};

// The rotation start of a VM's host order (64-bit FNV-1a of the id).
uint64_t PlacementRotation(absl::string_view vm_id);

// Places one VM's replica, taking space already promised in `ledger` into
// account (pass an empty ledger for a single VM). NotFound for an unknown
// VM; FailedPrecondition when the VM's cloud is not paired.
absl::StatusOr<model::ReplicaPlacement> PlaceReplica(const FabricIndex& index,
                                                     absl::string_view vm_id,
                                                     const CapacityLedger& ledger,
                                                     const PlacementOptions& options = {});
absl::StatusOr<model::ReplicaPlacement> PlaceReplica(const FabricIndex& index,
                                                     absl::string_view vm_id,
                                                     const PlacementOptions& options = {});
// The same into `*out` (cleared first, its memory reused).
absl::Status PlaceReplicaInto(const FabricIndex& index, absl::string_view vm_id,
                              const CapacityLedger& ledger, const PlacementOptions& options,
                              model::ReplicaPlacement* out);

// Places VMs in VM-id order like PlaceReplicas, handing each placement to
// `sink` (valid only during the call) instead of keeping them all: one
// message is reused, so bulk placement allocates almost nothing. Stops at
// the first error of a placement or of `sink`.
absl::Status ForEachPlacement(const FabricIndex& index, std::vector<std::string> vm_ids,
                              CapacityLedger* ledger, const PlacementOptions& options,
                              const std::function<absl::Status(const model::ReplicaPlacement&)>& sink);

// Places several VMs in VM-id order, each seeing the space the earlier ones
// took (a placed replica is committed to `ledger`). Fails on the first VM
// that cannot be looked up or is unpaired; an unplaceable VM comes back
// with placed == false.
absl::StatusOr<std::vector<model::ReplicaPlacement>> PlaceReplicas(
    const FabricIndex& index, std::vector<std::string> vm_ids, CapacityLedger* ledger,
    const PlacementOptions& options = {});

}  // namespace asr::mapping

#endif  // ASR_MAPPING_PLACEMENT_H_
