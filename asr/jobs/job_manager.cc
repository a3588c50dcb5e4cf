#include "asr/jobs/job_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asr/common/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace asr::jobs {
namespace {

constexpr char kSuspendUrl[] = "asr/job-suspended";
constexpr char kSequenceKey[] = "meta/job-sequence";

bool IsSuspend(const absl::Status& s) { return s.GetPayload(kSuspendUrl).has_value(); }

bool IsTerminal(model::JobState s) {
  return s == model::Succeeded || s == model::Failed || s == model::Cancelled;
}

// Failures caused by the operation's input are not worth restarting as is.
bool Restartable(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kAlreadyExists:
      return false;
    default:
      return true;
  }
}

std::string CodeName(absl::StatusCode code) {
  std::string name = absl::StatusCodeToString(code);
  // "FAILED_PRECONDITION" -> "FailedPrecondition", like the Site Recovery codes.
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    upper = false;
  }
  return out;
}

model::JobError ErrorOf(const absl::Status& s, int64_t now) {
  model::JobError e;
  std::string rule = RuleOf(s);
  e.set_error_code(rule.empty() ? CodeName(s.code()) : rule);
  e.set_message(std::string(s.message()));
  std::string action = RecommendedActionOf(s);
  if (action.empty()) {
    action = s.code() == absl::StatusCode::kUnavailable
                 ? "the host or service was unreachable; restart the job when it is back"
                 : "correct the cause named in the message and restart the job";
  }
  e.set_recommended_action(action);
  e.set_time_unix(now);
  return e;
}

void SetAllowed(model::Job* job) {
  job->set_allowed_cancel(job->state() == model::NotStarted || job->state() == model::InProgress ||
                          job->state() == model::Suspended);
  job->set_allowed_resume(job->state() == model::Suspended);
  // allowed_restart is decided when the job fails.
  if (job->state() != model::Failed) job->set_allowed_restart(false);
}

}  // namespace

bool IsSuspension(const absl::Status& status) { return IsSuspend(status); }

std::string JobStateName(model::JobState state) { return model::JobState_Name(state); }

absl::StatusOr<model::JobState> ParseJobState(absl::string_view name) {
  model::JobState state;
  if (!name.empty() && model::JobState_Parse(std::string(name), &state) &&
      state != model::JOB_STATE_UNSPECIFIED) {
    return state;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown job state '", name,
      "'; use NotStarted, InProgress, Succeeded, Failed, Cancelled, Suspended or Other"));
}

// ---- JobContext -------------------------------------------------------------

absl::Time JobContext::Now() const { return manager_->clock().Now(); }

absl::Status JobContext::Save() {
  // Group commit: tasks recorded on several threads at once share one
  // durable write. Each change waits until a write that includes it is
  // done; one thread writes at a time, the latest state it sees.
  const uint64_t mine = ++version_;
  for (;;) {
    if (persisted_version_ >= mine) return persisted_status_;
    if (!saving_) break;
    saved_.Wait(&mu_);
  }
  saving_ = true;
  const uint64_t version = version_;
  model::Job copy = job_;
  mu_.Unlock();
  absl::Status s = manager_->Persist(copy);
  mu_.Lock();
  saving_ = false;
  persisted_version_ = version;
  persisted_status_ = s;
  saved_.SignalAll();
  return s;
}

