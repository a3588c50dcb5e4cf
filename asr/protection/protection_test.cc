// Protection end to end on the simulated fabric: enable, replicate on the
// policy, multi-disk points proven against the fabric's write log, the
// scheduler, faults, offline initial replication, onboarding, disabling.
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/item_state.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

using ::asr::testing::TestPath;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

EnableRequest Enable(const std::string& vm) {
  EnableRequest r;
  r.vm_ref = vm;
  return r;
}

DisableRequest Disable(const std::string& ref) {
  DisableRequest r;
  r.item_ref = ref;
  return r;
}

class ProtectionTest : public ::testing::Test {
 protected:
  void Make(TestSiteOptions o = {}) {
    absl::StatusOr<std::unique_ptr<TestSite>> s = TestSite::Create(
        TestPath(::testing::UnitTest::GetInstance()->current_test_info()->name()), o);
    ASSERT_OK(s.status());
    site_ = std::move(*s);
  }
  // The endpoint and transport, cycles only when the test asks (no threads).
  void Serve() {
    SiteServiceOptions o;
    o.threads = false;
    absl::StatusOr<std::unique_ptr<SiteService>> s = site_->StartService(o);
    ASSERT_OK(s.status());
    service_ = std::move(*s);
  }
  ProtectionService& protection() { return site_->sr().protection(); }

  // Restores every disk of `point` from the replicas and checks it against
  // the fabric's write log at the point's host point.
  void ExpectPointHoldsTheGuestWrites(const model::ProtectedItem& item,
                                      const model::RecoveryPoint& point) {
    ASSERT_EQ(point.disks_size(), item.disks_size());
    for (int k = 0; k < item.disks_size(); ++k) {
      const std::string out = TestPath(absl::StrCat("restored-", point.id(), "-", k, ".vhdx"));
      replication::RestoreOptions ro;
      ro.overwrite = true;
      ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                          point.disks(k).replica_point_id(), out, ro));
      EXPECT_OK(site_->fabric().VerifyDiskAtPoint(item.vm_id(), item.disks(k).disk_id(),
                                                  point.host_point_id(), out))
          << point.id() << " disk " << k;
    }
  }

  std::unique_ptr<TestSite> site_;
  std::unique_ptr<SiteService> service_;
};

TEST_F(ProtectionTest, EnableProtectsTheVmAsOneUnitAndEveryPointHoldsItsWrites) {
  Make();
  Serve();
  fabric::SimulatedFabric& fab = site_->fabric();
  ASSERT_OK(fab.GuestWrite("vm1", "vm1-d0", 1 << 20, 256 << 10, 11));
  ASSERT_OK(fab.GuestWrite("vm1", "vm1-d1", 5 << 20, 64 << 10, 12));

  ASSERT_OK_AND_ASSIGN(model::Job job, protection().EnableProtection(Enable("VM1")));
  EXPECT_EQ(job.state(), model::Succeeded);
  std::vector<std::string> tasks;
  for (const auto& t : job.tasks()) tasks.push_back(t.name());
  EXPECT_THAT(tasks, ElementsAre("validate", "place", "create-replica-vm", "initial-replication",
                                 "finalize"));

  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_EQ(item.replication_health(), model::Normal);
  EXPECT_THAT(item.allowed_operations(), Contains("PlannedFailover"));
  EXPECT_EQ(item.replica_host_id(), "hv-chi-01");
  ASSERT_EQ(item.disks_size(), 2);
  EXPECT_GT(item.last_recovery_point_time_unix(), 0);

  // The replica VM exists on the recovery host, its disks are the replicas
  // and its NIC is on the mapped network.
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine replica, fab.GetVm(item.replica_vm_id()));
  EXPECT_EQ(replica.host_id(), item.replica_host_id());
  ASSERT_EQ(replica.disks_size(), 2);
  EXPECT_EQ(replica.disks(0).path(), item.disks(0).replica_path());
  ASSERT_EQ(replica.network_adapters_size(), 1);
  EXPECT_EQ(replica.network_adapters(0).vm_network_id(), "vmn1-chi");

  // Guest writes keep coming; each cycle is one point of both disks.
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(fab.GuestWrite("vm1", "vm1-d0", (2 + i) << 20, 64 << 10, 100 + i));
    ASSERT_OK(fab.GuestWrite("vm1", "vm1-d1", (3 + i) << 20, 4096, 200 + i));
    ASSERT_OK_AND_ASSIGN(model::CycleOutcome c,
                         protection().ReplicateNow("VM1", ReplicateOptions()));
    EXPECT_TRUE(c.ok());
    EXPECT_EQ(c.point_sequence(), 2u + i);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       protection().ListRecoveryPoints("VM1"));
  // The latest and two additional points are kept (point spacing 1 s in tests).
  ASSERT_GE(points.size(), 1u);
  EXPECT_EQ(points.back().sequence(), 4u);
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  for (const auto& p : points) ExpectPointHoldsTheGuestWrites(item, p);
  // Through an independent reader: no write came after the latest point, so
  // qemu-img finds each restored disk equal to its source.
  ASSERT_OK(fab.CloseDisks());
  for (int k = 0; k < item.disks_size(); ++k) {
    const std::string out = TestPath(absl::StrCat("latest-", k, ".vhdx"));
    ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                        points.back().disks(k).replica_point_id(), out, {}));
    EXPECT_TRUE(replication::testing::QemuCompare(out, item.disks(k).source_path()));
  }
}

