#include "asr/jobs/job_manager.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::jobs {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestPath;

class JobManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestPath("jobs");
    Reopen();
  }
  // Closes and reopens the repo: everything must come back from the store.
  void Reopen() {
    jobs_.reset();
    repo_.reset();
    auto e = repository::ObjectRepository::Open(dir_, {});
    ASSERT_OK(e);
    repo_ = std::move(*e);
    jobs_ = std::make_unique<JobManager>(repo_.get(), &clock_);
    ASSERT_TRUE(jobs_->RegisterScenario("Two", [this](JobContext& ctx) { return Two(ctx); }).ok());
  }
  absl::Status Two(JobContext& ctx) {
    ASR_RETURN_IF_ERROR(ctx.RunTask("a", "Task A", [&] {
      ++a_runs_;
      return absl::OkStatus();
    }));
    return ctx.RunTask("b", "Task B", [&]() -> absl::Status {
      ++b_runs_;
      if (fail_b_) {
        return RuleError(absl::StatusCode::kUnavailable, "HostReachable", "host h1 did not answer",
                         "bring host h1 online and restart the job");
      }
      if (suspend_b_) return ctx.Suspend("run the manual action 'check DNS', then resume");
      return absl::OkStatus();
    });
  }
  JobSpec Spec() {
    JobSpec s;
    s.scenario = "Two";
    s.display_name = "Two tasks";
    s.target_object_id = "gold1";
    s.target_object_type = "cloud";
    s.parameters_json = "{}";
    return s;
  }

  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<repository::ObjectRepository> repo_;
  std::unique_ptr<JobManager> jobs_;
  int a_runs_ = 0, b_runs_ = 0;
  bool fail_b_ = false, suspend_b_ = false;
};

TEST_F(JobManagerTest, SucceededJobIsPersistedWithTasksAndTimes) {
  auto job = jobs_->Run(Spec());
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), model::Succeeded);
  EXPECT_EQ(job->state_description(), "Completed");
  ASSERT_EQ(job->tasks_size(), 2);
  EXPECT_EQ(job->tasks(0).state(), model::Succeeded);
  EXPECT_EQ(job->start_time_unix(), 1700000000);
  EXPECT_EQ(job->end_time_unix(), 1700000000);
  Reopen();
  auto again = jobs_->Get(job->id());
  ASSERT_OK(again);
  EXPECT_EQ(again->state(), model::Succeeded);
  EXPECT_EQ(again->target_object_id(), "gold1");
}

TEST_F(JobManagerTest, FailedJobRecordsErrorAndRestartsSkippingDoneTasks) {
  fail_b_ = true;
  auto job = jobs_->Run(Spec());
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kUnavailable);
  std::string id = JobIdOf(job.status());
  ASSERT_FALSE(id.empty());
  Reopen();
  auto failed = jobs_->Get(id);
  ASSERT_OK(failed);
  EXPECT_EQ(failed->state(), model::Failed);
  ASSERT_EQ(failed->errors_size(), 1);
  EXPECT_EQ(failed->errors(0).error_code(), "HostReachable");
  EXPECT_EQ(failed->errors(0).recommended_action(), "bring host h1 online and restart the job");
  EXPECT_EQ(failed->tasks(1).state(), model::Failed);
  EXPECT_TRUE(failed->allowed_restart());

  fail_b_ = false;
  a_runs_ = b_runs_ = 0;
  auto restarted = jobs_->Restart(id);
  ASSERT_OK(restarted);
  EXPECT_EQ(restarted->state(), model::Succeeded);
  EXPECT_EQ(a_runs_, 0);  // task a had succeeded: not repeated
  EXPECT_EQ(b_runs_, 1);
}

TEST_F(JobManagerTest, RestartRefusedUnlessFailed) {
  auto job = jobs_->Run(Spec());
  ASSERT_OK(job);
  auto r = jobs_->Restart(job->id());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("is Succeeded, not Failed"), std::string::npos);
  EXPECT_NE(r.status().message().find("JobRestartOnlyAfterFailure"), std::string::npos);
}

