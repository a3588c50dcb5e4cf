// kill -9 of a process running a recovery plan's planned failover, at random
// moments, many times: after every kill the reopened state has the plan's
// job Failed ("JobInterrupted", restartable) with no task left InProgress,
// no VM has ever run on both sides, every VM whose task succeeded runs on
// the target only, and every other VM is where a retry starts from. A new
// process restarts the job; it ends Succeeded with every VM failed over
// exactly once in the fake's record of power states.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/fake_item_failover.h"
#include "asr/failover/plan_test_site.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/failover/testing/kill_rounds.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::TestPath;

constexpr int kVms = 24;

std::string PowerDir(const std::string& root) { return JoinPath(root, "power"); }

absl::StatusOr<std::vector<model::Job>> PlanJobs(SiteRecovery& sr) {
  jobs::JobFilter f;
  f.target_object_id = "rp-crash";
  return sr.jobs().List(f);
}

// The child: open the state (interrupted jobs become Failed), then start
// the plan's planned failover or restart its failed job, until it succeeds.
// `ready` (a pipe's write end, or -1) gets a byte when the job (re)starts.
[[noreturn]] void Child(const std::string& root, int ready) {
  absl::StatusOr<std::unique_ptr<PlanTestSite>> site = PlanTestSite::Open(root);
  for (int i = 0; i < 50 && absl::IsFailedPrecondition(site.status()); ++i) {
    absl::SleepFor(absl::Milliseconds(100));  // see the parent's retry below
    site = PlanTestSite::Open(root);
  }
  if (!site.ok()) _exit(10);
  FakeItemFailover fake(PowerDir(root));
  fake.SetStepDelay(absl::Milliseconds(8));
  SiteRecovery& sr = (*site)->sr();
  sr.recovery_plans().SetItemFailover(&fake);
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<std::vector<model::Job>> js = PlanJobs(sr);
    if (!js.ok()) _exit(11);
    if (ready >= 0 && write(ready, "r", 1) != 1) _exit(14);
    absl::StatusOr<model::Job> run;
    if (js->empty()) {
      model::RecoveryPlanRunRequest r;
      r.set_operation("PlannedFailover");
      r.set_max_parallel(3);
      run = sr.recovery_plans().Run("crash", r);
    } else if (js->back().state() == model::Succeeded) {
      _exit(0);
    } else if (js->back().state() == model::Failed && js->back().allowed_restart()) {
      run = sr.jobs().Restart(js->back().id());
    } else {
      _exit(12);
    }
    if (run.ok() && run->state() == model::Succeeded) _exit(0);
  }
  _exit(13);
}

// What a test may assert after any kill (the state reopened, so the job is
// no longer InProgress).
void CheckAfterKill(PlanTestSite& site, FakeItemFailover& fake, int round, bool* done) {
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, PlanJobs(site.sr()));
  for (int i = 1; i <= kVms; ++i) {
    FakeVmPower p = fake.Power(PlanTestSite::ItemId(i));
    EXPECT_FALSE(p.both_seen) << "VM" << i << " ran on both sides, round " << round;
    EXPECT_FALSE(p.source_running && p.target_running) << "VM" << i << " round " << round;
  }
  if (js.empty()) return;  // killed before the job was created
  ASSERT_EQ(js.size(), 1u) << "a restart makes no new job";
  const model::Job& job = js.back();
  *done = job.state() == model::Succeeded;
  if (!*done) {
    EXPECT_EQ(job.state(), model::Failed) << "round " << round;
    EXPECT_TRUE(job.allowed_restart()) << "round " << round;
  }
  for (const model::JobTask& t : job.tasks()) {
    EXPECT_NE(t.state(), model::InProgress) << t.name() << " round " << round;
    if (absl::StartsWith(t.name(), "g") && absl::StrContains(t.name(), "-vm-") &&
        !absl::StrContains(t.name(), "/") && t.state() == model::Succeeded) {
      std::string item = t.name().substr(t.name().find("-vm-") + 4);
      FakeVmPower p = fake.Power(item);
      EXPECT_TRUE(p.target_running && !p.source_running) << item << " round " << round;
    }
  }
}

