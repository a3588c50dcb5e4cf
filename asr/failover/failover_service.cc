#include "asr/failover/failover_service.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/status_macros.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/failover/operations.pb.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/json.h"
#include "asr/protection/item_state.h"
#include "asr/replication/replica_overlay.h"
#include "asr/replication/replica_store.h"

namespace asr::failover {
namespace {

using jobs::RuleError;

constexpr char kPrimaryToRecovery[] = "PrimaryToRecovery";
constexpr char kRecoveryToPrimary[] = "RecoveryToPrimary";
// The name of the test failover's view in each disk's replica directory.
constexpr char kTestView[] = "test";

// What an operation runs with besides its input.
struct RunContext {
  StepRunner steps;
  std::string job_id;
  std::string scenario;
  // Suspends the job (planned failover ForDownTime); null outside a job.
  std::function<absl::Status(absl::string_view)> suspend;
  std::function<void(absl::string_view)> note;
};

std::string Label(const model::ProtectedItem& item) {
  return item.vm_name().empty() ? item.vm_id() : item.vm_name();
}

absl::Status Step(const RunContext& rc, absl::string_view id, absl::string_view name,
                  const std::function<absl::Status()>& fn) {
  if (rc.steps) return rc.steps(id, name, fn);
  return fn();
}

absl::Status CheckTag(absl::string_view tag, bool unplanned) {
  if (tag == "Latest" || tag == "LatestAvailable" ||
      tag == "LatestAvailableApplicationConsistent" ||
      (unplanned && tag == "LatestAvailableCrashConsistent")) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "recovery tag '", tag, "' is not one of Latest, LatestAvailable, ",
      "LatestAvailableApplicationConsistent", unplanned ? ", LatestAvailableCrashConsistent" : "",
      "; or give a recovery point id"));
}

bool IsRunning(const absl::StatusOr<model::VmPowerState>& p) {
  return p.ok() && *p == model::RUNNING;
}

}  // namespace

absl::string_view ScenarioOf(absl::string_view operation) {
  if (operation == kTestFailover) return kScenarioTestFailover;
  if (operation == kTestFailoverCleanup) return kScenarioTestFailoverCleanup;
  if (operation == kPlannedFailover) return kScenarioPlannedFailover;
  if (operation == kUnplannedFailover) return kScenarioUnplannedFailover;
  if (operation == kCommit) return kScenarioCommitFailover;
  if (operation == kCancelFailover) return kScenarioCancelFailover;
  if (operation == kChangePit) return kScenarioChangeRecoveryPoint;
  if (operation == kReverseReplicate) return kScenarioReverseReplicate;
  if (operation == kFailback) return kScenarioFailback;
  return "";
}

struct FailoverService::Impl {
  repository::ObjectRepository* repo;
  jobs::JobManager* jobs;
  protection::ProtectionService* protection;
  const Clock* clock;

  absl::Mutex mu;
  std::map<std::string, std::shared_ptr<absl::Mutex>> item_locks ABSL_GUARDED_BY(mu);

  std::shared_ptr<absl::Mutex> ItemLock(const std::string& id) {
    absl::MutexLock l(&mu);
    auto& m = item_locks[id];
    if (!m) m = std::make_shared<absl::Mutex>();
    return m;
  }

  absl::StatusOr<fabric::HostCallbacks*> Host(absl::string_view what) const {
    fabric::HostCallbacks* h = protection->host();
    if (h == nullptr || !h->available()) {
      return absl::FailedPreconditionError(
          absl::StrCat("no host is attached, so asr cannot ", what,
                       "; attach the VMM host (host callbacks; `asrctl --fabric DIR` for the "
                       "simulated one)"));
    }
    return h;
  }

  absl::StatusOr<model::ProtectedItem> Item(const std::string& id) const {
    return protection->GetItem(id);
  }

  absl::StatusOr<model::ProtectedItem> Update(
      const std::string& id, const std::function<void(model::ProtectedItem&)>& change) {
    return protection->UpdateItem(id, change);
  }

  // The direction the item fails over in now.
  static const char* DirectionOf(const model::ProtectedItem& item) {
    return item.reversed() ? kRecoveryToPrimary : kPrimaryToRecovery;
  }
  // Where the VM runs after a failover in the item's direction.
  static const char* TargetLocation(const model::ProtectedItem& item) {
    return item.reversed() ? "Primary" : "Recovery";
  }
  static const char* SourceLocation(const model::ProtectedItem& item) {
    return item.reversed() ? "Recovery" : "Primary";
  }

  absl::Status CheckDirection(const model::ProtectedItem& item, const FailoverInput& in) const {
    if (in.direction != kPrimaryToRecovery && in.direction != kRecoveryToPrimary) {
      return absl::InvalidArgumentError(absl::StrCat("direction '", in.direction,
                                                     "' is not PrimaryToRecovery or "
                                                     "RecoveryToPrimary"));
    }
    if (in.direction != DirectionOf(item)) {
      return RuleError(
          absl::StatusCode::kFailedPrecondition, "FailoverDirectionMismatch",
          absl::StrCat("VM '", Label(item), "' replicates from the ", SourceLocation(item),
                       " side, so it fails over ", DirectionOf(item), ", not ", in.direction),
          absl::StrCat("use direction ", DirectionOf(item)));
    }
    return absl::OkStatus();
  }

