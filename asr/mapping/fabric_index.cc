#include "asr/mapping/fabric_index.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/status_macros.h"

namespace asr::mapping {
namespace {

template <typename T>
absl::Status IndexById(const std::vector<T>& items, absl::string_view kind,
                       absl::flat_hash_map<absl::string_view, const T*>* out) {
  out->reserve(items.size());
  for (const T& item : items) {
    if (item.id().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", kind, " has an empty id; every ", kind, " needs an id"));
    }
    if (!out->emplace(item.id(), &item).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          kind, " id '", item.id(), "' appears twice; ids must be unique within a kind"));
    }
  }
  return absl::OkStatus();
}

template <typename T>
const T* FindIn(const absl::flat_hash_map<absl::string_view, const T*>& map,
                absl::string_view id) {
  auto it = map.find(id);
  return it == map.end() ? nullptr : it->second;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FabricIndex>> FabricIndex::Build(FabricSnapshot snapshot) {
  std::unique_ptr<FabricIndex> index(new FabricIndex(std::move(snapshot)));
  ASR_RETURN_IF_ERROR(index->Index());
  return index;
}

absl::Status FabricIndex::Index() {
  const FabricSnapshot& s = snapshot_;
  ASR_RETURN_IF_ERROR(IndexById(s.clouds, "cloud", &clouds_));
  ASR_RETURN_IF_ERROR(IndexById(s.hosts, "host", &hosts_));
  ASR_RETURN_IF_ERROR(IndexById(s.vms, "vm", &vms_));
  ASR_RETURN_IF_ERROR(IndexById(s.vm_networks, "vm-network", &vm_networks_));
  ASR_RETURN_IF_ERROR(IndexById(s.logical_networks, "logical-network", &logical_networks_));
  ASR_RETURN_IF_ERROR(
      IndexById(s.storage_classifications, "storage-classification", &classifications_));
  ASR_RETURN_IF_ERROR(IndexById(s.pairings, "pairing", &pairings_));
  ASR_RETURN_IF_ERROR(IndexById(s.protected_items, "protected-item", &protected_items_));
  {
    Map<const model::NetworkMapping*> by_id;
    ASR_RETURN_IF_ERROR(IndexById(s.network_mappings, "network-mapping", &by_id));
    Map<const model::StorageMapping*> by_storage_id;
    ASR_RETURN_IF_ERROR(IndexById(s.storage_mappings, "storage-mapping", &by_storage_id));
  }

  // Storage: share/volume id -> (classification, target).
  for (const model::StorageClassification& c : s.storage_classifications) {
    auto& sorted = targets_by_classification_[c.id()];
    for (const model::StorageTarget& t : c.targets()) {
      auto [it, inserted] = storage_targets_.emplace(t.id(), StorageTargetRef{&c, &t});
      if (!inserted) {
        return absl::InvalidArgumentError(absl::StrCat(
            "storage '", t.id(), "' is in classifications '", it->second.classification->id(),
            "' and '", c.id(), "'; a share or volume has one classification"));
      }
      sorted.push_back(&t);
    }
    std::sort(sorted.begin(), sorted.end(), ByNameThenId<model::StorageTarget>);
  }

  // Mappings by source (at most one each) and by target.
  for (const model::NetworkMapping& m : s.network_mappings) {
    auto [it, inserted] = network_mapping_by_source_.emplace(m.source_vm_network_id(), &m);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "source VM network '", m.source_vm_network_id(), "' has two network mappings ('",
          it->second->id(), "' and '", m.id(),
          "'); a source network maps to at most one target: remove one"));
    }
    network_mappings_onto_[m.target_vm_network_id()].push_back(&m);
  }
  for (auto& [id, list] : network_mappings_onto_) {
    std::sort(list.begin(), list.end(),
              [](const auto* a, const auto* b) { return a->id() < b->id(); });
  }
  for (const model::StorageMapping& m : s.storage_mappings) {
    auto [it, inserted] =
        storage_mapping_by_source_.emplace(m.source_classification_id(), &m);
    if (!inserted) {
      return absl::InvalidArgumentError(absl::StrCat(
          "source storage classification '", m.source_classification_id(),
          "' has two storage mappings ('", it->second->id(), "' and '", m.id(),
          "'); a classification maps to at most one target: remove one"));
    }
  }

  for (const model::CloudPairing& p : s.pairings) {
    auto [it, inserted] = pairing_by_primary_.emplace(p.primary_cloud_id(), &p);
    if (!inserted && p.id() < it->second->id()) it->second = &p;
  }
  for (const model::ProtectedItem& item : s.protected_items) {
    auto [it, inserted] = protected_item_by_vm_.emplace(item.vm_id(), &item);
    if (!inserted && item.id() < it->second->id()) it->second = &item;
  }

  // Hosts by cloud: a host belongs to a cloud through a host group that the
  // cloud lists, whether the group lists the host or the host names the group.
  Map<std::vector<const model::HyperVHost*>> hosts_by_group;
  host_infos_.resize(s.hosts.size());
  host_info_by_id_.reserve(s.hosts.size());
  for (size_t i = 0; i < s.hosts.size(); ++i) {
    const model::HyperVHost& h = s.hosts[i];
    if (!h.host_group_id().empty()) hosts_by_group[h.host_group_id()].push_back(&h);
    HostInfo& info = host_infos_[i];
    info.host = &h;
    for (const std::string& id : h.logical_network_ids()) info.logical_networks.insert(id);
    for (const std::string& id : h.storage_target_ids()) {
      if (const model::StorageTarget* t = FindStorageTarget(id).target) info.storage.insert(t);
    }
    host_info_by_id_.emplace(h.id(), &info);
  }
  for (const model::HostGroup& g : s.host_groups) {
    for (const std::string& host_id : g.host_ids()) {
      const model::HyperVHost* h = FindHost(host_id);
      if (h != nullptr && h->host_group_id() != g.id()) hosts_by_group[g.id()].push_back(h);
    }
  }
  for (const model::Cloud& c : s.clouds) {
    auto& hosts = hosts_by_cloud_[c.id()];
    for (const std::string& group : c.host_group_ids()) {
      auto it = hosts_by_group.find(group);
      if (it != hosts_by_group.end()) hosts.insert(hosts.end(), it->second.begin(), it->second.end());
    }
    std::sort(hosts.begin(), hosts.end(), ByNameThenId<model::HyperVHost>);
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    auto& infos = host_infos_by_cloud_[c.id()];
    infos.reserve(hosts.size());
    for (const auto* h : hosts) infos.push_back(FindHostInfo(h->id()));
    auto& ln = cloud_logical_networks_[c.id()];
    for (const std::string& id : c.logical_network_ids()) ln.insert(id);
  }

  // VMs by network, in id order.
  for (const model::VirtualMachine& vm : s.vms) {
    for (const model::NetworkAdapter& nic : vm.network_adapters()) {
      if (nic.vm_network_id().empty()) continue;
      auto& list = vms_by_network_[nic.vm_network_id()];
      if (list.empty() || list.back() != &vm) list.push_back(&vm);
    }
  }
  for (auto& [id, list] : vms_by_network_) {
    std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) { return a->id() < b->id(); });
  }
  return absl::OkStatus();
}

