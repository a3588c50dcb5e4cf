#include "asr/fabric/inventory_sync.h"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"

namespace asr::fabric {
namespace {

using google::protobuf::RepeatedPtrField;
using jobs::RuleError;

template <typename T>
absl::Status CheckIds(const std::string& server, const char* kind, const RepeatedPtrField<T>& items,
                      std::set<std::string>* ids) {
  for (const T& item : items) {
    if (item.id().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("inventory of server '", server, "': a ", kind,
                                                     " named '", item.name(), "' has no id"));
    }
    if (!ids->insert(item.id()).second) {
      return absl::InvalidArgumentError(absl::StrCat("inventory of server '", server, "': ", kind,
                                                     " id '", item.id(), "' appears twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status Dangling(const std::string& server, absl::string_view kind, absl::string_view id,
                      absl::string_view ref_kind, absl::string_view ref) {
  return absl::InvalidArgumentError(
      absl::StrCat("inventory of server '", server, "': ", kind, " '", id, "' refers to ", ref_kind,
                   " '", ref, "', which the inventory does not contain; send the whole inventory"));
}

// One kind's diff: `incoming` objects in scope are put (added or updated);
// stored objects of this server that are in scope and absent from the whole
// inventory are removed. Objects of other servers are never put nor removed.
template <typename T>
absl::Status DiffKind(repository::ObjectRepository& repo, const std::string& kind,
                      const std::string& server_id, const RepeatedPtrField<T>& incoming,
                      const std::function<bool(const T&)>& in_scope,
                      const std::function<void(T*, const T*)>& adjust, store::WriteBatch* batch,
                      model::InventoryChangeReport* report, std::vector<T>* removed) {
  ASR_ASSIGN_OR_RETURN(std::vector<T> stored_all, repo.List<T>());
  std::map<std::string, T> stored;
  std::map<std::string, std::string> foreign;  // id -> owner, of other servers' objects
  for (T& s : stored_all) {
    if (s.server_id() == server_id) {
      stored[s.id()] = std::move(s);
    } else if (!s.server_id().empty()) {
      foreign[s.id()] = s.server_id();
    }
  }
  std::set<std::string> present;
  for (const T& in : incoming) present.insert(in.id());
  for (const T& in : incoming) {
    if (!in_scope(in)) continue;
    // Validate refuses these; never overwrite another server's object even so.
    auto owner = foreign.find(in.id());
    if (owner != foreign.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat(kind, " '", in.id(), "' already belongs to server '", owner->second,
                       "', not to '", server_id, "'"));
    }
    T next = in;
    next.set_server_id(server_id);
    auto it = stored.find(in.id());
    adjust(&next, it == stored.end() ? nullptr : &it->second);
    model::InventoryChange change;
    change.set_kind(kind);
    change.set_id(next.id());
    change.set_name(next.name());
    if (it == stored.end()) {
      *report->add_added() = change;
    } else if (it->second.SerializeAsString() != next.SerializeAsString()) {
      *report->add_updated() = change;
    } else {
      report->set_unchanged(report->unchanged() + 1);
      continue;
    }
    batch->Put(repository::ObjectRepository::Key(kind, next.id()), next.SerializeAsString());
  }
  for (const auto& [id, s] : stored) {
    if (present.count(id) || !in_scope(s)) continue;
    model::InventoryChange change;
    change.set_kind(kind);
    change.set_id(id);
    change.set_name(s.name());
    *report->add_removed() = change;
    batch->Delete(repository::ObjectRepository::Key(kind, id));
    removed->push_back(s);
  }
  return absl::OkStatus();
}

// Describes each object of `incoming` that is stored as another server's
// ("VM network 'vmn1' (Net1) already belongs to server 'vmm-ny', not to
// 'vmm-chi'") and appends it to `conflicts`.
template <typename T>
absl::Status ForeignObjects(repository::ObjectRepository& repo, const model::VmmServer& server,
                            absl::string_view kind, const RepeatedPtrField<T>& incoming,
                            std::vector<std::string>* conflicts) {
  if (incoming.empty()) return absl::OkStatus();
  ASR_ASSIGN_OR_RETURN(std::vector<T> stored_all, repo.List<T>());
  std::map<std::string, std::string> owners;
  for (const T& s : stored_all) owners[s.id()] = s.server_id();
  for (const T& in : incoming) {
    auto it = owners.find(in.id());
    if (it == owners.end() || it->second.empty() || it->second == server.id()) continue;
    std::string owner = it->second;
    auto owner_server = repo.Get<model::VmmServer>(owner);
    if (owner_server.ok() && !owner_server->friendly_name().empty()) {
      owner = owner_server->friendly_name();
    }
    conflicts->push_back(absl::StrCat(
        kind, " '", in.id(), "'", in.name().empty() ? "" : absl::StrCat(" (", in.name(), ")"),
        " already belongs to server '", owner, "', not to '", server.friendly_name(), "'"));
  }
  return absl::OkStatus();
}

template <typename T>
void Keep(T*, const T*) {}

}  // namespace

absl::Status InventorySync::Validate() {
  const std::string& sid = server_.id();
  if (!inventory_.server_id().empty() && inventory_.server_id() != server_.id() &&
      inventory_.server_id() != server_.friendly_name()) {
    return absl::InvalidArgumentError(absl::StrCat("the inventory is of server '",
                                                   inventory_.server_id(), "', not of '",
                                                   server_.friendly_name(), "'"));
  }
  std::set<std::string> clouds, groups, hosts, vms, vmnets, lnets, scs;
  ASR_RETURN_IF_ERROR(CheckIds(sid, "cloud", inventory_.clouds(), &clouds));
  ASR_RETURN_IF_ERROR(CheckIds(sid, "host group", inventory_.host_groups(), &groups));
  ASR_RETURN_IF_ERROR(CheckIds(sid, "host", inventory_.hosts(), &hosts));
  ASR_RETURN_IF_ERROR(CheckIds(sid, "VM", inventory_.virtual_machines(), &vms));
  ASR_RETURN_IF_ERROR(CheckIds(sid, "VM network", inventory_.vm_networks(), &vmnets));
  ASR_RETURN_IF_ERROR(CheckIds(sid, "logical network", inventory_.logical_networks(), &lnets));
  ASR_RETURN_IF_ERROR(
      CheckIds(sid, "storage classification", inventory_.storage_classifications(), &scs));
  for (const auto& c : inventory_.clouds()) {
    for (const auto& g : c.host_group_ids()) {
      if (!groups.count(g)) return Dangling(sid, "cloud", c.name(), "host group", g);
    }
    for (const auto& l : c.logical_network_ids()) {
      if (!lnets.count(l)) return Dangling(sid, "cloud", c.name(), "logical network", l);
    }
    for (const auto& s : c.storage_classification_ids()) {
      if (!scs.count(s)) return Dangling(sid, "cloud", c.name(), "storage classification", s);
    }
  }
  for (const auto& g : inventory_.host_groups()) {
    for (const auto& h : g.host_ids()) {
      if (!hosts.count(h)) return Dangling(sid, "host group", g.name(), "host", h);
    }
  }
  for (const auto& h : inventory_.hosts()) {
    if (!h.host_group_id().empty() && !groups.count(h.host_group_id())) {
      return Dangling(sid, "host", h.name(), "host group", h.host_group_id());
    }
  }
  for (const auto& v : inventory_.virtual_machines()) {
    if (!v.cloud_id().empty() && !clouds.count(v.cloud_id())) {
      return Dangling(sid, "VM", v.name(), "cloud", v.cloud_id());
    }
    if (!v.host_id().empty() && !hosts.count(v.host_id())) {
      return Dangling(sid, "VM", v.name(), "host", v.host_id());
    }
    for (const auto& nic : v.network_adapters()) {
      if (!nic.vm_network_id().empty() && !vmnets.count(nic.vm_network_id())) {
        return Dangling(sid, "VM", v.name(), "VM network", nic.vm_network_id());
      }
    }
  }
  for (const auto& n : inventory_.vm_networks()) {
    if (!n.logical_network_id().empty() && !lnets.count(n.logical_network_id())) {
      return Dangling(sid, "VM network", n.name(), "logical network", n.logical_network_id());
    }
  }
  // Ids are VMM's and unique across servers: every object belongs to the
  // server that first reported it, and no other server's sync may take it
  // over (and so later delete it), whatever its kind.
  repository::ObjectRepository& e = fabric_->repository();
  std::vector<std::string> conflicts;
  ASR_RETURN_IF_ERROR(
      ForeignObjects<model::Cloud>(e, server_, "cloud", inventory_.clouds(), &conflicts));
  ASR_RETURN_IF_ERROR(ForeignObjects<model::HostGroup>(e, server_, "host group",
                                                       inventory_.host_groups(), &conflicts));
  ASR_RETURN_IF_ERROR(
      ForeignObjects<model::HyperVHost>(e, server_, "host", inventory_.hosts(), &conflicts));
  ASR_RETURN_IF_ERROR(ForeignObjects<model::VirtualMachine>(
      e, server_, "VM", inventory_.virtual_machines(), &conflicts));
  ASR_RETURN_IF_ERROR(ForeignObjects<model::VmNetwork>(e, server_, "VM network",
                                                       inventory_.vm_networks(), &conflicts));
  ASR_RETURN_IF_ERROR(ForeignObjects<model::LogicalNetwork>(
      e, server_, "logical network", inventory_.logical_networks(), &conflicts));
  ASR_RETURN_IF_ERROR(ForeignObjects<model::StorageClassification>(
      e, server_, "storage classification", inventory_.storage_classifications(), &conflicts));
  if (!conflicts.empty()) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "InventoryIdsUniqueAcrossServers",
        absl::StrCat("the inventory of server '", server_.friendly_name(),
                     "' names objects of other servers: ", absl::StrJoin(conflicts, "; ")),
        "send each server's own inventory; nothing was changed");
  }
  return absl::OkStatus();
}

absl::StatusOr<model::InventoryChangeReport> InventorySync::Run() {
  ASR_RETURN_IF_ERROR(Validate());
  repository::ObjectRepository& e = fabric_->repository();
  const std::string& sid = server_.id();
  model::InventoryChangeReport report;
  report.set_server_id(sid);
  report.set_cloud_id(cloud_id_);

  // Scope.
  bool all = cloud_id_.empty();
  std::set<std::string> scope_groups;
  if (!all) {
    const model::Cloud* cloud = nullptr;
    for (const auto& c : inventory_.clouds()) {
      if (c.id() == cloud_id_) cloud = &c;
    }
    for (const auto& c : inventory_.clouds()) {
      if (cloud == nullptr && c.name() == cloud_id_) cloud = &c;
    }
    if (cloud == nullptr) {
      return absl::NotFoundError(absl::StrCat("cloud '", cloud_id_,
                                              "' is not in the inventory of server '",
                                              server_.friendly_name(), "'"));
    }
    cloud_id_ = cloud->id();
    report.set_cloud_id(cloud_id_);
    scope_groups.insert(cloud->host_group_ids().begin(), cloud->host_group_ids().end());
    auto stored = e.Get<model::Cloud>(cloud_id_);
    if (stored.ok()) {
      scope_groups.insert(stored->host_group_ids().begin(), stored->host_group_ids().end());
    }
  }

  store::WriteBatch batch;
  std::vector<model::Cloud> removed_clouds;
  std::vector<model::VirtualMachine> removed_vms;
  std::vector<model::HostGroup> removed_groups;
  std::vector<model::HyperVHost> removed_hosts;
  std::vector<model::VmNetwork> removed_vmnets;
  std::vector<model::LogicalNetwork> removed_lnets;
  std::vector<model::StorageClassification> removed_scs;
  bool sync_all = server_.sync_all_cloud_metadata();
  std::string cloud_id = cloud_id_;
  ASR_RETURN_IF_ERROR(DiffKind<model::Cloud>(
      e, "cloud", sid, inventory_.clouds(),
      [&](const model::Cloud& c) { return all || c.id() == cloud_id; },
      [&](model::Cloud* next, const model::Cloud* old) {
        next->set_metadata_synced(!all || sync_all || (old != nullptr && old->metadata_synced()));
      },
      &batch, &report, &removed_clouds));
  ASR_RETURN_IF_ERROR(DiffKind<model::HostGroup>(
      e, "host-group", sid, inventory_.host_groups(),
      [&](const model::HostGroup& g) { return all || scope_groups.count(g.id()) > 0; },
      Keep<model::HostGroup>, &batch, &report, &removed_groups));
  ASR_RETURN_IF_ERROR(DiffKind<model::HyperVHost>(
      e, "host", sid, inventory_.hosts(),
      [&](const model::HyperVHost& h) { return all || scope_groups.count(h.host_group_id()) > 0; },
      Keep<model::HyperVHost>, &batch, &report, &removed_hosts));
  ASR_RETURN_IF_ERROR(DiffKind<model::VirtualMachine>(
      e, "vm", sid, inventory_.virtual_machines(),
      [&](const model::VirtualMachine& v) { return all || v.cloud_id() == cloud_id; },
      Keep<model::VirtualMachine>, &batch, &report, &removed_vms));
  if (all) {
    auto yes = [](const auto&) { return true; };
    ASR_RETURN_IF_ERROR(DiffKind<model::VmNetwork>(e, "vm-network", sid, inventory_.vm_networks(),
                                                   yes, Keep<model::VmNetwork>, &batch, &report,
                                                   &removed_vmnets));
    ASR_RETURN_IF_ERROR(DiffKind<model::LogicalNetwork>(
        e, "logical-network", sid, inventory_.logical_networks(), yes, Keep<model::LogicalNetwork>,
        &batch, &report, &removed_lnets));
    ASR_RETURN_IF_ERROR(DiffKind<model::StorageClassification>(
        e, "storage-classification", sid, inventory_.storage_classifications(), yes,
        Keep<model::StorageClassification>, &batch, &report, &removed_scs));
  }

  // A paired cloud or a protected VM may not silently disappear.
  ASR_ASSIGN_OR_RETURN(std::vector<model::CloudPairing> pairings, e.List<model::CloudPairing>());
  for (const model::Cloud& c : removed_clouds) {
    for (const model::CloudPairing& p : pairings) {
      if (p.primary_cloud_id() == c.id() || p.recovery_cloud_id() == c.id()) {
        return RuleError(absl::StatusCode::kFailedPrecondition, "PairedCloudStaysInInventory",
                         absl::StrCat("the inventory no longer has cloud '", c.name(),
                                      "', which is in pairing '", p.id(), "'"),
                         "unpair the cloud before removing it from VMM, then sync again");
      }
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, e.List<model::ProtectedItem>());
  for (const model::VirtualMachine& v : removed_vms) {
    for (const model::ProtectedItem& item : items) {
      if (item.vm_id() == v.id()) {
        return RuleError(absl::StatusCode::kFailedPrecondition, "ProtectedVmStaysInInventory",
                         absl::StrCat("the inventory no longer has VM '", v.name(),
                                      "', which is protected (", item.id(), ")"),
                         "disable protection of the VM first, then sync again");
      }
    }
  }
  ASR_RETURN_IF_ERROR(e.store().Commit(batch));
  return report;
}

}  // namespace asr::fabric