model::JobTask* JobContext::FindTask(absl::string_view name) {
  for (model::JobTask& t : *job_.mutable_tasks()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

absl::Status JobContext::RunTask(absl::string_view name, absl::string_view friendly_name,
                                 const std::function<absl::Status()>& fn, TaskOptions options) {
  {
    absl::MutexLock l(&mu_);
    model::JobTask* task = FindTask(name);
    if (task != nullptr && task->state() == model::Succeeded) return absl::OkStatus();
    if (task != nullptr && task->state() == model::Suspended && !options.run_again_after_suspend) {
      // Resumed: the operator did what the suspension asked for.
      task->set_state(model::Succeeded);
      task->set_state_description("Completed");
      const absl::Time end = manager_->clock().Now();
      task->set_end_time_unix(absl::ToUnixSeconds(end));
      task->set_end_time_us(absl::ToUnixMicros(end));
      return Save();
    }
    if (manager_->CancelRequested(job_.id())) {
      return absl::CancelledError(
          absl::StrCat("job ", job_.id(), " was cancelled before task '", friendly_name, "'"));
    }
    if (task == nullptr) {
      task = job_.add_tasks();
      task->set_name(std::string(name));
    }
    task->set_friendly_name(std::string(friendly_name));
    task->set_state(model::InProgress);
    task->set_state_description("InProgress");
    const absl::Time start = manager_->clock().Now();
    task->set_start_time_unix(absl::ToUnixSeconds(start));
    task->set_start_time_us(absl::ToUnixMicros(start));
    task->set_end_time_unix(0);
    task->set_end_time_us(0);
    task->clear_errors();
    ASR_RETURN_IF_ERROR(Save());
  }

  absl::Status s = fn();
  absl::MutexLock l(&mu_);
  // `fn` (or another thread) may have added tasks; find ours again.
  model::JobTask* task = FindTask(name);
  const absl::Time end = manager_->clock().Now();
  task->set_end_time_unix(absl::ToUnixSeconds(end));
  task->set_end_time_us(absl::ToUnixMicros(end));
  if (s.ok()) {
    task->set_state(model::Succeeded);
    task->set_state_description(task->information_size() > 0 ? "CompletedWithInformation"
                                                             : "Completed");
  } else if (IsSuspend(s)) {
    task->set_state(model::Suspended);
    task->set_state_description(std::string(s.message()));
    task->set_end_time_unix(0);
    task->set_end_time_us(0);
  } else {
    task->set_state(s.code() == absl::StatusCode::kCancelled ? model::Cancelled : model::Failed);
    task->set_state_description(s.code() == absl::StatusCode::kCancelled ? "Cancelled" : "Failed");
    *task->add_errors() = ErrorOf(s, manager_->NowUnix());
    if (options.continue_on_failure && s.code() != absl::StatusCode::kCancelled) {
      partial_ = true;
      ASR_RETURN_IF_ERROR(Save());
      return absl::OkStatus();
    }
  }
  ASR_RETURN_IF_ERROR(Save());
  return s;
}

std::optional<model::JobTask> JobContext::Task(absl::string_view name) const {
  absl::MutexLock l(&mu_);
  for (const model::JobTask& t : job_.tasks()) {
    if (t.name() == name) return t;
  }
  return std::nullopt;
}

void JobContext::AddInformation(absl::string_view note) {
  absl::MutexLock l(&mu_);
  // Kept on the job's last task when there is one, so that it shows where it
  // happened; the job ends CompletedWithInformation either way.
  model::JobTask* t = job_.tasks_size() > 0 ? job_.mutable_tasks(job_.tasks_size() - 1) : nullptr;
  if (t == nullptr) {
    t = job_.add_tasks();
    t->set_name("information");
    t->set_friendly_name("Information");
    t->set_state(model::Succeeded);
    t->set_state_description("CompletedWithInformation");
  }
  t->add_information(std::string(note));
}

void JobContext::MarkSkipped(absl::string_view why) {
  {
    absl::MutexLock l(&mu_);
    skipped_ = true;
  }
  AddInformation(why);
}

void JobContext::SetResult(std::string json) {
  absl::MutexLock l(&mu_);
  job_.set_result_json(std::move(json));
}

absl::Status JobContext::Suspend(absl::string_view reason) {
  absl::Status s = absl::AbortedError(reason);
  s.SetPayload(kSuspendUrl, absl::Cord("1"));
  return s;
}

// ---- JobManager -------------------------------------------------------------

JobManager::JobManager(repository::ObjectRepository* repo, const Clock* clock)
    : repo_(repo), clock_(clock) {}

int64_t JobManager::NowUnix() const { return absl::ToUnixSeconds(clock_->Now()); }

absl::Status JobManager::RegisterScenario(const std::string& scenario, JobRunner runner) {
  absl::MutexLock l(&mu_);
  if (runners_.count(scenario)) {
    return absl::AlreadyExistsError(
        absl::StrCat("job scenario '", scenario, "' is already registered"));
  }
  runners_[scenario] = std::move(runner);
  return absl::OkStatus();
}

bool JobManager::HasScenario(const std::string& scenario) const {
  absl::MutexLock l(&mu_);
  return runners_.count(scenario) > 0;
}

absl::Status JobManager::Persist(const model::Job& job) { return repo_->Put(job); }

bool JobManager::CancelRequested(const std::string& job_id) const {
  absl::MutexLock l(&mu_);
  return cancel_requested_.count(job_id) > 0;
}

absl::StatusOr<model::Job> JobManager::Run(const JobSpec& spec) {
  if (!HasScenario(spec.scenario)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no job scenario '", spec.scenario, "' is registered"));
  }
  model::Job job;
  // Job ids come from a counter persisted with the job's first record; the
  // one JobManager of a repository (SiteRecovery owns it) hands them out
  // under its own lock.
  auto create = [&]() -> absl::Status {
    absl::MutexLock seq_lock(&sequence_mu_);
    int64_t last = 0;
    auto counter = repo_->store().Get(kSequenceKey);
    if (counter.ok()) {
      if (!absl::SimpleAtoi(*counter, &last)) {
        return absl::DataLossError(
            absl::StrCat("job sequence counter '", *counter, "' is not a number"));
      }
    } else {
      ASR_ASSIGN_OR_RETURN(std::vector<model::Job> all, repo_->List<model::Job>());
      for (const model::Job& j : all) last = std::max(last, j.sequence());
    }
    job.set_sequence(last + 1);
    job.set_id(absl::StrFormat("job-%06d", job.sequence()));
    job.set_activity_id(absl::StrCat(job.id(), "-", absl::ToUnixNanos(clock_->Now())));
    job.set_scenario_name(spec.scenario);
    job.set_display_name(spec.display_name.empty() ? spec.scenario : spec.display_name);
    job.set_target_object_id(spec.target_object_id);
    job.set_target_object_name(spec.target_object_name);
    job.set_target_object_type(spec.target_object_type);
    job.set_parameters_json(spec.parameters_json);
    job.set_state(model::NotStarted);
    job.set_state_description("NotStarted");
    SetAllowed(&job);
    store::WriteBatch batch;
    batch.Put(kSequenceKey, std::to_string(job.sequence()));
    batch.Put(repository::ObjectRepository::Key("job", job.id()), job.SerializeAsString());
    ASR_RETURN_IF_ERROR(repo_->store().Commit(batch));
    return absl::OkStatus();
  };
  ASR_RETURN_IF_ERROR(create());
  return Execute(std::move(job));
}

absl::StatusOr<model::Job> JobManager::Execute(model::Job job) {
  JobRunner runner;
  {
    absl::MutexLock l(&mu_);
    auto it = runners_.find(job.scenario_name());
    if (it == runners_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job ", job.id(), " is of scenario '", job.scenario_name(),
          "', which this process has not registered; run it where that subsystem is loaded"));
    }
    runner = it->second;
    running_.insert(job.id());
  }
  job.set_state(model::InProgress);
  job.set_state_description("InProgress");
  job.set_suspend_reason("");
  job.set_end_time_unix(0);
  if (job.start_time_unix() == 0) job.set_start_time_unix(NowUnix());
  SetAllowed(&job);
  absl::Status s = Persist(job);
  JobContext ctx(this, std::move(job));
  if (s.ok()) s = runner(ctx);
  if (s.ok() && CancelRequested(ctx.job_.id())) {
    // Cancel arrived after the last task: the work is done, say so.
    ctx.AddInformation("a cancel request arrived after the last task had finished");
  }
  model::Job done = std::move(ctx.job_);
  {
    absl::MutexLock l(&mu_);
    running_.erase(done.id());
    cancel_requested_.erase(done.id());
  }
  done.set_cancel_requested(false);
  bool information = false;
  for (const model::JobTask& t : done.tasks()) information |= t.information_size() > 0;
  if (s.ok()) {
    done.set_state(model::Succeeded);
    done.set_state_description(ctx.partial_   ? "PartiallySucceeded"
                               : ctx.skipped_ ? "Skipped"
                               : information  ? "CompletedWithInformation"
                                              : "Completed");
    done.set_end_time_unix(NowUnix());
  } else if (IsSuspend(s)) {
    done.set_state(model::Suspended);
    done.set_state_description("Suspended");
    done.set_suspend_reason(std::string(s.message()));
  } else if (s.code() == absl::StatusCode::kCancelled) {
    done.set_state(model::Cancelled);
    done.set_state_description("Cancelled");
    done.set_end_time_unix(NowUnix());
  } else {
    done.set_state(model::Failed);
    done.set_state_description("Failed");
    *done.add_errors() = ErrorOf(s, NowUnix());
    done.set_end_time_unix(NowUnix());
    done.set_allowed_restart(Restartable(s));
  }
  SetAllowed(&done);
  ASR_RETURN_IF_ERROR(Persist(done));
  if (!s.ok() && !IsSuspend(s)) return WithJobId(s, done.id());
  return done;
}

