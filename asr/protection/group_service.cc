#include "asr/protection/group_service.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/health.h"
#include "asr/protection/item_state.h"
#include "asr/replication/replica_store.h"

namespace asr::protection {
namespace {

constexpr char kGroupPrefix[] = "rg-";
constexpr int kRecentGroupCycles = 10;

std::string Label(const model::ProtectedItem& item) {
  return item.vm_name().empty() ? item.vm_id() : item.vm_name();
}

std::string SharedPointPrefix(absl::string_view group_id) { return absl::StrCat(group_id, "-p"); }

absl::Status CheckInterval(int seconds) {
  if (seconds == 0 || (seconds >= 30 && seconds <= 86400)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("a group's sync interval is 0 (the members' copy frequency) or 30 .. 86400 "
                   "seconds, not ",
                   seconds));
}

}  // namespace

std::string ReplicationGroupId(absl::string_view name) { return absl::StrCat(kGroupPrefix, name); }

GroupService::GroupService(repository::ObjectRepository* repo, ProtectionService* protection,
                           const Clock* clock)
    : repo_(repo), protection_(protection), clock_(clock) {}

std::shared_ptr<absl::Mutex> GroupService::CycleLock(const std::string& group_id) {
  absl::MutexLock l(&mu_);
  auto& m = cycle_locks_[group_id];
  if (!m) m = std::make_shared<absl::Mutex>();
  return m;
}

absl::StatusOr<model::ReplicationGroup> GroupService::Find(absl::string_view group_ref) const {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("group", group_ref));
  absl::StatusOr<model::ReplicationGroup> direct = repo_->Get<model::ReplicationGroup>(group_ref);
  if (direct.ok() || !absl::IsNotFound(direct.status())) return direct;
  absl::StatusOr<model::ReplicationGroup> named =
      repo_->Get<model::ReplicationGroup>(ReplicationGroupId(group_ref));
  if (named.ok() || !absl::IsNotFound(named.status())) return named;
  return absl::NotFoundError(absl::StrCat("no replication group '", group_ref,
                                          "' (neither a group id nor a group name); "
                                          "`asrctl group list` lists them"));
}

absl::StatusOr<model::ReplicationGroup> GroupService::Get(absl::string_view group_ref) const {
  return Find(group_ref);
}

absl::StatusOr<std::vector<model::ReplicationGroup>> GroupService::List() const {
  return repo_->List<model::ReplicationGroup>();
}

absl::StatusOr<std::optional<model::ReplicationGroup>> GroupService::GroupOf(
    absl::string_view item_ref) const {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection_->GetItem(item_ref));
  ASR_ASSIGN_OR_RETURN(std::vector<model::ReplicationGroup> groups, List());
  for (auto& g : groups) {
    for (const std::string& id : g.protected_item_ids()) {
      if (id == item.id()) return std::optional<model::ReplicationGroup>(std::move(g));
    }
  }
  return std::optional<model::ReplicationGroup>();
}

int GroupService::EffectiveSyncIntervalSeconds(const model::ReplicationGroup& group) const {
  if (group.sync_interval_seconds() > 0) return group.sync_interval_seconds();
  for (const std::string& id : group.protected_item_ids()) {
    absl::StatusOr<model::ProtectedItem> item = repo_->Get<model::ProtectedItem>(id);
    if (!item.ok()) continue;
    absl::StatusOr<model::ReplicationPolicy> policy =
        repo_->Get<model::ReplicationPolicy>(item->policy_id());
    if (policy.ok()) return CopyFrequencySeconds(*policy);
  }
  return 300;
}