TEST_F(JobManagerTest, InputErrorsAreNotRestartable) {
  ASSERT_TRUE(jobs_
                  ->RegisterScenario("Bad",
                                     [](JobContext&) {
                                       return absl::InvalidArgumentError("port 0 is out of range");
                                     })
                  .ok());
  JobSpec s = Spec();
  s.scenario = "Bad";
  auto job = jobs_->Run(s);
  ASSERT_EQ(job.status().code(), absl::StatusCode::kInvalidArgument);
  auto r = jobs_->Restart(JobIdOf(job.status()));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("failed on its input (port 0 is out of range)"),
            std::string::npos);
}

TEST_F(JobManagerTest, SuspendedJobResumesAfterRestartOfEngine) {
  suspend_b_ = true;
  auto job = jobs_->Run(Spec());
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), model::Suspended);
  EXPECT_TRUE(job->allowed_resume());
  EXPECT_EQ(job->suspend_reason(), "run the manual action 'check DNS', then resume");
  Reopen();
  a_runs_ = b_runs_ = 0;
  auto resumed = jobs_->Resume(job->id());
  ASSERT_OK(resumed);
  EXPECT_EQ(resumed->state(), model::Succeeded);
  EXPECT_EQ(a_runs_ + b_runs_, 0);
  auto again = jobs_->Resume(job->id());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("is Succeeded, not Suspended"), std::string::npos);
}

TEST_F(JobManagerTest, CancelSuspendedJobAndRefuseCancelOfFinished) {
  suspend_b_ = true;
  auto job = jobs_->Run(Spec());
  ASSERT_OK(job);
  auto c = jobs_->Cancel(job->id());
  ASSERT_OK(c);
  EXPECT_EQ(c->state(), model::Cancelled);
  auto c2 = jobs_->Cancel(job->id());
  EXPECT_EQ(c2.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(c2.status().message().find("is already Cancelled"), std::string::npos);
  EXPECT_EQ(jobs_->Cancel("job-999999").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(JobManagerTest, CancelRunningJobStopsBeforeNextTask) {
  absl::Notification started, cancelled;
  ASSERT_TRUE(jobs_
                  ->RegisterScenario("Slow",
                                     [&](JobContext& ctx) -> absl::Status {
                                       ASR_RETURN_IF_ERROR(ctx.RunTask("wait", "Wait", [&] {
                                         started.Notify();
                                         cancelled.WaitForNotification();
                                         return absl::OkStatus();
                                       }));
                                       return ctx.RunTask("never", "Never runs", [] {
                                         return absl::InternalError("ran");
                                       });
                                     })
                  .ok());
  JobSpec s = Spec();
  s.scenario = "Slow";
  absl::StatusOr<model::Job> result;
  std::thread t([&] { result = jobs_->Run(s); });
  started.WaitForNotification();
  auto list = jobs_->List(JobFilter::ByState(model::InProgress));
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 1u);
  auto c = jobs_->Cancel((*list)[0].id());
  ASSERT_OK(c);
  EXPECT_TRUE(c->cancel_requested());
  cancelled.Notify();
  t.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  auto job = jobs_->Get((*list)[0].id());
  EXPECT_EQ(job->state(), model::Cancelled);
  EXPECT_EQ(job->tasks_size(), 1);
}

TEST_F(JobManagerTest, ListFiltersByStateTimeAndTarget) {
  ASSERT_OK(jobs_->Run(Spec()));
  clock_.Advance(absl::Hours(1));
  fail_b_ = true;
  JobSpec s = Spec();
  s.target_object_id = "silver1";
  ASSERT_FALSE(jobs_->Run(s).ok());
  Reopen();
  EXPECT_EQ(jobs_->List()->size(), 2u);
  EXPECT_EQ(jobs_->List(JobFilter::ByState(model::Failed))->size(), 1u);
  JobFilter f;
  f.started_after = absl::FromUnixSeconds(1700000000 + 1800);
  auto late = jobs_->List(f);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].target_object_id(), "silver1");
  JobFilter g;
  g.target_object_id = "gold1";
  EXPECT_EQ(jobs_->List(g)->size(), 1u);
  // Ids keep counting after a restart.
  fail_b_ = false;
  auto third = jobs_->Run(Spec());
  EXPECT_EQ(third->id(), "job-000003");
}

