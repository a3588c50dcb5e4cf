// The failover state machine end to end on the simulated fabric (real VHDX
// disks, power states, the write log that proves what a disk holds): test
// failover beside production replication, planned failover with zero data
// loss under a running workload, unplanned failover with the data lost
// reported, change of point, commit, cancel, and each failed state's way
// forward.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/failover_service.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/item_state.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_overlay.h"
#include "asr/replication/replica_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::TestPath;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    protection::TestSiteOptions o;
    absl::StatusOr<std::unique_ptr<protection::TestSite>> s = protection::TestSite::Create(
        TestPath(::testing::UnitTest::GetInstance()->current_test_info()->name()), o);
    ASSERT_OK(s.status());
    site_ = std::move(*s);
    protection::SiteServiceOptions so;
    so.threads = false;
    absl::StatusOr<std::unique_ptr<protection::SiteService>> svc = site_->StartService(so);
    ASSERT_OK(svc.status());
    service_ = std::move(*svc);
    ASSERT_OK(fab().GuestWrite("vm1", "vm1-d0", 1 << 20, 128 << 10, 11));
    ASSERT_OK(fab().GuestWrite("vm1", "vm1-d1", 3 << 20, 64 << 10, 12));
    protection::EnableRequest e;
    e.vm_ref = "VM1";
    ASSERT_OK(protection().EnableProtection(e).status());
  }

  protection::ProtectionService& protection() { return site_->sr().protection(); }
  FailoverService& failover() { return site_->sr().failover(); }
  fabric::SimulatedFabric& fab() { return site_->fabric(); }

  model::ProtectedItem Item() {
    absl::StatusOr<model::ProtectedItem> i = protection().GetItem("VM1");
    EXPECT_OK(i.status());
    return i.ok() ? *i : model::ProtectedItem();
  }
  model::VmPowerState Power(const std::string& vm) {
    absl::StatusOr<model::VmPowerState> p = fab().GetPowerState(vm);
    EXPECT_OK(p.status());
    return p.ok() ? *p : model::VM_POWER_STATE_UNSPECIFIED;
  }
  std::vector<model::RecoveryPoint> Points() {
    absl::StatusOr<std::vector<model::RecoveryPoint>> p = protection().ListRecoveryPoints("VM1");
    EXPECT_OK(p.status());
    return p.ok() ? *p : std::vector<model::RecoveryPoint>();
  }
  void Cycle() { ASSERT_OK(protection().ReplicateNow("VM1", {}).status()); }

  static FailoverInput In() {
    FailoverInput in;
    in.item_ref = "VM1";
    return in;
  }

  // Restores the replicas' latest point and proves it holds every write
  // of VM1 up to that point's host point.
  void ExpectLatestPointHoldsTheSourceWrites() {
    model::ProtectedItem item = Item();
    std::vector<model::RecoveryPoint> points = Points();
    ASSERT_FALSE(points.empty());
    const model::RecoveryPoint& p = points.back();
    for (int k = 0; k < item.disks_size(); ++k) {
      const std::string out = TestPath(absl::StrCat("restored-", p.id(), "-", k, ".vhdx"));
      replication::RestoreOptions ro;
      ro.overwrite = true;
      ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                          p.disks(k).replica_point_id(), out, ro));
      EXPECT_OK(fab().VerifyDiskAtPoint("vm1", item.disks(k).disk_id(), p.host_point_id(), out));
    }
  }

  std::unique_ptr<protection::TestSite> site_;
  std::unique_ptr<protection::SiteService> service_;
};

std::vector<std::string> TaskNames(const model::Job& job) {
  std::vector<std::string> names;
  for (const auto& t : job.tasks()) names.push_back(t.name());
  return names;
}