TEST(RecoveryPlanCrashTest, KillNineAtAnyMomentResumesAndNeverRunsAVmTwice) {
  const std::string root = TestPath("plan-crash");
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanTestSite> site, PlanTestSite::Create(root, kVms));
    model::RecoveryPlanCreateRequest c;
    c.set_name("crash");
    c.set_boot_groups(3);
    for (int i = 1; i <= kVms; ++i) c.add_items(PlanTestSite::VmName(i));
    ASSERT_OK(site->sr().recovery_plans().Create(c).status());
    const std::string script = JoinPath(root, "action.sh");
    ASSERT_OK(WriteFileAtomically(
        script, "#!/bin/sh\necho \"$*\" >> " + JoinPath(root, "actions.log") + "\n", 0755));
    for (int g = 1; g <= 3; ++g) {
      if (g > 1) {
        model::RecoveryPlanEdit move;
        move.set_operation("MoveProtectedItems");
        move.set_to_group(absl::StrCat(g));
        for (int i = (g - 1) * kVms / 3 + 1; i <= g * kVms / 3; ++i)
          move.add_items(PlanTestSite::VmName(i));
        ASSERT_OK(site->sr().recovery_plans().Edit("crash", move).status());
      }
      model::RecoveryPlanEdit e;
      e.set_operation("AddAction");
      e.set_group(absl::StrCat(g));
      e.set_placement("End");
      model::RecoveryPlanAction* a = e.mutable_action();
      a->set_action_name(absl::StrCat("after-", g));
      a->add_failover_types("PlannedFailover");
      a->add_failover_directions("PrimaryToRecovery");
      a->mutable_script()->set_path(script);
      a->mutable_script()->set_fabric_location(g == 1 ? model::Primary : model::Recovery);
      ASSERT_OK(site->sr().recovery_plans().Edit("crash", e).status());
    }
  }
  KillRoundsOptions ko;
  ko.rounds = 60;
  // Once the job runs, a short random wait: each run gets a little further
  // before it is killed (at any point of it: a task, a step, a script).
  ko.base_ms = 70;
  bool done = false;
  const int kills_mid_job = RunKillRounds(
      ko, [&](int ready) { Child(root, ready); },
      [&](int round, bool killed) {
        // A script the killed process had just forked may hold the state's
        // lock until it has exec'd (its descriptors close on exec): retry.
        absl::StatusOr<std::unique_ptr<PlanTestSite>> site = PlanTestSite::Open(root);
        for (int i = 0; i < 50 && absl::IsFailedPrecondition(site.status()); ++i) {
          absl::SleepFor(absl::Milliseconds(100));
          site = PlanTestSite::Open(root);
        }
        EXPECT_OK(site.status());
        if (!site.ok()) return true;
        FakeItemFailover fake(PowerDir(root));
        CheckAfterKill(**site, fake, round, &done);
        absl::StatusOr<std::vector<model::Job>> js = PlanJobs((*site)->sr());
        int succeeded = 0;
        if (js.ok() && !js->empty()) {
          for (const auto& t : (*js)[0].tasks()) succeeded += t.state() == model::Succeeded;
        }
        std::cout << "round " << round << ": " << (killed ? "killed" : "exited")
                  << ", tasks succeeded " << succeeded << "\n";
        return done;
      });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GE(kills_mid_job, 8);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<PlanTestSite> site, PlanTestSite::Open(root));
  FakeItemFailover fake(PowerDir(root));
  ASSERT_NO_FATAL_FAILURE(CheckAfterKill(*site, fake, ko.rounds, &done));
  EXPECT_TRUE(done);
  for (int i = 1; i <= kVms; ++i) {
    FakeVmPower p = fake.Power(PlanTestSite::ItemId(i));
    EXPECT_TRUE(p.target_running) << i;
    EXPECT_FALSE(p.source_running) << i;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, PlanJobs(site->sr()));
  ASSERT_EQ(js.size(), 1u);
  for (const model::JobTask& t : js[0].tasks()) EXPECT_EQ(t.state(), model::Succeeded) << t.name();
  // Every group's end action ran (at least once: a kill between the script
  // and its task's record runs it again, as a restart must).
  ASSERT_OK_AND_ASSIGN(std::string log, ReadFileToString(JoinPath(root, "actions.log")));
  for (int g = 1; g <= 3; ++g) EXPECT_TRUE(absl::StrContains(log, absl::StrCat("after-", g)));
}

}  // namespace
}  // namespace asr::failover
