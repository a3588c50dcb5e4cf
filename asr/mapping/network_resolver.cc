#include "asr/mapping/network_resolver.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace asr::mapping {
namespace {

std::string NetworkLabel(const model::VmNetwork* n, absl::string_view id) {
  if (n == nullptr || n->name().empty()) return absl::StrCat("'", id, "'");
  return absl::StrCat("'", n->name(), "'");
}

}  // namespace

std::string ChooseSubnet(const model::VmNetwork& network, absl::string_view source_subnet,
                         model::NicResolutionKind* kind) {
  model::NicResolutionKind ignored;
  if (kind == nullptr) kind = &ignored;
  if (network.subnets().empty()) {
    *kind = model::NIC_TARGET_WITHOUT_SUBNETS;
    return "";
  }
  if (!source_subnet.empty()) {
    for (const model::Subnet& s : network.subnets()) {
      if (s.name() == source_subnet) {
        *kind = model::NIC_SAME_NAME_SUBNET;
        return s.name();
      }
    }
    for (const model::Subnet& s : network.subnets()) {
      if (absl::EqualsIgnoreCase(s.name(), source_subnet)) {
        *kind = model::NIC_SAME_NAME_SUBNET;
        return s.name();
      }
    }
  }
  *kind = model::NIC_FIRST_SUBNET;
  return network.subnets(0).name();
}

void ResolveNicInto(const FabricIndex& index, const model::NetworkAdapter& nic, bool explain,
                    model::NicResolution* out) {
  model::NicResolution& r = *out;
  r.Clear();
  r.set_nic_id(nic.id());
  r.set_source_vm_network_id(nic.vm_network_id());
  r.set_source_subnet_name(nic.subnet_name());
  if (nic.vm_network_id().empty()) {
    r.set_kind(model::NIC_DISCONNECTED);
    if (explain) {
      r.set_explanation("the source NIC is on no VM network, so the replica NIC joins no network");
    }
    return;
  }
  const model::VmNetwork* source = index.FindVmNetwork(nic.vm_network_id());
  if (source == nullptr) {
    r.set_kind(model::NIC_SOURCE_NETWORK_UNKNOWN);
    if (explain) {
      r.set_explanation(absl::StrCat("source VM network '", nic.vm_network_id(),
                                     "' is not in the inventory, so the replica NIC joins no "
                                     "network; sync the source server's inventory"));
    }
    return;
  }
  r.set_source_vm_network_name(source->name());
  const model::NetworkMapping* mapping = index.MappingForSourceNetwork(source->id());
  if (mapping == nullptr) {
    r.set_kind(model::NIC_UNMAPPED);
    if (explain) {
      r.set_explanation(absl::StrCat("source VM network ", NetworkLabel(source, source->id()),
                                     " is not mapped, so the replica NIC joins no network"));
    }
    return;
  }
  r.set_network_mapping_id(mapping->id());
  const model::VmNetwork* target = index.FindVmNetwork(mapping->target_vm_network_id());
  if (target == nullptr) {
    r.set_kind(model::NIC_TARGET_NETWORK_MISSING);
    if (explain) {
      r.set_explanation(absl::StrCat("mapping '", mapping->id(), "' names target VM network '",
                                     mapping->target_vm_network_id(),
                                     "', which is not in the inventory, so the replica NIC "
                                     "joins no network; sync the target server or fix the "
                                     "mapping"));
    }
    return;
  }
  r.set_target_vm_network_id(target->id());
  r.set_target_vm_network_name(target->name());
  model::NicResolutionKind kind;
  r.set_target_subnet_name(ChooseSubnet(*target, nic.subnet_name(), &kind));
  r.set_kind(kind);
  if (!explain) return;
  switch (kind) {
    case model::NIC_SAME_NAME_SUBNET:
      r.set_explanation(absl::StrCat("mapped to ", NetworkLabel(target, target->id()),
                                     "; subnet '", r.target_subnet_name(),
                                     "' has the source subnet's name"));
      break;
    case model::NIC_FIRST_SUBNET:
      r.set_explanation(absl::StrCat(
          "mapped to ", NetworkLabel(target, target->id()), "; no subnet named '",
          nic.subnet_name(), "', so the first subnet '", r.target_subnet_name(), "'"));
      break;
    default:
      r.set_explanation(absl::StrCat("mapped to ", NetworkLabel(target, target->id()),
                                     ", which has no subnets"));
      break;
  }
}

