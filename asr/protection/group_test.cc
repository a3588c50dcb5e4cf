// Replication groups end to end on the simulated fabric: a causal workload
// writes records alternately into two VMs (record i+1 only after record i
// was acknowledged), group cycles run while it writes, and every shared
// point, restored from the replicas, holds no record without its
// predecessor. Per-VM points of the same VMs break that (the negative
// control); a member failing mid-cycle leaves the previous shared point.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/fabric/simulated_host.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/causal_workload.h"
#include "asr/protection/group_service.h"
#include "asr/protection/test_site.h"
#include "asr/replication/replica_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::protection {
namespace {

using ::asr::testing::TestPath;
using namespace ::asr::protection::testing;  // NOLINT: the workload and its check
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A host that is the simulated fabric for inventories, host configuration
// and proxies; the tests below change its points.
class FabricHost : public fabric::HostCallbacks {
 public:
  explicit FabricHost(fabric::SimulatedFabric* fab) : fab_(fab) {}
  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& s) override {
    return fab_->GetInventory(s);
  }
  absl::Status ConfigureHost(const model::HyperVHost& h, const model::ReplicationPolicy& p,
                             fabric::HostRole r) override {
    return fab_->ConfigureHost(h, p, r);
  }
  absl::Status TestProxy(const model::VmmServer& s, absl::string_view pw) override {
    return fab_->TestProxy(s, pw);
  }
  absl::Status ReleasePoint(const model::HostPoint& p) override { return fab_->ReleasePoint(p); }

 protected:
  fabric::SimulatedFabric* fab_;
};

// Fails the disk reads of the last VM of every group point while armed (a
// member failing mid-cycle, after the members before it committed).
class FailingGroupHost : public FabricHost {
 public:
  using FabricHost::FabricHost;
  absl::StatusOr<std::vector<model::HostPoint>> CreateGroupPoint(
      const std::vector<std::string>& vm_ids, model::RecoveryPointType type) override {
    ASR_ASSIGN_OR_RETURN(std::vector<model::HostPoint> points,
                         fab_->CreateGroupPoint(vm_ids, type));
    failed_vm = points.back().vm_id();
    points.back().mutable_disks(0)->set_read_path(fab_->root() + "/no-such-disk.vhdx");
    return points;
  }
  std::string failed_vm;
};