const model::Cloud* FabricIndex::FindCloud(absl::string_view id) const {
  return FindIn(clouds_, id);
}
const model::HyperVHost* FabricIndex::FindHost(absl::string_view id) const {
  return FindIn(hosts_, id);
}
const model::VirtualMachine* FabricIndex::FindVm(absl::string_view id) const {
  return FindIn(vms_, id);
}
const model::VmNetwork* FabricIndex::FindVmNetwork(absl::string_view id) const {
  return FindIn(vm_networks_, id);
}
const model::LogicalNetwork* FabricIndex::FindLogicalNetwork(absl::string_view id) const {
  return FindIn(logical_networks_, id);
}
const model::StorageClassification* FabricIndex::FindClassification(absl::string_view id) const {
  return FindIn(classifications_, id);
}
const model::CloudPairing* FabricIndex::FindPairing(absl::string_view id) const {
  return FindIn(pairings_, id);
}
const model::ProtectedItem* FabricIndex::FindProtectedItem(absl::string_view id) const {
  return FindIn(protected_items_, id);
}

StorageTargetRef FabricIndex::FindStorageTarget(absl::string_view id) const {
  auto it = storage_targets_.find(id);
  return it == storage_targets_.end() ? StorageTargetRef{} : it->second;
}

const model::NetworkMapping* FabricIndex::MappingForSourceNetwork(
    absl::string_view vm_network_id) const {
  return FindIn(network_mapping_by_source_, vm_network_id);
}