TEST_F(JobManagerTest, PartialAndInformationDescriptions) {
  ASSERT_TRUE(
      jobs_
          ->RegisterScenario("Partial",
                             [](JobContext& ctx) -> absl::Status {
                               TaskOptions keep_going;
                               keep_going.continue_on_failure = true;
                               ASR_RETURN_IF_ERROR(ctx.RunTask(
                                   "h1", "Host 1", [] { return absl::UnavailableError("down"); },
                                   keep_going));
                               return ctx.RunTask("h2", "Host 2", [] { return absl::OkStatus(); });
                             })
          .ok());
  ASSERT_TRUE(jobs_
                  ->RegisterScenario("Info",
                                     [](JobContext& ctx) -> absl::Status {
                                       return ctx.RunTask("x", "X", [&] {
                                         ctx.AddInformation("encryption setting ignored");
                                         return absl::OkStatus();
                                       });
                                     })
                  .ok());
  ASSERT_TRUE(jobs_
                  ->RegisterScenario("Noop",
                                     [](JobContext& ctx) -> absl::Status {
                                       ctx.MarkSkipped("nothing to do");
                                       return absl::OkStatus();
                                     })
                  .ok());
  JobSpec s = Spec();
  s.scenario = "Partial";
  EXPECT_EQ(jobs_->Run(s)->state_description(), "PartiallySucceeded");
  s.scenario = "Info";
  EXPECT_EQ(jobs_->Run(s)->state_description(), "CompletedWithInformation");
  s.scenario = "Noop";
  EXPECT_EQ(jobs_->Run(s)->state_description(), "Skipped");
}

TEST_F(JobManagerTest, InterruptedJobsBecomeRestartableFailures) {
  model::Job stale;
  stale.set_id("job-000077");
  stale.set_sequence(77);
  stale.set_scenario_name("Two");
  stale.set_state(model::InProgress);
  ASSERT_OK(repo_->Put(stale));
  Reopen();
  auto n = jobs_->RecoverInterruptedJobs();
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  auto j = jobs_->Get("job-000077");
  EXPECT_EQ(j->state(), model::Failed);
  EXPECT_EQ(j->errors(0).error_code(), "JobInterrupted");
  auto r = jobs_->Restart("job-000077");
  ASSERT_OK(r);
  EXPECT_EQ(r->state(), model::Succeeded);
}

