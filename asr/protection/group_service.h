// asr/protection/group_service.h: replication groups (multi-VM consistency,
// Site Recovery's MultiVmSyncPoint). The VMs of a group replicate together:
// at the group's sync interval the host freezes every member's disks at ONE
// instant (HostCallbacks::CreateGroupPoint), every member's disks are sent
// with that instant as their source time, and the group records a SHARED
// point only when every member committed it.
//
//   GroupService& g = sr->groups();
//   ASR_ASSIGN_OR_RETURN(model::ReplicationGroup rg,
//                        g.Create({.name = "app", .item_refs = {"VM1", "VM2"}}));
//   ASR_ASSIGN_OR_RETURN(model::GroupCycleOutcome c, g.ReplicateNow("app", {}));  // site service
//   ASR_ASSIGN_OR_RETURN(model::GroupRecoveryPoint p, g.LatestSharedPoint("app"));
//   // p.members(i).recovery_point_id(): member i's whole-VM point at p's instant
//
// Rules (a refusal is FailedPrecondition / NotFound / AlreadyExists /
// InvalidArgument with a RuleError naming what to do):
//  - a member is a protected item in state Protected (its initial
//    replication is complete); a VM is in at most one group;
//  - every member replicates under one pairing (one policy, one recovery
//    site): a group fails over together;
//  - at most kMaxGroupMembers members; the sync interval is 0 (the members'
//    copy frequency) or 30 .. 86400 s;
//  - a member replicates only with its group: the site service skips it in
//    per-VM scheduling and runs the group's cycle instead.
//
// All or nothing. The members' disks commit one after another on the
// recovery side (each replica crash-safely on its own). The shared point
// (model::GroupRecoveryPoint, kind "group-recovery-point", id
// "<group id>-pNNNNNNNN") is written only after every member's whole-VM
// point at the instant is recorded, so a failure or crash of any member
// mid-cycle leaves the previous shared point the latest. That point stays
// restorable on every member: a member that committed the new instant keeps
// the previous one as its previous point (every replica keeps the instant
// before its latest, replica_store.h), and a cycle stops at its first
// failing member, which leaves the members after it untouched. Members that
// are behind (oldest latest point) are sent first. A second partial failure
// in a row can push the shared point out of the members that committed both
// times when the policy keeps no older points: keep additional recovery
// points on a group's policy (every retained instant of a member is a
// shared one, as members replicate only at group instants). Shared points
// are offered only while every disk's replica of every member still holds
// the member's point (read from the replica directories, so a record left
// by a crash between a replica's commit and the records' update is not
// offered), and only those that cover every current member.
//
// Thread safety: thread-safe. Membership changes are serialized; a group's
// cycles are serialized (a second concurrent one is Unavailable).
#ifndef ASR_PROTECTION_GROUP_SERVICE_H_
#define ASR_PROTECTION_GROUP_SERVICE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/clock.h"
#include "asr/model/groups.pb.h"
#include "asr/model/protection.pb.h"
#include "asr/protection/protection_service.h"
#include "asr/repository/object_repository.h"

namespace asr::protection {

inline constexpr int kMaxGroupMembers = 16;

struct GroupCreateRequest {
  std::string name;
  std::vector<std::string> item_refs;  // protected item ids, VM ids or names
  int sync_interval_seconds = 0;       // 0: the members' copy frequency
};

struct GroupReplicateOptions {
  bool app_consistent = false;
};

// Which point a failover of a VM uses (Site Recovery's MultiVmSyncPointOption).
enum class MultiVmSyncPointOption {
  // The VM's point in its group's latest shared point (every member of the
  // group at one instant); a VM in no group: its own latest point.
  kUseMultiVmSyncRecoveryPoint,
  // The VM's own latest whole-VM point.
  kUsePerVmRecoveryPoint,
};

class GroupService {
 public:
  GroupService(repository::ObjectRepository* repo, ProtectionService* protection,
               const Clock* clock);
  GroupService(const GroupService&) = delete;
  GroupService& operator=(const GroupService&) = delete;