  // Validates `in` for `operation` and the item's state; returns the item.
  absl::StatusOr<model::ProtectedItem> Check(absl::string_view operation,
                                             const FailoverInput& in) const {
    if (ScenarioOf(operation).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown failover operation '", operation,
          "'; use TestFailover, TestFailoverCleanup, PlannedFailover, UnplannedFailover, Commit, "
          "CancelFailover, ChangePit, ReverseReplicate or Failback"));
    }
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection->GetItem(in.item_ref));
    if (!(operation == kFailback && FailbackUnderway(item))) {
      ASR_RETURN_IF_ERROR(protection::CheckAllowed(item, operation));
    }
    const bool picks_point =
        operation == kTestFailover || operation == kUnplannedFailover || operation == kChangePit;
    if (picks_point && in.recovery_point_id.empty()) {
      ASR_RETURN_IF_ERROR(CheckTag(in.recovery_tag, operation != kTestFailover));
    }
    // A named point, or a tag other than Latest (whose sync makes a point),
    // must exist now: NotFound names the points kept.
    if (picks_point && (!in.recovery_point_id.empty() || in.recovery_tag != "Latest")) {
      ASR_RETURN_IF_ERROR(ChoosePoint(item, in).status());
    }
    if (operation == kTestFailover) {
      if (in.network_type != "None" && in.network_type != "Isolated" &&
          in.network_type != "VmNetwork") {
        return absl::InvalidArgumentError(absl::StrCat(
            "test network type '", in.network_type, "' is not one of None, Isolated, VmNetwork"));
      }
      if (in.network_type == "VmNetwork" && in.network_id.empty()) {
        return absl::InvalidArgumentError(
            "a test failover into a VM network needs the network's id (network_id)");
      }
    }
    if (operation == kPlannedFailover && in.optimize != "ForDownTime" &&
        in.optimize != "ForSynchronization") {
      return absl::InvalidArgumentError(absl::StrCat(
          "optimize '", in.optimize, "' is not one of ForDownTime, ForSynchronization"));
    }
    if (operation == kTestFailover || operation == kPlannedFailover ||
        operation == kUnplannedFailover) {
      ASR_RETURN_IF_ERROR(CheckDirection(item, in));
    }
    if (operation == kFailback && in.direction != kRecoveryToPrimary) {
      return absl::InvalidArgumentError(
          absl::StrCat("failback goes RecoveryToPrimary, not ", in.direction));
    }
    return item;
  }

  // Whether a failback stopped part way (its job is run again): a planned
  // failover back to the primary, its commit, or the reverse replication
  // after it.
  static bool FailbackUnderway(const model::ProtectedItem& item) {
    switch (item.protection_state()) {
      case model::PlannedFailoverInitiated:
      case model::PlannedFailoverFailed:
      case model::PlannedFailoverCompleted:
      case model::CommitFailoverInProgressOnRecovery:
      case model::CommitFailoverFailedOnRecovery:
      case model::Committed:
      case model::ReprotectInitiated:
      case model::ReprotectFailed:
        // Before its reverse replication swaps the sides: the failover
        // back; after: the failback's own scenario on the item.
        return (item.reversed() && item.failover_direction() == kRecoveryToPrimary) ||
               item.current_scenario().scenario_name() == kScenarioFailback;
      default:
        return false;
    }
  }

  // ---- Points ----
  absl::StatusOr<model::RecoveryPoint> ChoosePoint(const model::ProtectedItem& item,
                                                   const FailoverInput& in) const {
    ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                         protection->ListRecoveryPoints(item.id()));
    if (points.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", Label(item), "' has no recovery point yet; wait for a replication cycle"));
    }
    if (!in.recovery_point_id.empty()) {
      std::vector<std::string> ids;
      for (const auto& p : points) {
        if (p.id() == in.recovery_point_id) return p;
        ids.push_back(p.id());
      }
      return absl::NotFoundError(absl::StrCat("VM '", Label(item), "' has no recovery point '",
                                              in.recovery_point_id,
                                              "'; the points kept: ", absl::StrJoin(ids, ", ")));
    }
    if (in.recovery_tag == "LatestAvailableApplicationConsistent") {
      for (auto it = points.rbegin(); it != points.rend(); ++it) {
        if (it->recovery_point_type() == model::AppConsistent) return *it;
      }
      return absl::NotFoundError(absl::StrCat(
          "VM '", Label(item),
          "' keeps no application-consistent point; use LatestAvailable, or set the policy's "
          "application-consistent frequency and wait for one"));
    }
    // Latest (after its sync), LatestAvailable, LatestAvailableCrashConsistent:
    // every point is at least crash-consistent.
    return points.back();
  }

  // The data-loss estimate of failing over at `point`.
  void EstimateLoss(const model::ProtectedItem& item, const model::RecoveryPoint& point,
                    model::ProtectedItem& out) const {
    absl::StatusOr<std::vector<model::RecoveryPoint>> points =
        protection->ListRecoveryPoints(item.id());
    int64_t cycles = 0;
    int64_t latest_us = point.source_time_us();
    if (points.ok()) {
      for (const auto& p : *points) {
        if (p.sequence() > point.sequence()) ++cycles;
        latest_us = std::max(latest_us, p.source_time_us());
      }
    }
    const absl::Time written = protection->LastTrackedWrite(item.id());
    int64_t last_us = latest_us;
    if (written != absl::InfinitePast() && absl::ToUnixMicros(written) > latest_us) {
      last_us = absl::ToUnixMicros(written);
      ++cycles;  // writes no point holds yet
    }
    const int64_t loss_us = std::max<int64_t>(0, last_us - point.source_time_us());
    out.set_data_loss_seconds((loss_us + 999999) / 1000000);
    out.set_data_loss_cycles(cycles);
  }

  // A cycle now; retried while the item is busy with another cycle.
  absl::StatusOr<model::CycleOutcome> Sync(const std::string& item_id) {
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    for (;;) {
      absl::StatusOr<model::CycleOutcome> c = protection->ReplicateNow(item_id, {});
      if (c.ok() || !absl::IsUnavailable(c.status()) || absl::Now() > deadline) return c;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  // Whether every disk's replica is failed over now, and at which points.
  absl::StatusOr<bool> FailedOver(const model::ProtectedItem& item) const {
    for (const auto& d : item.disks()) {
      ASR_ASSIGN_OR_RETURN(replication::FailoverInfo f,
                           replication::ReadFailoverInfo(d.replica_dir()));
      if (!f.failed_over) return false;
    }
    return !item.disks().empty();
  }

  // The last step of a planned or unplanned failover: the VM runs on the
  // other side now.
  absl::Status RecordFailedOver(const std::string& id, model::ProtectionState state) {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_protection_state(state);
                    i.set_active_location(TargetLocation(i));
                    i.set_last_successful_failover_time_unix(absl::ToUnixSeconds(clock->Now()));
                    i.clear_current_scenario();
                  })
        .status();
  }

  absl::Status MarkStarted(const std::string& id, const RunContext& rc,
                           model::ProtectionState state) {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_protection_state(state);
                    i.mutable_current_scenario()->set_scenario_name(rc.scenario);
                    i.mutable_current_scenario()->set_job_id(rc.job_id);
                    i.mutable_current_scenario()->set_start_time_unix(
                        absl::ToUnixSeconds(clock->Now()));
                  })
        .status();
  }

  // ---- Steps shared by the operations ----
  absl::Status PointReplicas(const model::ProtectedItem& item, const model::RecoveryPoint& point);
  absl::Status ConnectReplicaNics(const model::ProtectedItem& item);
  absl::Status StartReplicaVm(const model::ProtectedItem& item, bool source_may_be_lost);
  absl::Status StopVm(const std::string& vm_id, bool clean);

  // ---- Operations ----
  absl::Status TestFailover(const std::string& id, const FailoverInput& in, const RunContext& rc);
  absl::Status TestCleanup(const std::string& id, const RunContext& rc);
  absl::Status Planned(const std::string& id, const FailoverInput& in, const RunContext& rc);
  absl::Status Unplanned(const std::string& id, const FailoverInput& in, const RunContext& rc);
  absl::Status ChangePoint(const std::string& id, const FailoverInput& in, const RunContext& rc);
  absl::Status Commit(const std::string& id, const RunContext& rc);
  absl::Status Cancel(const std::string& id, const RunContext& rc);
  absl::Status Reverse(const std::string& id, const RunContext& rc);
  absl::Status Failback(const std::string& id, const FailoverInput& in, const RunContext& rc);

  absl::Status Run(absl::string_view operation, const FailoverInput& in, const RunContext& rc);
  absl::Status RunJob(jobs::JobContext& ctx);
};

