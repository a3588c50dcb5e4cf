// A plan's script actions learn where the plan's VMs run: run by the real
// failover service on the simulated fabric, a script before the group sees
// the source VMs on their primary subnets, a script after it sees the
// replica VMs on the mapped recovery subnets with the addresses the
// recovery side gave them (what a DNS update needs), as plain variables
// and as the JSON context.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/model/json.h"
#include "asr/protection/test_site.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::TestPath;
using ::testing::StartsWith;

// The variables a script wrote with `env` into `path`.
std::map<std::string, std::string> ReadEnv(const std::string& path) {
  std::map<std::string, std::string> env;
  absl::StatusOr<std::string> text = ReadFileToString(path);
  EXPECT_OK(text.status());
  if (!text.ok()) return env;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (absl::StartsWith(kv.first, "ASR_")) env[kv.first] = kv.second;
  }
  return env;
}

model::RecoveryPlanAction EnvScript(const std::string& name, const std::string& script,
                                    model::RecoveryPlanActionLocation where) {
  model::RecoveryPlanAction a;
  a.set_action_name(name);
  a.add_failover_types("PlannedFailover");
  a.add_failover_directions("PrimaryToRecovery");
  a.mutable_script()->set_path(script);
  a.mutable_script()->set_timeout_seconds(30);
  a.mutable_script()->set_fabric_location(where);
  return a;
}

TEST(RecoveryPlanScriptTest, ScriptsReadWhereEveryVmRunsAndItsNewAddress) {
  const std::string root = TestPath("plan-script");
  protection::TestSiteOptions o;
  o.disk_size_bytes = 4 << 20;
  ASSERT_OK_AND_ASSIGN(auto site, protection::TestSite::Create(root, o));
  protection::SiteServiceOptions so;
  so.threads = false;
  ASSERT_OK_AND_ASSIGN(auto service, site->StartService(so));
  for (const char* vm : {"VM1", "VM2"}) {
    protection::EnableRequest r;
    r.vm_ref = vm;
    ASSERT_OK_AND_ASSIGN(model::Job job, site->sr().protection().EnableProtection(r));
    ASSERT_EQ(job.state(), model::Succeeded) << vm;
  }
  // A script that records its environment, once per action.
  const std::string dir = TestPath("scripts");
  ASSERT_OK(MakeDirectories(dir));
  const std::string script = dir + "/record-env.sh";
  ASSERT_OK(WriteFileAtomically(
      script, "#!/bin/sh\nenv > \"$(dirname \"$0\")/env-$ASR_ACTION.txt\"\n", 0755));

  RecoveryPlanService& plans = site->sr().recovery_plans();
  model::RecoveryPlanCreateRequest c;
  c.set_name("web");
  c.add_items("VM1");
  c.add_items("VM2");
  ASSERT_OK(plans.Create(c).status());
  for (const auto& [placement, name, where] :
       std::vector<std::tuple<std::string, std::string, model::RecoveryPlanActionLocation>>{
           {"Start", "before", model::Primary}, {"End", "dns", model::Recovery}}) {
    model::RecoveryPlanEdit e;
    e.set_operation("AddAction");
    e.set_group("Group 1");
    e.set_placement(placement);
    *e.mutable_action() = EnvScript(name, script, where);
    ASSERT_OK(plans.Edit("web", e).status());
  }
  model::RecoveryPlanRunRequest run;
  run.set_operation("PlannedFailover");
  ASSERT_OK_AND_ASSIGN(model::Job job, plans.Run("web", run));
  ASSERT_EQ(job.state(), model::Succeeded);

  // Before the group: the source VMs, on the primary subnets.
  std::map<std::string, std::string> before = ReadEnv(dir + "/env-before.txt");
  EXPECT_EQ(before["ASR_RECOVERY_PLAN"], "web");
  EXPECT_EQ(before["ASR_FAILOVER_TYPE"], "PlannedFailover");
  EXPECT_EQ(before["ASR_FAILOVER_DIRECTION"], "PrimaryToRecovery");
  EXPECT_EQ(before["ASR_GROUP"], "Group 1");
  EXPECT_EQ(before["ASR_VM_COUNT"], "2");
  EXPECT_EQ(before["ASR_VM_1_NAME"], "VM1");
  EXPECT_EQ(before["ASR_VM_1_HOST"], "hv-ny-01");
  EXPECT_EQ(before["ASR_VM_1_ADDRESS"], "10.1.1.10");
  EXPECT_EQ(before["ASR_VM_2_ADDRESS"], "10.2.1.11");

  // After it: the replica VMs, running on the recovery host with addresses
  // of the subnet their networks map to (VMNetwork1-Chicago,
  // 172.16.1.0/24).
  std::map<std::string, std::string> after = ReadEnv(dir + "/env-dns.txt");
  EXPECT_EQ(after["ASR_VM_1_NAME"], "VM1");
  EXPECT_EQ(after["ASR_VM_1_HOST"], "hv-chi-01");
  EXPECT_THAT(after["ASR_VM_1_ADDRESS"], StartsWith("172.16.1."));
  // Both networks map to VMNetwork1-Chicago here: the pool gives VM2
  // another address of the same subnet.
  EXPECT_THAT(after["ASR_VM_2_ADDRESS"], StartsWith("172.16.1."));
  EXPECT_NE(after["ASR_VM_2_ADDRESS"], after["ASR_VM_1_ADDRESS"]);
  ASSERT_OK_AND_ASSIGN(model::ProtectedItem vm1, site->sr().protection().GetItem("VM1"));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine replica, site->fabric().GetVm(vm1.replica_vm_id()));
  ASSERT_EQ(replica.network_adapters_size(), 1);
  EXPECT_EQ(replica.network_adapters(0).ip_address(), after["ASR_VM_1_ADDRESS"]);

  // The JSON context says the same, VM by VM.
  model::RecoveryPlanScriptContext ctx;
  ASSERT_OK(model::FromJson(after["ASR_RECOVERY_PLAN_CONTEXT"], &ctx));
  EXPECT_EQ(ctx.recovery_plan_name(), "web");
  EXPECT_EQ(ctx.placement(), "End");
  EXPECT_EQ(ctx.action_name(), "dns");
  ASSERT_EQ(ctx.vms_size(), 2);
  EXPECT_TRUE(ctx.vms(0).operation_done());
  EXPECT_EQ(ctx.vms(0).vm_id(), vm1.replica_vm_id());
  EXPECT_EQ(ctx.vms(0).power_state(), model::RUNNING);
  ASSERT_EQ(ctx.vms(0).network_adapters_size(), 1);
  EXPECT_EQ(ctx.vms(0).network_adapters(0).vm_network_id(), "vmn1-chi");
  EXPECT_EQ(ctx.vms(0).network_adapters(0).ip_address(), after["ASR_VM_1_ADDRESS"]);
  model::RecoveryPlanScriptContext start;
  ASSERT_OK(model::FromJson(before["ASR_RECOVERY_PLAN_CONTEXT"], &start));
  ASSERT_EQ(start.vms_size(), 2);
  EXPECT_FALSE(start.vms(0).operation_done());
  EXPECT_EQ(start.vms(0).vm_id(), "vm1");
}

}  // namespace
}  // namespace asr::failover
