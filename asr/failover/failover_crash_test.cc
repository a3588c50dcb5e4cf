// kill -9 at random moments of one VM's whole failover life, each operation
// a job of its own (test failover, cleanup, unplanned failover, cancel,
// planned failover, commit, reverse replication, failback), run by the
// failover service on the simulated fabric (real VHDX replicas, replica
// VMs, power states). After every kill: the VM never runs on both sides,
// no job task is left InProgress, the last job is Succeeded or Failed and
// restartable; processes that restart it go on from where it stopped (a job
// whose operation completed before it could record so ends Succeeded
// without running it again). At the end the VM runs at home, protected,
// with the recovery side's writes on its disks.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/failover_service.h"
#include "asr/failover/testing/kill_rounds.h"
#include "asr/protection/test_site.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::TestPath;

struct Op {
  absl::string_view operation;
  const char* direction;
};
// One VM's operations, one job each, in this order.
const std::vector<Op> kOps = {
    {kTestFailover, "PrimaryToRecovery"},
    {kTestFailoverCleanup, ""},
    {kUnplannedFailover, "PrimaryToRecovery"},
    {kCancelFailover, ""},
    {kPlannedFailover, "PrimaryToRecovery"},
    {kCommit, ""},
    {kReverseReplicate, ""},
    {kFailback, "RecoveryToPrimary"},
};

FailoverInput InputOf(const Op& op) {
  FailoverInput in;
  in.item_ref = "VM1";
  in.direction = op.direction;
  in.recovery_tag = "LatestAvailable";
  in.network_type = "None";
  in.optimize = "ForSynchronization";
  in.perform_source_side_action = true;
  return in;
}

// The failover jobs of VM1, oldest first (protection's own jobs left out).
absl::StatusOr<std::vector<model::Job>> FailoverJobs(SiteRecovery& sr) {
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, sr.protection().GetItem("VM1"));
  jobs::JobFilter f;
  f.target_object_id = item.id();
  ASR_ASSIGN_OR_RETURN(std::vector<model::Job> all, sr.jobs().List(f));
  std::vector<model::Job> out;
  for (model::Job& j : all) {
    for (const Op& op : kOps) {
      if (j.scenario_name() == ScenarioOf(op.operation)) {
        out.push_back(std::move(j));
        break;
      }
    }
  }
  return out;
}

// Opens the site, starts the next operation (or restarts the one a kill
// interrupted) until all have succeeded, then exits 0; `ready` gets a byte
// as each job (re)starts.
[[noreturn]] void Child(const std::string& root, int ready) {
  absl::StatusOr<std::unique_ptr<protection::TestSite>> site = protection::TestSite::Open(root);
  if (!site.ok()) _exit(10);
  protection::SiteServiceOptions so;
  so.threads = false;
  absl::StatusOr<std::unique_ptr<protection::SiteService>> service = (*site)->StartService(so);
  if (!service.ok()) _exit(11);
  SiteRecovery& sr = (*site)->sr();
  for (int attempt = 0; attempt < 20; ++attempt) {
    absl::StatusOr<std::vector<model::Job>> js = FailoverJobs(sr);
    if (!js.ok()) _exit(12);
    if (ready >= 0 && write(ready, "r", 1) != 1) _exit(13);
    absl::StatusOr<model::Job> run;
    if (js->empty() || js->back().state() == model::Succeeded) {
      if (js->size() == kOps.size()) _exit(0);
      const Op& op = kOps[js->size()];
      run = sr.failover().Start(op.operation, InputOf(op));
    } else if (js->back().state() == model::Failed && js->back().allowed_restart()) {
      run = sr.jobs().Restart(js->back().id());
    } else {
      _exit(14);
    }
    if (!run.ok()) std::cerr << "child: " << run.status() << "\n";
  }
  _exit(15);
}

model::VmPowerState PowerOf(protection::TestSite& site, const std::string& vm) {
  if (vm.empty()) return model::STOPPED;
  absl::StatusOr<model::VmPowerState> p = site.fabric().GetPowerState(vm);
  return p.ok() ? *p : model::STOPPED;
}