absl::Status FailoverService::Impl::StopVm(const std::string& vm_id, bool clean) {
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("stop a VM"));
  absl::StatusOr<model::VmPowerState> p = h->GetPowerState(vm_id);
  if (absl::IsNotFound(p.status())) return absl::OkStatus();
  ASR_RETURN_IF_ERROR(p.status());
  if (*p != model::RUNNING) return absl::OkStatus();
  if (clean) {
    absl::Status s = fabric::CallWithRetries([&]() { return h->ShutdownVm(vm_id); });
    if (s.ok() || !absl::IsDeadlineExceeded(s)) return s;
  }
  return fabric::CallWithRetries([&]() { return h->TurnOffVm(vm_id); });
}

absl::Status FailoverService::Impl::PointReplicas(const model::ProtectedItem& item,
                                                  const model::RecoveryPoint& point) {
  if (point.disks_size() != item.disks_size()) {
    return absl::FailedPreconditionError(absl::StrCat("recovery point ", point.id(), " has ",
                                                      point.disks_size(), " disks, VM '",
                                                      Label(item), "' ", item.disks_size()));
  }
  for (int k = 0; k < item.disks_size(); ++k) {
    const model::ProtectedDisk& d = item.disks(k);
    const uint64_t want = point.disks(k).replica_point_id();
    ASR_ASSIGN_OR_RETURN(replication::FailoverInfo f,
                         replication::ReadFailoverInfo(d.replica_dir()));
    if (!f.failed_over) {
      ASR_RETURN_IF_ERROR(
          replication::BeginFailover(d.replica_dir(), want, d.replica_path()).status());
    } else if (f.point_id != want) {
      ASR_RETURN_IF_ERROR(replication::ChangeFailoverPoint(d.replica_dir(), want).status());
    }
  }
  return absl::OkStatus();
}

absl::Status FailoverService::Impl::ConnectReplicaNics(const model::ProtectedItem& item) {
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("connect the replica VM's NICs"));
  for (const model::ReplicaNic& n : item.replica_nics()) {
    model::NetworkAdapter a;
    a.set_id(n.nic_id());
    a.set_vm_network_id(n.vm_network_id());
    a.set_subnet_name(n.subnet_name());
    ASR_RETURN_IF_ERROR(
        fabric::CallWithRetries([&]() { return h->ConnectNic(item.replica_vm_id(), a); }));
  }
  return absl::OkStatus();
}

absl::Status FailoverService::Impl::StartReplicaVm(const model::ProtectedItem& item,
                                                   bool source_may_be_lost) {
  ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("start the replica VM"));
  absl::StatusOr<model::VmPowerState> source = h->GetPowerState(item.vm_id());
  if (!source.ok() && !source_may_be_lost && !absl::IsNotFound(source.status())) {
    return absl::Status(
        source.status().code(),
        absl::StrCat("cannot tell whether VM '", Label(item), "' still runs on ",
                     item.primary_host_name(), " (", source.status().message(),
                     "), so its replica is not started: a VM never runs on both sides; use an "
                     "unplanned failover when the source is lost"));
  }
  if (IsRunning(source)) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "VmRunningOnBothSides",
                     absl::StrCat("VM '", Label(item), "' still runs on ", item.primary_host_name(),
                                  ", so its replica is not started (a VM never runs on both "
                                  "sides)"),
                     "shut it down, or fail over with PerformSourceSideAction");
  }
  return fabric::CallWithRetries([&]() { return h->StartVm(item.replica_vm_id()); });
}

// ---------------------------------------------------------- Test failover ---