TEST_F(FailoverTest, TestFailoverRunsAViewBesideProductionReplicationAndCleanupRemovesIt) {
  Cycle();
  const model::RecoveryPoint tested = Points().back();

  FailoverInput in = In();
  in.recovery_tag = "LatestAvailable";
  in.network_type = "Isolated";
  ASSERT_OK_AND_ASSIGN(model::Job job, failover().Start(kTestFailover, in));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(job.scenario_name(), "TestFailover");
  EXPECT_THAT(TaskNames(job), ElementsAre("choose-point", "create-views", "test-network",
                                          "create-test-vm", "start-test-vm", "finalize"));
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.test_failover_state(), "TestFailoverCompleted");
  EXPECT_EQ(item.test_failover_recovery_point_id(), tested.id());
  EXPECT_GT(item.last_successful_test_failover_time_unix(), 0);
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_THAT(item.allowed_operations(), Contains("TestFailoverCleanup"));
  EXPECT_THAT(item.allowed_operations(), Not(Contains("TestFailover")));
  EXPECT_THAT(item.allowed_operations(), Not(Contains("DisableProtection")));

  // The test VM runs on the replica's host, on the isolated network, from
  // views of the point that hold exactly the source's writes up to it.
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine test_vm, fab().GetVm(item.test_vm_id()));
  EXPECT_EQ(test_vm.host_id(), item.replica_host_id());
  EXPECT_EQ(test_vm.power_state(), model::RUNNING);
  ASSERT_EQ(test_vm.network_adapters_size(), 1);
  EXPECT_EQ(test_vm.network_adapters(0).vm_network_id(), "isolated-test-vm1");
  ASSERT_EQ(test_vm.disks_size(), 2);
  for (int k = 0; k < 2; ++k) {
    EXPECT_NE(test_vm.disks(k).path(), item.disks(k).replica_path());
    EXPECT_OK(fab().VerifyDiskAtPoint("vm1", item.disks(k).disk_id(), tested.host_point_id(),
                                      test_vm.disks(k).path()));
  }
  // The views hold only what differs from the replica's base: no disk copy.
  for (const auto& d : item.disks()) {
    ASSERT_OK_AND_ASSIGN(std::vector<replication::OverlayInfo> views,
                         replication::ListOverlays(d.replica_dir()));
    ASSERT_EQ(views.size(), 1u);
    EXPECT_LT(views[0].bytes_written, d.size_bytes() / 8) << d.name();
  }
  // One test at a time.
  absl::StatusOr<model::Job> again = failover().Start(kTestFailover, in);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(jobs::RuleOf(again.status()), "OperationNotAllowedInState");

  // The test VM writes; production goes on writing and replicating; the
  // test VM's writes reach no replica.
  ASSERT_OK(fab().GuestWrite(item.test_vm_id(), "vm1-d0", 1 << 20, 256 << 10, 901));
  ASSERT_OK(fab().GuestWrite(item.test_vm_id(), "vm1-d1", 3 << 20, 64 << 10, 902));
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d0", 6 << 20, 64 << 10, 21));
  Cycle();
  ExpectLatestPointHoldsTheSourceWrites();
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d1", 7 << 20, 64 << 10, 22));
  Cycle();
  ExpectLatestPointHoldsTheSourceWrites();

  ASSERT_OK_AND_ASSIGN(job, failover().Start(kTestFailoverCleanup, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_THAT(TaskNames(job),
              ElementsAre("delete-test-vm", "delete-views", "delete-test-network", "finalize"));
  EXPECT_EQ(fab().GetVm(item.test_vm_id()).status().code(), absl::StatusCode::kNotFound);
  item = Item();
  EXPECT_EQ(item.test_failover_state(), "None");
  EXPECT_TRUE(item.test_vm_id().empty());
  for (const auto& d : item.disks()) {
    ASSERT_OK_AND_ASSIGN(std::vector<replication::OverlayInfo> views,
                         replication::ListOverlays(d.replica_dir()));
    EXPECT_TRUE(views.empty()) << d.replica_dir();
  }
  ASSERT_OK_AND_ASSIGN(fabric::FabricState state, fab().State());
  for (const auto& server : state.servers()) {
    for (const auto& n : server.inventory().vm_networks()) EXPECT_NE(n.id(), "isolated-test-vm1");
  }
  EXPECT_THAT(item.allowed_operations(), Contains("TestFailover"));
  Cycle();
  ExpectLatestPointHoldsTheSourceWrites();
}

TEST_F(FailoverTest, AFailedTestFailoverIsCleanedUpOrRunAgain) {
  Cycle();
  fab().FailNextCalls("StartVm", 1,
                      absl::InternalError("the test VM failed to initialize (injected)"));
  FailoverInput in = In();
  in.recovery_tag = "Latest";  // a cycle first, then its point
  in.network_type = "VmNetwork";
  in.network_id = "vmn1-chi";
  absl::StatusOr<model::Job> job = failover().Start(kTestFailover, in);
  ASSERT_FALSE(job.ok());
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.test_failover_state(), "TestFailoverFailed");
  EXPECT_EQ(item.test_failover_recovery_point_id(), Points().back().id());
  EXPECT_EQ(Points().back().sequence(), 3u);  // enable, the cycle above, Latest's sync
  EXPECT_THAT(item.allowed_operations(), Contains("TestFailover"));
  EXPECT_THAT(item.allowed_operations(), Contains("TestFailoverCleanup"));
  EXPECT_EQ(Power(item.test_vm_id()), model::STOPPED);
  // Run again (the job's restart): it continues where it stopped.
  ASSERT_OK_AND_ASSIGN(model::Job restarted,
                       site_->sr().jobs().Restart(jobs::JobIdOf(job.status())));
  EXPECT_EQ(restarted.state(), model::Succeeded);
  item = Item();
  EXPECT_EQ(item.test_failover_state(), "TestFailoverCompleted");
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm, fab().GetVm(item.test_vm_id()));
  EXPECT_EQ(vm.network_adapters(0).vm_network_id(), "vmn1-chi");
  ASSERT_OK(failover().Start(kTestFailoverCleanup, In()).status());
  EXPECT_EQ(Item().test_failover_state(), "None");
}

