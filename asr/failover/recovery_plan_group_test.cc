// A plan whose VMs are in a replication group fails them over to the
// group's shared point (UseMultiVmSyncRecoveryPoint): VM1 and VM2 of group
// "app" get their member points of the latest shared point, VM-G001 (in no
// group) its own choice; a restart after a newer shared point keeps the
// points the job chose first, so VMs that already failed over and those
// retried stay at one instant.
#include <map>
#include <memory>
#include <string>

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/fake_item_failover.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/jobs/rule_error.h"
#include "asr/protection/test_site.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestPath;

TEST(RecoveryPlanGroupTest, VmsOfAReplicationGroupFailOverToItsSharedPoint) {
  protection::TestSiteOptions o;
  o.recovery_points = 3;
  o.extra_vms = 1;
  ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Create(TestPath("site"), o));
  protection::SiteServiceOptions so;
  so.threads = false;
  ASSERT_OK_AND_ASSIGN(auto service, site->StartService(so));
  SiteRecovery& sr = site->sr();
  for (const char* vm : {"VM1", "VM2", "VM-G001"}) {
    protection::EnableRequest r;
    r.vm_ref = vm;
    ASSERT_OK_AND_ASSIGN(model::Job job, sr.protection().EnableProtection(r));
    ASSERT_EQ(job.state(), model::Succeeded);
  }
  protection::GroupCreateRequest g;
  g.name = "app";
  g.item_refs = {"VM1", "VM2"};
  ASSERT_OK(sr.groups().Create(g).status());
  ASSERT_OK(sr.groups().ReplicateNow("app", {}).status());
  ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint first, sr.groups().LatestSharedPoint("app"));
  std::map<std::string, std::string> first_points;
  for (const auto& m : first.members()) first_points[m.protected_item_id()] = m.recovery_point_id();
  ASSERT_EQ(first_points.size(), 2u);

  model::RecoveryPlanCreateRequest c;
  c.set_name("app");
  for (const char* vm : {"VM1", "VM2", "VM-G001"}) c.add_items(vm);
  ASSERT_OK(sr.recovery_plans().Create(c).status());
  FakeItemFailover fake;
  sr.recovery_plans().SetItemFailover(&fake);
  fake.FailNext("pi-vm2", "start-target", absl::UnavailableError("hv-chi-01 is busy"));
  model::RecoveryPlanRunRequest r;
  r.set_operation("UnplannedFailover");
  r.set_recovery_tag("Latest");
  r.set_multi_vm_sync_point("UseMultiVmSyncRecoveryPoint");
  absl::StatusOr<model::Job> run = sr.recovery_plans().Run("app", r);
  ASSERT_THAT(run.status(), StatusIs(absl::StatusCode::kUnavailable));
  const std::string id = jobs::JobIdOf(run.status());

  // A newer shared point before the restart: the job keeps its first one.
  ASSERT_OK(sr.groups().ReplicateNow("app", {}).status());
  ASSERT_OK_AND_ASSIGN(model::GroupRecoveryPoint second, sr.groups().LatestSharedPoint("app"));
  ASSERT_NE(second.id(), first.id());
  ASSERT_OK_AND_ASSIGN(model::Job job, sr.jobs().Restart(id));
  EXPECT_EQ(job.state(), model::Succeeded);

  int vm2_calls = 0;
  for (const auto& call : fake.calls()) {
    const std::string& item = call.input.item_ref;
    if (item == "pi-vm-g001") {
      EXPECT_EQ(call.input.recovery_tag, "Latest");
      EXPECT_EQ(call.input.recovery_point_id, "");
    } else {
      EXPECT_EQ(call.input.recovery_tag, "") << item;
      EXPECT_EQ(call.input.recovery_point_id, first_points[item]) << item;
    }
    vm2_calls += item == "pi-vm2";
  }
  EXPECT_EQ(vm2_calls, 2);
  ASSERT_OK_AND_ASSIGN(auto result, jobs::ResultOf<model::RecoveryPlanRunResult>(job));
  for (const auto& outcome : result.items()) {
    auto it = first_points.find(outcome.protected_item_id());
    EXPECT_EQ(outcome.recovery_point_id(), it == first_points.end() ? "" : it->second);
  }
  service->Stop();
}

}  // namespace
}  // namespace asr::failover