absl::Status FailoverService::Impl::TestFailover(const std::string& id, const FailoverInput& in,
                                                 const RunContext& rc) {
  ASR_RETURN_IF_ERROR(Update(id, [&](model::ProtectedItem& i) {
                        i.set_test_failover_state("TestFailoverInitiated");
                        i.set_test_failover_job_id(rc.job_id);
                        i.set_test_vm_id(absl::StrCat(i.vm_id(), "-test"));
                        i.set_test_vm_name(absl::StrCat(Label(i), "-test"));
                        i.set_test_network_type(in.network_type);
                      }).status());
  ASR_RETURN_IF_ERROR(Step(rc, "choose-point", "Choose the recovery point", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    if (in.recovery_point_id.empty() && in.recovery_tag == "Latest") {
      ASR_RETURN_IF_ERROR(Sync(id).status());
    }
    ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p, ChoosePoint(item, in));
    return Update(id,
                  [&](model::ProtectedItem& i) { i.set_test_failover_recovery_point_id(p.id()); })
        .status();
  }));
  ASR_RETURN_IF_ERROR(Step(rc, "create-views", "Create a view of the point of every disk (no copy)",
                           [&]() -> absl::Status {
                             ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
                             ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p,
                                                  repo->Get<model::RecoveryPoint>(
                                                      item.test_failover_recovery_point_id()));
                             for (int k = 0; k < item.disks_size(); ++k) {
                               const std::string& dir = item.disks(k).replica_dir();
                               ASR_ASSIGN_OR_RETURN(std::vector<replication::OverlayInfo> views,
                                                    replication::ListOverlays(dir));
                               bool have = false;
                               for (const auto& v : views) {
                                 if (v.name != kTestView) continue;
                                 if (v.point_id == p.disks(k).replica_point_id()) {
                                   have = true;
                                 } else {
                                   ASR_RETURN_IF_ERROR(replication::DeleteOverlay(dir, kTestView));
                                 }
                               }
                               if (have) continue;
                               replication::OverlayRequest r;
                               r.name = kTestView;
                               r.point_id = p.disks(k).replica_point_id();
                               ASR_RETURN_IF_ERROR(replication::CreateOverlay(dir, r).status());
                             }
                             return absl::OkStatus();
                           }));
  ASR_RETURN_IF_ERROR(Step(rc, "test-network", "Prepare the test network", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    std::string network;
    bool created = false;
    if (in.network_type == "Isolated") {
      ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("create an isolated test network"));
      ASR_ASSIGN_OR_RETURN(network, h->CreateIsolatedNetwork(item.replica_host_id(),
                                                             absl::StrCat("test-", item.vm_id())));
      created = true;
    } else if (in.network_type == "VmNetwork") {
      network = in.network_id;
    }
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_test_network_id(network);
                    i.set_test_network_created(created);
                  })
        .status();
  }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "create-test-vm", "Create the test VM on the replica's host", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("create the test VM"));
        model::ReplicaVmSpec spec;
        spec.set_replica_vm_id(item.test_vm_id());
        spec.set_name(item.test_vm_name());
        spec.set_host_id(item.replica_host_id());
        spec.set_source_vm_id(item.vm_id());
        for (const auto& d : item.disks()) {
          ASR_ASSIGN_OR_RETURN(std::vector<replication::OverlayInfo> views,
                               replication::ListOverlays(d.replica_dir()));
          std::string path;
          for (const auto& v : views) {
            if (v.name == kTestView) path = v.path;
          }
          if (path.empty()) {
            return absl::InternalError(
                absl::StrCat("the test view of disk ", d.name(), " is gone; run the test again"));
          }
          model::VirtualDisk* vd = spec.add_disks();
          vd->set_id(d.disk_id());
          vd->set_name(d.name());
          vd->set_path(path);
          vd->set_size_bytes(d.size_bytes());
        }
        for (const auto& n : item.replica_nics()) {
          spec.add_network_adapters()->set_id(n.nic_id());  // connected below
        }
        ASR_RETURN_IF_ERROR(
            fabric::CallWithRetries([&]() { return h->CreateReplicaVm(spec).status(); }));
        for (const auto& n : item.replica_nics()) {
          model::NetworkAdapter a;
          a.set_id(n.nic_id());
          if (!item.test_network_id().empty()) {
            a.set_vm_network_id(item.test_network_id());
            // A network of the replica's mapping keeps its subnet; another
            // network gets its first subnet (or none).
            if (item.test_network_id() == n.vm_network_id()) a.set_subnet_name(n.subnet_name());
          }
          ASR_RETURN_IF_ERROR(
              fabric::CallWithRetries([&]() { return h->ConnectNic(item.test_vm_id(), a); }));
        }
        return absl::OkStatus();
      }));
  ASR_RETURN_IF_ERROR(Step(rc, "start-test-vm", "Start the test VM", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("start the test VM"));
    return fabric::CallWithRetries([&]() { return h->StartVm(item.test_vm_id()); });
  }));
  return Step(rc, "finalize", "Record the test failover", [&]() -> absl::Status {
    return Update(
               id,
               [&](model::ProtectedItem& i) {
                 i.set_test_failover_state("TestFailoverCompleted");
                 i.set_last_successful_test_failover_time_unix(absl::ToUnixSeconds(clock->Now()));
               })
        .status();
  });
}

absl::Status FailoverService::Impl::TestCleanup(const std::string& id, const RunContext& rc) {
  ASR_RETURN_IF_ERROR(Update(id, [&](model::ProtectedItem& i) {
                        i.set_test_failover_state("TestFailoverCleanupInitiated");
                      }).status());
  ASR_RETURN_IF_ERROR(
      Step(rc, "delete-test-vm", "Turn off and delete the test VM", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        if (item.test_vm_id().empty()) return absl::OkStatus();
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("delete the test VM"));
        ASR_RETURN_IF_ERROR(StopVm(item.test_vm_id(), /*clean=*/false));
        absl::Status s = fabric::CallWithRetries(
            [&]() { return h->DeleteVm(item.test_vm_id(), /*delete_disks=*/false); });
        return absl::IsNotFound(s) ? absl::OkStatus() : s;
      }));
  ASR_RETURN_IF_ERROR(Step(rc, "delete-views", "Delete the views", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    for (const auto& d : item.disks()) {
      ASR_RETURN_IF_ERROR(replication::DeleteOverlay(d.replica_dir(), kTestView));
    }
    return absl::OkStatus();
  }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "delete-test-network", "Delete the isolated test network", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        if (!item.test_network_created() || item.test_network_id().empty()) {
          return absl::OkStatus();
        }
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("delete the isolated test network"));
        return h->DeleteIsolatedNetwork(item.replica_host_id(), item.test_network_id());
      }));
  return Step(rc, "finalize", "Record the cleanup", [&]() -> absl::Status {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_test_failover_state("None");
                    i.clear_test_vm_id();
                    i.clear_test_vm_name();
                    i.clear_test_network_type();
                    i.clear_test_network_id();
                    i.clear_test_network_created();
                    i.clear_test_failover_recovery_point_id();
                    i.clear_test_failover_job_id();
                  })
        .status();
  });
}

// ------------------------------------------------------- Planned failover ---

absl::Status FailoverService::Impl::Planned(const std::string& id, const FailoverInput& in,
                                            const RunContext& rc) {
  ASR_RETURN_IF_ERROR(MarkStarted(id, rc, model::PlannedFailoverInitiated));
  ASR_RETURN_IF_ERROR(Update(id, [&](model::ProtectedItem& i) {
                        i.set_failover_type(std::string(kPlannedFailover));
                        i.set_failover_direction(in.direction);
                      }).status());
  if (in.optimize == "ForDownTime") {
    ASR_RETURN_IF_ERROR(
        Step(rc, "sync-while-running", "Synchronize while the VM runs", [&]() -> absl::Status {
          ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
          ASR_ASSIGN_OR_RETURN(bool done, FailedOver(item));
          if (done) return absl::OkStatus();
          return Sync(id).status();
        }));
    if (rc.suspend) {
      ASR_RETURN_IF_ERROR(Step(
          rc, "await-resume", "Wait for the go-ahead to shut the VM down", [&]() -> absl::Status {
            ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
            return rc.suspend(absl::StrCat(
                "VM '", Label(item), "' is synchronized and still runs; resume job ", rc.job_id,
                " to shut it down, send the last changes and start its replica"));
          }));
    }
  }
  ASR_RETURN_IF_ERROR(
      Step(rc, "shutdown-source", "Shut the source VM down cleanly", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("shut the source VM down"));
        absl::StatusOr<model::VmPowerState> p = h->GetPowerState(item.vm_id());
        if (!p.ok()) {
          return absl::Status(p.status().code(),
                              absl::StrCat("a planned failover needs the source VM '", Label(item),
                                           "': ", p.status().message(),
                                           "; when the source is lost, use an unplanned "
                                           "failover"));
        }
        if (*p != model::RUNNING) return absl::OkStatus();
        ASR_RETURN_IF_ERROR(fabric::CallWithRetries([&]() { return h->ShutdownVm(item.vm_id()); }));
        return Update(id, [](model::ProtectedItem& i) { i.set_source_stopped_by_failover(true); })
            .status();
      }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "final-sync", "Send the last changes (the final point)", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        ASR_ASSIGN_OR_RETURN(bool done, FailedOver(item));
        if (done && !item.failover_recovery_point_id().empty()) return absl::OkStatus();
        ASR_ASSIGN_OR_RETURN(model::CycleOutcome c, Sync(id));
        const std::string point = protection::RecoveryPointIdOf(id, c.point_sequence());
        return Update(id,
                      [&](model::ProtectedItem& i) {
                        i.set_failover_recovery_point_id(point);
                        i.set_data_loss_seconds(0);
                        i.set_data_loss_cycles(0);
                      })
            .status();
      }));
  ASR_RETURN_IF_ERROR(Step(
      rc, "failover-replicas", "Fail the replicas over to the final point", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p,
                             repo->Get<model::RecoveryPoint>(item.failover_recovery_point_id()));
        return PointReplicas(item, p);
      }));
  ASR_RETURN_IF_ERROR(Step(rc, "connect-nics", "Connect the replica VM's NICs (network mapping)",
                           [&]() -> absl::Status {
                             ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
                             return ConnectReplicaNics(item);
                           }));
  ASR_RETURN_IF_ERROR(Step(rc, "start-replica-vm", "Start the replica VM", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    return StartReplicaVm(item, /*source_may_be_lost=*/false);
  }));
  return Step(rc, "finalize", "Record the failover", [&]() -> absl::Status {
    return RecordFailedOver(id, model::PlannedFailoverCompleted);
  });
}