TEST_F(FailoverTest, PlannedFailoverLosesNoAcknowledgedWriteAndCancelGoesBack) {
  Cycle();
  fabric::WorkloadOptions w;
  w.writes_per_second = 200;
  w.vms = {"vm1"};
  w.threads = 1;
  ASSERT_OK(fab().StartWorkload(w));
  absl::SleepFor(absl::Milliseconds(500));
  Cycle();
  absl::SleepFor(absl::Milliseconds(500));

  // The workload writes until the failover shuts the VM down.
  FailoverInput in = In();
  ASSERT_OK_AND_ASSIGN(model::Job job, failover().Start(kPlannedFailover, in));
  const fabric::WorkloadStats stats = fab().StopWorkload();
  EXPECT_GT(stats.writes, 50u);
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_THAT(TaskNames(job), ElementsAre("shutdown-source", "final-sync", "failover-replicas",
                                          "connect-nics", "start-replica-vm", "finalize"));
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.protection_state(), model::PlannedFailoverCompleted);
  EXPECT_THAT(item.allowed_operations(), ElementsAre("Commit", "CancelFailover"));
  EXPECT_EQ(item.active_location(), "Recovery");
  EXPECT_EQ(item.data_loss_seconds(), 0);
  EXPECT_GT(item.last_successful_failover_time_unix(), 0);
  EXPECT_EQ(Power("vm1"), model::STOPPED);
  EXPECT_EQ(Power(item.replica_vm_id()), model::RUNNING);
  // Zero data loss: every write the guest was told completed is in the
  // failed-over VM's disks.
  for (const auto& d : item.disks()) {
    EXPECT_OK(fab().VerifyDiskLatest("vm1", d.disk_id(), d.replica_path())) << d.name();
  }
  // Cycles are refused now; the site service does not schedule the item.
  EXPECT_FALSE(protection().ReplicateNow("VM1", {}).ok());

  // Cancel: the replica VM off and rolled back, the source runs again and
  // replicates.
  ASSERT_OK_AND_ASSIGN(job, failover().Start(kCancelFailover, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_EQ(item.active_location(), "Primary");
  EXPECT_EQ(Power(item.replica_vm_id()), model::STOPPED);
  EXPECT_EQ(Power("vm1"), model::RUNNING);
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d0", 9 << 20, 64 << 10, 31));
  Cycle();
  ExpectLatestPointHoldsTheSourceWrites();
}

TEST_F(FailoverTest, PlannedFailoverForDownTimeSuspendsUntilResumed) {
  FailoverInput in = In();
  in.optimize = "ForDownTime";
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d0", 2 << 20, 64 << 10, 41));
  ASSERT_OK_AND_ASSIGN(model::Job job, failover().Start(kPlannedFailover, in));
  EXPECT_EQ(job.state(), model::Suspended);
  EXPECT_EQ(Item().protection_state(), model::PlannedFailoverInitiated);
  EXPECT_EQ(Power("vm1"), model::RUNNING);  // synchronized, still running
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d1", 2 << 20, 64 << 10, 42));

  ASSERT_OK_AND_ASSIGN(job, site_->sr().jobs().Resume(job.id()));
  EXPECT_EQ(job.state(), model::Succeeded);
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.protection_state(), model::PlannedFailoverCompleted);
  EXPECT_EQ(Power("vm1"), model::STOPPED);
  for (const auto& d : item.disks()) {
    EXPECT_OK(fab().VerifyDiskLatest("vm1", d.disk_id(), d.replica_path())) << d.name();
  }
  ASSERT_OK_AND_ASSIGN(job, failover().Start(kCommit, In()));
  EXPECT_EQ(Item().protection_state(), model::Committed);
}