absl::Status GroupService::CheckCandidate(const model::ReplicationGroup& group,
                                          const model::ProtectedItem& item) const {
  const std::string vm = Label(item);
  for (const std::string& id : group.protected_item_ids()) {
    if (id == item.id()) {
      return jobs::RuleError(absl::StatusCode::kAlreadyExists, "GroupMemberAlreadyAdded",
                             absl::StrCat("VM '", vm, "' is already in group '", group.name(), "'"),
                             "nothing to do");
    }
  }
  if (item.protection_state() != model::Protected) {
    return jobs::RuleError(
        absl::StatusCode::kFailedPrecondition, "GroupMemberNotProtected",
        absl::StrCat("VM '", vm, "' cannot join group '", group.name(), "': it is ",
                     model::ProtectionState_Name(item.protection_state()), ", not Protected"),
        "add it once its initial replication has completed (`asrctl item show` shows its state)");
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::ReplicationGroup> groups, List());
  for (const auto& g : groups) {
    if (g.id() == group.id()) continue;
    for (const std::string& id : g.protected_item_ids()) {
      if (id == item.id()) {
        return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "VmInAnotherGroup",
                               absl::StrCat("VM '", vm, "' is already in replication group '",
                                            g.name(), "'; a VM is in at most one group"),
                               absl::StrCat("remove it there first (asrctl group remove ", g.name(),
                                            " --vm ", vm, ")"));
      }
    }
  }
  if (!group.pairing_id().empty() && group.pairing_id() != item.pairing_id()) {
    return jobs::RuleError(
        absl::StatusCode::kFailedPrecondition, "GroupSpansPairings",
        absl::StrCat("VM '", vm, "' replicates under pairing '", item.pairing_id(),
                     "' but the members of group '", group.name(), "' replicate under '",
                     group.pairing_id(),
                     "'; a group's VMs share one policy and fail over together to one site"),
        "put VMs of one cloud pairing in a group");
  }
  if (group.protected_item_ids_size() >= kMaxGroupMembers) {
    return jobs::RuleError(absl::StatusCode::kFailedPrecondition, "GroupFull",
                           absl::StrCat("group '", group.name(), "' already has ", kMaxGroupMembers,
                                        " VMs, the most a group holds"),
                           "make another group");
  }
  return absl::OkStatus();
}

absl::StatusOr<model::ReplicationGroup> GroupService::Store(model::ReplicationGroup group) {
  if (group.protected_item_ids_size() == 0) group.clear_pairing_id();
  ASR_RETURN_IF_ERROR(repo_->Put(group));
  return group;
}

absl::StatusOr<model::ReplicationGroup> GroupService::Create(const GroupCreateRequest& request) {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("group name", request.name));
  ASR_RETURN_IF_ERROR(CheckInterval(request.sync_interval_seconds));
  absl::MutexLock l(&write_mu_);
  model::ReplicationGroup group;
  group.set_id(ReplicationGroupId(request.name));
  group.set_name(request.name);
  absl::StatusOr<model::ReplicationGroup> existing =
      repo_->Get<model::ReplicationGroup>(group.id());
  if (existing.ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a replication group named '", request.name,
                     "' exists; add VMs to it (asrctl group add) or choose another name"));
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  group.set_sync_interval_seconds(request.sync_interval_seconds);
  group.set_created_time_unix(absl::ToUnixSeconds(clock_->Now()));
  group.set_next_point_sequence(1);
  for (const std::string& ref : request.item_refs) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection_->GetItem(ref));
    ASR_RETURN_IF_ERROR(CheckCandidate(group, item));
    group.add_protected_item_ids(item.id());
    group.set_pairing_id(item.pairing_id());
  }
  return Store(std::move(group));
}

absl::StatusOr<model::ReplicationGroup> GroupService::AddMembers(
    absl::string_view group_ref, const std::vector<std::string>& item_refs) {
  if (item_refs.empty()) return absl::InvalidArgumentError("name at least one VM to add");
  absl::MutexLock l(&write_mu_);
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  for (const std::string& ref : item_refs) {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection_->GetItem(ref));
    ASR_RETURN_IF_ERROR(CheckCandidate(group, item));
    group.add_protected_item_ids(item.id());
    group.set_pairing_id(item.pairing_id());
  }
  return Store(std::move(group));
}