TEST_F(ProtectionTest, AWriteTheTrackerNeverHeardOfStillReachesTheNextPoint) {
  if (!disk::testing::HaveQemu()) GTEST_SKIP() << "qemu-io is not installed";
  Make();
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  // With the site service stopped (its trackers closed cleanly) and the
  // disks closed, another program (qemu-io) writes into the data disk; no
  // one reports it to the change tracker. The restarted service's tracker
  // sees the disk changed behind it and the next cycle scans.
  service_->Stop();
  service_.reset();
  ASSERT_OK(site_->fabric().CloseDisks());
  std::string out;
  ASSERT_EQ(disk::testing::RunCommand(absl::StrCat("qemu-io -f vhdx -c 'write -P 0x5c 3M 192k' '",
                                                   item.disks(1).source_path(), "'"),
                                      &out),
            0)
      << out;
  Serve();
  ASSERT_OK(protection().ReplicateNow("VM1", ReplicateOptions()).status());
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       protection().ListRecoveryPoints("VM1"));
  for (int k = 0; k < item.disks_size(); ++k) {
    const std::string restored = TestPath(absl::StrCat("outside-", k, ".vhdx"));
    ASSERT_OK(replication::RestorePoint(item.disks(k).replica_dir(),
                                        points.back().disks(k).replica_point_id(), restored, {}));
    EXPECT_TRUE(replication::testing::QemuCompare(restored, item.disks(k).source_path()));
  }
}

TEST_F(ProtectionTest, TheWorkloadsWritesAreInEveryPoint) {
  Make();
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK(protection().EnableProtection(Enable("VM2")).status());
  service_->Stop();
  service_.reset();
  Serve();  // trackers attached: guest writes reach them
  fabric::WorkloadOptions w;
  w.writes_per_second = 200;
  ASSERT_OK(site_->fabric().StartWorkload(w));
  for (int i = 0; i < 4; ++i) {
    absl::SleepFor(absl::Milliseconds(150));
    for (const char* vm : {"VM1", "VM2"}) {
      ASSERT_OK(protection().ReplicateNow(vm, ReplicateOptions()).status());
    }
  }
  fabric::WorkloadStats ws = site_->fabric().StopWorkload();
  EXPECT_GT(ws.writes, 20u);
  EXPECT_EQ(ws.errors, 0u) << ws.last_error;
  for (const char* vm : {"VM1", "VM2"}) {
    ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem(vm));
    ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                         protection().ListRecoveryPoints(vm));
    ASSERT_FALSE(points.empty());
    ExpectPointHoldsTheGuestWrites(item, points.back());
  }
}