TEST_F(FailoverTest, APlannedFailoverThatFailsIsRunAgainFromWhereItStopped) {
  Cycle();
  ASSERT_OK(fab().SetVmWillNotStart("vm1-replica", true));
  absl::StatusOr<model::Job> job = failover().Start(kPlannedFailover, In());
  ASSERT_FALSE(job.ok());
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.protection_state(), model::PlannedFailoverFailed);
  EXPECT_THAT(item.allowed_operations(), ElementsAre("PlannedFailover", "CancelFailover"));
  EXPECT_EQ(Power("vm1"), model::STOPPED);
  ASSERT_OK(fab().SetVmWillNotStart("vm1-replica", false));
  // Run again (not the job's restart): the done steps are done again
  // harmlessly, the last sync is not repeated (the replicas are failed over).
  ASSERT_OK(failover().RunItemOperation(kPlannedFailover, In(), nullptr));
  item = Item();
  EXPECT_EQ(item.protection_state(), model::PlannedFailoverCompleted);
  EXPECT_EQ(Power(item.replica_vm_id()), model::RUNNING);
  for (const auto& d : item.disks()) {
    EXPECT_OK(fab().VerifyDiskLatest("vm1", d.disk_id(), d.replica_path())) << d.name();
  }
}

TEST_F(FailoverTest, UnplannedFailoverReportsTheDataLostChangesPointAndCommits) {
  Cycle();
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d0", 4 << 20, 64 << 10, 51));
  Cycle();
  std::vector<model::RecoveryPoint> points = Points();
  ASSERT_GE(points.size(), 2u);
  const model::RecoveryPoint older = points[points.size() - 2];
  const model::RecoveryPoint latest = points.back();
  // Writes after the last point, then the primary site is lost.
  absl::SleepFor(absl::Milliseconds(1100));
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d1", 5 << 20, 64 << 10, 52));
  ASSERT_OK(fab().TurnOffVm("vm1"));
  ASSERT_OK(fab().SetHostDown("hv-ny-01", true));

  FailoverInput in = In();
  in.recovery_tag = "Latest";  // the source does not answer: the latest available
  in.perform_source_side_action = true;
  ASSERT_OK_AND_ASSIGN(model::Job job, failover().Start(kUnplannedFailover, in));
  EXPECT_EQ(job.state(), model::Succeeded);
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.protection_state(), model::FailedOver);
  EXPECT_THAT(item.allowed_operations(), ElementsAre("Commit", "ChangePit", "CancelFailover"));
  EXPECT_EQ(item.failover_recovery_point_id(), latest.id());
  EXPECT_EQ(item.data_loss_cycles(), 1);
  EXPECT_GE(item.data_loss_seconds(), 1);
  EXPECT_EQ(Power(item.replica_vm_id()), model::RUNNING);
  for (int k = 0; k < item.disks_size(); ++k) {
    EXPECT_OK(fab().VerifyDiskAtPoint("vm1", item.disks(k).disk_id(), latest.host_point_id(),
                                      item.disks(k).replica_path()));
  }

  // An earlier point instead.
  FailoverInput change = In();
  change.recovery_point_id = older.id();
  ASSERT_OK_AND_ASSIGN(job, failover().Start(kChangePit, change));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  EXPECT_EQ(item.protection_state(), model::FailedOver);
  EXPECT_EQ(item.failover_recovery_point_id(), older.id());
  EXPECT_EQ(item.data_loss_cycles(), 2);
  EXPECT_EQ(Power(item.replica_vm_id()), model::RUNNING);
  for (int k = 0; k < item.disks_size(); ++k) {
    EXPECT_OK(fab().VerifyDiskAtPoint("vm1", item.disks(k).disk_id(), older.host_point_id(),
                                      item.disks(k).replica_path()));
  }
  // A point that does not exist is refused before any job.
  change.recovery_point_id = "pi-vm1-p99999999";
  EXPECT_EQ(failover().Start(kChangePit, change).status().code(), absl::StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(job, failover().Start(kCommit, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  EXPECT_EQ(item.protection_state(), model::Committed);
  EXPECT_THAT(item.allowed_operations(), ElementsAre("ReverseReplicate", "DisableProtection"));
  EXPECT_TRUE(Points().empty());
  EXPECT_EQ(failover().Start(kCancelFailover, In()).status().code(),
            absl::StatusCode::kFailedPrecondition);
  for (int k = 0; k < item.disks_size(); ++k) {
    EXPECT_OK(fab().VerifyDiskAtPoint("vm1", item.disks(k).disk_id(), older.host_point_id(),
                                      item.disks(k).replica_path()));
  }
  // Disabling protection now keeps the failed-over VM and its disks: it
  // runs the workload (the policy's replica deletion is Required).
  protection::DisableRequest disable;
  disable.item_ref = "VM1";
  ASSERT_OK(protection().DisableProtection(disable).status());
  EXPECT_EQ(Power(item.replica_vm_id()), model::RUNNING);
  for (const auto& d : item.disks()) EXPECT_TRUE(PathExists(d.replica_path())) << d.replica_path();
}

TEST_F(FailoverTest, AReplicaNeverStartsWhileItsSourceRuns) {
  Cycle();
  FailoverInput in = In();
  absl::StatusOr<model::Job> job = failover().Start(kUnplannedFailover, in);
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(jobs::RuleOf(job.status()), "VmRunningOnBothSides");
  model::ProtectedItem item = Item();
  EXPECT_EQ(item.protection_state(), model::UnplannedFailoverFailed);
  EXPECT_THAT(item.allowed_operations(), ElementsAre("UnplannedFailover", "CancelFailover"));
  EXPECT_EQ(Power(item.replica_vm_id()), model::STOPPED);
  EXPECT_EQ(Power("vm1"), model::RUNNING);

  // Again with the source shut down first.
  in.perform_source_side_action = true;
  ASSERT_OK_AND_ASSIGN(model::Job done, failover().Start(kUnplannedFailover, in));
  EXPECT_EQ(done.state(), model::Succeeded);
  EXPECT_EQ(Power("vm1"), model::STOPPED);
  EXPECT_EQ(Power(item.replica_vm_id()), model::RUNNING);
  EXPECT_EQ(Item().data_loss_cycles(), 0);

  // Cancel starts the source again (the failover stopped it), after the
  // replica is off.
  ASSERT_OK(failover().Start(kCancelFailover, In()).status());
  EXPECT_EQ(Item().protection_state(), model::Protected);
  EXPECT_EQ(Power(item.replica_vm_id()), model::STOPPED);
  EXPECT_EQ(Power("vm1"), model::RUNNING);
  Cycle();
  ExpectLatestPointHoldsTheSourceWrites();
}

TEST_F(FailoverTest, ReverseReplicationSendsOnlyWhatDiffersAndFailbackBringsTheVmHome) {
  Cycle();
  // Planned failover and commit: the VM runs on the recovery side.
  ASSERT_OK(failover().Start(kPlannedFailover, In()).status());
  ASSERT_OK(failover().Start(kCommit, In()).status());
  model::ProtectedItem item = Item();
  const std::string recovery_vm = item.replica_vm_id();
  const std::string recovery_host = item.replica_host_id();
  // The failed-over VM writes a little.
  ASSERT_OK(fab().GuestWrite(recovery_vm, "vm1-d0", 2 << 20, 64 << 10, 61));
  ASSERT_OK(fab().GuestWrite(recovery_vm, "vm1-d1", 6 << 20, 64 << 10, 62));

  ASSERT_OK_AND_ASSIGN(model::Job job, failover().Start(kReverseReplicate, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_THAT(TaskNames(job),
              ElementsAre("check-vms", "adopt-disks", "swap-sides", "scan-sync", "finalize"));
  item = Item();
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_TRUE(item.reversed());
  EXPECT_EQ(item.vm_id(), recovery_vm);
  EXPECT_EQ(item.primary_host_id(), recovery_host);
  EXPECT_EQ(item.replica_vm_id(), "vm1");
  EXPECT_THAT(item.allowed_operations(), Contains("Failback"));
  // Only the blocks that differ crossed: far below the two disks' size.
  ASSERT_FALSE(item.recent_cycles().empty());
  const uint64_t sent = item.recent_cycles(item.recent_cycles_size() - 1).bytes_sent();
  uint64_t size = 0;
  for (const auto& d : item.disks()) size += d.size_bytes();
  EXPECT_LT(sent, size / 8) << "sent " << sent << " of " << size;

  // The reversed replication replicates the recovery VM's writes.
  ASSERT_OK(fab().GuestWrite(recovery_vm, "vm1-d0", 8 << 20, 64 << 10, 63));
  Cycle();
  std::vector<model::RecoveryPoint> points = Points();
  ASSERT_FALSE(points.empty());
  for (int k = 0; k < item.disks_size(); ++k) {
    const std::string out = TestPath(absl::StrCat("reversed-", k, ".vhdx"));
    replication::RestoreOptions ro;
    ro.overwrite = true;
    ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                        points.back().disks(k).replica_point_id(), out, ro));
    EXPECT_OK(fab().VerifyDiskAtPoint(recovery_vm, item.disks(k).disk_id(),
                                      points.back().host_point_id(), out));
  }

  // Failback: the VM runs where it started, protected again, with the
  // recovery side's writes and the source's.
  // The first attempt fails to start VM1: the job, run again, goes on.
  FailoverInput back = In();
  back.direction = "RecoveryToPrimary";
  fab().FailNextCalls("StartVm", 1, absl::InternalError("VM1 failed to initialize (injected)"));
  absl::StatusOr<model::Job> failed = failover().Start(kFailback, back);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(Item().protection_state(), model::PlannedFailoverFailed);
  EXPECT_EQ(Power("vm1"), model::STOPPED);
  EXPECT_EQ(Power(recovery_vm), model::STOPPED);
  ASSERT_OK_AND_ASSIGN(job, site_->sr().jobs().Restart(jobs::JobIdOf(failed.status())));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_FALSE(item.reversed());
  EXPECT_EQ(item.vm_id(), "vm1");
  EXPECT_EQ(item.replica_vm_id(), recovery_vm);
  EXPECT_EQ(Power("vm1"), model::RUNNING);
  EXPECT_EQ(Power(recovery_vm), model::STOPPED);
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm1, fab().GetVm("vm1"));
  for (int k = 0; k < vm1.disks_size(); ++k) {
    EXPECT_OK(fab().VerifyDiskLatest(recovery_vm, vm1.disks(k).id(), vm1.disks(k).path()));
  }
  ASSERT_OK(fab().GuestWrite("vm1", "vm1-d1", 9 << 20, 64 << 10, 64));
  Cycle();
  ASSERT_FALSE(Points().empty());
  const model::RecoveryPoint last = Points().back();
  for (int k = 0; k < item.disks_size(); ++k) {
    const std::string out = TestPath(absl::StrCat("home-", k, ".vhdx"));
    replication::RestoreOptions ro;
    ro.overwrite = true;
    ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                        last.disks(k).replica_point_id(), out, ro));
    EXPECT_OK(fab().VerifyDiskAtPoint("vm1", item.disks(k).disk_id(), last.host_point_id(), out));
  }
}