absl::StatusOr<model::ReplicationGroup> GroupService::RemoveMembers(
    absl::string_view group_ref, const std::vector<std::string>& item_refs) {
  if (item_refs.empty()) return absl::InvalidArgumentError("name at least one VM to remove");
  absl::MutexLock l(&write_mu_);
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  for (const std::string& ref : item_refs) {
    // A member whose protection was disabled is removed by its item id.
    std::string id = ref;
    absl::StatusOr<model::ProtectedItem> item = protection_->GetItem(ref);
    if (item.ok()) id = item->id();
    auto* ids = group.mutable_protected_item_ids();
    auto it = std::find(ids->begin(), ids->end(), id);
    if (it == ids->end()) {
      return absl::NotFoundError(absl::StrCat("'", ref, "' is not a member of group '",
                                              group.name(), "'; `asrctl group show ", group.name(),
                                              "` lists its members"));
    }
    ids->erase(it);
  }
  return Store(std::move(group));
}

absl::StatusOr<model::ReplicationGroup> GroupService::SetSyncInterval(absl::string_view group_ref,
                                                                      int sync_interval_seconds) {
  ASR_RETURN_IF_ERROR(CheckInterval(sync_interval_seconds));
  absl::MutexLock l(&write_mu_);
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  group.set_sync_interval_seconds(sync_interval_seconds);
  return Store(std::move(group));
}

absl::Status GroupService::Delete(absl::string_view group_ref) {
  absl::MutexLock l(&write_mu_);
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  ASR_ASSIGN_OR_RETURN(std::vector<model::GroupRecoveryPoint> points,
                       repo_->List<model::GroupRecoveryPoint>(SharedPointPrefix(group.id())));
  for (const auto& p : points) {
    if (p.group_id() == group.id()) {
      ASR_RETURN_IF_ERROR(repo_->DeleteObject("group-recovery-point", p.id()));
    }
  }
  return repo_->DeleteObject("replication-group", group.id());
}

// ---------------------------------------------------------- Shared points ---

absl::StatusOr<std::vector<model::GroupRecoveryPoint>> GroupService::ListSharedPoints(
    absl::string_view group_ref) const {
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  // What each member's replicas hold now, per disk: the replicas decide,
  // not the records (a crash between a replica's commit, which may prune an
  // older point, and the records' update leaves a record the replica no
  // longer backs). A replica directory this process cannot read (the
  // recovery side is elsewhere) is trusted to hold what the records say.
  std::map<std::string, std::optional<std::vector<std::set<uint64_t>>>> held;
  for (const std::string& id : group.protected_item_ids()) {
    auto& disks = held[id];
    absl::StatusOr<model::ProtectedItem> item = repo_->Get<model::ProtectedItem>(id);
    if (!item.ok()) continue;  // no longer protected: no point covers it
    disks.emplace();
    for (const auto& d : item->disks()) {
      absl::StatusOr<std::vector<replication::RecoveryPoint>> pts =
          replication::ListRecoveryPoints(d.replica_dir());
      if (!pts.ok()) {
        disks.reset();
        break;
      }
      std::set<uint64_t> ids;
      for (const auto& p : *pts) ids.insert(p.id);
      disks->push_back(std::move(ids));
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::GroupRecoveryPoint> all,
                       repo_->List<model::GroupRecoveryPoint>(SharedPointPrefix(group.id())));
  std::vector<model::GroupRecoveryPoint> out;
  for (auto& p : all) {
    if (p.group_id() != group.id()) continue;
    std::map<std::string, std::string> mine;
    for (const auto& m : p.members()) mine[m.protected_item_id()] = m.recovery_point_id();
    bool whole = !held.empty();
    for (const auto& [item_id, disks] : held) {
      auto it = mine.find(item_id);
      if (!whole || it == mine.end()) {
        whole = false;
        break;
      }
      absl::StatusOr<model::RecoveryPoint> rp = repo_->Get<model::RecoveryPoint>(it->second);
      if (!rp.ok()) {
        if (!absl::IsNotFound(rp.status())) return rp.status();
        whole = false;
        break;
      }
      if (!disks.has_value()) continue;
      whole = rp->disks_size() == static_cast<int>(disks->size());
      for (int k = 0; whole && k < rp->disks_size(); ++k) {
        whole = (*disks)[k].count(rp->disks(k).replica_point_id()) > 0;
      }
    }
    if (whole) out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.sequence() < b.sequence(); });
  return out;
}