// A host that cannot quiesce its guests (QEMU's, when no guest agent
// answers): app-consistent points are refused, crash-consistent ones taken.
class NoAgentHost : public FabricHost {
 public:
  using FabricHost::FabricHost;
  absl::StatusOr<model::HostPoint> CreatePoint(const std::string& vm_id,
                                               model::RecoveryPointType type) override {
    ASR_ASSIGN_OR_RETURN(std::vector<model::HostPoint> p, CreateGroupPoint({vm_id}, type));
    return p[0];
  }
  absl::StatusOr<std::vector<model::HostPoint>> CreateGroupPoint(
      const std::vector<std::string>& vm_ids, model::RecoveryPointType type) override {
    if (type == model::AppConsistent) {
      ++refused;
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", vm_ids.back(),
                       "' cannot be quiesced: no guest agent answers; take a crash-consistent "
                       "point instead"));
    }
    return fab_->CreateGroupPoint(vm_ids, type);
  }
  int refused = 0;
};

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TestSiteOptions o;
    o.recovery_points = 3;
    ASSERT_OK_AND_ASSIGN(
        site_, TestSite::Create(
                   TestPath(::testing::UnitTest::GetInstance()->current_test_info()->name()), o));
    SiteServiceOptions so;
    so.threads = false;
    ASSERT_OK_AND_ASSIGN(service_, site_->StartService(so));
    for (const char* vm : {"VM1", "VM2"}) {
      EnableRequest r;
      r.vm_ref = vm;
      ASSERT_OK_AND_ASSIGN(model::Job job, protection().EnableProtection(r));
      ASSERT_EQ(job.state(), model::Succeeded);
    }
  }
  ProtectionService& protection() { return site_->sr().protection(); }
  GroupService& groups() { return site_->sr().groups(); }

  // Restores disk 0 of VM1 and VM2 at their points `p1`, `p2` and returns
  // which records they hold.
  std::vector<bool> Restore(const model::RecoveryPoint& p1, const model::RecoveryPoint& p2, int n) {
    std::vector<std::string> outs;
    const model::RecoveryPoint* points[] = {&p1, &p2};
    for (int m = 0; m < 2; ++m) {
      absl::StatusOr<model::ProtectedItem> item =
          protection().GetItem(points[m]->protected_item_id());
      EXPECT_OK(item.status());
      if (!item.ok()) return {};
      const std::string out = TestPath(absl::StrCat("restored-", points[m]->id(), ".vhdx"));
      replication::RestoreOptions ro;
      ro.overwrite = true;
      EXPECT_OK(replication::RestorePoint(item->disks(0).replica_dir(),
                                          points[m]->disks(0).replica_point_id(), out, ro));
      // Every disk of the member also holds exactly the guest's writes
      // up to its point.
      for (int k = 0; k < item->disks_size(); ++k) {
        const std::string all =
            TestPath(absl::StrCat("restored-", points[m]->id(), "-", k, ".vhdx"));
        EXPECT_OK(replication::RestorePoint(item->disks(k).replica_dir(),
                                            points[m]->disks(k).replica_point_id(), all, ro));
        EXPECT_OK(site_->fabric().VerifyDiskAtPoint(item->vm_id(), item->disks(k).disk_id(),
                                                    points[m]->host_point_id(), all));
      }
      outs.push_back(out);
    }
    absl::StatusOr<std::vector<bool>> present = PresentRecords(outs[0], outs[1], n);
    EXPECT_OK(present.status());
    return present.ok() ? *present : std::vector<bool>{};
  }

  // The members' points of a shared point, VM1's first.
  std::pair<model::RecoveryPoint, model::RecoveryPoint> MemberPoints(
      const model::GroupRecoveryPoint& shared) {
    model::RecoveryPoint p[2];
    EXPECT_EQ(shared.members_size(), 2);
    for (const auto& m : shared.members()) {
      absl::StatusOr<model::RecoveryPoint> rp =
          site_->sr().repository().Get<model::RecoveryPoint>(m.recovery_point_id());
      EXPECT_OK(rp.status());
      if (!rp.ok()) continue;
      // One instant for every member.
      EXPECT_EQ(rp->source_time_us(), shared.source_time_us());
      p[m.vm_id() == "vm1" ? 0 : 1] = *rp;
    }
    return {p[0], p[1]};
  }

  std::unique_ptr<TestSite> site_;
  std::unique_ptr<SiteService> service_;
};

TEST_F(GroupTest, EverySharedPointHoldsNoRecordWithoutItsPredecessor) {
  GroupCreateRequest req;
  req.name = "app";
  req.item_refs = {"VM1", "VM2"};
  ASSERT_OK_AND_ASSIGN(model::ReplicationGroup group, groups().Create(req));
  EXPECT_EQ(group.id(), "rg-app");
  EXPECT_THAT(group.protected_item_ids(), ElementsAre("pi-vm1", "pi-vm2"));

  CausalWorkload w(&site_->fabric());
  w.Start();
  int checked = 0, last_present = -1, grew = 0;
  for (int cycle = 0; cycle < 6; ++cycle) {
    w.AwaitMore(5);
    ASSERT_OK_AND_ASSIGN(model::GroupCycleOutcome c, groups().ReplicateNow("app", {}));
    EXPECT_TRUE(c.ok());
    EXPECT_EQ(c.point_sequence(), static_cast<uint64_t>(cycle + 1));
    EXPECT_EQ(c.committed_item_ids_size(), 2);
    ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint shared, groups().LatestSharedPoint("app"));
    EXPECT_EQ(shared.sequence(), c.point_sequence());
    EXPECT_EQ(shared.source_time_us(), c.source_time_us());
    // Check it now, while the workload goes on: every record written so far
    // and a margin past it.
    auto [p1, p2] = MemberPoints(shared);
    const std::vector<bool> present = Restore(p1, p2, w.written() + 8);
    EXPECT_EQ(CausalViolation(present), "") << "shared point " << shared.id();
    const int n = CountPresent(present);
    if (n > last_present) ++grew;
    last_present = n;
    ++checked;
  }
  w.Stop();
  ASSERT_OK(w.error());
  EXPECT_EQ(checked, 6);
  EXPECT_GE(grew, 4);           // the points moved on with the workload
  EXPECT_GT(last_present, 10);  // and hold records of both VMs
  // The points still kept are all shared instants of both VMs.
  ASSERT_OK_AND_ASSIGN(std::vector<model::GroupRecoveryPoint> kept,
                       groups().ListSharedPoints("rg-app"));
  ASSERT_GE(kept.size(), 2u);
  for (const auto& shared : kept) {
    auto [p1, p2] = MemberPoints(shared);
    EXPECT_EQ(CausalViolation(Restore(p1, p2, w.written() + 8)), "") << shared.id();
  }
  // What failover will use.
  ASSERT_OK_AND_ASSIGN(
      model::RecoveryPoint rp,
      groups().ResolveRecoveryPoint("VM2", MultiVmSyncPointOption::kUseMultiVmSyncRecoveryPoint));
  EXPECT_EQ(rp.id(), kept.back().members(1).recovery_point_id());
  ASSERT_OK_AND_ASSIGN(auto of, groups().LatestSharedPointsOf({"VM1", "VM2"}));
  ASSERT_EQ(of.size(), 1u);
  EXPECT_EQ(of["rg-app"].id(), kept.back().id());
}

