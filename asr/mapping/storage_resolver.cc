#include "asr/mapping/storage_resolver.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace asr::mapping {
namespace {

template <typename V>
V Lookup(const absl::flat_hash_map<std::string, V>& map, absl::string_view key) {
  auto it = map.find(key);
  return it == map.end() ? V{} : it->second;
}

uint64_t Minus(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

// Bytes this VM's earlier disks took from `key` (a target, or null for the
// host default).
uint64_t TakenByVm(const std::vector<internal::DiskChoice>& choices, size_t upto,
                   const model::VirtualMachine& vm, const model::StorageTarget* key) {
  uint64_t taken = 0;
  for (size_t i = 0; i < upto; ++i) {
    if (choices[i].kind == model::DISK_NO_ROOM) continue;
    if (choices[i].target == key) taken += vm.disks(static_cast<int>(i)).size_bytes();
  }
  return taken;
}

std::string FileName(absl::string_view path, absl::string_view fallback) {
  size_t slash = path.find_last_of("\\/");
  absl::string_view name = slash == absl::string_view::npos ? path : path.substr(slash + 1);
  if (name.empty()) name = fallback;
  return std::string(name);
}

std::string Bytes(uint64_t n) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  if (n % kGiB == 0 && n > 0) return absl::StrCat(n / kGiB, " GiB");
  return absl::StrCat(n, " bytes");
}

}  // namespace

uint64_t CapacityLedger::TakenOnStorage(absl::string_view storage_target_id) const {
  return Lookup(storage_, storage_target_id);
}

uint64_t CapacityLedger::TakenOnHostDefault(absl::string_view host_id) const {
  return Lookup(host_default_, host_id);
}

int CapacityLedger::ReplicasOnHost(absl::string_view host_id) const {
  return Lookup(replicas_, host_id);
}

void CapacityLedger::Commit(const model::ReplicaPlacement& placement) {
  if (!placement.placed()) return;
  for (const model::DiskPlacement& d : placement.disks()) {
    if (d.kind() == model::DISK_NO_ROOM) continue;
    if (d.target_storage_target_id().empty()) {
      host_default_[placement.host_id()] += d.size_bytes();
    } else {
      storage_[d.target_storage_target_id()] += d.size_bytes();
    }
  }
  ++replicas_[placement.host_id()];
}

std::string JoinWindowsPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  bool a_sep = a.back() == '\\' || a.back() == '/';
  bool b_sep = b.front() == '\\' || b.front() == '/';
  if (a_sep && b_sep) return absl::StrCat(a, b.substr(1));
  if (a_sep || b_sep) return absl::StrCat(a, b);
  return absl::StrCat(a, "\\", b);
}