model::NicResolution ResolveNic(const FabricIndex& index, const model::NetworkAdapter& nic,
                                bool explain) {
  model::NicResolution r;
  ResolveNicInto(index, nic, explain, &r);
  return r;
}

absl::StatusOr<model::VmNicResolutions> ResolveVmNics(const FabricIndex& index,
                                                      absl::string_view vm_id) {
  const model::VirtualMachine* vm = index.FindVm(vm_id);
  if (vm == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("VM '", vm_id, "' is not in the inventory; sync the source server"));
  }
  model::VmNicResolutions out;
  out.set_vm_id(vm->id());
  out.set_vm_name(vm->name());
  for (const model::NetworkAdapter& nic : vm->network_adapters()) {
    *out.add_nics() = ResolveNic(index, nic);
  }
  return out;
}

model::NetworkMappingTable BuildNetworkMappingTable(const FabricIndex& index) {
  std::vector<const model::VmNetwork*> networks;
  networks.reserve(index.snapshot().vm_networks.size());
  for (const auto& n : index.snapshot().vm_networks) networks.push_back(&n);
  std::sort(networks.begin(), networks.end(), [](const auto* a, const auto* b) {
    if (a->server_id() != b->server_id()) return a->server_id() < b->server_id();
    return ByNameThenId(a, b);
  });
  model::NetworkMappingTable table;
  for (const model::VmNetwork* n : networks) {
    model::NetworkMappingRow* row = table.add_rows();
    row->set_server_id(n->server_id());
    row->set_vm_network_id(n->id());
    row->set_vm_network_name(n->name());
    row->set_logical_network_id(n->logical_network_id());
    const auto& incoming = index.MappingsOntoNetwork(n->id());
    for (const auto* m : incoming) row->add_incoming_mapping_ids(m->id());
    const model::NetworkMapping* m = index.MappingForSourceNetwork(n->id());
    std::string partner;
    if (m != nullptr) {
      row->set_is_mapping_source(true);
      partner = m->target_vm_network_id();
    } else if (!incoming.empty()) {
      m = incoming.front();
      partner = m->source_vm_network_id();
    }
    if (m == nullptr) continue;
    row->set_mapped(true);
    row->set_mapping_id(m->id());
    row->set_mapped_vm_network_id(partner);
    if (const model::VmNetwork* p = index.FindVmNetwork(partner)) {
      row->set_mapped_vm_network_name(p->name());
      row->set_mapped_server_id(p->server_id());
    }
  }
  std::vector<const model::NetworkMapping*> mappings;
  for (const auto& m : index.snapshot().network_mappings) mappings.push_back(&m);
  std::sort(mappings.begin(), mappings.end(),
            [](const auto* a, const auto* b) { return a->id() < b->id(); });
  for (const auto* m : mappings) *table.add_mappings() = *m;
  return table;
}