absl::StatusOr<model::Job> JobManager::Get(absl::string_view job_id) const {
  return repo_->Get<model::Job>(job_id);
}

absl::StatusOr<std::vector<model::Job>> JobManager::List(const JobFilter& filter) const {
  ASR_ASSIGN_OR_RETURN(std::vector<model::Job> all, repo_->List<model::Job>());
  std::vector<model::Job> out;
  for (model::Job& j : all) {
    if (filter.state.has_value() && j.state() != *filter.state) continue;
    if (filter.started_after.has_value() &&
        j.start_time_unix() < absl::ToUnixSeconds(*filter.started_after)) {
      continue;
    }
    if (filter.started_before.has_value() &&
        j.start_time_unix() >= absl::ToUnixSeconds(*filter.started_before)) {
      continue;
    }
    if (!filter.target_object_id.empty() && j.target_object_id() != filter.target_object_id) {
      continue;
    }
    if (!filter.scenario.empty() && j.scenario_name() != filter.scenario) continue;
    out.push_back(std::move(j));
  }
  std::sort(out.begin(), out.end(),
            [](const model::Job& a, const model::Job& b) { return a.sequence() < b.sequence(); });
  return out;
}

absl::StatusOr<model::Job> JobManager::Cancel(absl::string_view job_id) {
  ASR_ASSIGN_OR_RETURN(model::Job job, Get(job_id));
  if (IsTerminal(job.state())) {
    return RuleError(absl::StatusCode::kFailedPrecondition, "JobCancelOnlyWhileActive",
                     absl::StrCat("job ", job.id(), " is already ", JobStateName(job.state())),
                     "only NotStarted, InProgress or Suspended jobs can be cancelled; restart a "
                     "Failed job instead");
  }
  if (job.state() == model::InProgress) {
    absl::MutexLock l(&mu_);
    if (running_.count(job.id())) {
      cancel_requested_.insert(job.id());
      job.set_cancel_requested(true);
      // The running job persists its own record; this copy only reports.
      return job;
    }
  }
  // Not running anywhere in this process (NotStarted, Suspended, or left
  // InProgress by a stopped process): cancel now.
  job.set_state(model::Cancelled);
  job.set_state_description("Cancelled");
  job.set_end_time_unix(NowUnix());
  job.set_cancel_requested(false);
  for (model::JobTask& t : *job.mutable_tasks()) {
    if (t.state() == model::InProgress || t.state() == model::Suspended ||
        t.state() == model::NotStarted) {
      t.set_state(model::Cancelled);
      t.set_state_description("Cancelled");
    }
  }
  SetAllowed(&job);
  ASR_RETURN_IF_ERROR(Persist(job));
  return job;
}

