#include "asr/mapping/placement.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"
#include "asr/mapping/network_resolver.h"

namespace asr::mapping {
namespace {

// A logical network a host must be connected to, and which NIC needs it.
struct NetworkNeed {
  absl::string_view logical_network_id;
  const model::NetworkAdapter* nic;
  const model::VmNetwork* target;
};

// One candidate host during placement.
struct Eval {
  const HostInfo* info;
  size_t position;  // in the rotation
  bool evaluated = false;
  bool qualifies = false;
  int on_mapped = 0;
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

uint64_t PlacementRotation(absl::string_view vm_id) {
  uint64_t h = 14695981039346656037ull;  // FNV-1a, 64 bit
  for (unsigned char c : vm_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

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
  model::ReplicaPlacement out;
  ASR_RETURN_IF_ERROR(PlaceReplicaInto(index, vm_id, ledger, options, &out));
  return out;
}

absl::Status PlaceReplicaInto(const FabricIndex& index, absl::string_view vm_id,
                              const CapacityLedger& ledger, const PlacementOptions& options,
                              model::ReplicaPlacement* result) {
  model::ReplicaPlacement& out = *result;
  out.Clear();
  const model::VirtualMachine* vm = index.FindVm(vm_id);
  if (vm == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("VM '", vm_id, "' is not in the inventory; sync the source server"));
  }
  ASR_ASSIGN_OR_RETURN(const model::CloudPairing* pairing, PairingFor(index, *vm, options));

  out.set_vm_id(vm->id());
  out.set_vm_name(vm->name());
  out.set_pairing_id(pairing->id());
  out.set_primary_cloud_id(pairing->primary_cloud_id());
  out.set_recovery_cloud_id(pairing->recovery_cloud_id());
  const model::Cloud* recovery = index.FindCloud(pairing->recovery_cloud_id());
  if (recovery != nullptr) out.set_recovery_cloud_name(recovery->name());

  // NICs, and the logical networks they need on the host.
  // Per-thread scratch space, reused from VM to VM (no recursion here).
  thread_local std::vector<NetworkNeed> needs;
  needs.clear();
  for (const model::NetworkAdapter& nic : vm->network_adapters()) {
    model::NicResolution& r = *out.add_nics();
    ResolveNicInto(index, nic, options.explain, &r);
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
        if (!seen) needs.push_back({ln, &nic, target});
      }
    }
  }

  const std::string cloud_label =
      absl::StrCat("recovery cloud '", recovery != nullptr ? recovery->name() : pairing->recovery_cloud_id(), "'");
  if (recovery == nullptr) {
    out.set_explanation(absl::StrCat(cloud_label,
                                     " is not in the inventory; sync the target server"));
    return absl::OkStatus();
  }
  const auto& hosts = index.HostInfosInCloud(recovery->id());
  if (hosts.empty()) {
    out.set_explanation(absl::StrCat("no host can take the replica: ", cloud_label,
                                     " has no Hyper-V hosts in its host groups"));
    return absl::OkStatus();
  }

  // Hosts are visited in (name, id) order rotated to start at
  // PlacementRotation(vm id): the first host with the most disks on mapped
  // storage wins, and equal hosts share the replicas out evenly.
  thread_local internal::VmDiskPlan plan;
  internal::PlanDisks(index, *vm, ledger, &plan);
  const size_t n = hosts.size();
  const size_t start = static_cast<size_t>(PlacementRotation(vm->id()) % n);
  thread_local std::vector<Eval> evals;
  thread_local std::vector<internal::DiskChoice> choices, best_choices;
  evals.clear();
  int best = -1;
  for (size_t k = 0; k < n; ++k) {
    const HostInfo* h = hosts[(start + k) % n];
    Eval e{h, k};
    e.evaluated = true;
    bool networks_ok = true;
    for (const auto& need : needs) {
      if (!h->logical_networks.contains(need.logical_network_id)) {
        networks_ok = false;
        break;
      }
    }
    if (networks_ok) {
      e.on_mapped = internal::ChooseDisksOnHost(plan, *vm, *h, ledger, &choices);
      e.qualifies = e.on_mapped >= 0;
    }
    if (e.qualifies && (best < 0 || e.on_mapped > evals[best].on_mapped)) {
      best = static_cast<int>(evals.size());
      best_choices.swap(choices);
    }
    evals.push_back(e);
    // No later host can beat one that puts every mappable disk on mapped
    // storage; keep going only to explain every host.
    if (!options.explain && best >= 0 && evals[best].on_mapped == plan.best_possible) {
      break;
    }
  }