model::TargetNetworkAvailability TargetAvailability(const FabricIndex& index,
                                                    const model::VmNetwork& target,
                                                    const model::CloudPairing& pairing) {
  model::TargetNetworkAvailability a;
  a.set_target_vm_network_id(target.id());
  a.set_target_vm_network_name(target.name());
  a.set_pairing_id(pairing.id());
  a.set_primary_cloud_id(pairing.primary_cloud_id());
  a.set_recovery_cloud_id(pairing.recovery_cloud_id());
  if (const auto* c = index.FindCloud(pairing.primary_cloud_id())) {
    a.set_primary_cloud_name(c->name());
  }
  const model::Cloud* recovery = index.FindCloud(pairing.recovery_cloud_id());
  std::string cloud_label = absl::StrCat("'", pairing.recovery_cloud_id(), "'");
  if (recovery != nullptr) {
    a.set_recovery_cloud_name(recovery->name());
    cloud_label = absl::StrCat("'", recovery->name(), "'");
  }
  std::string ln_label = absl::StrCat("'", target.logical_network_id(), "'");
  if (const auto* ln = index.FindLogicalNetwork(target.logical_network_id())) {
    if (!ln->name().empty()) ln_label = absl::StrCat("'", ln->name(), "'");
  }
  if (recovery == nullptr) {
    a.set_explanation(absl::StrCat("recovery cloud ", cloud_label,
                                   " is not in the inventory; sync the target server"));
  } else if (target.logical_network_id().empty()) {
    a.set_explanation(absl::StrCat("VM network '", target.name(),
                                   "' has no logical network, so no cloud can offer it"));
  } else if (index.CloudHasLogicalNetwork(recovery->id(), target.logical_network_id())) {
    a.set_available(true);
    a.set_explanation(absl::StrCat("logical network ", ln_label,
                                   " is associated with recovery cloud ", cloud_label));
  } else {
    a.set_explanation(absl::StrCat("logical network ", ln_label,
                                   " is not associated with recovery cloud ", cloud_label,
                                   "; associate it with the cloud in VMM to offer this network"));
  }
  return a;
}

absl::StatusOr<model::TargetNetworkTable> BuildTargetNetworkTable(
    const FabricIndex& index, absl::string_view source_vm_network_id,
    absl::string_view target_vm_network_id) {
  const model::VmNetwork* source = index.FindVmNetwork(source_vm_network_id);
  if (source == nullptr) {
    return absl::NotFoundError(absl::StrCat("source VM network '", source_vm_network_id,
                                            "' is not in the inventory"));
  }
  model::TargetNetworkTable table;
  table.set_source_vm_network_id(source->id());
  std::vector<model::TargetNetworkAvailability> rows;
  for (const model::CloudPairing& p : index.snapshot().pairings) {
    const model::Cloud* primary = index.FindCloud(p.primary_cloud_id());
    const model::Cloud* recovery = index.FindCloud(p.recovery_cloud_id());
    if (primary != nullptr && !primary->server_id().empty() && !source->server_id().empty() &&
        primary->server_id() != source->server_id()) {
      continue;
    }
    for (const model::VmNetwork& t : index.snapshot().vm_networks) {
      if (t.id() == source->id()) continue;
      if (!target_vm_network_id.empty() && t.id() != target_vm_network_id) continue;
      if (recovery != nullptr && !recovery->server_id().empty() &&
          t.server_id() != recovery->server_id()) {
        continue;
      }
      rows.push_back(TargetAvailability(index, t, p));
    }
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    if (a.target_vm_network_name() != b.target_vm_network_name()) {
      return a.target_vm_network_name() < b.target_vm_network_name();
    }
    if (a.target_vm_network_id() != b.target_vm_network_id()) {
      return a.target_vm_network_id() < b.target_vm_network_id();
    }
    if (a.primary_cloud_name() != b.primary_cloud_name()) {
      return a.primary_cloud_name() < b.primary_cloud_name();
    }
    return a.pairing_id() < b.pairing_id();
  });
  for (auto& r : rows) *table.add_rows() = std::move(r);
  return table;
}