namespace internal {

void PlanDisks(const FabricIndex& index, const model::VirtualMachine& vm,
               const CapacityLedger& ledger, VmDiskPlan* plan) {
  plan->disks.resize(vm.disks_size());
  plan->best_possible = 0;
  for (int i = 0; i < vm.disks_size(); ++i) {
    DiskPlan& p = plan->disks[i];
    // Reset field by field: the candidates keep their capacity across VMs.
    p.kind = model::DISK_PLACEMENT_KIND_UNSPECIFIED;
    p.source_classification = nullptr;
    p.mapping = nullptr;
    p.target_classification = nullptr;
    p.candidates.clear();
    StorageTargetRef src = index.FindStorageTarget(vm.disks(i).storage_target_id());
    p.source_classification = src.classification;
    if (src.classification == nullptr) {
      p.kind = model::DISK_HOST_DEFAULT_UNCLASSIFIED;
      continue;
    }
    p.mapping = index.MappingForSourceClassification(src.classification->id());
    if (p.mapping == nullptr) {
      p.kind = model::DISK_HOST_DEFAULT_UNMAPPED;
      continue;
    }
    p.kind = model::DISK_ON_MAPPED_STORAGE;
    p.target_classification = index.FindClassification(p.mapping->target_classification_id());
    if (p.target_classification == nullptr) continue;
    for (const model::StorageTarget* t : index.TargetsOf(p.target_classification->id())) {
      p.candidates.push_back({t, Minus(t->free_bytes(), ledger.TakenOnStorage(t->id()))});
    }
    if (!p.candidates.empty()) ++plan->best_possible;
  }
}

int ChooseDisksOnHost(const VmDiskPlan& plan, const model::VirtualMachine& vm,
                      const HostInfo& host, const CapacityLedger& ledger,
                      std::vector<DiskChoice>* choices) {
  choices->resize(plan.disks.size());
  int on_mapped = 0;
  bool all_fit = true;
  const model::HyperVHost& h = *host.host;
  bool default_known = false;
  uint64_t default_free = 0;
  for (size_t i = 0; i < plan.disks.size(); ++i) {
    const DiskPlan& p = plan.disks[i];
    const uint64_t size = vm.disks(static_cast<int>(i)).size_bytes();
    DiskChoice& c = (*choices)[i];
    c.kind = p.kind;
    c.source_classification = p.source_classification;
    c.mapping = p.mapping;
    c.target_classification = p.target_classification;
    c.target = nullptr;
    if (p.kind == model::DISK_ON_MAPPED_STORAGE) {
      const model::StorageTarget* best = nullptr;
      uint64_t best_free = 0;
      // Candidates are in (name, id) order: the first of equal free space wins.
      for (const auto& cand : p.candidates) {
        if (!host.storage.contains(cand.target)) continue;
        uint64_t free = Minus(cand.free, TakenByVm(*choices, i, vm, cand.target));
        if (free < size) continue;
        if (best == nullptr || free > best_free) {
          best = cand.target;
          best_free = free;
        }
      }
      if (best != nullptr) {
        c.target = best;
        ++on_mapped;
        continue;
      }
      c.kind = model::DISK_HOST_DEFAULT_NO_SUITABLE_TARGET;
    }
    // The host default location.
    if (!default_known) {
      default_free = Minus(h.default_storage_free_bytes(), ledger.TakenOnHostDefault(h.id()));
      default_known = true;
    }
    if (h.default_storage_path().empty() ||
        Minus(default_free, TakenByVm(*choices, i, vm, nullptr)) < size) {
      c.kind = model::DISK_NO_ROOM;
      all_fit = false;
    }
  }
  return all_fit ? on_mapped : -1;
}

int ChooseDisks(const FabricIndex& index, const model::VirtualMachine& vm,
                const model::HyperVHost& host, const CapacityLedger& ledger,
                std::vector<DiskChoice>* choices) {
  VmDiskPlan plan;
  PlanDisks(index, vm, ledger, &plan);
  const HostInfo* info = index.FindHostInfo(host.id());
  HostInfo empty;
  if (info == nullptr) {
    empty.host = &host;
    info = &empty;
  }
  return ChooseDisksOnHost(plan, vm, *info, ledger, choices);
}

void ExplainDiskInto(const FabricIndex& index, const model::VirtualMachine& vm,
                     const model::HyperVHost& host, const CapacityLedger& ledger,
                     const model::VirtualDisk& disk, const DiskChoice& c, bool explain,
                     model::DiskPlacement* out) {
  model::DiskPlacement& d = *out;
  d.Clear();
  d.set_disk_id(disk.id());
  d.set_disk_name(disk.name());
  d.set_size_bytes(disk.size_bytes());
  d.set_source_storage_target_id(disk.storage_target_id());
  if (c.source_classification != nullptr) {
    d.set_source_classification_id(c.source_classification->id());
    d.set_source_classification_name(c.source_classification->name());
  }
  if (c.mapping != nullptr) {
    d.set_storage_mapping_id(c.mapping->id());
    d.set_target_classification_id(c.mapping->target_classification_id());
  }
  if (c.target_classification != nullptr) {
    d.set_target_classification_name(c.target_classification->name());
  }
  d.set_kind(c.kind);
  const std::string file = FileName(disk.path(), disk.name().empty() ? disk.id() : disk.name());
  if (c.target != nullptr) {
    d.set_target_storage_target_id(c.target->id());
    d.set_target_storage_name(c.target->name());
    d.set_target_storage_type(c.target->type());
    d.set_target_path(c.target->path());
  } else if (c.kind != model::DISK_NO_ROOM || !host.default_storage_path().empty()) {
    d.set_target_path(host.default_storage_path());
  }
  if (!d.target_path().empty()) {
    d.set_replica_disk_path(JoinWindowsPath(JoinWindowsPath(d.target_path(), vm.name()), file));
  }
  if (!explain && c.kind != model::DISK_NO_ROOM) return;
  const std::string host_label = absl::StrCat("host '", host.name(), "'");

  // Why the mapped classification did not take the disk, share by share.
  auto why_not_mapped = [&]() {
    if (c.target_classification == nullptr) {
      return absl::StrCat("target classification '", d.target_classification_id(),
                          "' is not in the inventory");
    }
    std::vector<std::string> parts;
    for (const model::StorageTarget* t : index.TargetsOf(c.target_classification->id())) {
      if (!index.HostReachesStorage(host.id(), t->id())) {
        parts.push_back(absl::StrCat(t->name(), ": not reachable from ", host_label));
      } else {
        parts.push_back(absl::StrCat(
            t->name(), ": ", Bytes(Minus(t->free_bytes(), ledger.TakenOnStorage(t->id()))),
            " free"));
      }
    }
    if (parts.empty()) return absl::StrCat(c.target_classification->name(), " has no storage");
    return absl::StrCat("no share/volume of ", c.target_classification->name(), " holds ",
                        Bytes(disk.size_bytes()), " (", absl::StrJoin(parts, "; "), ")");
  };

  switch (c.kind) {
    case model::DISK_ON_MAPPED_STORAGE:
      d.set_explanation(absl::StrCat(
          d.source_classification_name(), " is mapped to ", d.target_classification_name(), "; ",
          c.target->name(), " has the most free space that holds the disk and is reachable from ",
          host_label));
      break;
    case model::DISK_HOST_DEFAULT_UNCLASSIFIED:
      d.set_explanation(absl::StrCat(
          "the source storage '", disk.storage_target_id(),
          "' has no storage classification, so the disk goes to the default location of ",
          host_label));
      break;
    case model::DISK_HOST_DEFAULT_UNMAPPED:
      d.set_explanation(absl::StrCat("classification ", d.source_classification_name(),
                                     " is not mapped, so the disk goes to the default location "
                                     "of ",
                                     host_label));
      break;
    case model::DISK_HOST_DEFAULT_NO_SUITABLE_TARGET:
      d.set_explanation(absl::StrCat(why_not_mapped(), ", so the disk goes to the default "
                                                       "location of ",
                                     host_label));
      break;
    case model::DISK_NO_ROOM: {
      std::string mapped = c.mapping != nullptr ? absl::StrCat(why_not_mapped(), "; ") : "";
      if (host.default_storage_path().empty()) {
        d.set_explanation(absl::StrCat(mapped, host_label, " has no default storage location"));
      } else {
        d.set_explanation(absl::StrCat(
            mapped, "the default location of ", host_label, " has ",
            Bytes(Minus(host.default_storage_free_bytes(), ledger.TakenOnHostDefault(host.id()))),
            " free, too little for ", Bytes(disk.size_bytes()), " (with the VM's other disks)"));
      }
      break;
    }
    default:
      break;
  }
}

model::DiskPlacement ExplainDisk(const FabricIndex& index, const model::VirtualMachine& vm,
                                 const model::HyperVHost& host, const CapacityLedger& ledger,
                                 const model::VirtualDisk& disk, const DiskChoice& choice,
                                 bool explain) {
  model::DiskPlacement d;
  ExplainDiskInto(index, vm, host, ledger, disk, choice, explain, &d);
  return d;
}

}  // namespace internal

