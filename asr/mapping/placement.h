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
// Among qualifying hosts the best one has
//   (a) the most disks on mapped storage (fewest default-location fallbacks),
//   (b) then the fewest replicas already placed in this batch (spreading),
//   (c) then the lowest host name, then the lowest host id.
// When no host qualifies, `placed` is false, `explanation` says why in one
// sentence and `hosts` lists every candidate with its reasons.
//
// Thread safety: PlaceReplica is safe from any thread over an immutable
// FabricIndex; PlaceReplicas uses one CapacityLedger and runs on one thread.
#ifndef ASR_MAPPING_PLACEMENT_H_
#define ASR_MAPPING_PLACEMENT_H_

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
  // List every candidate host in `hosts` (always done when no host
  // qualifies). Off for bulk placement, where only the result matters.
  bool explain_hosts = true;
};

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

// Places several VMs in VM-id order, each seeing the space the earlier ones
// took (a placed replica is committed to `ledger`). Fails on the first VM
// that cannot be looked up or is unpaired; an unplaceable VM comes back
// with placed == false.
absl::StatusOr<std::vector<model::ReplicaPlacement>> PlaceReplicas(
    const FabricIndex& index, std::vector<std::string> vm_ids, CapacityLedger* ledger,
    const PlacementOptions& options = {});

}  // namespace asr::mapping

#endif  // ASR_MAPPING_PLACEMENT_H_