  // ---- Membership ----
  // A new group "rg-<name>" with the given members (possibly none).
  absl::StatusOr<model::ReplicationGroup> Create(const GroupCreateRequest& request);
  absl::StatusOr<model::ReplicationGroup> AddMembers(absl::string_view group_ref,
                                                     const std::vector<std::string>& item_refs);
  // NotFound for an item that is not a member.
  absl::StatusOr<model::ReplicationGroup> RemoveMembers(absl::string_view group_ref,
                                                        const std::vector<std::string>& item_refs);
  absl::StatusOr<model::ReplicationGroup> SetSyncInterval(absl::string_view group_ref,
                                                          int sync_interval_seconds);
  // Removes the group and its shared point records (the members' own points
  // and replicas stay; they replicate on their own again).
  absl::Status Delete(absl::string_view group_ref);

  // ---- Reads ----
  // By id ("rg-app") or name ("app").
  absl::StatusOr<model::ReplicationGroup> Get(absl::string_view group_ref) const;
  absl::StatusOr<std::vector<model::ReplicationGroup>> List() const;
  // The group of an item (by item ref); nullopt when it is in none.
  absl::StatusOr<std::optional<model::ReplicationGroup>> GroupOf(absl::string_view item_ref) const;
  // The sync interval in effect: the group's, else the first member's
  // policy's copy frequency (300 s for an empty group).
  int EffectiveSyncIntervalSeconds(const model::ReplicationGroup& group) const;

  // ---- Shared points (what failover of a recovery plan uses) ----
  // The group's shared points that cover every current member and whose
  // instant every member's replicas still hold, oldest first.
  absl::StatusOr<std::vector<model::GroupRecoveryPoint>> ListSharedPoints(
      absl::string_view group_ref) const;
  // The newest of them; NotFound ("no shared point yet ...") when none.
  // `app_consistent_only`: the newest application-consistent one.
  absl::StatusOr<model::GroupRecoveryPoint> LatestSharedPoint(
      absl::string_view group_ref, bool app_consistent_only = false) const;
  // The latest shared point of every group that holds one of `item_refs`
  // (a recovery plan's items), by group id. A group only partly in the set
  // is included: its point covers all its members, and failing over only
  // some of them at it is still consistent for those. NotFound when a group
  // has no shared point yet.
  absl::StatusOr<std::map<std::string, model::GroupRecoveryPoint>> LatestSharedPointsOf(
      const std::vector<std::string>& item_refs, bool app_consistent_only = false) const;
  // The whole-VM point a failover of `item_ref` uses: with
  // kUseMultiVmSyncRecoveryPoint the item's point in its group's latest
  // shared point (NotFound when the group has none yet: fail over with
  // kUsePerVmRecoveryPoint, or wait for a group cycle), or its own latest
  // point when it is in no group; with kUsePerVmRecoveryPoint its own
  // latest point.
  absl::StatusOr<model::RecoveryPoint> ResolveRecoveryPoint(absl::string_view item_ref,
                                                            MultiVmSyncPointOption option,
                                                            bool app_consistent_only = false) const;

  // ---- The group cycle (the site service calls it) ----
  // One group point of every member, each member's disks sent at it
  // (ProtectionService::ReplicateNow with ReplicateOptions::host_point),
  // the points released, the shared point recorded when every member
  // committed. The outcome is recorded in the group either way; the
  // returned status is the cycle's error (naming the member).
  absl::StatusOr<model::GroupCycleOutcome> ReplicateNow(absl::string_view group_ref,
                                                        const GroupReplicateOptions& options);

 private:
  absl::StatusOr<model::ReplicationGroup> Find(absl::string_view group_ref) const;
  absl::Status CheckCandidate(const model::ReplicationGroup& group,
                              const model::ProtectedItem& item) const;
  absl::StatusOr<model::ReplicationGroup> Store(model::ReplicationGroup group);
  absl::StatusOr<model::GroupCycleOutcome> ReplicateLocked(const std::string& group_id,
                                                           const GroupReplicateOptions& options);
  absl::Status PruneSharedPoints(const model::ReplicationGroup& group);
  std::shared_ptr<absl::Mutex> CycleLock(const std::string& group_id);

  repository::ObjectRepository* const repo_;
  ProtectionService* const protection_;
  const Clock* const clock_;
  // Membership and group record writes.
  absl::Mutex write_mu_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<absl::Mutex>> cycle_locks_ ABSL_GUARDED_BY(mu_);
};

// "rg-<name>": the id of group `name`.
std::string ReplicationGroupId(absl::string_view name);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_GROUP_SERVICE_H_
