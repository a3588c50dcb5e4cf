#include "asr/mapping/mapping_changes.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"
#include "asr/mapping/network_resolver.h"
#include "google/protobuf/util/message_differencer.h"

namespace asr::mapping {
namespace {

std::string Label(const model::VmNetwork& n) {
  return absl::StrCat("'", n.name().empty() ? n.id() : n.name(), "'");
}

std::string Label(const model::StorageClassification& c) {
  return absl::StrCat("'", c.name().empty() ? c.id() : c.name(), "'");
}

bool SameNic(const model::NicResolution& a, const model::NicResolution& b) {
  return a.target_vm_network_id() == b.target_vm_network_id() &&
         a.target_subnet_name() == b.target_subnet_name() && a.kind() == b.kind();
}

// Checks that the object `what` exists and that an optional server id in
// the request matches the object's server.
template <typename T>
absl::Status CheckSide(const T* object, absl::string_view role, absl::string_view kind,
                       absl::string_view id, absl::string_view requested_server) {
  if (id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ", role, " ", kind, " is missing; name it by id or name"));
  }
  if (object == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        role, " ", kind, " '", id,
        "' is not in the inventory; check the name or sync the server's inventory"));
  }
  if (!requested_server.empty() && !object->server_id().empty() &&
      requested_server != object->server_id()) {
    return absl::InvalidArgumentError(absl::StrCat(role, " ", kind, " '", object->name(),
                                                   "' is on server '", object->server_id(),
                                                   "', not on '", requested_server,
                                                   "'; name the server it is on"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FabricIndex>> WithNetworkMappings(
    const FabricIndex& before, const std::string& remove_id, const model::NetworkMapping* add) {
  FabricSnapshot s = before.snapshot();
  auto& m = s.network_mappings;
  m.erase(std::remove_if(m.begin(), m.end(), [&](const auto& x) { return x.id() == remove_id; }),
          m.end());
  if (add != nullptr) m.push_back(*add);
  return FabricIndex::Build(std::move(s));
}

}  // namespace

std::string DefaultNetworkMappingId(absl::string_view source_vm_network_id) {
  return absl::StrCat("netmap-", source_vm_network_id);
}

std::string DefaultStorageMappingId(absl::string_view source_classification_id) {
  return absl::StrCat("storagemap-", source_classification_id);
}

void ReportNicChanges(const FabricIndex& before, const FabricIndex& after,
                      absl::string_view source_vm_network_id, model::MappingChangeReport* report) {
  int vms = 0;
  int nics = 0;
  for (const model::VirtualMachine* vm : after.VmsOnNetwork(source_vm_network_id)) {
    const model::ProtectedItem* item = after.ProtectedItemForVm(vm->id());
    if (item == nullptr) continue;
    ++vms;
    for (const model::NetworkAdapter& nic : vm->network_adapters()) {
      if (nic.vm_network_id() != source_vm_network_id) continue;
      ++nics;
      model::NicResolution was = ResolveNic(before, nic);
      model::NicResolution now = ResolveNic(after, nic);
      if (SameNic(was, now)) continue;
      model::NicChange* c = report->add_changes();
      c->set_protected_item_id(item->id());
      c->set_vm_id(vm->id());
      c->set_vm_name(vm->name());
      *c->mutable_before() = std::move(was);
      *c->mutable_after() = std::move(now);
    }
  }
  report->set_protected_vms_examined(vms);
  report->set_nics_examined(nics);
}

absl::StatusOr<PlannedNetworkChange> PlanNetworkMapping(const FabricIndex& before,
                                                        const model::NetworkMapping& request,
                                                        bool replace) {
  const model::VmNetwork* source = before.FindVmNetwork(request.source_vm_network_id());
  const model::VmNetwork* target = before.FindVmNetwork(request.target_vm_network_id());
  ASR_RETURN_IF_ERROR(CheckSide(source, "source", "VM network", request.source_vm_network_id(),
                                request.source_server_id()));
  ASR_RETURN_IF_ERROR(CheckSide(target, "target", "VM network", request.target_vm_network_id(),
                                request.target_server_id()));
  if (source->id() == target->id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "VM network ", Label(*source), " cannot be mapped to itself; pick a network of the "
        "recovery site (or of a recovery cloud on the same server)"));
  }

  PlannedNetworkChange plan;
  model::NetworkMapping& m = plan.mapping;
  m = request;
  m.set_source_server_id(source->server_id());
  m.set_target_server_id(target->server_id());
  const model::NetworkMapping* existing = before.MappingForSourceNetwork(source->id());
  if (m.id().empty()) m.set_id(existing != nullptr ? existing->id() : DefaultNetworkMappingId(source->id()));
  for (const auto& other : before.snapshot().network_mappings) {
    if (other.id() == m.id() && other.source_vm_network_id() != source->id()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "mapping id '", m.id(), "' is already used by the mapping of source network '",
          other.source_vm_network_id(), "'; choose another id or leave it empty"));
    }
  }
  model::MappingChangeReport& report = plan.report;
  report.set_source_vm_network_id(source->id());
  if (existing != nullptr) {
    if (google::protobuf::util::MessageDifferencer::Equals(*existing, m)) {
      report.set_operation("unchanged");
      *report.mutable_previous() = *existing;
      *report.mutable_current() = m;
      ASR_ASSIGN_OR_RETURN(plan.after, WithNetworkMappings(before, "", nullptr));
      ReportNicChanges(before, *plan.after, source->id(), &report);
      return plan;
    }
    if (!replace) {
      const model::VmNetwork* current = before.FindVmNetwork(existing->target_vm_network_id());
      return absl::AlreadyExistsError(absl::StrCat(
          "source VM network ", Label(*source), " is already mapped to ",
          current != nullptr ? Label(*current) : absl::StrCat("'", existing->target_vm_network_id(), "'"),
          " (mapping '", existing->id(),
          "'); a source network maps to at most one target: remove that mapping first or "
          "replace it (--replace)"));
    }
    report.set_operation("change");
    *report.mutable_previous() = *existing;
    plan.delete_mapping_id = existing->id();
  } else {
    report.set_operation("create");
  }
  *report.mutable_current() = m;

  // Warn when the target is offered to no pairing from the source's server.
  auto table = BuildTargetNetworkTable(before, source->id(), target->id());
  if (table.ok()) {
    std::vector<std::string> not_available;
    bool any = false;
    for (const auto& row : table->rows()) {
      if (row.available()) {
        any = true;
      } else {
        not_available.push_back(absl::StrCat(row.primary_cloud_name(), " -> ",
                                             row.recovery_cloud_name()));
      }
    }
    if (table->rows().empty()) {
      report.add_warnings(absl::StrCat("no cloud pairing leads from the source network's server to ",
                                       "the target network's server yet; pair clouds so that "
                                       "replicas can use ",
                                       Label(*target)));
    } else if (!any) {
      report.add_warnings(absl::StrCat(
          "target VM network ", Label(*target), " is not available for any pairing (",
          absl::StrJoin(not_available, ", "),
          "): its logical network is not associated with the recovery clouds"));
    }
  }

  ASR_ASSIGN_OR_RETURN(plan.after, WithNetworkMappings(before, plan.delete_mapping_id, &m));
  ReportNicChanges(before, *plan.after, source->id(), &report);
  return plan;
}