TEST_F(ProtectionTest, RefusalsNameTheRuleAndTheState) {
  Make();
  Serve();
  // VM3's cloud is not paired.
  absl::Status s = protection().EnableProtection(Enable("VM3")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(jobs::RuleOf(s), "VmCloudNotPaired");
  EXPECT_FALSE(jobs::JobIdOf(s).empty());
  EXPECT_EQ(protection().EnableProtection(Enable("no-such-vm")).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  s = protection().EnableProtection(Enable("VM1")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("already protected"));
  EXPECT_EQ(protection().GetItem("VM2").status().code(), absl::StatusCode::kNotFound);
  // A policy asking for Kerberos cannot be honoured on this platform.
  ASSERT_OK_AND_ASSIGN(model::ReplicationPolicy p,
                       site_->sr().policies().FindPolicy("gold-policy"));
  p.set_authentication(model::Kerberos);
  p.set_replication_port(0);
  ASSERT_OK(site_->sr().policies().UpdatePolicy(p).status());
  s = protection().EnableProtection(Enable("VM2")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(), HasSubstr("use certificate authentication"));
}

TEST_F(ProtectionTest, AFailingVmDoesNotStallTheOthersAndItsHealthSaysWhy) {
  Make();
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK(protection().EnableProtection(Enable("VM2")).status());
  ASSERT_OK(site_->fabric().SetPointFails("vm1", true));
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(protection().ReplicateNow("VM1", ReplicateOptions()).ok());
    EXPECT_OK(protection().ReplicateNow("VM2", ReplicateOptions()).status());
  }
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem vm1, protection().GetItem("VM1"));
  EXPECT_EQ(vm1.replication_health(), model::Critical);  // the last 3 failed
  bool found = false;
  for (const auto& e : vm1.health_errors()) {
    if (e.code() == "CyclesFailing") {
      found = true;
      EXPECT_THAT(e.message(), HasSubstr("3 of the last 4 cycles failed"));
    }
  }
  EXPECT_TRUE(found);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem vm2, protection().GetItem("VM2"));
  EXPECT_EQ(vm2.replication_health(), model::Normal);
  // Once the host recovers, VM1 replicates again.
  ASSERT_OK(site_->fabric().SetPointFails("vm1", false));
  EXPECT_OK(protection().ReplicateNow("VM1", ReplicateOptions()).status());
}

TEST_F(ProtectionTest, DiskFullOnTheRecoveryHostFailsTheCycleAndKeepsTheLastWholePoint) {
  Make();
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> before,
                       protection().ListRecoveryPoints("VM1"));
  ASSERT_OK(site_->fabric().FailRecoveryStorage(
      "hv-chi-01", absl::ResourceExhaustedError("disk full on hv-chi-01")));
  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d1", 0, 4096, 7));
  absl::Status s = protection().ReplicateNow("VM1", ReplicateOptions()).status();
  EXPECT_THAT(s.message(), HasSubstr("disk full on hv-chi-01"));
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> after,
                       protection().ListRecoveryPoints("VM1"));
  EXPECT_EQ(after.size(), before.size());
  ASSERT_OK(site_->fabric().FailRecoveryStorage("hv-chi-01", absl::OkStatus()));
  ASSERT_OK_AND_ASSIGN(model::CycleOutcome c, protection().ReplicateNow("VM1", ReplicateOptions()));
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  ASSERT_OK_AND_ASSIGN(after, protection().ListRecoveryPoints("VM1"));
  ExpectPointHoldsTheGuestWrites(item, after.back());
  EXPECT_EQ(c.point_sequence(), after.back().sequence());
}