// The process stopped after the operation completed but before its job
// recorded so: the job, run again, ends Succeeded and runs nothing again.
TEST_F(FailoverTest, AJobWhoseOperationCompletedBeforeItWasRecordedSucceedsWhenRunAgain) {
  Cycle();
  ASSERT_OK(failover().Start(kPlannedFailover, In()).status());
  ASSERT_OK_AND_ASSIGN(model::Job commit, failover().Start(kCommit, In()));
  ASSERT_EQ(commit.state(), model::Succeeded);
  ASSERT_EQ(Item().protection_state(), model::Committed);
  // As a kill between the item's last update and the job's leaves it: the
  // last task InProgress, the job InProgress.
  ASSERT_GT(commit.tasks_size(), 1);
  model::Job interrupted = commit;
  interrupted.set_state(model::InProgress);
  interrupted.clear_end_time_unix();
  interrupted.mutable_tasks(interrupted.tasks_size() - 1)->set_state(model::InProgress);
  ASSERT_OK(site_->sr().repository().Put(interrupted));
  ASSERT_OK_AND_ASSIGN(int marked, site_->sr().jobs().RecoverInterruptedJobs());
  EXPECT_EQ(marked, 1);
  ASSERT_OK_AND_ASSIGN(model::Job failed, site_->sr().jobs().Get(commit.id()));
  ASSERT_EQ(failed.state(), model::Failed);
  ASSERT_TRUE(failed.allowed_restart());

  ASSERT_OK_AND_ASSIGN(model::Job again, site_->sr().jobs().Restart(commit.id()));
  EXPECT_EQ(again.state(), model::Succeeded);
  std::string notes;
  for (const model::JobTask& t : again.tasks()) {
    for (const std::string& n : t.information()) notes += n;
  }
  EXPECT_THAT(notes, HasSubstr("had completed before the job could record it"));
  EXPECT_EQ(Item().protection_state(), model::Committed);

  // A job whose operation did not complete is not passed off as done: a
  // commit job run again while the item is elsewhere fails as before.
  model::Job stale = again;
  stale.set_state(model::InProgress);
  stale.mutable_tasks(0)->set_state(model::InProgress);
  ASSERT_OK(failover().Start(kReverseReplicate, In()).status());
  ASSERT_OK(site_->sr().repository().Put(stale));
  ASSERT_OK(site_->sr().jobs().RecoverInterruptedJobs().status());
  absl::StatusOr<model::Job> refused = site_->sr().jobs().Restart(commit.id());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(jobs::RuleOf(refused.status()), "OperationNotAllowedInState");
}