absl::StatusOr<model::GroupRecoveryPoint> GroupService::LatestSharedPoint(
    absl::string_view group_ref, bool app_consistent_only) const {
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  ASR_ASSIGN_OR_RETURN(std::vector<model::GroupRecoveryPoint> points, ListSharedPoints(group.id()));
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    if (!app_consistent_only || it->recovery_point_type() == model::AppConsistent) return *it;
  }
  return absl::NotFoundError(absl::StrCat(
      "replication group '", group.name(), "' has no ",
      app_consistent_only ? "application-consistent " : "",
      "shared point covering all its members yet; wait for a group cycle (`asrctl group "
      "replicate ",
      group.name(), "`, or the site service at the group's sync interval)"));
}

absl::StatusOr<std::map<std::string, model::GroupRecoveryPoint>> GroupService::LatestSharedPointsOf(
    const std::vector<std::string>& item_refs, bool app_consistent_only) const {
  std::map<std::string, model::GroupRecoveryPoint> out;
  for (const std::string& ref : item_refs) {
    ASR_ASSIGN_OR_RETURN(std::optional<model::ReplicationGroup> group, GroupOf(ref));
    if (!group.has_value() || out.count(group->id())) continue;
    ASR_ASSIGN_OR_RETURN(out[group->id()], LatestSharedPoint(group->id(), app_consistent_only));
  }
  return out;
}

absl::StatusOr<model::RecoveryPoint> GroupService::ResolveRecoveryPoint(
    absl::string_view item_ref, MultiVmSyncPointOption option, bool app_consistent_only) const {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection_->GetItem(item_ref));
  if (option == MultiVmSyncPointOption::kUseMultiVmSyncRecoveryPoint) {
    ASR_ASSIGN_OR_RETURN(std::optional<model::ReplicationGroup> group, GroupOf(item.id()));
    if (group.has_value()) {
      ASR_ASSIGN_OR_RETURN(model::GroupRecoveryPoint shared,
                           LatestSharedPoint(group->id(), app_consistent_only));
      for (const auto& m : shared.members()) {
        if (m.protected_item_id() == item.id()) {
          return repo_->Get<model::RecoveryPoint>(m.recovery_point_id());
        }
      }
      return absl::InternalError(
          absl::StrCat("shared point ", shared.id(), " does not cover VM '", Label(item), "'"));
    }
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                       protection_->ListRecoveryPoints(item.id()));
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    if (!app_consistent_only || it->recovery_point_type() == model::AppConsistent) return *it;
  }
  return absl::NotFoundError(absl::StrCat("VM '", Label(item), "' has no ",
                                          app_consistent_only ? "application-consistent " : "",
                                          "recovery point yet"));
}

// ------------------------------------------------------------ The cycle ---

absl::Status GroupService::PruneSharedPoints(const model::ReplicationGroup& group) {
  ASR_ASSIGN_OR_RETURN(std::vector<model::GroupRecoveryPoint> all,
                       repo_->List<model::GroupRecoveryPoint>(SharedPointPrefix(group.id())));
  for (const auto& p : all) {
    if (p.group_id() != group.id()) continue;
    bool held = true;
    for (const auto& m : p.members()) {
      absl::StatusOr<model::RecoveryPoint> vm_point =
          repo_->Get<model::RecoveryPoint>(m.recovery_point_id());
      if (!vm_point.ok()) {
        if (!absl::IsNotFound(vm_point.status())) return vm_point.status();
        held = false;
      }
    }
    if (!held) ASR_RETURN_IF_ERROR(repo_->DeleteObject("group-recovery-point", p.id()));
  }
  return absl::OkStatus();
}