absl::StatusOr<model::FailbackResolution> ResolveFailback(const FabricIndex& index,
                                                          const model::FailbackRequest& request) {
  std::string original = request.original_vm_network_id();
  std::string original_subnet = request.original_subnet_name();
  if (!request.vm_id().empty() && original.empty()) {
    const model::VirtualMachine* vm = index.FindVm(request.vm_id());
    if (vm == nullptr) {
      return absl::NotFoundError(absl::StrCat("VM '", request.vm_id(), "' is not in the inventory"));
    }
    const model::NetworkAdapter* nic = nullptr;
    for (const auto& n : vm->network_adapters()) {
      if (request.nic_id().empty() || n.id() == request.nic_id()) {
        nic = &n;
        break;
      }
    }
    if (nic == nullptr) {
      return absl::NotFoundError(
          request.nic_id().empty()
              ? absl::StrCat("VM '", vm->name(), "' has no network adapters")
              : absl::StrCat("VM '", vm->name(), "' has no network adapter '", request.nic_id(),
                             "'"));
    }
    original = nic->vm_network_id();
    original_subnet = nic->subnet_name();
  }
  if (original.empty()) {
    return absl::InvalidArgumentError(
        "failback needs the original VM's network: set originalVmNetworkId, or vmId of a VM "
        "whose NIC is on a network");
  }

  model::FailbackResolution out;
  out.set_original_vm_network_id(original);
  const std::string& replica = request.replica_vm_network_id();
  out.set_replica_vm_network_id(replica);
  const model::VmNetwork* original_net = index.FindVmNetwork(original);
  const std::string original_label = NetworkLabel(original_net, original);

  if (replica.empty()) {
    out.set_scenario(model::FAILBACK_REPLICA_DISCONNECTED);
    out.set_explanation("the replica was disconnected after failover, so the original VM is "
                        "disconnected on failback");
    return out;
  }
  const model::VmNetwork* replica_net = index.FindVmNetwork(replica);
  const std::string replica_label = NetworkLabel(replica_net, replica);

  // Reverse lookup: an explicit mapping from the replica's network wins;
  // else a mapping onto it, the original network's own first.
  const model::NetworkMapping* mapping = index.MappingForSourceNetwork(replica);
  std::string back;
  if (mapping != nullptr) {
    back = mapping->target_vm_network_id();
  } else {
    const auto& onto = index.MappingsOntoNetwork(replica);
    for (const auto* m : onto) {
      if (m->source_vm_network_id() == original) mapping = m;
    }
    if (mapping == nullptr && !onto.empty()) mapping = onto.front();
    if (mapping != nullptr) back = mapping->source_vm_network_id();
  }
  if (mapping == nullptr) {
    out.set_scenario(model::FAILBACK_REPLICA_ON_UNMAPPED_NETWORK);
    out.set_explanation(absl::StrCat("the replica is on ", replica_label,
                                     ", which is not mapped, so the original VM is "
                                     "disconnected on failback"));
    return out;
  }
  out.set_network_mapping_id(mapping->id());
  out.set_vm_network_id(back);
  const model::VmNetwork* back_net = index.FindVmNetwork(back);
  if (back_net != nullptr) {
    out.set_vm_network_name(back_net->name());
    const std::string& subnet =
        back == original && !original_subnet.empty() ? original_subnet : request.replica_subnet_name();
    out.set_subnet_name(ChooseSubnet(*back_net, subnet, nullptr));
  }
  const std::string back_label = NetworkLabel(back_net, back);
  const bool moved = !request.replica_failover_vm_network_id().empty() &&
                     request.replica_failover_vm_network_id() != replica;
  if (back == original) {
    out.set_scenario(model::FAILBACK_NETWORK_UNCHANGED);
    out.set_explanation(absl::StrCat("the replica is on ", replica_label, ", mapped to ",
                                     original_label, ", so the original VM stays on ",
                                     original_label));
  } else if (moved) {
    out.set_scenario(model::FAILBACK_REPLICA_ON_OTHER_MAPPED_NETWORK);
    out.set_explanation(absl::StrCat("the replica moved to ", replica_label, ", mapped to ",
                                     back_label, ", so the original VM joins ", back_label));
  } else {
    out.set_scenario(model::FAILBACK_MAPPING_CHANGED);
    out.set_explanation(absl::StrCat("the mapping of ", replica_label, " now leads to ",
                                     back_label, ", so the original VM joins ", back_label,
                                     " instead of ", original_label));
  }
  return out;
}

}  // namespace asr::mapping