// After a kill (the state reopened): the fabric, the jobs and the item.
void Check(protection::TestSite& site, int round, bool* done) {
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, site.sr().protection().GetItem("VM1"));
  const model::VmPowerState source = PowerOf(site, item.vm_id());
  const model::VmPowerState replica = PowerOf(site, item.replica_vm_id());
  EXPECT_FALSE(source == model::RUNNING && replica == model::RUNNING)
      << "VM1 runs on both sides after round " << round << " (state "
      << model::ProtectionState_Name(item.protection_state()) << ")";
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, FailoverJobs(site.sr()));
  *done = false;
  if (js.empty()) return;
  ASSERT_LE(js.size(), kOps.size());
  for (size_t i = 0; i < js.size(); ++i) {
    EXPECT_EQ(js[i].scenario_name(), ScenarioOf(kOps[i].operation)) << "job " << i;
    if (i + 1 < js.size()) {
      EXPECT_EQ(js[i].state(), model::Succeeded) << "job " << i;
    }
    for (const model::JobTask& t : js[i].tasks()) {
      EXPECT_NE(t.state(), model::InProgress) << t.name() << " round " << round;
    }
  }
  const model::Job& last = js.back();
  if (last.state() == model::Succeeded) {
    // A finished job left the item where its operation ends.
    EXPECT_TRUE(IsWhereOperationEnds(item, kOps[js.size() - 1].operation))
        << js.size() << " jobs, state " << model::ProtectionState_Name(item.protection_state())
        << ", test failover " << item.test_failover_state();
    *done = js.size() == kOps.size();
  } else {
    EXPECT_EQ(last.state(), model::Failed) << "round " << round;
    EXPECT_TRUE(last.allowed_restart()) << "round " << round;
  }
}

TEST(FailoverCrashTest, KillNineDuringEveryOperationOfAVmNeverRunsItOnBothSides) {
  const std::string root = TestPath("failover-crash");
  {
    protection::TestSiteOptions o;
    o.disk_size_bytes = 8 << 20;
    ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Create(root, o));
    protection::SiteServiceOptions so;
    so.threads = false;
    ASSERT_OK_AND_ASSIGN(auto service, site->StartService(so));
    ASSERT_OK(site->fabric().GuestWrite("vm1", "vm1-d0", 1 << 20, 256 << 10, 1));
    protection::EnableRequest r;
    r.vm_ref = "VM1";
    ASSERT_OK_AND_ASSIGN(model::Job job, site->sr().protection().EnableProtection(r));
    ASSERT_EQ(job.state(), model::Succeeded);
    ASSERT_OK(site->fabric().GuestWrite("vm1", "vm1-d1", 2 << 20, 256 << 10, 2));
    ASSERT_OK(site->sr().protection().ReplicateNow("VM1", {}).status());
    service->Stop();
  }
  KillRoundsOptions ko;
  // Small steps: on an idle machine the eight operations take a second in
  // all, and bigger steps let them finish after a dozen kills; on a loaded
  // one the rounds run out sooner and a last, unkilled run finishes.
  ko.rounds = 120;
  ko.base_ms = 20;
  ko.step_ms = 2;  // later runs get further
  bool done = false;
  const int kills = RunKillRounds(
      ko, [&](int ready) { Child(root, ready); },
      [&](int round, bool killed) {
        absl::StatusOr<std::unique_ptr<protection::TestSite>> site =
            protection::TestSite::Open(root);
        EXPECT_OK(site.status());
        if (!site.ok()) return true;
        Check(**site, round, &done);
        absl::StatusOr<std::vector<model::Job>> js = FailoverJobs((*site)->sr());
        absl::StatusOr<model::ProtectedItem> item = (*site)->sr().protection().GetItem("VM1");
        if (js.ok() && item.ok()) {
          std::cout << "round " << round << ": " << (killed ? "killed" : "exited") << ", job "
                    << js->size() << " of " << kOps.size() << " "
                    << (js->empty() ? "" : model::JobState_Name(js->back().state())) << ", item "
                    << model::ProtectionState_Name(item->protection_state()) << "\n";
        }
        return done;
      });
  ASSERT_FALSE(HasFatalFailure());
  EXPECT_GE(kills, 20);
  ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Open(root));
  ASSERT_NO_FATAL_FAILURE(Check(*site, ko.rounds, &done));
  EXPECT_TRUE(done);
  // Home, protected, and the disks hold what the recovery side wrote.
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, site->sr().protection().GetItem("VM1"));
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_FALSE(item.reversed());
  EXPECT_EQ(item.vm_id(), "vm1");
  EXPECT_EQ(item.test_failover_state(), "None");
  EXPECT_EQ(PowerOf(*site, "vm1"), model::RUNNING);
  EXPECT_EQ(PowerOf(*site, item.replica_vm_id()), model::STOPPED);
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm1, site->fabric().GetVm("vm1"));
  for (const model::VirtualDisk& d : vm1.disks()) {
    EXPECT_OK(site->fabric().VerifyDiskLatest(item.replica_vm_id(), d.id(), d.path())) << d.id();
  }
  int done_before_recorded = 0;
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, FailoverJobs(site->sr()));
  for (const model::Job& j : js) {
    for (const model::JobTask& t : j.tasks()) {
      for (const std::string& note : t.information()) {
        done_before_recorded += absl::StrContains(note, "had completed before the job");
      }
    }
  }
  std::cout << kills << " kills; " << done_before_recorded
            << " jobs run again found their operation completed\n";
  // Cleanup removed the test VM.
  EXPECT_TRUE(item.test_vm_id().empty());
  EXPECT_FALSE(site->fabric().GetVm("vm1-test").ok());
}

}  // namespace
}  // namespace asr::failover