  // Reasons per host, when asked or when nobody qualifies.
  auto reasons_of = [&](const Eval& e) {
    std::vector<std::string> reasons;
    for (const auto& need : needs) {
      if (!e.info->logical_networks.contains(need.logical_network_id)) {
        reasons.push_back(absl::StrCat(
            "not connected to logical network ",
            LogicalNetworkLabel(index, std::string(need.logical_network_id)), " (for NIC '",
            need.nic->id(), "' on '", need.target->name(), "')"));
      }
    }
    if (!reasons.empty()) return reasons;
    std::vector<internal::DiskChoice> c;
    internal::ChooseDisksOnHost(plan, *vm, *e.info, ledger, &c);
    for (int i = 0; i < vm->disks_size(); ++i) {
      if (c[i].kind != model::DISK_NO_ROOM) continue;
      model::DiskPlacement d =
          internal::ExplainDisk(index, *vm, *e.info->host, ledger, vm->disks(i), c[i]);
      reasons.push_back(absl::StrCat(
          "no room for disk '", vm->disks(i).name().empty() ? vm->disks(i).id() : vm->disks(i).name(),
          "': ", d.explanation()));
    }
    return reasons;
  };
  if (options.explain || best < 0) {
    std::vector<int> order(evals.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      const Eval& x = evals[a];
      const Eval& y = evals[b];
      if (x.qualifies != y.qualifies) return x.qualifies;
      if (x.qualifies && x.on_mapped != y.on_mapped) return x.on_mapped > y.on_mapped;
      return x.position < y.position;
    });
    for (int i : order) {
      const Eval& e = evals[i];
      model::HostEvaluation* he = out.add_hosts();
      he->set_host_id(e.info->host->id());
      he->set_host_name(e.info->host->name());
      he->set_qualifies(e.qualifies);
      he->set_disks_on_mapped_storage(e.qualifies ? e.on_mapped : 0);
      he->set_replicas_already_placed(ledger.ReplicasOnHost(e.info->host->id()));
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
    return absl::OkStatus();
  }

  const Eval& chosen = evals[best];
  const model::HyperVHost& host = *chosen.info->host;
  out.set_placed(true);
  out.set_host_id(host.id());
  out.set_host_name(host.name());
  for (int i = 0; i < vm->disks_size(); ++i) {
    internal::ExplainDiskInto(index, *vm, host, ledger, vm->disks(i), best_choices[i],
                              options.explain, out.add_disks());
  }
  if (!options.explain) return absl::OkStatus();
  std::string why = absl::StrCat("host '", host.name(), "' of ", cloud_label,
                                 " reaches every mapped network and holds all ", vm->disks_size(),
                                 " disks (", chosen.on_mapped, " on mapped storage)");
  if (n > 1) {
    absl::StrAppend(&why, "; it is the first of the cloud's ", n,
                    " hosts, in the VM's rotation, with the most disks on mapped storage");
  }
  out.set_explanation(why);
  return absl::OkStatus();
}

absl::Status ForEachPlacement(const FabricIndex& index, std::vector<std::string> vm_ids,
                              CapacityLedger* ledger, const PlacementOptions& options,
                              const std::function<absl::Status(const model::ReplicaPlacement&)>& sink) {
  std::sort(vm_ids.begin(), vm_ids.end());
  vm_ids.erase(std::unique(vm_ids.begin(), vm_ids.end()), vm_ids.end());
  model::ReplicaPlacement p;  // reused: Clear() keeps its memory
  for (const std::string& id : vm_ids) {
    ASR_RETURN_IF_ERROR(PlaceReplicaInto(index, id, *ledger, options, &p));
    ledger->Commit(p);
    ASR_RETURN_IF_ERROR(sink(p));
  }
  return absl::OkStatus();
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