// ----------------------------------------------------- Unplanned failover ---

absl::Status FailoverService::Impl::Unplanned(const std::string& id, const FailoverInput& in,
                                              const RunContext& rc) {
  ASR_RETURN_IF_ERROR(MarkStarted(id, rc, model::UnplannedFailoverInitiated));
  ASR_RETURN_IF_ERROR(Update(id, [&](model::ProtectedItem& i) {
                        i.set_failover_type(std::string(kUnplannedFailover));
                        i.set_failover_direction(in.direction);
                      }).status());
  if (in.perform_source_side_action) {
    ASR_RETURN_IF_ERROR(
        Step(rc, "source-side", "Shut the source VM down if it answers", [&]() -> absl::Status {
          ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
          ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("shut the source VM down"));
          absl::StatusOr<model::VmPowerState> p = h->GetPowerState(item.vm_id());
          if (!p.ok()) {
            if (rc.note) {
              rc.note(absl::StrCat("the source VM did not answer (", p.status().message(),
                                   "); failing over without shutting it down"));
            }
            return absl::OkStatus();
          }
          if (*p != model::RUNNING) return absl::OkStatus();
          ASR_RETURN_IF_ERROR(StopVm(item.vm_id(), /*clean=*/true));
          return Update(id, [](model::ProtectedItem& i) { i.set_source_stopped_by_failover(true); })
              .status();
        }));
  }
  if (in.recovery_point_id.empty() && in.recovery_tag == "Latest") {
    ASR_RETURN_IF_ERROR(Step(
        rc, "sync-latest", "Send the latest changes if the source answers", [&]() -> absl::Status {
          ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
          ASR_ASSIGN_OR_RETURN(bool done, FailedOver(item));
          if (done) return absl::OkStatus();
          ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("reach the source VM"));
          absl::StatusOr<model::VmPowerState> p = h->GetPowerState(item.vm_id());
          if (!p.ok()) {
            if (rc.note) {
              rc.note(absl::StrCat("the source did not answer (", p.status().message(),
                                   "); failing over to the latest point available"));
            }
            return absl::OkStatus();
          }
          return Sync(id).status();
        }));
  }
  ASR_RETURN_IF_ERROR(Step(rc, "choose-point", "Choose the recovery point", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p, ChoosePoint(item, in));
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_failover_recovery_point_id(p.id());
                    EstimateLoss(item, p, i);
                  })
        .status();
  }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "failover-replicas", "Fail the replicas over to the point", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p,
                             repo->Get<model::RecoveryPoint>(item.failover_recovery_point_id()));
        return PointReplicas(item, p);
      }));
  ASR_RETURN_IF_ERROR(Step(rc, "connect-nics", "Connect the replica VM's NICs (network mapping)",
                           [&]() -> absl::Status {
                             ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
                             return ConnectReplicaNics(item);
                           }));
  ASR_RETURN_IF_ERROR(Step(rc, "start-replica-vm", "Start the replica VM", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    return StartReplicaVm(item, /*source_may_be_lost=*/true);
  }));
  return Step(rc, "finalize", "Record the failover", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    if (rc.note) {
      rc.note(absl::StrFormat("failed over to %s: about %d s (%d cycles) of writes lost",
                              item.failover_recovery_point_id(), item.data_loss_seconds(),
                              item.data_loss_cycles()));
    }
    return RecordFailedOver(id, model::FailedOver);
  });
}

// ------------------------------------------------- Change recovery point ---

absl::Status FailoverService::Impl::ChangePoint(const std::string& id, const FailoverInput& in,
                                                const RunContext& rc) {
  ASR_RETURN_IF_ERROR(MarkStarted(id, rc, model::ChangeRecoveryPointInitiated));
  ASR_RETURN_IF_ERROR(Step(rc, "choose-point", "Choose the recovery point", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p, ChoosePoint(item, in));
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_failover_recovery_point_id(p.id());
                    EstimateLoss(item, p, i);
                  })
        .status();
  }));
  ASR_RETURN_IF_ERROR(Step(rc, "stop-replica-vm", "Turn the replica VM off", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    return StopVm(item.replica_vm_id(), /*clean=*/false);
  }));
  ASR_RETURN_IF_ERROR(Step(
      rc, "change-point", "Show the new point on the replica VM's disks", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        ASR_ASSIGN_OR_RETURN(model::RecoveryPoint p,
                             repo->Get<model::RecoveryPoint>(item.failover_recovery_point_id()));
        return PointReplicas(item, p);
      }));
  ASR_RETURN_IF_ERROR(Step(rc, "start-replica-vm", "Start the replica VM", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    return StartReplicaVm(item, /*source_may_be_lost=*/true);
  }));
  return Step(rc, "finalize", "Record the new point", [&]() -> absl::Status {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_protection_state(model::FailedOver);
                    i.clear_current_scenario();
                  })
        .status();
  });
}

// ----------------------------------------------------------------- Commit ---

