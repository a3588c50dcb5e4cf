#include "asr/mapping/placement.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"
#include "asr/mapping/network_resolver.h"

namespace asr::mapping {
namespace {

// A logical network a host must be connected to, and which NIC needs it.
struct NetworkNeed {
  std::string logical_network_id;
  std::string label;  // for explanations
};

std::string LogicalNetworkLabel(const FabricIndex& index, const std::string& id) {
  const model::LogicalNetwork* ln = index.FindLogicalNetwork(id);
  return absl::StrCat("'", ln != nullptr && !ln->name().empty() ? ln->name() : id, "'");
}

absl::StatusOr<const model::CloudPairing*> PairingFor(const FabricIndex& index,
                                                      const model::VirtualMachine& vm,
                                                      const PlacementOptions& options) {
  std::string id = options.pairing_id;
  if (id.empty()) {
    if (const auto* item = index.ProtectedItemForVm(vm.id())) id = item->pairing_id();
  }
  if (!id.empty()) {
    const model::CloudPairing* p = index.FindPairing(id);
    if (p == nullptr) {
      return absl::NotFoundError(absl::StrCat("pairing '", id, "' (for VM '", vm.name(),
                                              "') does not exist; list pairings to pick one"));
    }
    return p;
  }
  const model::CloudPairing* p = index.PairingForPrimaryCloud(vm.cloud_id());
  if (p == nullptr) {
    const model::Cloud* c = index.FindCloud(vm.cloud_id());
    return absl::FailedPreconditionError(absl::StrCat(
        "VM '", vm.name(), "' is in cloud '", c != nullptr ? c->name() : vm.cloud_id(),
        "', which is not paired with a recovery cloud; pair the cloud before placing replicas"));
  }
  return p;
}

}  // namespace

absl::StatusOr<model::ReplicaPlacement> PlaceReplica(const FabricIndex& index,
                                                     absl::string_view vm_id,
                                                     const PlacementOptions& options) {
  CapacityLedger empty;
  return PlaceReplica(index, vm_id, empty, options);
}

absl::StatusOr<model::ReplicaPlacement> PlaceReplica(const FabricIndex& index,
                                                     absl::string_view vm_id,
                                                     const CapacityLedger& ledger,
                                                     const PlacementOptions& options) {
  const model::VirtualMachine* vm = index.FindVm(vm_id);
  if (vm == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("VM '", vm_id, "' is not in the inventory; sync the source server"));
  }
  ASR_ASSIGN_OR_RETURN(const model::CloudPairing* pairing, PairingFor(index, *vm, options));

  model::ReplicaPlacement out;
  out.set_vm_id(vm->id());
  out.set_vm_name(vm->name());
  out.set_pairing_id(pairing->id());
  out.set_primary_cloud_id(pairing->primary_cloud_id());
  out.set_recovery_cloud_id(pairing->recovery_cloud_id());
  const model::Cloud* recovery = index.FindCloud(pairing->recovery_cloud_id());
  if (recovery != nullptr) out.set_recovery_cloud_name(recovery->name());

  // NICs, and the logical networks they need on the host.
  std::vector<NetworkNeed> needs;
  for (const model::NetworkAdapter& nic : vm->network_adapters()) {
    model::NicResolution r = ResolveNic(index, nic);
    if (!r.target_vm_network_id().empty()) {
      const model::VmNetwork* target = index.FindVmNetwork(r.target_vm_network_id());
      const std::string& ln = target->logical_network_id();
      if (ln.empty()) {
        out.add_warnings(absl::StrCat("target VM network '", target->name(),
                                      "' has no logical network; no host can be checked for it"));
      } else {
        if (recovery != nullptr && !index.CloudHasLogicalNetwork(recovery->id(), ln)) {
          out.add_warnings(absl::StrCat(
              "target VM network '", target->name(), "' is not available for pairing '",
              pairing->id(), "': its logical network ", LogicalNetworkLabel(index, ln),
              " is not associated with recovery cloud '", recovery->name(), "'"));
        }
        bool seen = false;
        for (const auto& n : needs) seen = seen || n.logical_network_id == ln;
        if (!seen) {
          needs.push_back({ln, absl::StrCat("logical network ", LogicalNetworkLabel(index, ln),
                                            " (for NIC '", nic.id(), "' on '", target->name(),
                                            "')")});
        }
      }
    }
    *out.add_nics() = std::move(r);
  }

  const std::string cloud_label =
      absl::StrCat("recovery cloud '", recovery != nullptr ? recovery->name() : pairing->recovery_cloud_id(), "'");
  if (recovery == nullptr) {
    out.set_explanation(absl::StrCat(cloud_label,
                                     " is not in the inventory; sync the target server"));
    return out;
  }
  const auto& hosts = index.HostsInCloud(recovery->id());
  if (hosts.empty()) {
    out.set_explanation(absl::StrCat("no host can take the replica: ", cloud_label,
                                     " has no Hyper-V hosts in its host groups"));
    return out;
  }

