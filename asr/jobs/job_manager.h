// asr/jobs/job_manager.h: every state-changing operation of asr runs as a
// job: a persisted record (model::Job) with a name, a target object, tasks
// that each have their own state, errors with a code and a recommended
// action, and start/end times. Jobs can be listed and filtered, cancelled,
// restarted after a failure and resumed when suspended.
//
// A subsystem registers the code of each of its operations once, as a
// *scenario*, and then runs jobs of it. Parameters are kept in the job (as
// JSON) so that Restart and Resume can run the same scenario again:
//
//   jobs::JobManager jobs(&repo, &asr::Clock::Real());
//   ASR_RETURN_IF_ERROR(jobs.RegisterScenario(
//       "ConfigureHosts", [](jobs::JobContext& ctx) -> absl::Status {
//         HostList hosts = ParseHosts(ctx.parameters());
//         for (const auto& h : hosts) {
//           // A task that already succeeded is skipped on restart/resume.
//           ASR_RETURN_IF_ERROR(ctx.RunTask("configure:" + h.id(),
//                                           "Configure host " + h.name(),
//                                           [&] { return host->Configure(h); }));
//         }
//         return absl::OkStatus();
//       }));
//   jobs::JobSpec spec;
//   spec.scenario = "ConfigureHosts";
//   spec.display_name = "Configure hosts of GoldCloud1";
//   spec.target_object_id = "gold1";
//   spec.target_object_type = "cloud";
//   spec.parameters_json = hosts_json;
//   absl::StatusOr<model::Job> job = jobs.Run(spec);  // runs on this thread
//   // On failure: job.status() is the scenario's error; JobIdOf(status)
//   // names the Failed job, which Restart(id) runs again.
//
// Job states (JobState in asr/model/job.proto):
//
//        Run()
//          |
//          v
//     NotStarted --Cancel--> Cancelled <--------------------------+
//          |                     ^                                 |
//          v                     | cancel requested, next task     |
//     InProgress ----------------+                                 |
//      |   |    \                                                  |
//      |   |     +--ctx.Suspend()--> Suspended --Resume--+--Cancel-+
//      |   |                             ^               |
//      |   |                             +---------------+-> InProgress
//      |   +--scenario error--> Failed --Restart--> InProgress
//      v
//   Succeeded  (state description: Completed | PartiallySucceeded |
//               CompletedWithInformation | Skipped)
//
// A job left InProgress by a process that stopped is marked Failed
// ("JobInterrupted", restartable) by RecoverInterruptedJobs().
//
// Thread safety: JobManager is thread-safe. A job's scenario runs on the
// thread that called Run/Restart/Resume; Cancel may be called from any other
// thread and takes effect before the running job's next task. There is one
// JobManager per repository (asr::SiteRecovery owns it): job ids come from a
// counter in the store that only this manager advances.
#ifndef ASR_JOBS_JOB_MANAGER_H_
#define ASR_JOBS_JOB_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/job.pb.h"
#include "asr/model/json.h"
#include "asr/repository/object_repository.h"

namespace asr::jobs {

class JobManager;

// What to run: a registered scenario with its input.
struct JobSpec {
  std::string scenario;          // e.g. "PairClouds"; must be registered
  std::string display_name;      // e.g. "Pair GoldCloud1 with GoldCloud2"
  std::string target_object_id;  // the object the job works on
  std::string target_object_name;
  std::string target_object_type;  // an object kind: "cloud", "policy", ...
  std::string parameters_json;     // the scenario's input; no plain secrets

  // A spec for `scenario` acting on one object:
  //   JobSpec::For("DeletePolicy", "Delete replication policy gold", "policy", p.id(),
  //                p.name(), model::ToJson(params));
  static JobSpec For(std::string scenario, std::string display_name, std::string target_type,
                     std::string target_id, std::string target_name, std::string parameters_json) {
    JobSpec spec;
    spec.scenario = std::move(scenario);
    spec.display_name = std::move(display_name);
    spec.target_object_type = std::move(target_type);
    spec.target_object_id = std::move(target_id);
    spec.target_object_name = std::move(target_name);
    spec.parameters_json = std::move(parameters_json);
    return spec;
  }
};

struct TaskOptions {
  // A failure of this task is recorded, but the job goes on and ends
  // Succeeded with the description "PartiallySucceeded".
  bool continue_on_failure = false;
  // When the task suspended the job, resuming runs it again (its `fn`
  // continues its own sub-tasks) instead of counting it as done.
  bool run_again_after_suspend = false;
};

// The running job, as seen by its scenario.
// Thread safety: RunTask, Task, AddInformation, MarkSkipped and SetResult
// may be called from several threads at once (e.g. the VMs of a recovery
// plan's group, each a task, in parallel): each records under the
// context's lock and saves the job; `fn` runs outside it. job() and
// parameters() return references: read them only while no other thread
// records (parameters_json never changes while the scenario runs).
class JobContext {
 public:
  const model::Job& job() const { return job_; }
  const std::string& parameters() const { return job_.parameters_json(); }
  absl::Time Now() const;

