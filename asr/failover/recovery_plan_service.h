// asr/failover/recovery_plan_service.h: recovery plans. A plan gathers
// protected VMs of one cloud pairing (one source, one target) into ordered
// groups and fails them over together: groups one after another, the VMs of
// a group in parallel, with script and manual actions before and after each
// group (Site Recovery's RecoveryPlan, New-/Get-/Edit-/Remove-
// AzRecoveryServicesAsrRecoveryPlan and the plan failover cmdlets).
//
//   RecoveryPlanService& plans = sr->recovery_plans();
//   model::RecoveryPlanCreateRequest create;
//   create.set_name("web");
//   create.add_items("VM1");
//   create.add_items("VM2");
//   ASR_ASSIGN_OR_RETURN(model::RecoveryPlan plan, plans.Create(create));  // VMs in "Group 1"
//   model::RecoveryPlanEdit edit;
//   edit.set_operation("AppendGroup");                                    // "Group 2"
//   ASR_ASSIGN_OR_RETURN(plan, plans.Edit("web", edit));
//   edit.set_operation("MoveProtectedItems");
//   edit.set_to_group("Group 2");
//   edit.add_items("VM2");                                                // VM2 boots after VM1
//   ASR_ASSIGN_OR_RETURN(plan, plans.Edit("web", edit));
//   model::RecoveryPlanRunRequest run;
//   run.set_operation("PlannedFailover");
//   ASR_ASSIGN_OR_RETURN(model::Job job, plans.Run("web", run));          // Succeeded or Suspended
//
// A plan's groups: "Shutdown" and "Failover" first (always there, never
// holding VMs), then the Boot groups "Group 1", "Group 2", ... that hold the
// VMs (a VM is in one group of a plan). Group names follow the position:
// reordering or removing Boot groups renames them.
//
// Running a plan operation (TestFailover, TestFailoverCleanup,
// PlannedFailover, UnplannedFailover, Commit, CancelFailover,
// ReverseReplicate, Failback) is one job ("RecoveryPlan<Operation>") over a
// snapshot of the plan taken when it starts. For each group in order:
//   1. its start actions that apply (the action's failover_types name the
//      operation and its failover_directions the direction), one task each;
//   2. its VMs' operation (ItemFailover::RunItemOperation), in parallel,
//      one task per VM ("g<N>-vm-<item id>") with a task per step of the
//      VM's operation below it;
//   3. its end actions that apply.
// The per-VM operation does the whole of one VM's failover (shutting the
// source down for a planned failover, the last sync, starting the replica),
// so the Shutdown and Failover groups hold no VMs: they are the ordering
// points whose actions run before the Boot groups'.
//
// Actions: a script action runs through HostCallbacks::RunScript on a host
// of the Primary or Recovery side (the group's first VM's primary or
// replica host, else the plan's first VM's) with the arguments
//   --plan NAME --operation OP --direction DIR --group GROUP --action ACTION
// and waits at most its timeout; a non-zero exit or a timeout fails the job
// at that task with the script's output. A manual action suspends the job
// with its description; Resume continues after it, Cancel stops the job.
//
// Failures: when VMs of a group fail, the group's other VMs still finish
// and are recorded; the job then fails at that group (later groups do not
// run) with every failed VM and its error, and the job's result
// (model::RecoveryPlanRunResult) lists each VM's outcome. Restarting the
// job (JobManager::Restart, also after a crash: the job is then Failed
// "JobInterrupted") runs only what did not succeed: VMs and actions that
// succeeded are not run again, and a VM's operation continues where it
// stopped. A VM whose operation finished before the job could record it
// (a crash in between) is refused by the operation's allowed-operations
// check on the retry; the plan then counts it as done when the VM is in
// the state the operation leaves (PlannedFailoverCompleted, FailedOver,
// Committed, Protected; the test failover states).
//
// SiteRecovery constructs it over its FailoverService
// (SiteRecovery::recovery_plans()); tests pass their own ItemFailover with
// SetItemFailover.
//
// Thread safety: thread-safe. Plan edits are serialized; a plan runs one
// job at a time (a second is refused while one is InProgress or Suspended).
#ifndef ASR_FAILOVER_RECOVERY_PLAN_SERVICE_H_
#define ASR_FAILOVER_RECOVERY_PLAN_SERVICE_H_

