// asr/mapping/mapping_service.h: network and storage mappings over the
// the object repository: add, change, remove and list them with validation, resolve
// replica NICs, disks and placement for stored VMs. Creating, changing or
// removing a network mapping runs as a job ("MapNetwork", "UnmapNetwork")
// that re-resolves every protected VM on the source network and reports
// which replica NICs change; storage mapping changes run as "MapStorage",
// "UnmapStorage".
//
//   jobs::JobManager jobs(&repo, &asr::Clock::Real());
//   MappingService mappings(&repo, &jobs);
//   ASR_RETURN_IF_ERROR(mappings.RegisterScenarios());
//   model::NetworkMapping m;
//   m.set_source_vm_network_id("VMNetwork1-NewYork");   // id or unique name
//   m.set_target_vm_network_id("VMNetwork1-Chicago");
//   ASR_ASSIGN_OR_RETURN(model::MappingChangeReport report,
//                        mappings.MapNetwork(m, /*replace=*/false));
//   for (const auto& c : report.changes()) { /* c.before() -> c.after() */ }
//   ASR_ASSIGN_OR_RETURN(model::ReplicaPlacement p, mappings.ShowPlacement("VM1"));
//
// Objects are named by id or, where unique, by name. The rules are those of
// mapping_changes.h (validation, propagation), network_resolver.h,
// storage_resolver.h and placement.h.
//
// Job states of a mapping change (see asr/jobs/job_manager.h):
//
//   Run -> [Validate] --error--> Failed (nothing stored)
//              |
//              v
//           [Save mapping]   one atomic batch (old mapping out, new in)
//              |
//              v
//           [Re-resolve replicas]  report -> job result; one note per changed NIC
//              |
//              v
//           Succeeded (Completed | CompletedWithInformation | Skipped when unchanged)
//
// Thread safety: thread-safe. Changes are serialized by an internal mutex
// (a job runs on the caller's thread while holding it); reads run
// concurrently. The service must outlive the JobManager's use of its
// scenarios (restart/resume call back into it).
#ifndef ASR_MAPPING_MAPPING_SERVICE_H_
#define ASR_MAPPING_MAPPING_SERVICE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "asr/jobs/job_manager.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/placement.h"
#include "asr/model/mapping.pb.h"
#include "asr/model/protection.pb.h"
#include "asr/repository/object_repository.h"

namespace asr::mapping {

// Reads the inventory, pairings, mappings and protected items from `repo`.
absl::StatusOr<FabricSnapshot> LoadSnapshot(const repository::ObjectRepository& repo);

class MappingService {
 public:
  // `jobs` may be null: changes then run directly, without a job record.
  MappingService(repository::ObjectRepository* repo, jobs::JobManager* jobs);

  // Registers MapNetwork, UnmapNetwork, MapStorage and UnmapStorage with the
  // job manager. Scenarios already registered are kept. No-op without jobs.
  absl::Status RegisterScenarios();

  // Called for every replica NIC a network mapping change moves (in the
  // change's "propagate" task), so that protection reconnects the replica
  // VM's NIC through the host; an error fails the task (the job can be
  // restarted). Set once, before changes run.
  using ReplicaNicApplier = std::function<absl::Status(const model::NicChange& change)>;
  void SetReplicaNicApplier(ReplicaNicApplier applier) { nic_applier_ = std::move(applier); }

  // ---- Network mappings ----
  // Creates (or with `replace`, changes) the mapping of a source network.
  // The networks may be named by id or unique name; server ids are optional
  // and checked when given. The report's job_id names the job.
  absl::StatusOr<model::MappingChangeReport> MapNetwork(const model::NetworkMapping& request,
                                                        bool replace);
  // Removes a mapping named by mapping id, or by its source network.
  absl::StatusOr<model::MappingChangeReport> UnmapNetwork(absl::string_view ref);
  // Every VM network with its mapping (unmapped ones included).
  absl::StatusOr<model::NetworkMappingTable> ListNetworkMappings() const;
  // Target networks and their availability per pairing for a source network;
  // `target_ref` non-empty: that target only.
  absl::StatusOr<model::TargetNetworkTable> TargetNetworks(absl::string_view source_ref,
                                                           absl::string_view target_ref = "") const;
  // The replica NICs of a VM.
  absl::StatusOr<model::VmNicResolutions> ResolveNetworks(absl::string_view vm_ref) const;
  // Failback; vm_id and the network ids of the request may be names.
  absl::StatusOr<model::FailbackResolution> ResolveFailback(model::FailbackRequest request) const;

  // ---- Storage mappings ----
  absl::StatusOr<model::StorageMappingChange> MapStorage(const model::StorageMapping& request,
                                                         bool replace);
  absl::StatusOr<model::StorageMappingChange> UnmapStorage(absl::string_view ref);
  absl::StatusOr<model::StorageMappingTable> ListStorageMappings() const;
  // The replica disks of a VM on `host_ref`; empty: on the host placement
  // chooses (FailedPrecondition with the reason when none qualifies).
  absl::StatusOr<model::VmDiskResolutions> ResolveStorage(absl::string_view vm_ref,
                                                          absl::string_view host_ref) const;

  // ---- Placement ----
  absl::StatusOr<model::ReplicaPlacement> ShowPlacement(absl::string_view vm_ref,
                                                        const PlacementOptions& options = {}) const;

 private:
  absl::StatusOr<std::unique_ptr<FabricIndex>> LoadIndex() const;
  absl::Status ApplyNicChanges(const model::MappingChangeReport& report);
  absl::StatusOr<model::MappingChangeReport> RunMapNetwork(jobs::JobContext* ctx,
                                                           const model::NetworkMappingRequest& r);
  absl::StatusOr<model::MappingChangeReport> RunUnmapNetwork(jobs::JobContext* ctx,
                                                             const std::string& ref);
  absl::StatusOr<model::StorageMappingChange> RunMapStorage(jobs::JobContext* ctx,
                                                            const model::StorageMappingRequest& r);
  absl::StatusOr<model::StorageMappingChange> RunUnmapStorage(jobs::JobContext* ctx,
                                                              const std::string& ref);

  repository::ObjectRepository* repo_;
  jobs::JobManager* jobs_;
  absl::Mutex mu_;  // serializes changes
  ReplicaNicApplier nic_applier_;
};

// The id of the object of `kind` ("vm", "vm-network", "host",
// "storage-classification", ...) named `ref`: an id, else a unique name.
// NotFound / InvalidArgument (ambiguous name: lists the ids).
absl::StatusOr<std::string> FindIdByRef(const FabricIndex& index, absl::string_view kind,
                                        absl::string_view ref);

}  // namespace asr::mapping

#endif  // ASR_MAPPING_MAPPING_SERVICE_H_