absl::Status FailoverService::Impl::Commit(const std::string& id, const RunContext& rc) {
  ASR_RETURN_IF_ERROR(MarkStarted(id, rc, model::CommitFailoverInProgressOnRecovery));
  ASR_RETURN_IF_ERROR(
      Step(rc, "commit-replicas", "Make the failover final on every disk", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        for (const auto& d : item.disks()) {
          ASR_ASSIGN_OR_RETURN(replication::FailoverInfo f,
                               replication::ReadFailoverInfo(d.replica_dir()));
          if (f.committed) continue;
          ASR_RETURN_IF_ERROR(replication::CommitFailover(d.replica_dir()));
        }
        return absl::OkStatus();
      }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "discard-points", "Discard the recovery points", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                             protection->ListRecoveryPoints(id));
        for (const auto& p : points) {
          ASR_RETURN_IF_ERROR(repo->DeleteObject("recovery-point", p.id()));
        }
        return absl::OkStatus();
      }));
  return Step(rc, "finalize", "Record the commit", [&]() -> absl::Status {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_protection_state(model::Committed);
                    i.clear_current_recovery_point_id();
                    i.clear_current_scenario();
                  })
        .status();
  });
}

// ----------------------------------------------------------------- Cancel ---

absl::Status FailoverService::Impl::Cancel(const std::string& id, const RunContext& rc) {
  ASR_RETURN_IF_ERROR(MarkStarted(id, rc, model::CancelFailoverInProgressOnRecovery));
  ASR_RETURN_IF_ERROR(Step(rc, "stop-replica-vm", "Turn the replica VM off", [&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
    return StopVm(item.replica_vm_id(), /*clean=*/false);
  }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "roll-back", "Roll the replicas back to their latest point", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        for (const auto& d : item.disks()) {
          ASR_RETURN_IF_ERROR(replication::CancelFailover(d.replica_dir()));
        }
        return absl::OkStatus();
      }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "start-source", "Start the source VM the failover stopped", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        if (!item.source_stopped_by_failover()) return absl::OkStatus();
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("start the source VM"));
        ASR_ASSIGN_OR_RETURN(model::VmPowerState replica, h->GetPowerState(item.replica_vm_id()));
        if (replica == model::RUNNING) {
          return RuleError(absl::StatusCode::kFailedPrecondition, "VmRunningOnBothSides",
                           absl::StrCat("the replica VM of '", Label(item),
                                        "' runs, so the source is not started"),
                           "turn the replica VM off, then cancel again");
        }
        ASR_RETURN_IF_ERROR(fabric::CallWithRetries([&]() { return h->StartVm(item.vm_id()); }));
        return Update(id, [](model::ProtectedItem& i) { i.set_source_stopped_by_failover(false); })
            .status();
      }));
  return Step(rc, "finalize", "Protected again", [&]() -> absl::Status {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_protection_state(model::Protected);
                    i.set_active_location(SourceLocation(i));
                    i.clear_failover_recovery_point_id();
                    i.clear_data_loss_seconds();
                    i.clear_data_loss_cycles();
                    i.clear_failover_type();
                    i.clear_source_stopped_by_failover();
                    i.clear_current_scenario();
                  })
        .status();
  });
}

// ------------------------------------------------------ Reverse replication ---