absl::StatusOr<model::Job> JobManager::Restart(absl::string_view job_id) {
  ASR_ASSIGN_OR_RETURN(model::Job job, Get(job_id));
  if (job.state() != model::Failed) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "JobRestartOnlyAfterFailure",
        absl::StrCat("job ", job.id(), " is ", JobStateName(job.state()), ", not Failed"),
        job.state() == model::Suspended ? "resume a Suspended job instead"
                                        : "only Failed jobs can be restarted");
  }
  if (!job.allowed_restart()) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "JobRestartOnlyAfterFailure",
        absl::StrCat("job ", job.id(), " failed on its input (",
                     job.errors().empty() ? "" : job.errors().rbegin()->message(), ")"),
        "correct the input and run the operation again as a new job");
  }
  for (model::JobTask& t : *job.mutable_tasks()) {
    if (t.state() == model::Failed || t.state() == model::Cancelled) {
      t.set_state(model::NotStarted);
      t.set_state_description("NotStarted");
    }
  }
  job.set_allowed_restart(false);
  return Execute(std::move(job));
}

absl::StatusOr<model::Job> JobManager::Resume(absl::string_view job_id) {
  ASR_ASSIGN_OR_RETURN(model::Job job, Get(job_id));
  if (job.state() != model::Suspended) {
    return RuleError(
        absl::StatusCode::kFailedPrecondition, "JobResumeOnlyWhenSuspended",
        absl::StrCat("job ", job.id(), " is ", JobStateName(job.state()), ", not Suspended"),
        job.state() == model::Failed ? "restart a Failed job instead"
                                     : "only Suspended jobs can be resumed");
  }
  return Execute(std::move(job));
}

absl::StatusOr<int> JobManager::RecoverInterruptedJobs() {
  ASR_ASSIGN_OR_RETURN(std::vector<model::Job> all, repo_->List<model::Job>());
  int n = 0;
  for (model::Job& job : all) {
    if (job.state() != model::InProgress && job.state() != model::NotStarted) continue;
    {
      absl::MutexLock l(&mu_);
      if (running_.count(job.id())) continue;
    }
    job.set_state(model::Failed);
    job.set_state_description("Failed");
    job.set_end_time_unix(NowUnix());
    for (model::JobTask& t : *job.mutable_tasks()) {
      if (t.state() == model::InProgress) {
        t.set_state(model::Failed);
        t.set_state_description("Failed");
      }
    }
    model::JobError* e = job.add_errors();
    e->set_error_code("JobInterrupted");
    e->set_message(
        absl::StrCat("job ", job.id(), " was interrupted: the process running it stopped"));
    e->set_recommended_action("restart the job; tasks that completed are not repeated");
    e->set_time_unix(NowUnix());
    job.set_allowed_restart(true);
    SetAllowed(&job);
    ASR_RETURN_IF_ERROR(Persist(job));
    ++n;
  }
  return n;
}

}  // namespace asr::jobs
