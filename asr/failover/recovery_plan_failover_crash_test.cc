// kill -9 at random moments of a recovery plan's planned failovers and
// cancels (failing over and back, five jobs) run by the failover service on
// the simulated fabric (real VHDX replicas, replica VMs, power states):
// after every kill the fabric never has a VM running on both sides, the
// plan's last job is Failed and restartable (or Succeeded) with no task
// left InProgress, and new processes restarting it end with every VM
// failed over (source stopped, replica running, PlannedFailoverCompleted).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/failover/testing/kill_rounds.h"
#include "asr/protection/test_site.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::TestPath;

const std::vector<std::string> kVms = {"VM1", "VM2", "VM-G001", "VM-G002"};
// The plan's operations, one job each, in this order: failing over and
// back (the replica stops, the source starts again) several times.
const std::vector<std::string> kOps = {"PlannedFailover", "CancelFailover", "PlannedFailover",
                                       "CancelFailover", "PlannedFailover"};

absl::StatusOr<std::vector<model::Job>> PlanJobs(SiteRecovery& sr) {
  jobs::JobFilter f;
  f.target_object_id = "rp-crash";
  return sr.jobs().List(f);
}

// Opens the site, starts (or restarts) the plan's planned failover and
// exits 0 once it succeeded; `ready` gets a byte as the job (re)starts.
[[noreturn]] void Child(const std::string& root, int ready) {
  absl::StatusOr<std::unique_ptr<protection::TestSite>> site = protection::TestSite::Open(root);
  if (!site.ok()) _exit(10);
  protection::SiteServiceOptions so;
  so.threads = false;
  absl::StatusOr<std::unique_ptr<protection::SiteService>> service = (*site)->StartService(so);
  if (!service.ok()) _exit(11);
  SiteRecovery& sr = (*site)->sr();
  for (int attempt = 0; attempt < 12; ++attempt) {
    absl::StatusOr<std::vector<model::Job>> js = PlanJobs(sr);
    if (!js.ok()) _exit(12);
    if (ready >= 0 && write(ready, "r", 1) != 1) _exit(13);
    absl::StatusOr<model::Job> run;
    if (js->empty() || js->back().state() == model::Succeeded) {
      if (js->size() == kOps.size()) _exit(0);
      model::RecoveryPlanRunRequest r;
      r.set_operation(kOps[js->size()]);
      run = sr.recovery_plans().Run("crash", r);
    } else if (js->back().state() == model::Failed && js->back().allowed_restart()) {
      run = sr.jobs().Restart(js->back().id());
    } else {
      _exit(14);
    }
    if (!run.ok()) std::cerr << "child: " << run.status() << "\n";
  }
  _exit(15);
}

// After a kill (the state reopened): the fabric, the job and the items.
void Check(protection::TestSite& site, int round, bool* done) {
  for (const std::string& vm : kVms) {
    ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, site.sr().protection().GetItem(vm));
    ASSERT_OK_AND_ASSIGN(model::VmPowerState source, site.fabric().GetPowerState(item.vm_id()));
    model::VmPowerState replica = model::STOPPED;
    if (!item.replica_vm_id().empty()) {
      absl::StatusOr<model::VmPowerState> p = site.fabric().GetPowerState(item.replica_vm_id());
      if (p.ok()) replica = *p;
    }
    EXPECT_FALSE(source == model::RUNNING && replica == model::RUNNING)
        << vm << " runs on both sides after round " << round;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, PlanJobs(site.sr()));
  if (js.empty()) return;
  ASSERT_LE(js.size(), kOps.size());
  for (size_t i = 0; i < js.size(); ++i) {
    EXPECT_EQ(js[i].scenario_name(), RecoveryPlanScenario(kOps[i]));
    if (i + 1 < js.size()) {
      EXPECT_EQ(js[i].state(), model::Succeeded);
    }
    for (const model::JobTask& t : js[i].tasks()) {
      EXPECT_NE(t.state(), model::InProgress) << t.name() << " round " << round;
    }
  }
  const model::Job& last = js.back();
  *done = js.size() == kOps.size() && last.state() == model::Succeeded;
  if (last.state() != model::Succeeded) {
    EXPECT_EQ(last.state(), model::Failed) << "round " << round;
    EXPECT_TRUE(last.allowed_restart()) << "round " << round;
  }
}

TEST(RecoveryPlanFailoverCrashTest, KillNineDuringAPlanFailoverNeverRunsAVmOnBothSides) {
  const std::string root = TestPath("plan-failover-crash");
  {
    protection::TestSiteOptions o;
    o.disk_size_bytes = 4 << 20;
    o.extra_vms = 2;
    ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Create(root, o));
    protection::SiteServiceOptions so;
    so.threads = false;
    ASSERT_OK_AND_ASSIGN(auto service, site->StartService(so));
    for (const std::string& vm : kVms) {
      protection::EnableRequest r;
      r.vm_ref = vm;
      ASSERT_OK_AND_ASSIGN(model::Job job, site->sr().protection().EnableProtection(r));
      ASSERT_EQ(job.state(), model::Succeeded) << vm;
    }
    model::RecoveryPlanCreateRequest c;
    c.set_name("crash");
    c.set_boot_groups(2);
    for (const std::string& vm : kVms) c.add_items(vm);
    ASSERT_OK(site->sr().recovery_plans().Create(c).status());
    model::RecoveryPlanEdit move;
    move.set_operation("MoveProtectedItems");
    move.set_to_group("2");
    move.add_items("VM-G001");
    move.add_items("VM-G002");
    ASSERT_OK(site->sr().recovery_plans().Edit("crash", move).status());
    service->Stop();
  }
  KillRoundsOptions ko;
  ko.rounds = 80;
  ko.base_ms = 40;
  ko.step_ms = 8;  // kills land early in a VM's operation first, at its later steps after
  bool done = false;
  const int kills = RunKillRounds(
      ko, [&](int ready) { Child(root, ready); },
      [&](int round, bool killed) {
        absl::StatusOr<std::unique_ptr<protection::TestSite>> site =
            protection::TestSite::Open(root);
        EXPECT_OK(site.status());
        if (!site.ok()) return true;
        Check(**site, round, &done);
        absl::StatusOr<std::vector<model::Job>> js = PlanJobs((*site)->sr());
        int succeeded = 0;
        if (js.ok() && !js->empty()) {
          for (const auto& t : js->back().tasks()) succeeded += t.state() == model::Succeeded;
        }
        std::cout << "round " << round << ": " << (killed ? "killed" : "exited") << ", job "
                  << (js.ok() ? js->size() : 0) << " of " << kOps.size() << ", tasks succeeded "
                  << succeeded << "\n";
        return done;
      });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GE(kills, 10);
  ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Open(root));
  ASSERT_NO_FATAL_FAILURE(Check(*site, ko.rounds, &done));
  EXPECT_TRUE(done);
  for (const std::string& vm : kVms) {
    ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, site->sr().protection().GetItem(vm));
    EXPECT_EQ(item.protection_state(), model::PlannedFailoverCompleted) << vm;
    EXPECT_EQ(*site->fabric().GetPowerState(item.vm_id()), model::STOPPED) << vm;
    EXPECT_EQ(*site->fabric().GetPowerState(item.replica_vm_id()), model::RUNNING) << vm;
  }
}

}  // namespace
}  // namespace asr::failover