TEST_F(GroupTest, PerVmPointsCanBreakTheOrderAndTheCheckSeesIt) {
  CausalWorkload w(&site_->fabric());
  w.Start();
  w.AwaitMore(4);
  ASSERT_OK_AND_ASSIGN(model::CycleOutcome c1, protection().ReplicateNow("VM1", {}));
  // Records go on to both VMs between the two VMs' own points.
  w.AwaitMore(6);
  ASSERT_OK_AND_ASSIGN(model::CycleOutcome c2, protection().ReplicateNow("VM2", {}));
  w.Stop();
  ASSERT_OK(w.error());
  ASSERT_OK_AND_ASSIGN(model::RecoveryPoint p1,
                       site_->sr().repository().Get<model::RecoveryPoint>(
                           RecoveryPointIdOf("pi-vm1", c1.point_sequence())));
  ASSERT_OK_AND_ASSIGN(model::RecoveryPoint p2,
                       site_->sr().repository().Get<model::RecoveryPoint>(
                           RecoveryPointIdOf("pi-vm2", c2.point_sequence())));
  EXPECT_LT(p1.source_time_us(), p2.source_time_us());
  const std::vector<bool> present = Restore(p1, p2, w.written() + 8);
  // VM2's later point holds odd records whose even predecessors were
  // written to VM1 after VM1's point: the check reports it.
  EXPECT_THAT(CausalViolation(present), HasSubstr("(vm2) is present but record"));
  // And the check itself: a hole injected into a consistent prefix.
  std::vector<bool> injected = {true, true, false, true};
  EXPECT_THAT(CausalViolation(injected), HasSubstr("record 3"));
}