TEST_F(ProtectionTest, DisableDeletesTheReplicaWhenThePolicyRequiresIt) {
  Make();
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  ASSERT_OK_AND_ASSIGN(model::Job job, protection().DisableProtection(Disable("VM1")));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(protection().GetItem("VM1").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(site_->fabric().GetVm(item.replica_vm_id()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(PathExists(item.disks(0).replica_dir()));
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       site_->sr().repository().List<model::RecoveryPoint>());
  EXPECT_TRUE(points.empty());
  // Protect it again from scratch.
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
}

TEST_F(ProtectionTest, DisableKeepsTheReplicaOtherwiseAndOnboardingReusesIt) {
  TestSiteOptions o;
  o.replica_deletion = model::NotRequired;
  Make(o);
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  ASSERT_OK_AND_ASSIGN(model::Job job, protection().DisableProtection(Disable("VM1")));
  EXPECT_EQ(job.state_description(), "CompletedWithInformation");
  EXPECT_OK(site_->fabric().GetVm(item.replica_vm_id()).status());
  ASSERT_TRUE(PathExists(item.disks(0).replica_path()));

  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 3 << 20, 64 << 10, 31));
  OnboardRequest r;
  r.vm_ref = "VM1";
  r.recovery_host_ref = "hv-chi-01";
  for (const auto& d : item.disks()) r.replica_dirs.push_back(d.replica_dir());
  ASSERT_OK_AND_ASSIGN(job, protection().OnboardProtection(r));
  EXPECT_EQ(job.state(), model::Succeeded);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem again, protection().GetItem("VM1"));
  EXPECT_EQ(again.protection_state(), model::Protected);
  EXPECT_TRUE(again.onboarded());
  // The existing replica was reused: the first cycle sent the change, not
  // the disks (16 MiB each).
  ASSERT_FALSE(again.recent_cycles().empty());
  EXPECT_LT(again.recent_cycles(0).bytes_sent(), 2u << 20);
  EXPECT_EQ(again.disks(0).replication_id(), item.disks(0).replication_id());
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       protection().ListRecoveryPoints("VM1"));
  ExpectPointHoldsTheGuestWrites(again, points.back());
}

TEST_F(ProtectionTest, OnboardingRefusesAReplicaOfAnotherDiskNamingTheDifference) {
  TestSiteOptions o;
  o.replica_deletion = model::NotRequired;
  Make(o);
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  ASSERT_OK(protection().DisableProtection(Disable("VM1")).status());
  OnboardRequest r;
  r.vm_ref = "VM1";
  r.recovery_host_ref = "hv-chi-01";
  // The disks' replicas swapped.
  r.replica_dirs = {item.disks(1).replica_dir(), item.disks(0).replica_dir()};
  absl::Status s = protection().OnboardProtection(r).status();
  EXPECT_EQ(jobs::RuleOf(s), "OnboardSettingsDiffer");
  EXPECT_THAT(s.message(), HasSubstr("the replica is of disk"));
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem failed, protection().GetItem("VM1"));
  EXPECT_EQ(failed.protection_state(), model::EnablingFailed);
  EXPECT_THAT(failed.allowed_operations(), ElementsAre("DisableProtection"));
}