model::VmDiskResolutions ResolveDisksOnHost(const FabricIndex& index,
                                            const model::VirtualMachine& vm,
                                            const model::HyperVHost& host,
                                            const CapacityLedger& ledger) {
  std::vector<internal::DiskChoice> choices;
  int on_mapped = internal::ChooseDisks(index, vm, host, ledger, &choices);
  model::VmDiskResolutions out;
  out.set_vm_id(vm.id());
  out.set_vm_name(vm.name());
  out.set_host_id(host.id());
  out.set_host_name(host.name());
  out.set_fits(on_mapped >= 0);
  for (int i = 0; i < vm.disks_size(); ++i) {
    *out.add_disks() = internal::ExplainDisk(index, vm, host, ledger, vm.disks(i), choices[i]);
  }
  return out;
}

model::StorageMappingTable BuildStorageMappingTable(const FabricIndex& index) {
  std::vector<const model::StorageClassification*> classes;
  for (const auto& c : index.snapshot().storage_classifications) classes.push_back(&c);
  std::sort(classes.begin(), classes.end(), [](const auto* a, const auto* b) {
    if (a->server_id() != b->server_id()) return a->server_id() < b->server_id();
    return ByNameThenId(a, b);
  });
  std::vector<const model::StorageMapping*> mappings;
  for (const auto& m : index.snapshot().storage_mappings) mappings.push_back(&m);
  std::sort(mappings.begin(), mappings.end(),
            [](const auto* a, const auto* b) { return a->id() < b->id(); });
  model::StorageMappingTable table;
  for (const auto* c : classes) {
    model::StorageMappingRow* row = table.add_rows();
    row->set_server_id(c->server_id());
    row->set_classification_id(c->id());
    row->set_classification_name(c->name());
    for (const auto* t : index.TargetsOf(c->id())) row->add_storage_names(t->name());
    for (const auto* m : mappings) {
      if (m->target_classification_id() == c->id()) row->add_incoming_mapping_ids(m->id());
    }
    const model::StorageMapping* m = index.MappingForSourceClassification(c->id());
    if (m == nullptr) continue;
    row->set_mapped(true);
    row->set_mapping_id(m->id());
    row->set_mapped_classification_id(m->target_classification_id());
    if (const auto* t = index.FindClassification(m->target_classification_id())) {
      row->set_mapped_classification_name(t->name());
      row->set_mapped_server_id(t->server_id());
    }
  }
  for (const auto* m : mappings) *table.add_mappings() = *m;
  return table;
}

}  // namespace asr::mapping