absl::StatusOr<PlannedNetworkChange> PlanNetworkUnmapping(const FabricIndex& before,
                                                          absl::string_view ref) {
  const model::NetworkMapping* existing = nullptr;
  for (const auto& m : before.snapshot().network_mappings) {
    if (m.id() == ref) existing = &m;
  }
  if (existing == nullptr) existing = before.MappingForSourceNetwork(ref);
  if (existing == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no network mapping '", ref,
        "' and no mapping from a source network with that id; list them with "
        "'asrctl network-map list'"));
  }
  PlannedNetworkChange plan;
  plan.delete_mapping_id = existing->id();
  plan.report.set_operation("remove");
  plan.report.set_source_vm_network_id(existing->source_vm_network_id());
  *plan.report.mutable_previous() = *existing;
  const std::string source = existing->source_vm_network_id();
  ASR_ASSIGN_OR_RETURN(plan.after, WithNetworkMappings(before, plan.delete_mapping_id, nullptr));
  ReportNicChanges(before, *plan.after, source, &plan.report);
  return plan;
}

absl::StatusOr<PlannedStorageChange> PlanStorageMapping(const FabricIndex& before,
                                                        const model::StorageMapping& request,
                                                        bool replace) {
  const model::StorageClassification* source =
      before.FindClassification(request.source_classification_id());
  const model::StorageClassification* target =
      before.FindClassification(request.target_classification_id());
  ASR_RETURN_IF_ERROR(CheckSide(source, "source", "storage classification",
                                request.source_classification_id(), request.source_server_id()));
  ASR_RETURN_IF_ERROR(CheckSide(target, "target", "storage classification",
                                request.target_classification_id(), request.target_server_id()));
  if (source->id() == target->id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "storage classification ", Label(*source),
        " cannot be mapped to itself; pick a classification of the recovery site"));
  }
  PlannedStorageChange plan;
  model::StorageMapping& m = plan.mapping;
  m = request;
  m.set_source_server_id(source->server_id());
  m.set_target_server_id(target->server_id());
  const model::StorageMapping* existing = before.MappingForSourceClassification(source->id());
  if (m.id().empty()) {
    m.set_id(existing != nullptr ? existing->id() : DefaultStorageMappingId(source->id()));
  }
  for (const auto& other : before.snapshot().storage_mappings) {
    if (other.id() == m.id() && other.source_classification_id() != source->id()) {
      return absl::AlreadyExistsError(absl::StrCat(
          "mapping id '", m.id(), "' is already used by the mapping of classification '",
          other.source_classification_id(), "'; choose another id or leave it empty"));
    }
  }
  model::StorageMappingChange& change = plan.change;
  if (existing != nullptr) {
    *change.mutable_previous() = *existing;
    if (google::protobuf::util::MessageDifferencer::Equals(*existing, m)) {
      change.set_operation("unchanged");
      *change.mutable_current() = m;
      return plan;
    }
    if (!replace) {
      const model::StorageClassification* current =
          before.FindClassification(existing->target_classification_id());
      return absl::AlreadyExistsError(absl::StrCat(
          "storage classification ", Label(*source), " is already mapped to ",
          current != nullptr ? Label(*current)
                             : absl::StrCat("'", existing->target_classification_id(), "'"),
          " (mapping '", existing->id(),
          "'); a classification maps to at most one target: remove that mapping first or "
          "replace it (--replace)"));
    }
    change.set_operation("change");
    plan.delete_mapping_id = existing->id();
  } else {
    change.set_operation("create");
  }
  *change.mutable_current() = m;
  if (before.TargetsOf(target->id()).empty()) {
    change.add_warnings(absl::StrCat("target classification ", Label(*target),
                                     " has no shares or volumes yet, so replica disks go to the "
                                     "hosts' default locations"));
  }
  return plan;
}

absl::StatusOr<PlannedStorageChange> PlanStorageUnmapping(const FabricIndex& before,
                                                          absl::string_view ref) {
  const model::StorageMapping* existing = nullptr;
  for (const auto& m : before.snapshot().storage_mappings) {
    if (m.id() == ref) existing = &m;
  }
  if (existing == nullptr) existing = before.MappingForSourceClassification(ref);
  if (existing == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no storage mapping '", ref,
        "' and no mapping from a classification with that id; list them with "
        "'asrctl storage-map list'"));
  }
  PlannedStorageChange plan;
  plan.delete_mapping_id = existing->id();
  plan.change.set_operation("remove");
  *plan.change.mutable_previous() = *existing;
  return plan;
}

}  // namespace asr::mapping