TEST_F(ProtectionTest, OfflineInitialReplicationWaitsForTheImportThenContinuesWithDeltas) {
  TestSiteOptions o;
  o.offline = true;
  Make(o);
  Serve();
  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 1 << 20, 1 << 20, 5));
  ASSERT_OK_AND_ASSIGN(model::Job job, protection().EnableProtection(Enable("VM1")));
  EXPECT_EQ(job.state(), model::Suspended);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_EQ(item.protection_state(), model::InitialReplicationCompletedOnPrimary);
  // Carry the packages over (here: a copy), then resume.
  ASSERT_OK(RemoveTree(site_->import_dir()));
  std::filesystem::copy(site_->export_dir(), site_->import_dir(),
                        std::filesystem::copy_options::recursive);
  ASSERT_OK_AND_ASSIGN(job, site_->sr().jobs().Resume(job.id()));
  EXPECT_EQ(job.state(), model::Succeeded);
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  EXPECT_EQ(item.protection_state(), model::Protected);
  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d1", 2 << 20, 64 << 10, 6));
  ASSERT_OK_AND_ASSIGN(model::CycleOutcome c, protection().ReplicateNow("VM1", ReplicateOptions()));
  EXPECT_LT(c.bytes_sent(), 1u << 20);  // a delta, not a copy
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       protection().ListRecoveryPoints("VM1"));
  ExpectPointHoldsTheGuestWrites(item, points.back());
}

TEST_F(ProtectionTest, ATamperedOfflinePackageIsRefusedNamingTheFile) {
  TestSiteOptions o;
  o.offline = true;
  Make(o);
  Serve();
  ASSERT_OK(site_->fabric().GuestWrite("vm1", "vm1-d0", 1 << 20, 1 << 20, 5));
  ASSERT_OK_AND_ASSIGN(model::Job job, protection().EnableProtection(Enable("VM1")));
  ASSERT_OK(RemoveTree(site_->import_dir()));
  std::filesystem::copy(site_->export_dir(), site_->import_dir(),
                        std::filesystem::copy_options::recursive);
  std::string part;
  for (const auto& e : std::filesystem::recursive_directory_iterator(site_->import_dir())) {
    if (e.path().extension() == ".asrpkg") {
      part = e.path().string();
      break;
    }
  }
  ASSERT_FALSE(part.empty());
  {
    FILE* f = fopen(part.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(fseek(f, 100, SEEK_SET), 0);
    const int c = fgetc(f);
    ASSERT_NE(c, EOF);
    ASSERT_EQ(fseek(f, 100, SEEK_SET), 0);  // a read and a write need a seek between
    ASSERT_EQ(fputc(c ^ 0x5a, f), c ^ 0x5a);
    ASSERT_EQ(fclose(f), 0);
  }
  absl::Status s = site_->sr().jobs().Resume(job.id()).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(std::filesystem::path(part).filename().string()));
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_EQ(item.protection_state(), model::InitialReplicationFailed);
  EXPECT_EQ(item.replication_health(), model::Critical);
}

TEST_F(ProtectionTest, ScheduledInitialReplicationWaitsForItsStartTime) {
  TestSiteOptions o;
  o.start_time_unix = absl::ToUnixSeconds(absl::Now()) + 3600;
  Make(o);
  Serve();
  ASSERT_OK_AND_ASSIGN(model::Job job, protection().EnableProtection(Enable("VM1")));
  EXPECT_EQ(job.state(), model::Suspended);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_EQ(item.protection_state(), model::InitialReplicationInProgress);
  EXPECT_EQ(item.initial_replication_method(), "OnlineScheduled");
  // The site service does not start it early.
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(job, site_->sr().jobs().Get(job.id()));
  EXPECT_EQ(job.state(), model::Suspended);
}

TEST_F(ProtectionTest, NetworkMappingChangesReachTheReplicaVmsNics) {
  Make();
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM2")).status());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM2"));
  ASSERT_OK(site_->sr().mappings().UnmapNetwork("VMNetwork2-NewYork").status());
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine replica, site_->fabric().GetVm(item.replica_vm_id()));
  ASSERT_EQ(replica.network_adapters_size(), 1);
  EXPECT_EQ(replica.network_adapters(0).vm_network_id(), "");
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM2"));
  EXPECT_EQ(item.replica_nics(0).vm_network_id(), "");
}

