// asr/protection/item_resync.h: verification and resynchronization of a
// protected VM's replicas (ProtectionService::VerifyItem / ResyncItem, the
// site service's scheduled verification and automatic resynchronization).
//
//   verify   each disk: VERIFY_REQUEST to the recovery endpoint (the
//            replica digests its latest point, verifier.h) compared with
//            the disk's manifest; a replica cut short is first made readable
//            (replica_repair.h) so its lost blocks show as differing.
//            Mismatching blocks are flagged in the manifest (durable), and
//            the item records the requirement (durable, in the state):
//
//     None --verify finds a mismatch--> PreparedForResynchronization
//            resyncRequired, health Critical "ResyncRequired" (which disks,
//            how many blocks, the first offsets, what to do),
//            allowedOperations + RepairReplication
//
//   resync   (RepairReplication, or the site service inside the policy's
//            auto-resynchronize window) StartedResynchronization,
//            resynchronizationState ResynchronizationInitiated: verify again
//            (fresh replica digests), then one cycle of every disk that scans
//            the source (source digests against the manifest: the flagged
//            blocks and any block the source changed behind the tracker's
//            back are the only ones sent) and makes one whole new VM point;
//            then None with ResynchronizationCompleted, or back to
//            PreparedForResynchronization with ResynchronizationFailed and
//            the error.
//
// Until a resynchronization runs, regular cycles stay tracked (the marker
// file verifier.h leaves would make every next cycle a scan, i.e. a
// resynchronization outside the operator's window, so protection removes it
// and keeps the requirement in the item instead).
//
// Thread safety: the caller holds the item's lock (protection_service.cc).
#ifndef ASR_PROTECTION_ITEM_RESYNC_H_
#define ASR_PROTECTION_ITEM_RESYNC_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/model/protection.pb.h"
#include "asr/protection/transport.h"

namespace asr::protection {

inline constexpr char kResyncRequiredCode[] = "ResyncRequired";

// What ProtectionService hands in (its item lock held).
struct ResyncContext {
  model::ProtectedItem item;  // as stored
  model::ReplicationPolicy policy;
  Transport* transport = nullptr;
  const Clock* clock = nullptr;
  // Makes the recovery side serve `disk` (Transport::BindReplica with the
  // policy's retention).
  std::function<absl::Status(const model::ProtectedDisk& disk)> bind;
  // Stores a change of the item (re-read first) and returns it.
  std::function<absl::StatusOr<model::ProtectedItem>(
      const std::function<void(model::ProtectedItem&)>& change)>
      update;
  // One cycle of every disk, scanning, at one host point (ReplicateLocked).
  std::function<absl::StatusOr<model::CycleOutcome>()> scan_cycle;
};

// Verifies every disk's replica and records the outcome in the item (see
// the file comment). A mismatch is not an error: the result says so.
absl::StatusOr<model::ItemVerification> VerifyItemReplicas(ResyncContext& c);

// Resynchronizes the item (see the file comment); the error of a failed
// resynchronization is returned and recorded in the item.
absl::StatusOr<model::ItemVerification> ResyncItemReplicas(ResyncContext& c);

// Whether `now` (UTC) lies in the policy's auto-resynchronize window
// [start, end) ("HH:MM"; end before start spans midnight; both empty: any
// time). False when auto-resynchronization is off or a bound is malformed.
bool InAutoResyncWindow(const model::ReplicationPolicy& policy, absl::Time now);

// InvalidArgument naming the field when a window bound is not "HH:MM"
// (00:00..23:59) or only one of them is set.
absl::Status CheckAutoResyncWindow(const model::ReplicationPolicy& policy);

// Whether the policy's verification frequency says the item is due at `now`.
bool VerificationDue(const model::ProtectedItem& item, const model::ReplicationPolicy& policy,
                     absl::Time now);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_ITEM_RESYNC_H_