TEST_F(GroupTest, AMemberFailingMidCycleLeavesThePreviousSharedPoint) {
  GroupCreateRequest req;
  req.name = "app";
  req.item_refs = {"VM1", "VM2"};
  ASSERT_OK(groups().Create(req).status());
  CausalWorkload w(&site_->fabric());
  w.Start();
  w.AwaitMore(5);
  ASSERT_OK_AND_ASSIGN(model::GroupCycleOutcome first, groups().ReplicateNow("app", {}));
  ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint before, groups().LatestSharedPoint("app"));

  // The second member's disk cannot be read: the first member commits the
  // new instant, the second does not.
  FailingGroupHost failing(&site_->fabric());
  protection().SetHost(&failing);
  w.AwaitMore(5);
  absl::StatusOr<model::GroupCycleOutcome> broken = groups().ReplicateNow("app", {});
  protection().SetHost(&site_->fabric());
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(std::string(broken.status().message()), HasSubstr("member '"));
  ASSERT_OK_AND_ASSIGN(model::ReplicationGroup group, groups().Get("app"));
  const model::GroupCycleOutcome& recorded = group.recent_cycles(group.recent_cycles_size() - 1);
  EXPECT_FALSE(recorded.ok());
  EXPECT_EQ(recorded.committed_item_ids_size(), 1);  // one member committed the instant
  EXPECT_EQ(recorded.point_sequence(), 0u);
  EXPECT_EQ(group.latest_shared_point_id(), before.id());
  // No new shared point: the latest is still the previous one, and it is
  // still whole and causally consistent on both members.
  ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint latest, groups().LatestSharedPoint("app"));
  EXPECT_EQ(latest.id(), before.id());
  {
    auto [p1, p2] = MemberPoints(latest);
    EXPECT_EQ(CausalViolation(Restore(p1, p2, w.written() + 8)), "");
  }
  // The next cycle completes a newer shared point.
  w.AwaitMore(5);
  ASSERT_OK_AND_ASSIGN(model::GroupCycleOutcome next, groups().ReplicateNow("app", {}));
  EXPECT_EQ(next.point_sequence(), first.point_sequence() + 1);
  w.Stop();
  ASSERT_OK_AND_ASSIGN(latest, groups().LatestSharedPoint("app"));
  EXPECT_GT(latest.source_time_us(), before.source_time_us());
  auto [p1, p2] = MemberPoints(latest);
  EXPECT_EQ(CausalViolation(Restore(p1, p2, w.written() + 8)), "");
}

TEST_F(GroupTest, TheSiteServiceCyclesTheGroupAndNotItsMembersAlone) {
  GroupCreateRequest req;
  req.name = "app";
  req.item_refs = {"VM1"};
  ASSERT_OK(groups().Create(req).status());
  ASSERT_OK(groups().AddMembers("rg-app", {"VM2"}).status());
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem vm1, protection().GetItem("VM1"));
  const int cycles_before = vm1.recent_cycles_size();
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(model::ReplicationGroup group, groups().Get("app"));
  ASSERT_EQ(group.recent_cycles_size(), 1);
  EXPECT_TRUE(group.recent_cycles(0).ok()) << group.recent_cycles(0).error();
  ASSERT_OK_AND_ASSIGN(vm1, protection().GetItem("VM1"));
  // One cycle of VM1: the group's (not also one of its own).
  EXPECT_EQ(vm1.recent_cycles_size(), cycles_before + 1);
  ASSERT_OK(groups().LatestSharedPoint("app").status());
  // Not due again before the sync interval.
  ASSERT_OK(service_->Step());
  ASSERT_OK_AND_ASSIGN(group, groups().Get("app"));
  EXPECT_EQ(group.recent_cycles_size(), 1);
}