TEST_F(ProtectionTest, TheScheduleFollowsThePolicyAsItChangesWithAppConsistentPoints) {
  FakeClock clock(absl::Now());
  TestSiteOptions o;
  o.clock = &clock;
  o.recovery_points = 4;
  o.app_consistent_hours = 1;
  Make(o);
  Serve();
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  auto cycles = [&] { return protection().GetItem("VM1")->recent_cycles_size(); };
  const int after_enable = cycles();
  ASSERT_OK(service_->Step());
  EXPECT_EQ(cycles(), after_enable);  // not due yet: the copy frequency is 30 s
  clock.Advance(absl::Seconds(31));
  ASSERT_OK(service_->Step());
  EXPECT_EQ(cycles(), after_enable + 1);
  // The first scheduled point is app-consistent (none yet), the next not.
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       protection().ListRecoveryPoints("VM1"));
  EXPECT_EQ(points.back().recovery_point_type(), model::AppConsistent);
  clock.Advance(absl::Seconds(31));
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(points, protection().ListRecoveryPoints("VM1"));
  EXPECT_EQ(points.back().recovery_point_type(), model::CrashConsistent);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_GT(item.last_app_consistent_time_unix(), 0);

  // A new copy frequency applies from the next cycle; fewer points prune.
  ASSERT_OK_AND_ASSIGN(model::ReplicationPolicy p,
                       site_->sr().policies().FindPolicy("gold-policy"));
  p.set_replication_frequency_in_seconds(900);
  p.set_number_of_recovery_points_to_retain(1);
  p.set_application_consistent_snapshot_frequency_in_hours(0);
  ASSERT_OK(site_->sr().policies().UpdatePolicy(p).status());
  const int before = cycles();
  clock.Advance(absl::Seconds(31));
  ASSERT_OK(service_->Step());
  EXPECT_EQ(cycles(), before);
  clock.Advance(absl::Seconds(900));
  ASSERT_OK(service_->Step());
  EXPECT_EQ(cycles(), before + 1);
  ASSERT_OK_AND_ASSIGN(item, protection().GetItem("VM1"));
  for (const auto& d : item.disks()) {
    ASSERT_OK_AND_ASSIGN(std::vector<replication::RecoveryPoint> kept,
                         replication::ListRecoveryPoints(d.replica_dir()));
    EXPECT_LE(kept.size(), 2u) << d.replica_dir();
  }
  ASSERT_OK_AND_ASSIGN(points, protection().ListRecoveryPoints("VM1"));
  EXPECT_LE(points.size(), 2u);
  ExpectPointHoldsTheGuestWrites(item, points.back());
}

TEST_F(ProtectionTest, TheSiteServiceReplicatesOnThePolicysScheduleAndSurvivesARestart) {
  Make();
  {
    SiteServiceOptions o;
    o.max_concurrent = 2;
    ASSERT_OK_AND_ASSIGN(service_, site_->StartService(o));
  }
  ASSERT_OK(protection().EnableProtection(Enable("VM1")).status());
  ASSERT_OK(protection().EnableProtection(Enable("VM2")).status());
  fabric::WorkloadOptions w;
  w.writes_per_second = 50;
  ASSERT_OK(site_->fabric().StartWorkload(w));
  // 30 s copy frequency: the enable jobs' initial points, then one cycle
  // each when due.
  EXPECT_TRUE(service_->AwaitStats([](const SiteServiceStats& s) { return s.cycles_ok >= 2; },
                                   absl::Seconds(90)));
  service_->Stop();
  service_.reset();
  site_->fabric().StopWorkload();
  ASSERT_OK(site_->Reopen());
  ASSERT_OK_AND_ASSIGN(service_, site_->StartService({}));
  for (const char* vm : {"VM1", "VM2"}) {
    ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem(vm));
    EXPECT_EQ(item.protection_state(), model::Protected);
    EXPECT_LE(item.rpo_seconds(), 60);
    ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                         protection().ListRecoveryPoints(vm));
    ExpectPointHoldsTheGuestWrites(item, points.back());
  }
}

}  // namespace
}  // namespace asr::protection
