// asr/protection/protection_service.h: protecting VMs. Enabling protection
// of a VM creates its replica VM on a recovery host and replicates its
// disks there, as one unit, on its policy's schedule, with the policy's
// retention, compression and transport, until protection is disabled.
//
//   ProtectionService& p = sr->protection();
//   p.SetTransport(transport);                 // TLS files, where the recovery endpoint is
//   ASR_ASSIGN_OR_RETURN(model::Job job, p.EnableProtection({.vm_ref = "VM1"}));
//   ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, p.GetItem("VM1"));
//   // item.protection_state() == Protected, item.allowed_operations() has
//   // "PlannedFailover", "TestFailover", "DisableProtection", ...
//   ASR_ASSIGN_OR_RETURN(model::CycleOutcome c, p.ReplicateNow("VM1", {}));  // the site service
//   does this ASR_ASSIGN_OR_RETURN(job, p.DisableProtection("VM1"));
//
// A protected item (model::ProtectedItem, kind "protected-item", id
// "pi-<vm id>") moves through these states (item_state.h computes the
// allowed operations of each; an operation that is not allowed is refused
// with FailedPrecondition naming the state):
//
//   (VM not protected)
//      | EnableProtection / OnboardProtection (job)
//      v
//   EnablingProtection --validate, place, create replica VM fail--> EnablingFailed
//      |                                                     (Restart the job, or Disable)
//      v
//   InitialReplicationInProgress --fails--> InitialReplicationFailed (Restart / Disable)
//      |  Online now: all disks now         |
//      |  Online at a start time: the job waits (at most 24 h ahead)
//      |  Offline: export packages -> InitialReplicationCompletedOnPrimary
//      |           -> import from the import path (the job, Resume/Restart)
//      v
//   Protected  <-- delta cycles at the copy frequency (site service);
//      |           health Normal / Warning / Critical with reasons
//      | DisableProtection (job)
//      v
//   DisablingProtection --fails--> DisablingFailed (Disable again)
//      |
//      v
//   (item removed; replica VM removed, its disks deleted when the policy's
//    replica deletion is Required)
//
// The enable job's tasks: "validate" (the VM's cloud is paired, the pairing
// has a policy, the VM's host runs the policy's OS version, the VM is not
// already protected), "place" (placement, network and storage mappings),
// "create-replica-vm" (through the host table), "initial-replication"
// (or "export"/"import"/"wait-start-time"), "finalize". Each is
// restartable: a restart does not repeat finished tasks, and the item
// records the job in current_scenario while it runs.
//
// Thread safety: thread-safe. Operations that change an item are
// serialized per item; ReplicateNow for different items may run
// concurrently (the site service's pool does).
#ifndef ASR_PROTECTION_PROTECTION_SERVICE_H_
#define ASR_PROTECTION_PROTECTION_SERVICE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/jobs/job_manager.h"
#include "asr/mapping/mapping_service.h"
#include "asr/model/mapping.pb.h"
#include "asr/model/protection.pb.h"
#include "asr/protection/transport.h"
#include "asr/repository/object_repository.h"

namespace asr::protection {

struct EnableRequest {
  std::string vm_ref;  // VM id or unique name
  // Optional: the pairing (id, or its primary cloud); default: the pairing
  // of the VM's cloud.
  std::string pairing_ref;
  // Optional: the recovery host (id or name); default: placement's choice.
  std::string recovery_host_ref;
};

struct OnboardRequest {
  std::string vm_ref;
  std::string pairing_ref;  // optional, as for EnableRequest
  // Where the VM already replicates to: the recovery host and, per disk (in
  // the VM's disk order), the existing replica directory.
  std::string recovery_host_ref;
  std::vector<std::string> replica_dirs;
};

struct DisableRequest {
  std::string item_ref;  // protected item id, or its VM's id or name
  // Remove the item even when the host cannot remove the replica VM (the
  // job says what was left).
  bool force = false;
};

struct ReplicateOptions {
  // Take an application-consistent point (VSS) instead of crash-consistent.
  bool app_consistent = false;
  // Replication groups (group_service.h): the cycle reads the disks at this
  // point, which the caller took (one instant of several VMs) and releases;
  // null: the cycle takes and releases its own.
  const model::HostPoint* host_point = nullptr;
  // Scan every disk (compare the source with the replica's digests) instead
  // of a tracked cycle: a resynchronization (item_resync.h).
  bool scan = false;
};

class ProtectionService {
 public:
  // `host` may be null (operations needing the host fail with
  // FailedPrecondition) and may be replaced with SetHost.
  ProtectionService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                    mapping::MappingService* mappings, fabric::HostCallbacks* host,
                    const Clock* clock);
  ~ProtectionService();
  ProtectionService(const ProtectionService&) = delete;
  ProtectionService& operator=(const ProtectionService&) = delete;