#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/clock.h"
#include "asr/failover/item_failover.h"
#include "asr/jobs/job_manager.h"
#include "asr/model/recovery_plan.pb.h"
#include "asr/protection/group_service.h"
#include "asr/protection/protection_service.h"
#include "asr/repository/object_repository.h"

namespace asr::failover {

// The most VMs a plan holds and the most Boot groups it has.
inline constexpr int kMaxPlanItems = 500;
inline constexpr int kMaxBootGroups = 20;

// The plan operations, as ReplicationProtectedItemOperation names.
const std::vector<std::string>& RecoveryPlanOperations();

// The job scenario of a plan operation: "RecoveryPlan" + operation.
std::string RecoveryPlanScenario(absl::string_view operation);

// "rp-<name>".
std::string RecoveryPlanId(absl::string_view name);

struct RecoveryPlanServiceOptions {
  // VMs of one group fail over at most this many at once (a run request's
  // max_parallel overrides it).
  int max_parallel = 32;
};

class RecoveryPlanService {
 public:
  // `groups` may be null (then UseMultiVmSyncRecoveryPoint is refused);
  // `failover` must not be null (see UnavailableItemFailover).
  RecoveryPlanService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                      protection::ProtectionService* protection, protection::GroupService* groups,
                      const Clock* clock, ItemFailover* failover,
                      RecoveryPlanServiceOptions options = {});
  RecoveryPlanService(const RecoveryPlanService&) = delete;
  RecoveryPlanService& operator=(const RecoveryPlanService&) = delete;

  // Registers the "RecoveryPlan<Operation>" scenarios.
  absl::Status RegisterScenarios();

  // Replaces the per-VM failover (not while a plan job runs).
  void SetItemFailover(ItemFailover* failover);

  // ---- The plan itself ----
  absl::StatusOr<model::RecoveryPlan> Create(const model::RecoveryPlanCreateRequest& request);
  // By id ("rp-web") or name ("web"); allowed_operations filled in.
  absl::StatusOr<model::RecoveryPlan> Get(absl::string_view plan_ref) const;
  absl::StatusOr<std::vector<model::RecoveryPlan>> List() const;
  absl::StatusOr<model::RecoveryPlan> Edit(absl::string_view plan_ref,
                                           const model::RecoveryPlanEdit& edit);
  // Refused while a job of the plan is InProgress or Suspended.
  absl::Status Delete(absl::string_view plan_ref);

  // ---- Running it ----
  // Runs `request.operation` over the plan as one job on this thread.
  // Returns the job when it Succeeded or was Suspended (a manual action);
  // otherwise the job's error with its id attached (jobs::JobIdOf).
  absl::StatusOr<model::Job> Run(absl::string_view plan_ref,
                                 const model::RecoveryPlanRunRequest& request);

 private:
  class PlanRun;

  absl::StatusOr<model::RecoveryPlan> Find(absl::string_view plan_ref) const;
  absl::StatusOr<model::ProtectedItem> ResolveItem(absl::string_view ref) const;
  absl::Status FillPairing(const model::ProtectedItem& item, model::RecoveryPlan* plan) const;
  absl::Status AddItems(model::RecoveryPlan* plan, int group_index,
                        const std::vector<std::string>& refs) const;
  absl::StatusOr<std::string> ActiveJobOf(const std::string& plan_id) const;
  absl::Status Execute(jobs::JobContext& ctx);
  // Records the plan's current scenario: `result` null while the job runs.
  void RecordOutcome(const std::string& plan_id, const model::Job& job, absl::string_view operation,
                     const absl::Status* result);
  void Decorate(model::RecoveryPlan* plan) const;

  repository::ObjectRepository* repo_;
  jobs::JobManager* jobs_;
  protection::ProtectionService* protection_;
  protection::GroupService* groups_;
  const Clock* clock_;
  RecoveryPlanServiceOptions options_;
  mutable absl::Mutex mu_;  // serializes plan changes
  ItemFailover* failover_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asr::failover

#endif  // ASR_FAILOVER_RECOVERY_PLAN_SERVICE_H_