  // Runs one task of the job, recording its state, times and errors in the
  // store before and after. A task whose name already Succeeded (restart,
  // resume) is not run again; a Suspended task counts as done on resume
  // (unless options.run_again_after_suspend).
  // Returns Cancelled (without running `fn`) when a cancel was requested.
  absl::Status RunTask(absl::string_view name, absl::string_view friendly_name,
                       const std::function<absl::Status()>& fn, TaskOptions options = {});
  // A copy of task `name` as recorded now; nullopt when there is none.
  std::optional<model::JobTask> Task(absl::string_view name) const;

  // Adds a note for the operator; the job then ends CompletedWithInformation.
  void AddInformation(absl::string_view note);
  // Marks the job as having had nothing to do; it ends "Skipped".
  void MarkSkipped(absl::string_view why);
  // The operation's result (JSON) kept in the job, e.g. a change report.
  void SetResult(std::string json);
  // Returns the status a task (or the scenario) returns to suspend the job,
  // e.g. at a manual action; Resume continues after that task.
  absl::Status Suspend(absl::string_view reason);

 private:
  friend class JobManager;
  JobContext(JobManager* manager, model::Job job) : manager_(manager), job_(std::move(job)) {}
  // Persists job_ (mu_ held; released while writing).
  absl::Status Save();
  model::JobTask* FindTask(absl::string_view name);

  JobManager* manager_;
  // Guards job_, skipped_, partial_ and the save state while tasks run on
  // several threads.
  mutable absl::Mutex mu_;
  model::Job job_;
  bool skipped_ = false;
  bool partial_ = false;
  // Save() with mu_ held: changes counted, the last one written, whether a
  // write is under way (it runs without mu_), and its outcome.
  uint64_t version_ = 0;
  uint64_t persisted_version_ = 0;
  bool saving_ = false;
  absl::Status persisted_status_;
  absl::CondVar saved_;
};

using JobRunner = std::function<absl::Status(JobContext&)>;

// Whether `status` is the one JobContext::Suspend returned (the job is
// suspending, not failing).
bool IsSuspension(const absl::Status& status);

// Which jobs List returns; empty/unset fields match everything.
struct JobFilter {
  std::optional<model::JobState> state;
  std::optional<absl::Time> started_after;   // start_time >= this
  std::optional<absl::Time> started_before;  // start_time < this
  std::string target_object_id;
  std::string scenario;

  static JobFilter ByState(model::JobState s) {
    JobFilter f;
    f.state = s;
    return f;
  }
};

class JobManager {
 public:
  JobManager(repository::ObjectRepository* repo, const Clock* clock);
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Registers the code of a scenario. AlreadyExists if already registered.
  absl::Status RegisterScenario(const std::string& scenario, JobRunner runner);
  bool HasScenario(const std::string& scenario) const;

  // Creates a job for `spec`, persists it and runs it on this thread.
  // Returns the finished job when it Succeeded or was Suspended; otherwise
  // the scenario's error (Cancelled when cancelled) with the job id attached
  // (JobIdOf), the job being persisted as Failed/Cancelled.
  absl::StatusOr<model::Job> Run(const JobSpec& spec);

  absl::StatusOr<model::Job> Get(absl::string_view job_id) const;
  // Jobs matching `filter`, oldest first.
  absl::StatusOr<std::vector<model::Job>> List(const JobFilter& filter = {}) const;

  // Cancels a NotStarted or Suspended job at once; for a job InProgress in
  // this process, requests cancellation (honoured before its next task) and
  // returns the job still InProgress. FailedPrecondition for finished jobs.
  absl::StatusOr<model::Job> Cancel(absl::string_view job_id);
  // Runs a Failed job again; tasks that succeeded are not repeated.
  // FailedPrecondition unless the job is Failed and restartable.
  absl::StatusOr<model::Job> Restart(absl::string_view job_id);
  // Continues a Suspended job after the task that suspended it.
  // FailedPrecondition unless the job is Suspended.
  absl::StatusOr<model::Job> Resume(absl::string_view job_id);

  // Marks jobs left InProgress by a stopped process as Failed (restartable).
  // Returns how many were marked.
  absl::StatusOr<int> RecoverInterruptedJobs();

  repository::ObjectRepository& repository() { return *repo_; }
  const Clock& clock() const { return *clock_; }

 private:
  friend class JobContext;
  absl::StatusOr<model::Job> Execute(model::Job job);
  absl::Status Persist(const model::Job& job);
  bool CancelRequested(const std::string& job_id) const;
  int64_t NowUnix() const;

  repository::ObjectRepository* repo_;
  const Clock* clock_;
  absl::Mutex sequence_mu_;  // taken before mu_ while a job id is handed out
  mutable absl::Mutex mu_;
  std::map<std::string, JobRunner> runners_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> running_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> cancel_requested_ ABSL_GUARDED_BY(mu_);
};

// "Succeeded", "InProgress", ... for a JobState; and back (InvalidArgument
// listing the names).
std::string JobStateName(model::JobState state);
absl::StatusOr<model::JobState> ParseJobState(absl::string_view name);

// The object a finished job produced (its result_json), e.g.
// ResultOf<model::CloudPairing>(job).
template <typename T>
absl::StatusOr<T> ResultOf(const model::Job& job) {
  T message;
  ASR_RETURN_IF_ERROR(model::FromJson(job.result_json(), &message));
  return message;
}

}  // namespace asr::jobs

#endif  // ASR_JOBS_JOB_MANAGER_H_
