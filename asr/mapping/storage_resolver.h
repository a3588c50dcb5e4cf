// asr/mapping/storage_resolver.h: storage mapping resolution: where each
// replica disk of a VM goes on a given target host.
//
//   CapacityLedger ledger;  // empty: nothing placed yet
//   model::VmDiskResolutions r = ResolveDisksOnHost(*index, vm, host, ledger);
//   if (r.fits()) { for (const auto& d : r.disks()) use(d.replica_disk_path()); }
//
// Rules:
//  - A disk's source classification is the classification holding the
//    share/volume it lives on (VirtualDisk.storage_target_id). Unclassified
//    storage, or a classification with no storage mapping: the host's
//    default storage location.
//  - Mapped: the shares/volumes of the target classification that the host
//    can reach (HyperVHost.storage_target_ids) and whose free space still
//    holds the disk. The *optimal* one is the one with the most free space
//    left (free bytes minus what this VM's earlier disks and the ledger have
//    already taken); ties go to the lower name, then the lower id. Types may
//    differ (SMB share to CSV).
//  - Mapped but nothing reachable fits: the host default location.
//  - The default location must have room too (default_storage_free_bytes);
//    otherwise the disk has no room and the host cannot take the VM.
//  - Disks are placed in the VM's disk order.
//  - The replica file is <target path>\<VM name>\<source file name>.
//
// Thread safety: free functions over an immutable FabricIndex are safe from
// any thread; a CapacityLedger is not thread-safe (one per batch).
#ifndef ASR_MAPPING_STORAGE_RESOLVER_H_
#define ASR_MAPPING_STORAGE_RESOLVER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "asr/mapping/fabric_index.h"
#include "asr/model/mapping.pb.h"

namespace asr::mapping {

// Space already promised to replicas in a batch of placements, so that a
// batch does not place more on a share or host than it holds.
// Thread safety: not thread-safe.
class CapacityLedger {
 public:
  uint64_t TakenOnStorage(absl::string_view storage_target_id) const;
  uint64_t TakenOnHostDefault(absl::string_view host_id) const;
  int ReplicasOnHost(absl::string_view host_id) const;

  // Records a placement's disks and one more replica on its host.
  void Commit(const model::ReplicaPlacement& placement);

 private:
  absl::flat_hash_map<std::string, uint64_t> storage_;
  absl::flat_hash_map<std::string, uint64_t> host_default_;
  absl::flat_hash_map<std::string, int> replicas_;
};

// Places the disks of `vm` on `host`. fits() is false when some disk has no
// room (kind DISK_NO_ROOM). Never fails otherwise.
model::VmDiskResolutions ResolveDisksOnHost(const FabricIndex& index,
                                            const model::VirtualMachine& vm,
                                            const model::HyperVHost& host,
                                            const CapacityLedger& ledger);

namespace internal {

// The lightweight choice for one disk, before it becomes a DiskPlacement.
struct DiskChoice {
  model::DiskPlacementKind kind = model::DISK_PLACEMENT_KIND_UNSPECIFIED;
  const model::StorageClassification* source_classification = nullptr;
  const model::StorageMapping* mapping = nullptr;
  const model::StorageClassification* target_classification = nullptr;
  const model::StorageTarget* target = nullptr;  // null: host default location
};

// The host-independent part of placing a VM's disks, computed once per VM:
// each disk's classification, mapping and the target shares/volumes with the
// free space the ledger leaves them.
struct DiskPlan {
  model::DiskPlacementKind kind = model::DISK_PLACEMENT_KIND_UNSPECIFIED;  // unclassified,
                                                                          // unmapped or mapped
  const model::StorageClassification* source_classification = nullptr;
  const model::StorageMapping* mapping = nullptr;
  const model::StorageClassification* target_classification = nullptr;
  struct Candidate {
    const model::StorageTarget* target;
    uint64_t free;  // after the ledger
  };
  std::vector<Candidate> candidates;  // (name, id) order
};

struct VmDiskPlan {
  std::vector<DiskPlan> disks;
  // Disks that could land on mapped storage: no host can do better.
  int best_possible = 0;
};

void PlanDisks(const FabricIndex& index, const model::VirtualMachine& vm,
               const CapacityLedger& ledger, VmDiskPlan* plan);

// Chooses storage for each disk on `host` into `choices` (resized to the
// disk count). Returns how many disks land on mapped storage, or -1 when
// some disk has no room. Allocation-free after warm-up: used per host.
int ChooseDisksOnHost(const VmDiskPlan& plan, const model::VirtualMachine& vm,
                      const HostInfo& host, const CapacityLedger& ledger,
                      std::vector<DiskChoice>* choices);

// PlanDisks + ChooseDisksOnHost.
int ChooseDisks(const FabricIndex& index, const model::VirtualMachine& vm,
                const model::HyperVHost& host, const CapacityLedger& ledger,
                std::vector<DiskChoice>* choices);

// Turns a choice into the full DiskPlacement; `explain` false leaves the
// explanation out (bulk placement).
model::DiskPlacement ExplainDisk(const FabricIndex& index, const model::VirtualMachine& vm,
                                 const model::HyperVHost& host, const CapacityLedger& ledger,
                                 const model::VirtualDisk& disk, const DiskChoice& choice,
                                 bool explain = true);
void ExplainDiskInto(const FabricIndex& index, const model::VirtualMachine& vm,
                     const model::HyperVHost& host, const CapacityLedger& ledger,
                     const model::VirtualDisk& disk, const DiskChoice& choice, bool explain,
                     model::DiskPlacement* out);

}  // namespace internal

// A Windows path joined with '\' (no doubled separators).
std::string JoinWindowsPath(absl::string_view a, absl::string_view b);

// The storage mapping table: one row per classification, ordered by server
// id, then name, then id.
model::StorageMappingTable BuildStorageMappingTable(const FabricIndex& index);

}  // namespace asr::mapping

#endif  // ASR_MAPPING_STORAGE_RESOLVER_H_
