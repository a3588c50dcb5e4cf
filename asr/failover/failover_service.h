// asr/failover/failover_service.h: the failover state machine of one
// protected VM. Every operation runs as a job of its own (a task per step)
// and, through ItemFailover (item_failover.h), inside a recovery plan's job.
//
//   FailoverService& f = sr->failover();
//   FailoverInput in;
//   in.item_ref = "VM1";
//   in.recovery_tag = "LatestAvailable";
//   in.network_type = "Isolated";
//   ASR_ASSIGN_OR_RETURN(model::Job job, f.Start(kTestFailover, in));   // test VM runs
//   ASR_ASSIGN_OR_RETURN(job, f.Start(kTestFailoverCleanup, in));       // and is gone
//   in.optimize = "ForSynchronization";
//   ASR_ASSIGN_OR_RETURN(job, f.Start(kPlannedFailover, in));   // zero data loss
//   ASR_ASSIGN_OR_RETURN(job, f.Start(kCommit, in));
//   ASR_ASSIGN_OR_RETURN(job, f.Start(kReverseReplicate, in));  // protected the other way
//
// The operations and the item's states (item_state.h lists what each state
// allows; every state has a way forward):
//
//   Protected --TestFailover--> (test_failover_state TestFailoverCompleted: a
//      |  test VM "<vm>-test" on the replica's host runs on a view of the
//      |  chosen point; production replication goes on; its writes reach no
//      |  replica) --TestFailoverCleanup--> (None: VM, views, network gone)
//      |
//      +--PlannedFailover--> PlannedFailoverInitiated: shut the source down
//      |     cleanly, a last cycle, the replica VM's disks show that point,
//      |     NICs by the item's network mappings, start it
//      |     -> PlannedFailoverCompleted (zero data loss)
//      |     (ForDownTime: a cycle while the VM runs, then the job is
//      |      Suspended; Resume does the shutdown, the last cycle and the rest)
//      +--UnplannedFailover--> UnplannedFailoverInitiated: optionally the
//            source shut down first (PerformSourceSideAction), a point by tag
//            (Latest syncs first when the source answers) or by id, the data
//            lost estimated -> FailedOver --ChangePit--> FailedOver
//   PlannedFailoverCompleted / FailedOver
//      --CancelFailover--> Protected (the replica rolled back to its latest
//                          point, the source VM started again if the
//                          failover stopped it)
//      --Commit--> Committed (the recovery points are discarded)
//   Committed --ReverseReplicate--> Protected, reversed: the VM runs and
//      replicates from the recovery side; the old primary's disks are the
//      replica and only the blocks that differ are sent
//   Protected (reversed) --Failback--> planned failover back, commit and
//      reverse replication again: the VM runs where it started, protected.
//
// A failure leaves the *Failed state of its operation (the operation may
// run again, continuing where it stopped, or be cancelled). A process that
// stops during an operation leaves its job Failed ("JobInterrupted") and
// the item in the operation's *Initiated state; restarting the job goes on
// from its last finished step, and a job whose operation had completed
// before the job could record it ends Succeeded without running anything
// again (failover_crash_test kills the process at random moments of every
// operation). A VM never runs
// on both sides: before starting either VM the other one's power state is
// checked (a host that cannot be reached counts as not running only for an
// unplanned failover, whose source is presumed lost).
//
// Thread safety: thread-safe; operations on one item are serialized (a
// second one is refused as Unavailable while the first runs).
#ifndef ASR_FAILOVER_FAILOVER_SERVICE_H_
#define ASR_FAILOVER_FAILOVER_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/common/clock.h"
#include "asr/failover/item_failover.h"
#include "asr/jobs/job_manager.h"
#include "asr/model/job.pb.h"
#include "asr/protection/protection_service.h"
#include "asr/repository/object_repository.h"

namespace asr::failover {

// Job scenario names of the operations (JobSpec::scenario).
inline constexpr absl::string_view kScenarioTestFailover = "TestFailover";
inline constexpr absl::string_view kScenarioTestFailoverCleanup = "TestFailoverCleanup";
inline constexpr absl::string_view kScenarioPlannedFailover = "PlannedFailover";
inline constexpr absl::string_view kScenarioUnplannedFailover = "UnplannedFailover";
inline constexpr absl::string_view kScenarioCommitFailover = "CommitFailover";
inline constexpr absl::string_view kScenarioCancelFailover = "CancelFailover";
inline constexpr absl::string_view kScenarioChangeRecoveryPoint = "ChangeRecoveryPoint";
inline constexpr absl::string_view kScenarioReverseReplicate = "ReverseReplicate";
inline constexpr absl::string_view kScenarioFailback = "Failback";

// The job scenario of an operation (item_failover.h's names), "" if none.
absl::string_view ScenarioOf(absl::string_view operation);

class FailoverService : public ItemFailover {
 public:
  FailoverService(repository::ObjectRepository* repo, jobs::JobManager* jobs,
                  protection::ProtectionService* protection, const Clock* clock);
  ~FailoverService() override;
  FailoverService(const FailoverService&) = delete;
  FailoverService& operator=(const FailoverService&) = delete;

  // Registers the scenarios above.
  absl::Status RegisterScenarios();

  // Runs `operation` (kTestFailover, ..., item_failover.h) as a job of its
  // own. The input is checked first (InvalidArgument naming the value sets)
  // and so is the item's state (FailedPrecondition
  // "OperationNotAllowedInState"), before any job is made. Returns the job
  // Succeeded, or Suspended (planned failover ForDownTime: resume it with
  // JobManager::Resume); otherwise the job's error (JobIdOf names it).
  absl::StatusOr<model::Job> Start(absl::string_view operation, const FailoverInput& input);

  // ItemFailover: the operation's steps through `steps` (a plan's tasks).
  // A planned failover ForDownTime does not suspend here (the plan decides
  // when to go on): it syncs while the VM runs and continues.
  absl::Status RunItemOperation(absl::string_view operation, const FailoverInput& input,
                                const StepRunner& steps) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace asr::failover

#endif  // ASR_FAILOVER_FAILOVER_SERVICE_H_