  // Registers "EnableProtection", "OnboardProtection", "DisableProtection".
  absl::Status RegisterScenarios();

  void SetHost(fabric::HostCallbacks* host);
  // The host set (may be null).
  fabric::HostCallbacks* host() const;
  // How replicas are reached (transport.h). Until set, replication fails
  // with FailedPrecondition saying how to configure it.
  void SetTransport(std::shared_ptr<Transport> transport);
  std::shared_ptr<Transport> transport() const;

  // ---- Operations (each a job; the returned job Succeeded or Suspended) ----
  absl::StatusOr<model::Job> EnableProtection(const EnableRequest& request);
  absl::StatusOr<model::Job> OnboardProtection(const OnboardRequest& request);
  absl::StatusOr<model::Job> DisableProtection(const DisableRequest& request);

  // ---- Reads: state, allowed operations, health with reasons and RPO are
  // computed from the stored item, its policy and the clock ----
  absl::StatusOr<model::ProtectedItem> GetItem(absl::string_view ref) const;
  absl::StatusOr<std::vector<model::ProtectedItem>> ListItems() const;
  // The item's whole-VM recovery points, oldest first.
  absl::StatusOr<std::vector<model::RecoveryPoint>> ListRecoveryPoints(absl::string_view ref) const;

  // ---- Replication (the site service calls these) ----
  // One cycle of every disk of the item at one host point: point, send each
  // disk (initial for a disk without a replica, else tracked), release,
  // record the VM recovery point when every disk committed. The outcome is
  // recorded in the item either way (recent cycles, health); the returned
  // status is the cycle's error. FailedPrecondition when the item's state
  // does not replicate (e.g. EnablingProtection).
  absl::StatusOr<model::CycleOutcome> ReplicateNow(absl::string_view ref,
                                                   const ReplicateOptions& options);
  // Verification and resynchronization of the item's replicas
  // (item_resync.h): VerifyItem compares every replica's latest point with
  // what was replicated and records a mismatch (resyncRequired,
  // PreparedForResynchronization, health "ResyncRequired"); ResyncItem
  // (RepairReplication, allowed only then) sends the blocks that differ as
  // one whole new point. Unavailable while a cycle of the item runs.
  absl::StatusOr<model::ItemVerification> VerifyItem(absl::string_view ref);
  absl::StatusOr<model::ItemVerification> ResyncItem(absl::string_view ref);
  // Applies the item's policy as it is now (copy frequency, points kept,
  // compression) to its replicas' retention; called when a policy changes.
  absl::Status ApplyPolicy(absl::string_view ref);
  // Reconnects a replica VM's NIC after a network mapping change moved it
  // (MappingService's replica NIC applier) and records it in the item.
  // Items without a replica VM yet only record it.
  absl::Status ApplyNicChange(const model::NicChange& change);
  // Opens the change trackers of every protected disk and attaches them to
  // the host (AttachChangeTracking), so guest writes are tracked while this
  // process runs; CloseTrackers detaches and closes them cleanly.
  absl::Status OpenTrackers();
  absl::Status CloseTrackers();
  // When a guest write to any disk of item `item_id` was last recorded by
  // this process's trackers (InfinitePast: none open, or no write since):
  // the last source write a failover's data-loss estimate knows of.
  absl::Time LastTrackedWrite(absl::string_view item_id) const;
  // Closes item `item_id`'s trackers and, when trackers are open (and the
  // item replicates), opens them again for its disks as stored now: after
  // reverse replication swapped which VM is the source.
  absl::Status ReopenTrackers(absl::string_view item_id);
  // Stores `change` of the stored item `item_id` (re-read first, under the
  // lock cycles record their outcomes with, so neither loses the other's
  // fields): how the failover state machine moves an item.
  absl::StatusOr<model::ProtectedItem> UpdateItem(
      absl::string_view item_id, const std::function<void(model::ProtectedItem&)>& change);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "pi-<vm id>": the protected item id of a VM.
std::string ProtectedItemId(absl::string_view vm_id);

// "<item id>-pNNNNNNNN": the id of an item's VM recovery point `sequence`
// (CycleOutcome::point_sequence).
std::string RecoveryPointIdOf(absl::string_view item_id, uint64_t sequence);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_PROTECTION_SERVICE_H_