TEST_F(GroupTest, MembershipRulesAreCheckedWithClearErrors) {
  GroupCreateRequest req;
  req.name = "app";
  req.item_refs = {"VM1"};
  ASSERT_OK(groups().Create(req).status());
  // Unknown or unprotected VMs.
  absl::StatusOr<model::ReplicationGroup> r = groups().AddMembers("app", {"VM3"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no protected item 'VM3'"));
  // A VM is in at most one group.
  GroupCreateRequest other;
  other.name = "db";
  other.item_refs = {"VM1"};
  r = groups().Create(other);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(jobs::RuleOf(r.status()), "VmInAnotherGroup");
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("group 'app'"));
  EXPECT_EQ(groups().Get("db").status().code(), absl::StatusCode::kNotFound);
  // Twice in the same group; a duplicate name; a bad interval.
  EXPECT_EQ(groups().AddMembers("app", {"VM1"}).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(groups().Create(req).status().code(), absl::StatusCode::kAlreadyExists);
  other.item_refs = {};
  other.sync_interval_seconds = 5;
  EXPECT_EQ(groups().Create(other).status().code(), absl::StatusCode::kInvalidArgument);
  // No shared point yet.
  EXPECT_THAT(std::string(groups().LatestSharedPoint("app").status().message()),
              HasSubstr("no shared point"));
  // Removing: a non-member is NotFound; then the group is empty and will not cycle.
  EXPECT_EQ(groups().RemoveMembers("app", {"VM2"}).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(model::ReplicationGroup g, groups().RemoveMembers("app", {"VM1"}));
  EXPECT_EQ(g.protected_item_ids_size(), 0);
  EXPECT_EQ(g.pairing_id(), "");
  EXPECT_THAT(std::string(groups().ReplicateNow("app", {}).status().message()),
              HasSubstr("no members"));
  // A host without group points refuses, naming the call.
  ASSERT_OK(groups().AddMembers("app", {"VM1", "VM2"}).status());
  fabric::SimulatedHost plain;
  protection().SetHost(&plain);
  absl::Status refused = groups().ReplicateNow("app", {}).status();
  protection().SetHost(&site_->fabric());
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("CreateGroupPoint"));
  ASSERT_OK(groups().Delete("app"));
  EXPECT_EQ(groups().Get("app").status().code(), absl::StatusCode::kNotFound);
}

// A due app-consistent point that the host cannot take (no guest agent)
// does not stop protection: the cycle's point is crash-consistent, says so,
// and the outcome names the host's reason; the same for a group's shared
// point. A host that can quiesce gives app-consistent points again.
TEST_F(GroupTest, AnAppConsistentPointTheHostCannotTakeFallsBackToCrashConsistentAndSaysWhy) {
  NoAgentHost no_agent(&site_->fabric());
  protection().SetHost(&no_agent);
  ReplicateOptions app;
  app.app_consistent = true;
  ASSERT_OK_AND_ASSIGN(model::CycleOutcome c, protection().ReplicateNow("VM1", app));
  EXPECT_TRUE(c.ok());
  EXPECT_THAT(c.app_consistent_fallback(), HasSubstr("no guest agent answers"));
  EXPECT_EQ(no_agent.refused, 1);
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                       protection().ListRecoveryPoints("VM1"));
  EXPECT_EQ(points.back().recovery_point_type(), model::CrashConsistent);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem item, protection().GetItem("VM1"));
  EXPECT_EQ(item.last_app_consistent_time_unix(), 0);  // still due
  EXPECT_EQ(item.recent_cycles(item.recent_cycles_size() - 1).app_consistent_fallback(),
            c.app_consistent_fallback());

  GroupCreateRequest req;
  req.name = "app";
  req.item_refs = {"VM1", "VM2"};
  ASSERT_OK(groups().Create(req).status());
  GroupReplicateOptions gapp;
  gapp.app_consistent = true;
  ASSERT_OK_AND_ASSIGN(model::GroupCycleOutcome g, groups().ReplicateNow("app", gapp));
  EXPECT_TRUE(g.ok());
  EXPECT_THAT(g.app_consistent_fallback(), HasSubstr("cannot be quiesced"));
  ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint shared, groups().LatestSharedPoint("app"));
  EXPECT_EQ(shared.recovery_point_type(), model::CrashConsistent);
  auto [p1, p2] = MemberPoints(shared);
  EXPECT_EQ(p1.recovery_point_type(), model::CrashConsistent);
  EXPECT_EQ(p2.recovery_point_type(), model::CrashConsistent);
  EXPECT_FALSE(groups().LatestSharedPoint("app", /*app_consistent_only=*/true).ok());

  // A host that quiesces: app-consistent, no fallback.
  protection().SetHost(&site_->fabric());
  ASSERT_OK_AND_ASSIGN(g, groups().ReplicateNow("app", gapp));
  EXPECT_TRUE(g.app_consistent_fallback().empty()) << g.app_consistent_fallback();
  ASSERT_OK_AND_ASSIGN(shared, groups().LatestSharedPoint("app"));
  EXPECT_EQ(shared.recovery_point_type(), model::AppConsistent);
  ASSERT_OK_AND_ASSIGN(c, protection().ReplicateNow("VM1", app));
  EXPECT_TRUE(c.app_consistent_fallback().empty());
  ASSERT_OK_AND_ASSIGN(points, protection().ListRecoveryPoints("VM1"));
  EXPECT_EQ(points.back().recovery_point_type(), model::AppConsistent);
}

}  // namespace
}  // namespace asr::protection