namespace {

std::string DirNameOf(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Whether reverse replication swapped the item's sides already (the swap
// clears the direction of the failover it reverses).
bool Swapped(const model::ProtectedItem& item) { return item.failover_direction().empty(); }

std::string NewReplicationId() {
  absl::BitGen gen;
  return absl::StrFormat("r-%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

// Where reversal `n` keeps the replica of disk `d` whose surviving file is
// `disk_path`: beside it (or beside the replica directory holding it).
std::string ReverseDirOf(const model::ProtectedDisk& d, const std::string& disk_path, int n) {
  std::string parent = DirNameOf(disk_path);
  const size_t slash = disk_path.find_last_of("/\\");
  const std::string base = slash == std::string::npos ? disk_path : disk_path.substr(slash + 1);
  if (base == "replica.vhdx" || base == "replica.vhd") parent = DirNameOf(parent);
  return absl::StrCat(parent, "/", d.name(), ".reverse-", n);
}

}  // namespace

absl::Status FailoverService::Impl::Reverse(const std::string& id, const RunContext& rc) {
  ASR_RETURN_IF_ERROR(MarkStarted(id, rc, model::ReprotectInitiated));
  ASR_RETURN_IF_ERROR(
      Step(rc, "check-vms", "Check that the old source VM is off", [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        if (Swapped(item)) return absl::OkStatus();
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("reach the old source VM"));
        absl::StatusOr<model::VmPowerState> p = h->GetPowerState(item.vm_id());
        if (!p.ok()) {
          return absl::Status(
              p.status().code(),
              absl::StrCat("reverse replication needs the old source VM '", item.vm_id(),
                           "' and its disks on ", item.primary_host_name(), ": ",
                           p.status().message(), "; bring its host back, then run it again"));
        }
        if (*p == model::RUNNING) {
          return RuleError(
              absl::StatusCode::kFailedPrecondition, "VmRunningOnBothSides",
              absl::StrCat("the old source VM '", item.vm_id(), "' runs on ",
                           item.primary_host_name(), " while its failed-over replica runs"),
              "turn it off (its disks become the replica), then run it again");
        }
        return absl::OkStatus();
      }));
  ASR_RETURN_IF_ERROR(
      Step(rc, "adopt-disks", "Make the old source's disks the replicas (no copy)",
           [&]() -> absl::Status {
             ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
             if (Swapped(item)) return absl::OkStatus();
             ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy policy,
                                  repo->Get<model::ReplicationPolicy>(item.policy_id()));
             std::shared_ptr<protection::Transport> t = protection->transport();
             const int n = item.reverse_count() + 1;
             for (const auto& d : item.disks()) {
               const std::string dir = ReverseDirOf(d, d.source_path(), n);
               absl::StatusOr<replication::ReplicaInfo> have = replication::ReadReplicaInfo(dir);
               if (!have.ok() || !have->has_replica) {
                 ASR_ASSIGN_OR_RETURN(auto source,
                                      disk::OpenDisk(d.replica_path(), disk::OpenMode::kReadOnly));
                 replication::AdoptOptions o;
                 o.replication_id = NewReplicationId();
                 o.source_disk_id = source->info().disk_id;
                 o.writer = t != nullptr ? t->writer_identity() : item.writer_identity();
                 o.additional_points = std::max(1, policy.number_of_recovery_points_to_retain());
                 source.reset();
                 ASR_RETURN_IF_ERROR(replication::AdoptDiskAsReplica(dir, d.source_path(), o));
               }
               ASR_RETURN_IF_ERROR(replication::WriteAdoptedSourceManifest(dir, d.replica_path()));
             }
             return absl::OkStatus();
           }));
  ASR_RETURN_IF_ERROR(Step(
      rc, "swap-sides", "Replicate from the failed-over VM to the old source's disks",
      [&]() -> absl::Status {
        ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
        if (Swapped(item)) return absl::OkStatus();
        std::shared_ptr<protection::Transport> t = protection->transport();
        if (t != nullptr) {
          for (const auto& d : item.disks()) ASR_RETURN_IF_ERROR(t->UnbindReplica(d));
        }
        ASR_ASSIGN_OR_RETURN(fabric::HostCallbacks * h, Host("read the old source VM's NICs"));
        ASR_ASSIGN_OR_RETURN(model::VirtualMachine old_source, h->GetVm(item.vm_id()));
        const int n = item.reverse_count() + 1;
        std::vector<model::ProtectedDisk> disks;
        for (const auto& d : item.disks()) {
          model::ProtectedDisk r = d;
          const std::string dir = ReverseDirOf(d, d.source_path(), n);
          ASR_ASSIGN_OR_RETURN(replication::ReplicaInfo info, replication::ReadReplicaInfo(dir));
          r.set_source_path(d.replica_path());
          r.set_replica_dir(dir);
          r.set_replica_path(d.source_path());
          r.set_source_disk_guid(info.source_disk_id);
          r.set_replication_id(info.replication_id);
          r.set_last_cycle(info.current_cycle);
          disks.push_back(std::move(r));
        }
        return Update(id,
                      [&](model::ProtectedItem& i) {
                        if (i.original_vm_id().empty()) {
                          i.set_original_vm_id(i.vm_id());
                          i.set_original_primary_host_id(i.primary_host_id());
                        }
                        const std::string vm = i.vm_id();
                        i.set_vm_id(i.replica_vm_id());
                        i.set_replica_vm_id(vm);
                        const std::string host_id = i.primary_host_id();
                        const std::string host_name = i.primary_host_name();
                        i.set_primary_host_id(i.replica_host_id());
                        i.set_primary_host_name(i.replica_host_name());
                        i.set_replica_host_id(host_id);
                        i.set_replica_host_name(host_name);
                        i.clear_disks();
                        for (auto& d : disks) *i.add_disks() = d;
                        i.clear_replica_nics();
                        for (const auto& a : old_source.network_adapters()) {
                          model::ReplicaNic* rn = i.add_replica_nics();
                          rn->set_nic_id(a.id());
                          rn->set_vm_network_id(a.vm_network_id());
                          rn->set_subnet_name(a.subnet_name());
                          rn->set_mac_address(a.mac_address());
                        }
                        i.set_reversed(!i.reversed());
                        i.set_reverse_count(n);
                        i.clear_failover_direction();  // marks the swap as done
                      })
            .status();
      }));
  ASR_RETURN_IF_ERROR(Step(
      rc, "scan-sync", "Send only the blocks that differ (compared by digests)",
      [&]() -> absl::Status {
        ASR_RETURN_IF_ERROR(protection->ReopenTrackers(id));
        protection::ReplicateOptions o;
        o.scan = true;
        const absl::Time deadline = absl::Now() + absl::Minutes(2);
        absl::StatusOr<model::CycleOutcome> c;
        for (;;) {
          c = protection->ReplicateNow(id, o);
          if (c.ok() || !absl::IsUnavailable(c.status()) || absl::Now() > deadline) break;
          absl::SleepFor(absl::Milliseconds(100));
        }
        ASR_RETURN_IF_ERROR(c.status());
        if (rc.note) {
          rc.note(absl::StrFormat("reverse replication sent %d bytes (only the blocks that differ)",
                                  c->bytes_sent()));
        }
        return absl::OkStatus();
      }));
  return Step(rc, "finalize", "Protected in the reverse direction", [&]() -> absl::Status {
    return Update(id,
                  [&](model::ProtectedItem& i) {
                    i.set_protection_state(model::Protected);
                    i.clear_failover_recovery_point_id();
                    i.clear_data_loss_seconds();
                    i.clear_data_loss_cycles();
                    i.clear_failover_type();
                    i.clear_failover_direction();
                    i.clear_source_stopped_by_failover();
                    i.clear_current_scenario();
                  })
        .status();
  });
}

absl::Status FailoverService::Impl::Failback(const std::string& id, const FailoverInput& in,
                                             const RunContext& rc) {
  auto prefixed = [&](const std::string& prefix) {
    RunContext sub = rc;
    sub.steps = [&rc, prefix](absl::string_view step, absl::string_view name,
                              const std::function<absl::Status()>& fn) {
      return Step(rc, absl::StrCat(prefix, step), name, fn);
    };
    sub.suspend = nullptr;
    return sub;
  };
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, Item(id));
  if (item.protection_state() == model::Protected ||
      item.protection_state() == model::PlannedFailoverInitiated ||
      item.protection_state() == model::PlannedFailoverFailed) {
    FailoverInput planned = in;
    planned.direction = kRecoveryToPrimary;
    planned.optimize = "ForSynchronization";
    ASR_RETURN_IF_ERROR(Planned(id, planned, prefixed("failover/")));
    ASR_ASSIGN_OR_RETURN(item, Item(id));
  }
  if (item.protection_state() == model::PlannedFailoverCompleted ||
      item.protection_state() == model::CommitFailoverInProgressOnRecovery ||
      item.protection_state() == model::CommitFailoverFailedOnRecovery) {
    ASR_RETURN_IF_ERROR(Commit(id, prefixed("commit/")));
    ASR_ASSIGN_OR_RETURN(item, Item(id));
  }
  if (item.protection_state() == model::Committed ||
      item.protection_state() == model::ReprotectFailed ||
      item.protection_state() == model::ReprotectInitiated) {
    return Reverse(id, prefixed("reprotect/"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("failback of VM '", Label(item), "' stopped in state ",
                   model::ProtectionState_Name(item.protection_state()),
                   "; continue with the operations that state allows (asrctl item show)"));
}

// ---------------------------------------------------------------- Running ---

absl::Status FailoverService::Impl::Run(absl::string_view operation, const FailoverInput& in,
                                        const RunContext& rc) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection->GetItem(in.item_ref));
  const std::string id = item.id();
  std::shared_ptr<absl::Mutex> lock = ItemLock(id);
  if (!lock->TryLock()) {
    return absl::UnavailableError(absl::StrCat("VM '", Label(item),
                                               "' is busy with another failover operation; "
                                               "wait for it to finish"));
  }
  bool started = false;
  absl::Status s = [&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Check(operation, in).status());
    started = true;
    if (operation == kTestFailover) return TestFailover(id, in, rc);
    if (operation == kTestFailoverCleanup) return TestCleanup(id, rc);
    if (operation == kPlannedFailover) return Planned(id, in, rc);
    if (operation == kUnplannedFailover) return Unplanned(id, in, rc);
    if (operation == kChangePit) return ChangePoint(id, in, rc);
    if (operation == kCommit) return Commit(id, rc);
    if (operation == kCancelFailover) return Cancel(id, rc);
    if (operation == kReverseReplicate) return Reverse(id, rc);
    return Failback(id, in, rc);
  }();
  if (!s.ok() && started && !jobs::IsSuspension(s)) {
    const bool test = operation == kTestFailover || operation == kTestFailoverCleanup;
    (void)Update(id, [&](model::ProtectedItem& i) {
      if (test) {
        if (i.test_failover_state() == "TestFailoverInitiated") {
          i.set_test_failover_state("TestFailoverFailed");
        } else if (i.test_failover_state() == "TestFailoverCleanupInitiated") {
          i.set_test_failover_state("TestFailoverCompletionFailed");
        }
        return;
      }
      switch (i.protection_state()) {
        case model::PlannedFailoverInitiated:
          i.set_protection_state(model::PlannedFailoverFailed);
          break;
        case model::UnplannedFailoverInitiated:
          i.set_protection_state(model::UnplannedFailoverFailed);
          break;
        case model::CommitFailoverInProgressOnRecovery:
          i.set_protection_state(model::CommitFailoverFailedOnRecovery);
          break;
        case model::CancelFailoverInProgressOnRecovery:
          i.set_protection_state(model::CancelFailoverFailedOnRecovery);
          break;
        case model::ChangeRecoveryPointInitiated:
          i.set_protection_state(model::ChangeRecoveryPointFailed);
          break;
        case model::ReprotectInitiated:
          i.set_protection_state(model::ReprotectFailed);
          break;
        default:
          break;
      }
    });
  }
  lock->Unlock();
  return s;
}

