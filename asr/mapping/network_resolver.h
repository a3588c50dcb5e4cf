// asr/mapping/network_resolver.h: network mapping resolution: which target
// VM network and subnet a replica NIC joins, the mapping table, which target
// networks are available for which cloud pairing, and what the original VM
// joins on failback (reverse replication).
//
//   ASR_ASSIGN_OR_RETURN(auto index, FabricIndex::Build(std::move(snapshot)));
//   model::NicResolution r = ResolveNic(*index, vm.network_adapters(0));
//   if (r.target_vm_network_id().empty()) { /* the replica joins no network */ }
//
// Rules (from the Site Recovery documents):
//  - A NIC on a mapped source network joins the mapping's target network:
//    the target subnet with the same name as the source subnet, else the
//    *first* subnet of the target network. Names match exactly first, then
//    ignoring ASCII case; "first" is the first entry of VmNetwork.subnets,
//    which keeps VMM's order as synced (the order is never re-sorted). A
//    target network with no subnets is joined without a subnet.
//  - A NIC on an unmapped (or unknown) network, or on none, joins no network.
//  - A target network is available for a pairing only when its logical
//    network is associated with the pairing's recovery cloud.
//  - Failback: the replica's current network is looked up in reverse: a
//    mapping whose source is that network wins; else a mapping onto it (the
//    original network's own mapping first, else the lowest mapping id). No
//    network or no mapping: the original VM is disconnected.
//
// Thread safety: free functions over an immutable FabricIndex; safe to call
// from any thread.
#ifndef ASR_MAPPING_NETWORK_RESOLVER_H_
#define ASR_MAPPING_NETWORK_RESOLVER_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/mapping/fabric_index.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/mapping.pb.h"

namespace asr::mapping {

// Resolves one replica NIC. Never fails: problems (unknown networks) come
// back as a kind with no network and an explanation. `explain` false leaves
// the explanation empty (bulk placement).
model::NicResolution ResolveNic(const FabricIndex& index, const model::NetworkAdapter& nic,
                                bool explain = true);
// The same into `*out` (cleared first), reusing its memory.
void ResolveNicInto(const FabricIndex& index, const model::NetworkAdapter& nic, bool explain,
                    model::NicResolution* out);

// Resolves every NIC of a VM, in the VM's NIC order. NotFound for an
// unknown VM.
absl::StatusOr<model::VmNicResolutions> ResolveVmNics(const FabricIndex& index,
                                                      absl::string_view vm_id);

// The subnet of `network` a NIC on a subnet named `source_subnet` joins:
// same name, else the first; "" when `network` has no subnets. `kind` (may
// be null) receives NIC_SAME_NAME_SUBNET, NIC_FIRST_SUBNET or
// NIC_TARGET_WITHOUT_SUBNETS.
std::string ChooseSubnet(const model::VmNetwork& network, absl::string_view source_subnet,
                         model::NicResolutionKind* kind);

// The mapping table: one row per VM network of every server, ordered by
// server id, then network name, then id (unmapped networks included).
model::NetworkMappingTable BuildNetworkMappingTable(const FabricIndex& index);

// Whether `target_vm_network_id` is offered for `pairing`.
model::TargetNetworkAvailability TargetAvailability(const FabricIndex& index,
                                                    const model::VmNetwork& target,
                                                    const model::CloudPairing& pairing);

// For a source network: each VM network on the recovery side of each
// pairing whose primary cloud is on the source network's server, and
// whether it is available for that pairing. With `target_vm_network_id`
// set, only that target's rows. NotFound for an unknown source network.
absl::StatusOr<model::TargetNetworkTable> BuildTargetNetworkTable(
    const FabricIndex& index, absl::string_view source_vm_network_id,
    absl::string_view target_vm_network_id = "");

// What the original VM connects to on reverse replication. NotFound for an
// unknown vm_id/nic_id; InvalidArgument when no original network is given.
absl::StatusOr<model::FailbackResolution> ResolveFailback(const FabricIndex& index,
                                                          const model::FailbackRequest& request);

}  // namespace asr::mapping

#endif  // ASR_MAPPING_NETWORK_RESOLVER_H_