// Tasks recorded from several threads at once (a recovery plan's VMs of one
// group): every task and its nested steps are kept, a failed one is retried
// by a restart while the others are not run again, and the persisted job
// matches.
TEST_F(JobManagerTest, TasksFromSeveralThreads) {
  constexpr int kThreads = 8;
  constexpr int kSteps = 5;
  std::atomic<int> runs[kThreads] = {};
  std::atomic<bool> fail_3{true};
  std::atomic<int> concurrent{0}, most{0};
  ASSERT_OK(jobs_->RegisterScenario("Parallel", [&](JobContext& ctx) -> absl::Status {
    std::vector<std::thread> threads;
    std::vector<absl::Status> results(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        std::string vm = absl::StrCat("vm", i);
        results[i] = ctx.RunTask(vm, "Fail over " + vm, [&, i, vm]() -> absl::Status {
          ++runs[i];
          int now = ++concurrent;
          int prev = most.load();
          while (now > prev && !most.compare_exchange_weak(prev, now)) {
          }
          for (int s = 0; s < kSteps; ++s) {
            ASR_RETURN_IF_ERROR(ctx.RunTask(absl::StrCat(vm, "/step", s), "step", [&] {
              absl::SleepFor(absl::Milliseconds(2));
              return absl::OkStatus();
            }));
          }
          --concurrent;
          if (i == 3 && fail_3) return absl::UnavailableError("host of vm3 did not answer");
          return absl::OkStatus();
        });
      });
    }
    for (std::thread& t : threads) t.join();
    for (const absl::Status& r : results) ASR_RETURN_IF_ERROR(r);
    std::optional<model::JobTask> t = ctx.Task("vm0");
    if (!t.has_value() || t->state() != model::Succeeded) return absl::InternalError("vm0 lost");
    return absl::OkStatus();
  }));
  JobSpec s = Spec();
  s.scenario = "Parallel";
  absl::StatusOr<model::Job> run = jobs_->Run(s);
  ASSERT_THAT(run.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GT(most.load(), 1);
  std::string id = JobIdOf(run.status());
  Reopen();
  ASSERT_TRUE(jobs_
                  ->RegisterScenario("Parallel",
                                     [&](JobContext& ctx) -> absl::Status {
                                       // The second run: only vm3's task is not Succeeded.
                                       for (int i = 0; i < kThreads; ++i) {
                                         std::string vm = absl::StrCat("vm", i);
                                         ASR_RETURN_IF_ERROR(
                                             ctx.RunTask(vm, "Fail over " + vm, [&, i] {
                                               ++runs[i];
                                               return absl::OkStatus();
                                             }));
                                       }
                                       return absl::OkStatus();
                                     })
                  .ok());
  ASSERT_OK_AND_ASSIGN(model::Job failed, jobs_->Get(id));
  EXPECT_EQ(failed.state(), model::Failed);
  EXPECT_EQ(failed.tasks_size(), kThreads * (kSteps + 1));
  int succeeded = 0;
  for (const model::JobTask& t : failed.tasks()) succeeded += t.state() == model::Succeeded;
  EXPECT_EQ(succeeded, kThreads * (kSteps + 1) - 1);
  fail_3 = false;
  ASSERT_OK_AND_ASSIGN(model::Job done, jobs_->Restart(id));
  EXPECT_EQ(done.state(), model::Succeeded);
  for (int i = 0; i < kThreads; ++i) EXPECT_EQ(runs[i].load(), i == 3 ? 2 : 1) << i;
}

// A task that suspends with run_again_after_suspend runs again on resume.
TEST_F(JobManagerTest, RunAgainAfterSuspend) {
  int outer = 0, inner_a = 0, inner_b = 0;
  ASSERT_OK(jobs_->RegisterScenario("Nested", [&](JobContext& ctx) -> absl::Status {
    TaskOptions o;
    o.run_again_after_suspend = true;
    return ctx.RunTask(
        "vm", "VM",
        [&]() -> absl::Status {
          ++outer;
          ASR_RETURN_IF_ERROR(ctx.RunTask("vm/sync", "Sync", [&] {
            ++inner_a;
            return absl::OkStatus();
          }));
          ASR_RETURN_IF_ERROR(ctx.RunTask("vm/wait", "Wait",
                                          [&] { return ctx.Suspend("resume for the shutdown"); }));
          return ctx.RunTask("vm/final", "Final", [&] {
            ++inner_b;
            return absl::OkStatus();
          });
        },
        o);
  }));
  JobSpec s = Spec();
  s.scenario = "Nested";
  ASSERT_OK_AND_ASSIGN(model::Job j, jobs_->Run(s));
  EXPECT_EQ(j.state(), model::Suspended);
  EXPECT_EQ(inner_b, 0);
  ASSERT_OK_AND_ASSIGN(j, jobs_->Resume(j.id()));
  EXPECT_EQ(j.state(), model::Succeeded);
  EXPECT_EQ(outer, 2);
  EXPECT_EQ(inner_a, 1);
  EXPECT_EQ(inner_b, 1);
}

TEST(JobState, ParseAndName) {
  EXPECT_EQ(*ParseJobState("Suspended"), model::Suspended);
  EXPECT_EQ(ParseJobState("Done").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobStateName(model::Failed), "Failed");
}

}  // namespace
}  // namespace asr::jobs