absl::Status FailoverService::Impl::RunJob(jobs::JobContext& ctx) {
  FailoverParams p;
  ASR_RETURN_IF_ERROR(model::FromJson(ctx.parameters(), &p));
  FailoverInput in;
  in.item_ref = p.item_id();
  in.direction = p.direction();
  in.recovery_tag = p.recovery_tag();
  in.recovery_point_id = p.recovery_point_id();
  in.network_type = p.network_type();
  in.network_id = p.network_id();
  in.optimize = p.optimize();
  in.perform_source_side_action = p.perform_source_side_action();
  // A job run again after its process stopped (it has tasks already).
  const bool rerun = ctx.job().tasks_size() > 0;
  RunContext rc;
  rc.job_id = ctx.job().id();
  rc.scenario = ctx.job().scenario_name();
  rc.steps = [&ctx](absl::string_view id, absl::string_view name,
                    const std::function<absl::Status()>& fn) { return ctx.RunTask(id, name, fn); };
  rc.suspend = [&ctx](absl::string_view why) { return ctx.Suspend(why); };
  rc.note = [&ctx](absl::string_view note) { ctx.AddInformation(note); };
  absl::Status s = Run(p.operation(), in, rc);
  if (!s.ok() && rerun && jobs::RuleOf(s) == "OperationNotAllowedInState") {
    absl::StatusOr<model::ProtectedItem> now = protection->GetItem(p.item_id());
    if (now.ok() && IsWhereOperationEnds(*now, p.operation())) {
      ctx.AddInformation(absl::StrCat(p.operation(), " of ", Label(*now),
                                      " had completed before the job could record it; "
                                      "nothing was run again"));
      s = absl::OkStatus();
    }
  }
  ASR_RETURN_IF_ERROR(s);
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, protection->GetItem(p.item_id()));
  ctx.SetResult(model::ToJson(item));
  return absl::OkStatus();
}

// ----------------------------------------------------------------- Public ---

FailoverService::FailoverService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                                 protection::ProtectionService* protection, const Clock* clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->repo = repo;
  impl_->jobs = jobs;
  impl_->protection = protection;
  impl_->clock = clock;
}

FailoverService::~FailoverService() = default;

absl::Status FailoverService::RegisterScenarios() {
  for (absl::string_view s :
       {kScenarioTestFailover, kScenarioTestFailoverCleanup, kScenarioPlannedFailover,
        kScenarioUnplannedFailover, kScenarioCommitFailover, kScenarioCancelFailover,
        kScenarioChangeRecoveryPoint, kScenarioReverseReplicate, kScenarioFailback}) {
    ASR_RETURN_IF_ERROR(impl_->jobs->RegisterScenario(
        std::string(s), [this](jobs::JobContext& c) { return impl_->RunJob(c); }));
  }
  return absl::OkStatus();
}

absl::StatusOr<model::Job> FailoverService::Start(absl::string_view operation,
                                                  const FailoverInput& input) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, impl_->Check(operation, input));
  FailoverParams p;
  p.set_operation(std::string(operation));
  p.set_item_id(item.id());
  p.set_direction(input.direction);
  p.set_recovery_tag(input.recovery_tag);
  p.set_recovery_point_id(input.recovery_point_id);
  p.set_network_type(input.network_type);
  p.set_network_id(input.network_id);
  p.set_optimize(input.optimize);
  p.set_perform_source_side_action(input.perform_source_side_action);
  const std::string label = Label(item);
  std::string display;
  if (operation == kTestFailover) display = absl::StrCat("Test failover of ", label);
  if (operation == kTestFailoverCleanup)
    display = absl::StrCat("Clean up test failover of ", label);
  if (operation == kPlannedFailover) display = absl::StrCat("Planned failover of ", label);
  if (operation == kUnplannedFailover) display = absl::StrCat("Unplanned failover of ", label);
  if (operation == kCommit) display = absl::StrCat("Commit failover of ", label);
  if (operation == kCancelFailover) display = absl::StrCat("Cancel failover of ", label);
  if (operation == kChangePit) display = absl::StrCat("Change recovery point of ", label);
  if (operation == kReverseReplicate) display = absl::StrCat("Reverse replication of ", label);
  if (operation == kFailback) display = absl::StrCat("Failback of ", label);
  return impl_->jobs->Run(jobs::JobSpec::For(std::string(ScenarioOf(operation)), display,
                                             "protected-item", item.id(), label, model::ToJson(p)));
}

absl::Status FailoverService::RunItemOperation(absl::string_view operation,
                                               const FailoverInput& input,
                                               const StepRunner& steps) {
  RunContext rc;
  rc.steps = steps;
  rc.scenario = std::string(ScenarioOf(operation));
  return impl_->Run(operation, input, rc);
}

}  // namespace asr::failover