const model::StorageMapping* FabricIndex::MappingForSourceClassification(
    absl::string_view classification_id) const {
  return FindIn(storage_mapping_by_source_, classification_id);
}

namespace {
template <typename V>
const V& FindOrEmpty(const absl::flat_hash_map<absl::string_view, V>& map, absl::string_view id) {
  static const V* const kEmpty = new V();
  auto it = map.find(id);
  return it == map.end() ? *kEmpty : it->second;
}
}  // namespace

const std::vector<const model::NetworkMapping*>& FabricIndex::MappingsOntoNetwork(
    absl::string_view vm_network_id) const {
  return FindOrEmpty(network_mappings_onto_, vm_network_id);
}

const model::CloudPairing* FabricIndex::PairingForPrimaryCloud(absl::string_view cloud_id) const {
  return FindIn(pairing_by_primary_, cloud_id);
}

const model::ProtectedItem* FabricIndex::ProtectedItemForVm(absl::string_view vm_id) const {
  return FindIn(protected_item_by_vm_, vm_id);
}

const std::vector<const model::HyperVHost*>& FabricIndex::HostsInCloud(
    absl::string_view cloud_id) const {
  return FindOrEmpty(hosts_by_cloud_, cloud_id);
}

bool FabricIndex::CloudHasLogicalNetwork(absl::string_view cloud_id,
                                         absl::string_view logical_network_id) const {
  return FindOrEmpty(cloud_logical_networks_, cloud_id).contains(logical_network_id);
}

const std::vector<const HostInfo*>& FabricIndex::HostInfosInCloud(
    absl::string_view cloud_id) const {
  return FindOrEmpty(host_infos_by_cloud_, cloud_id);
}

const HostInfo* FabricIndex::FindHostInfo(absl::string_view host_id) const {
  return FindIn(host_info_by_id_, host_id);
}

bool FabricIndex::HostHasLogicalNetwork(absl::string_view host_id,
                                        absl::string_view logical_network_id) const {
  const HostInfo* info = FindHostInfo(host_id);
  return info != nullptr && info->logical_networks.contains(logical_network_id);
}

bool FabricIndex::HostReachesStorage(absl::string_view host_id,
                                     absl::string_view storage_target_id) const {
  const HostInfo* info = FindHostInfo(host_id);
  const model::StorageTarget* t = FindStorageTarget(storage_target_id).target;
  return info != nullptr && t != nullptr && info->storage.contains(t);
}

const std::vector<const model::VirtualMachine*>& FabricIndex::VmsOnNetwork(
    absl::string_view vm_network_id) const {
  return FindOrEmpty(vms_by_network_, vm_network_id);
}

const std::vector<const model::StorageTarget*>& FabricIndex::TargetsOf(
    absl::string_view classification_id) const {
  return FindOrEmpty(targets_by_classification_, classification_id);
}

}  // namespace asr::mapping