absl::StatusOr<model::GroupCycleOutcome> GroupService::ReplicateNow(
    absl::string_view group_ref, const GroupReplicateOptions& options) {
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_ref));
  std::shared_ptr<absl::Mutex> lock = CycleLock(group.id());
  if (!lock->TryLock()) {
    return absl::UnavailableError(
        absl::StrCat("replication group '", group.name(), "' is busy (a group cycle is running)"));
  }
  absl::StatusOr<model::GroupCycleOutcome> r = ReplicateLocked(group.id(), options);
  lock->Unlock();
  return r;
}

absl::StatusOr<model::GroupCycleOutcome> GroupService::ReplicateLocked(
    const std::string& group_id, const GroupReplicateOptions& options) {
  ASR_ASSIGN_OR_RETURN(model::ReplicationGroup group, Find(group_id));
  if (group.protected_item_ids_size() == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "replication group '", group.name(),
        "' has no members; add protected VMs (asrctl group add ", group.name(), " --vm VM)"));
  }
  std::vector<model::ProtectedItem> members;
  for (const std::string& id : group.protected_item_ids()) {
    absl::StatusOr<model::ProtectedItem> item = protection_->GetItem(id);
    if (absl::IsNotFound(item.status())) {
      return jobs::RuleError(
          absl::StatusCode::kFailedPrecondition, "GroupMemberGone",
          absl::StrCat("member ", id, " of group '", group.name(),
                       "' is no longer protected, so the group has no shared point to take"),
          absl::StrCat("remove it (asrctl group remove ", group.name(), " --vm ", id, ")"));
    }
    ASR_RETURN_IF_ERROR(item.status());
    ASR_RETURN_IF_ERROR(CheckAllowed(*item, kReplicate));
    members.push_back(*std::move(item));
  }
  fabric::HostCallbacks* host = protection_->host();
  if (host == nullptr || !host->available()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no host is attached, so group '", group.name(),
        "' cannot take a point of its VMs; attach the VMM host (host callbacks; `asrctl "
        "--fabric DIR` for the simulated one)"));
  }
  // Members that are behind first: when one fails the cycle stops there,
  // and the members after it keep the instant they had.
  std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
    return a.last_recovery_point_time_unix() < b.last_recovery_point_time_unix();
  });
  std::vector<std::string> vm_ids;
  for (const auto& m : members) vm_ids.push_back(m.vm_id());

  const absl::Time started = clock_->Now();
  model::GroupCycleOutcome outcome;
  outcome.set_time_unix(absl::ToUnixSeconds(started));
  model::RecoveryPointType type =
      options.app_consistent ? model::AppConsistent : model::CrashConsistent;
  std::vector<model::HostPoint> points;
  absl::Status s = fabric::CallWithRetries([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(points, host->CreateGroupPoint(vm_ids, type));
    return absl::OkStatus();
  });
  // A host that cannot quiesce every member (QEMU: a guest whose agent does
  // not answer) still gives the group an instant: a crash-consistent one,
  // and the outcome says why.
  if (absl::IsFailedPrecondition(s) && type == model::AppConsistent) {
    const std::string why(s.message());
    s = fabric::CallWithRetries([&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(points, host->CreateGroupPoint(vm_ids, model::CrashConsistent));
      return absl::OkStatus();
    });
    if (s.ok()) {
      type = model::CrashConsistent;
      outcome.set_app_consistent_fallback(why);
    }
  }
  if (s.ok() && points.size() != members.size()) {
    absl::Status bad = absl::InternalError(absl::StrCat(
        "the host's group point has ", points.size(), " points for ", members.size(), " VMs"));
    for (const auto& p : points) (void)host->ReleasePoint(p);
    s = bad;
  }
  std::vector<model::GroupMemberPoint> committed;
  if (s.ok()) {
    outcome.set_source_time_us(points.front().time_us());
    for (size_t i = 0; i < members.size(); ++i) {
      if (points[i].vm_id() != members[i].vm_id() ||
          points[i].time_us() != points.front().time_us()) {
        s = absl::InternalError(absl::StrCat(
            "the host's group point is not one instant of the VMs asked for (point ", i,
            " is of VM '", points[i].vm_id(), "' at ", points[i].time_us(), " us)"));
        break;
      }
    }
    for (size_t i = 0; s.ok() && i < members.size(); ++i) {
      ReplicateOptions ro;
      ro.app_consistent = type == model::AppConsistent;
      ro.host_point = &points[i];
      absl::StatusOr<model::CycleOutcome> c = protection_->ReplicateNow(members[i].id(), ro);
      if (!c.ok()) {
        s = absl::Status(c.status().code(),
                         absl::StrCat("member '", Label(members[i]), "': ", c.status().message()));
        break;
      }
      outcome.set_bytes_sent(outcome.bytes_sent() + c->bytes_sent());
      model::GroupMemberPoint m;
      m.set_protected_item_id(members[i].id());
      m.set_vm_id(members[i].vm_id());
      m.set_vm_name(members[i].vm_name());
      m.set_recovery_point_id(RecoveryPointIdOf(members[i].id(), c->point_sequence()));
      committed.push_back(std::move(m));
      outcome.add_committed_item_ids(members[i].id());
    }
    for (const auto& p : points) {
      absl::Status rel = host->ReleasePoint(p);
      if (s.ok()) s = rel;
    }
  }
  outcome.set_seconds(absl::ToDoubleSeconds(clock_->Now() - started));

  absl::MutexLock l(&write_mu_);
  // Re-read: membership may have changed meanwhile; the point covers the
  // members it was taken of.
  ASR_ASSIGN_OR_RETURN(group, Find(group_id));
  if (s.ok()) {
    // Every member committed the instant: now, and only now, the shared
    // point exists.
    model::GroupRecoveryPoint shared;
    const uint64_t seq = std::max<uint64_t>(1, group.next_point_sequence());
    shared.set_id(absl::StrFormat("%s%08d", SharedPointPrefix(group.id()), seq));
    shared.set_group_id(group.id());
    shared.set_sequence(seq);
    shared.set_source_time_us(outcome.source_time_us());
    shared.set_recovery_point_time_unix(outcome.source_time_us() / 1000000);
    shared.set_recovery_point_type(type);
    for (auto& m : committed) *shared.add_members() = std::move(m);
    absl::Status put = repo_->Put(shared);
    if (put.ok()) {
      group.set_next_point_sequence(seq + 1);
      group.set_latest_shared_point_id(shared.id());
      group.set_last_shared_point_time_unix(shared.recovery_point_time_unix());
      if (type == model::AppConsistent) {
        group.set_last_app_consistent_time_unix(shared.recovery_point_time_unix());
      }
      outcome.set_point_sequence(seq);
    } else {
      s = put;
    }
  }
  outcome.set_ok(s.ok());
  if (!s.ok()) outcome.set_error(std::string(s.message()));
  *group.add_recent_cycles() = outcome;
  while (group.recent_cycles_size() > kRecentGroupCycles) {
    group.mutable_recent_cycles()->DeleteSubrange(0, 1);
  }
  ASR_RETURN_IF_ERROR(repo_->Put(group));
  ASR_RETURN_IF_ERROR(PruneSharedPoints(group));
  if (!s.ok()) return s;
  return outcome;
}

}  // namespace asr::protection
