// asr/mapping/mapping_changes.h: the rules for creating, changing and
// removing network and storage mappings, and the propagation of a network
// mapping change to protected VMs. Pure functions over FabricIndex: the
// repository-backed MappingService (mapping_service.h) applies their result.
//
//   ASR_ASSIGN_OR_RETURN(PlannedNetworkChange plan,
//                        PlanNetworkMapping(*index, request.mapping(), /*replace=*/false));
//   // plan.after: the snapshot with the change; plan.report: which replica
//   // NICs of protected VMs on the source network now resolve differently.
//
// Rules:
//  - The source network and the target network exist in the inventory; the
//    optional server ids in the request match the networks' servers. The
//    target may be on the source's own server (one VMM server for both
//    sites), but a network is never mapped to itself.
//  - A source network maps to at most one target: mapping an already mapped
//    source is AlreadyExists unless `replace` (a change); mapping it again to
//    the same target is a no-op ("unchanged").
//  - The same for storage classifications.
//  - Propagation re-resolves every NIC on the source network of every
//    protected VM (a ProtectedItem names the VM) and lists those whose target
//    network, subnet or kind changed.
//
// Thread safety: free functions over immutable inputs; safe from any thread.
#ifndef ASR_MAPPING_MAPPING_CHANGES_H_
#define ASR_MAPPING_MAPPING_CHANGES_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/mapping/fabric_index.h"
#include "asr/model/mapping.pb.h"
#include "asr/model/protection.pb.h"

namespace asr::mapping {

// The mapping id a request without one gets.
std::string DefaultNetworkMappingId(absl::string_view source_vm_network_id);
std::string DefaultStorageMappingId(absl::string_view source_classification_id);

struct PlannedNetworkChange {
  // The mapping to store (ids and server ids filled in); empty for a removal.
  model::NetworkMapping mapping;
  // The mapping to delete first, if any (a change that renames, a removal).
  std::string delete_mapping_id;
  std::unique_ptr<FabricIndex> after;
  model::MappingChangeReport report;
};

// Validates `request` against `before` and plans it. Errors name what is
// wrong and what to do (NotFound, InvalidArgument, AlreadyExists).
absl::StatusOr<PlannedNetworkChange> PlanNetworkMapping(const FabricIndex& before,
                                                        const model::NetworkMapping& request,
                                                        bool replace);

// Plans removing the mapping with id `ref`, or the mapping of the source
// network with id `ref`. NotFound when there is none.
absl::StatusOr<PlannedNetworkChange> PlanNetworkUnmapping(const FabricIndex& before,
                                                          absl::string_view ref);

// Propagation: protected VMs with a NIC on `source_vm_network_id`, resolved
// in `before` and in `after`; fills examined counts and changes of `report`.
void ReportNicChanges(const FabricIndex& before, const FabricIndex& after,
                      absl::string_view source_vm_network_id, model::MappingChangeReport* report);

struct PlannedStorageChange {
  model::StorageMapping mapping;
  std::string delete_mapping_id;
  model::StorageMappingChange change;
};

absl::StatusOr<PlannedStorageChange> PlanStorageMapping(const FabricIndex& before,
                                                        const model::StorageMapping& request,
                                                        bool replace);
absl::StatusOr<PlannedStorageChange> PlanStorageUnmapping(const FabricIndex& before,
                                                          absl::string_view ref);

}  // namespace asr::mapping

#endif  // ASR_MAPPING_MAPPING_CHANGES_H_