  struct Eval {
    const model::HyperVHost* host;
    bool qualifies = false;
    int on_mapped = 0;
    int replicas = 0;
  };
  std::vector<Eval> evals;
  evals.reserve(hosts.size());
  std::vector<internal::DiskChoice> choices, best_choices;
  int best = -1;
  for (const model::HyperVHost* h : hosts) {
    Eval e{h};
    e.replicas = ledger.ReplicasOnHost(h->id());
    bool networks_ok = true;
    for (const auto& n : needs) {
      if (!index.HostHasLogicalNetwork(h->id(), n.logical_network_id)) {
        networks_ok = false;
        break;
      }
    }
    if (networks_ok) {
      e.on_mapped = internal::ChooseDisks(index, *vm, *h, ledger, &choices);
      e.qualifies = e.on_mapped >= 0;
    }
    if (e.qualifies) {
      // Hosts come sorted by (name, id): on a full tie the earlier one stays.
      bool better = best < 0 || e.on_mapped > evals[best].on_mapped ||
                    (e.on_mapped == evals[best].on_mapped && e.replicas < evals[best].replicas);
      if (better) {
        best = static_cast<int>(evals.size());
        best_choices.swap(choices);
      }
    }
    evals.push_back(e);
  }

  int qualifying = 0;
  for (const auto& e : evals) qualifying += e.qualifies ? 1 : 0;

  // Reasons per host, when asked or when nobody qualifies.
  auto reasons_of = [&](const Eval& e) {
    std::vector<std::string> reasons;
    for (const auto& n : needs) {
      if (!index.HostHasLogicalNetwork(e.host->id(), n.logical_network_id)) {
        reasons.push_back(absl::StrCat("not connected to ", n.label));
      }
    }
    if (!reasons.empty()) return reasons;
    std::vector<internal::DiskChoice> c;
    internal::ChooseDisks(index, *vm, *e.host, ledger, &c);
    for (int i = 0; i < vm->disks_size(); ++i) {
      if (c[i].kind != model::DISK_NO_ROOM) continue;
      model::DiskPlacement d = internal::ExplainDisk(index, *vm, *e.host, ledger, vm->disks(i), c[i]);
      reasons.push_back(absl::StrCat("no room for disk '",
                                     vm->disks(i).name().empty() ? vm->disks(i).id() : vm->disks(i).name(),
                                     "': ", d.explanation()));
    }
    return reasons;
  };
  if (options.explain_hosts || best < 0) {
    std::vector<int> order(evals.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      const Eval& x = evals[a];
      const Eval& y = evals[b];
      if (x.qualifies != y.qualifies) return x.qualifies;
      if (!x.qualifies) return false;
      if (x.on_mapped != y.on_mapped) return x.on_mapped > y.on_mapped;
      return x.replicas < y.replicas;
    });
    for (int i : order) {
      const Eval& e = evals[i];
      model::HostEvaluation* he = out.add_hosts();
      he->set_host_id(e.host->id());
      he->set_host_name(e.host->name());
      he->set_qualifies(e.qualifies);
      he->set_disks_on_mapped_storage(e.qualifies ? e.on_mapped : 0);
      he->set_replicas_already_placed(e.replicas);
      if (!e.qualifies) {
        for (auto& r : reasons_of(e)) he->add_reasons(std::move(r));
      }
    }
  }

  if (best < 0) {
    std::vector<std::string> parts;
    for (const auto& he : out.hosts()) {
      if (parts.size() == 3) {
        parts.push_back(absl::StrCat("and ", out.hosts_size() - 3, " more (see hosts)"));
        break;
      }
      parts.push_back(absl::StrCat("'", he.host_name(), "' ", absl::StrJoin(he.reasons(), ", ")));
    }
    out.set_explanation(absl::StrCat("no host of ", cloud_label, " can take VM '", vm->name(),
                                     "': ", absl::StrJoin(parts, "; "),
                                     ". Connect a host to the needed logical networks, give it "
                                     "access to the mapped storage, or free space"));
    return out;
  }

  const Eval& chosen = evals[best];
  out.set_placed(true);
  out.set_host_id(chosen.host->id());
  out.set_host_name(chosen.host->name());
  for (int i = 0; i < vm->disks_size(); ++i) {
    *out.add_disks() =
        internal::ExplainDisk(index, *vm, *chosen.host, ledger, vm->disks(i), best_choices[i]);
  }
  std::string why = absl::StrCat("host '", chosen.host->name(), "' of ", cloud_label,
                                 " reaches every mapped network and holds all ",
                                 vm->disks_size(), " disks (", chosen.on_mapped,
                                 " on mapped storage)");
  if (qualifying > 1) {
    absl::StrAppend(&why, "; of ", qualifying,
                    " qualifying hosts it has the most disks on mapped storage, then the fewest "
                    "replicas placed, then the lowest name");
  }
  out.set_explanation(why);
  return out;
}

absl::StatusOr<std::vector<model::ReplicaPlacement>> PlaceReplicas(
    const FabricIndex& index, std::vector<std::string> vm_ids, CapacityLedger* ledger,
    const PlacementOptions& options) {
  std::sort(vm_ids.begin(), vm_ids.end());
  vm_ids.erase(std::unique(vm_ids.begin(), vm_ids.end()), vm_ids.end());
  std::vector<model::ReplicaPlacement> out;
  out.reserve(vm_ids.size());
  for (const std::string& id : vm_ids) {
    ASR_ASSIGN_OR_RETURN(model::ReplicaPlacement p, PlaceReplica(index, id, *ledger, options));
    ledger->Commit(p);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace asr::mapping