TEST_F(FailoverTest, BadInputIsRefusedBeforeAnyJob) {
  FailoverInput in = In();
  in.recovery_tag = "Newest";
  EXPECT_EQ(failover().Start(kUnplannedFailover, in).status().code(),
            absl::StatusCode::kInvalidArgument);
  in = In();
  in.network_type = "Bridged";
  EXPECT_EQ(failover().Start(kTestFailover, in).status().code(),
            absl::StatusCode::kInvalidArgument);
  in = In();
  in.direction = "RecoveryToPrimary";
  EXPECT_EQ(failover().Start(kPlannedFailover, in).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(failover().Start("Teleport", In()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(failover().Start(kCommit, In()).status().code(), absl::StatusCode::kFailedPrecondition);
  in = In();
  in.recovery_tag = "LatestAvailableApplicationConsistent";  // no app-consistent point kept
  absl::Status app = failover().Start(kUnplannedFailover, in).status();
  EXPECT_EQ(app.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(app.message(), HasSubstr("application-consistent"));
  EXPECT_EQ(Item().protection_state(), model::Protected);
  in = In();
  in.item_ref = "VM9";
  EXPECT_EQ(failover().Start(kTestFailover, in).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> jobs, site_->sr().jobs().List());
  for (const auto& j : jobs) {
    EXPECT_THAT(j.scenario_name(), Not(::testing::AnyOf("TestFailover", "PlannedFailover",
                                                        "UnplannedFailover", "CommitFailover")));
  }
}

}  // namespace
}  // namespace asr::failover
