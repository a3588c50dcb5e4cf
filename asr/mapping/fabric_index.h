// asr/mapping/fabric_index.h: the inputs of mapping resolution and replica
// placement (both servers' inventory, cloud pairings, network and storage
// mappings, protected items), copied into one immutable snapshot and indexed
// by hash maps so that every lookup a resolver makes is O(1).
//
//   FabricSnapshot snapshot;
//   snapshot.vm_networks = ...;          // or LoadSnapshot(repo), see
//   snapshot.network_mappings = ...;     // mapping_service.h
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<FabricIndex> index,
//                        FabricIndex::Build(std::move(snapshot)));
//   const model::NetworkMapping* m = index->MappingForSourceNetwork("vmnet1-ny");
//
// The order of the input vectors never changes a result: resolvers sort
// what they iterate (by name, then id). The only order that matters is the
// order of a VM network's subnets (VMM's order, "first subnet").
#ifndef ASR_MAPPING_FABRIC_INDEX_H_
#define ASR_MAPPING_FABRIC_INDEX_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/protection.pb.h"

namespace asr::mapping {

// Plain inputs; any order.
struct FabricSnapshot {
  std::vector<model::Cloud> clouds;
  std::vector<model::HostGroup> host_groups;
  std::vector<model::HyperVHost> hosts;
  std::vector<model::VirtualMachine> vms;
  std::vector<model::VmNetwork> vm_networks;
  std::vector<model::LogicalNetwork> logical_networks;
  std::vector<model::StorageClassification> storage_classifications;
  std::vector<model::CloudPairing> pairings;
  std::vector<model::NetworkMapping> network_mappings;
  std::vector<model::StorageMapping> storage_mappings;
  std::vector<model::ProtectedItem> protected_items;
};

// A share or volume with the classification that holds it.
struct StorageTargetRef {
  const model::StorageClassification* classification = nullptr;
  const model::StorageTarget* target = nullptr;
};

// A host with what it reaches, for allocation-free checks during placement.
struct HostInfo {
  const model::HyperVHost* host = nullptr;
  absl::flat_hash_set<absl::string_view> logical_networks;
  // Classified shares/volumes the host reaches (ids in no classification
  // are left out: only mapped storage is ever checked).
  absl::flat_hash_set<const model::StorageTarget*> storage;
};

// Thread safety: immutable after Build; safe to read from any thread.
class FabricIndex {
 public:
  // Indexes `snapshot`. InvalidArgument when an id is empty or repeated
  // within a kind, when a share/volume id appears in two classifications, or
  // when a source network (classification) has more than one mapping; the
  // message names the objects.
  static absl::StatusOr<std::unique_ptr<FabricIndex>> Build(FabricSnapshot snapshot);

  FabricIndex(const FabricIndex&) = delete;
  FabricIndex& operator=(const FabricIndex&) = delete;

  const FabricSnapshot& snapshot() const { return snapshot_; }

  // Lookups by id; nullptr when absent.
  const model::Cloud* FindCloud(absl::string_view id) const;
  const model::HyperVHost* FindHost(absl::string_view id) const;
  const model::VirtualMachine* FindVm(absl::string_view id) const;
  const model::VmNetwork* FindVmNetwork(absl::string_view id) const;
  const model::LogicalNetwork* FindLogicalNetwork(absl::string_view id) const;
  const model::StorageClassification* FindClassification(absl::string_view id) const;
  const model::CloudPairing* FindPairing(absl::string_view id) const;
  const model::ProtectedItem* FindProtectedItem(absl::string_view id) const;
  // The share/volume `id` and its classification; both null when `id` is in
  // no classification (unclassified storage).
  StorageTargetRef FindStorageTarget(absl::string_view id) const;

  // The mapping whose source is this network/classification; nullptr if none.
  const model::NetworkMapping* MappingForSourceNetwork(absl::string_view vm_network_id) const;
  const model::StorageMapping* MappingForSourceClassification(
      absl::string_view classification_id) const;
  // Mappings whose target is this network, in id order.
  const std::vector<const model::NetworkMapping*>& MappingsOntoNetwork(
      absl::string_view vm_network_id) const;

  // The pairing in which `cloud_id` is the primary cloud; nullptr if none
  // (the lowest pairing id if, against the rules, there are several).
  const model::CloudPairing* PairingForPrimaryCloud(absl::string_view cloud_id) const;
  // The protected item of a VM; nullptr if the VM is not protected.
  const model::ProtectedItem* ProtectedItemForVm(absl::string_view vm_id) const;

  // Hosts of a cloud (through its host groups), sorted by name, then id.
  const std::vector<const model::HyperVHost*>& HostsInCloud(absl::string_view cloud_id) const;
  // The same hosts, with their reach.
  const std::vector<const HostInfo*>& HostInfosInCloud(absl::string_view cloud_id) const;
  const HostInfo* FindHostInfo(absl::string_view host_id) const;
  bool CloudHasLogicalNetwork(absl::string_view cloud_id,
                              absl::string_view logical_network_id) const;
  bool HostHasLogicalNetwork(absl::string_view host_id, absl::string_view logical_network_id) const;
  // Whether the host reaches a *classified* share/volume (false for ids in
  // no classification).
  bool HostReachesStorage(absl::string_view host_id, absl::string_view storage_target_id) const;

  // VMs with a NIC on `vm_network_id`, in id order.
  const std::vector<const model::VirtualMachine*>& VmsOnNetwork(
      absl::string_view vm_network_id) const;

  // A classification's shares/volumes, sorted by name, then id.
  const std::vector<const model::StorageTarget*>& TargetsOf(
      absl::string_view classification_id) const;

 private:
  explicit FabricIndex(FabricSnapshot snapshot) : snapshot_(std::move(snapshot)) {}
  absl::Status Index();

  using Set = absl::flat_hash_set<absl::string_view>;
  template <typename T>
  using Map = absl::flat_hash_map<absl::string_view, T>;

  FabricSnapshot snapshot_;
  Map<const model::Cloud*> clouds_;
  Map<const model::HyperVHost*> hosts_;
  Map<const model::VirtualMachine*> vms_;
  Map<const model::VmNetwork*> vm_networks_;
  Map<const model::LogicalNetwork*> logical_networks_;
  Map<const model::StorageClassification*> classifications_;
  Map<const model::CloudPairing*> pairings_;
  Map<const model::ProtectedItem*> protected_items_;
  Map<StorageTargetRef> storage_targets_;
  Map<const model::NetworkMapping*> network_mapping_by_source_;
  Map<std::vector<const model::NetworkMapping*>> network_mappings_onto_;
  Map<const model::StorageMapping*> storage_mapping_by_source_;
  Map<const model::CloudPairing*> pairing_by_primary_;
  Map<const model::ProtectedItem*> protected_item_by_vm_;
  Map<std::vector<const model::HyperVHost*>> hosts_by_cloud_;
  Map<std::vector<const HostInfo*>> host_infos_by_cloud_;
  Map<Set> cloud_logical_networks_;
  std::vector<HostInfo> host_infos_;  // in snapshot order; never resized after Index
  Map<const HostInfo*> host_info_by_id_;
  Map<std::vector<const model::VirtualMachine*>> vms_by_network_;
  Map<std::vector<const model::StorageTarget*>> targets_by_classification_;
};

// Compares (name, id) pairs: the deterministic order used everywhere.
template <typename T>
bool ByNameThenId(const T* a, const T* b) {
  if (a->name() != b->name()) return a->name() < b->name();
  return a->id() < b->id();
}

}  // namespace asr::mapping

#endif  // ASR_MAPPING_FABRIC_INDEX_H_
