#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/failover/fake_item_failover.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/failover/unavailable_item_failover.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/json.h"
#include "asr/site_recovery/site_recovery.h"
#include "gtest/gtest.h"

namespace asr::failover {
namespace {

using ::asr::testing::StatusIs;
using ::asr::testing::TestPath;
using ::testing::HasSubstr;

// The simulated fabric's host side, recording on which hosts scripts ran.
class RecordingHost : public fabric::HostCallbacks {
 public:
  explicit RecordingHost(fabric::SimulatedFabric* f) : f_(f) {}
  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& s) override {
    return f_->GetInventory(s);
  }
  absl::Status ConfigureHost(const model::HyperVHost& h, const model::ReplicationPolicy& p,
                             fabric::HostRole r) override {
    return f_->ConfigureHost(h, p, r);
  }
  absl::Status TestProxy(const model::VmmServer& s, absl::string_view pw) override {
    return f_->TestProxy(s, pw);
  }
  absl::StatusOr<model::ScriptResult> RunScript(const model::ScriptRequest& r) override {
    {
      absl::MutexLock l(&mu_);
      script_hosts_.push_back(r.host_id());
    }
    return f_->RunScript(r);
  }
  std::vector<std::string> script_hosts() const {
    absl::MutexLock l(&mu_);
    return script_hosts_;
  }

 private:
  fabric::SimulatedFabric* f_;
  mutable absl::Mutex mu_;
  std::vector<std::string> script_hosts_ ABSL_GUARDED_BY(mu_);
};

std::string Item(int i) { return absl::StrCat("pi-vm", i); }
std::string Vm(int i) { return absl::StrCat("VM", i); }

class RecoveryPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TestPath("plans");
    fabric::FabricOptions fo;
    fo.disk_size_bytes = 1 << 20;
    ASSERT_OK_AND_ASSIGN(fabric_, fabric::CreateExampleFabric(JoinPath(root_, "fabric"), fo));
    host_ = std::make_unique<RecordingHost>(fabric_.get());
    SiteRecoveryOptions o;
    o.host = host_.get();
    ASSERT_OK_AND_ASSIGN(sr_, SiteRecovery::Open(JoinPath(root_, "state"), o));
    ASSERT_OK(sr_->Initialize());
    auto& repo = sr_->repository();
    for (auto [cloud, server] :
         std::vector<std::pair<std::string, std::string>>{{"gold1", "vmm-ny"},
                                                          {"gold2", "vmm-chi"},
                                                          {"silver1", "vmm-ny"},
                                                          {"silver2", "vmm-chi"}}) {
      model::Cloud c;
      c.set_id(cloud);
      c.set_name(cloud);
      c.set_server_id(server);
      ASSERT_OK(repo.Put(c));
    }
    model::ReplicationPolicy pol;
    pol.set_id("pol");
    pol.set_name("pol");
    pol.set_replication_frequency_in_seconds(30);
    ASSERT_OK(repo.Put(pol));
    for (auto [id, from, to] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"pair-gold", "gold1", "gold2"}, {"pair-silver", "silver1", "silver2"}}) {
      model::CloudPairing p;
      p.set_id(id);
      p.set_primary_cloud_id(from);
      p.set_recovery_cloud_id(to);
      p.set_policy_id("pol");
      p.set_state(model::PAIRING_STATE_PAIRED);
      ASSERT_OK(repo.Put(p));
    }
    for (int i = 1; i <= 12; ++i) ASSERT_OK(PutItem(Item(i), Vm(i), "pair-gold"));
    ASSERT_OK(PutItem("pi-silver", "SilverVM", "pair-silver"));
    fake_ = std::make_unique<FakeItemFailover>();
    sr_->recovery_plans().SetItemFailover(fake_.get());
  }

  absl::Status PutItem(const std::string& id, const std::string& name, const std::string& pairing,
                       model::ProtectionState state = model::Protected) {
    model::ProtectedItem item;
    item.set_id(id);
    item.set_vm_id(id.substr(3));
    item.set_vm_name(name);
    item.set_pairing_id(pairing);
    item.set_policy_id("pol");
    item.set_protection_state(state);
    item.set_primary_host_id("hv-ny-01");
    item.set_replica_host_id("hv-chi-01");
    return sr_->repository().Put(item);
  }

  RecoveryPlanService& plans() { return sr_->recovery_plans(); }

  // A plan with VM1..VM<n>, spread over `groups` Boot groups in order.
  absl::StatusOr<model::RecoveryPlan> MakePlan(const std::string& name, int n, int groups) {
    model::RecoveryPlanCreateRequest c;
    c.set_name(name);
    c.set_boot_groups(groups);
    for (int i = 1; i <= n; ++i) c.add_items(Vm(i));
    ASR_ASSIGN_OR_RETURN(model::RecoveryPlan plan, plans().Create(c));
    for (int i = 1; i <= n; ++i) {
      int g = (i - 1) * groups / n + 1;
      if (g == 1) continue;
      model::RecoveryPlanEdit e;
      e.set_operation("MoveProtectedItems");
      e.set_to_group(absl::StrCat("Group ", g));
      e.add_items(Vm(i));
      ASR_ASSIGN_OR_RETURN(plan, plans().Edit(name, e));
    }
    return plan;
  }

  std::string Script(const std::string& name, const std::string& body) {
    std::string path = JoinPath(root_, name);
    EXPECT_OK(WriteFileAtomically(path, "#!/bin/sh\n" + body, 0755));
    return path;
  }

  static model::RecoveryPlanAction ScriptAction(const std::string& name, const std::string& path,
                                                model::RecoveryPlanActionLocation where,
                                                std::vector<std::string> types, int timeout = 20) {
    model::RecoveryPlanAction a;
    a.set_action_name(name);
    for (auto& t : types) a.add_failover_types(t);
    a.add_failover_directions("PrimaryToRecovery");
    a.mutable_script()->set_path(path);
    a.mutable_script()->set_timeout_seconds(timeout);
    a.mutable_script()->set_fabric_location(where);
    return a;
  }

  absl::StatusOr<model::RecoveryPlan> AddAction(const std::string& plan, const std::string& group,
                                                const std::string& placement,
                                                const model::RecoveryPlanAction& a) {
    model::RecoveryPlanEdit e;
    e.set_operation("AddAction");
    e.set_group(group);
    e.set_placement(placement);
    *e.mutable_action() = a;
    return plans().Edit(plan, e);
  }

  static model::RecoveryPlanRunRequest Op(const std::string& op) {
    model::RecoveryPlanRunRequest r;
    r.set_operation(op);
    return r;
  }

  static const model::JobTask* FindTask(const model::Job& job, const std::string& name) {
    for (const auto& t : job.tasks()) {
      if (t.name() == name) return &t;
    }
    return nullptr;
  }

  std::string root_;
  std::unique_ptr<fabric::SimulatedFabric> fabric_;
  std::unique_ptr<RecordingHost> host_;
  std::unique_ptr<SiteRecovery> sr_;
  std::unique_ptr<FakeItemFailover> fake_;
};

TEST_F(RecoveryPlanTest, CreateMakesShutdownFailoverAndGroup1) {
  model::RecoveryPlanCreateRequest c;
  c.set_name("web");
  c.add_items("VM1");
  c.add_items("pi-vm2");  // a protected item id works too
  c.add_items("vm3");     // and a VM id
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, plans().Create(c));
  EXPECT_EQ(plan.id(), "rp-web");
  EXPECT_EQ(plan.pairing_id(), "pair-gold");
  EXPECT_EQ(plan.primary_cloud_id(), "gold1");
  EXPECT_EQ(plan.recovery_cloud_id(), "gold2");
  EXPECT_EQ(plan.primary_server_id(), "vmm-ny");
  EXPECT_EQ(plan.recovery_server_id(), "vmm-chi");
  ASSERT_EQ(plan.groups_size(), 3);
  EXPECT_EQ(plan.groups(0).group_type(), model::Shutdown);
  EXPECT_EQ(plan.groups(0).name(), "Shutdown");
  EXPECT_EQ(plan.groups(1).group_type(), model::Failover);
  EXPECT_EQ(plan.groups(2).group_type(), model::Boot);
  EXPECT_EQ(plan.groups(2).name(), "Group 1");
  ASSERT_EQ(plan.groups(2).replication_protected_items_size(), 3);
  EXPECT_EQ(plan.groups(2).replication_protected_items(0).id(), "pi-vm1");
  EXPECT_EQ(plan.groups(2).replication_protected_items(0).vm_name(), "VM1");
  EXPECT_GT(plan.created_time_unix(), 0);
  // Every VM is Protected: the plan allows what they all allow.
  EXPECT_THAT(
      std::vector<std::string>(plan.allowed_operations().begin(), plan.allowed_operations().end()),
      ::testing::ElementsAre("TestFailover", "PlannedFailover", "UnplannedFailover"));

  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan got, plans().Get("web"));
  EXPECT_EQ(got.groups(2).replication_protected_items_size(), 3);
  ASSERT_OK_AND_ASSIGN(got, plans().Get("rp-web"));
  ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPlan> all, plans().List());
  EXPECT_EQ(all.size(), 1u);
  // Stored as the kind "recovery-plan", and fenced from raw writes.
  EXPECT_OK(sr_->GetObjectJson("recovery-plan", "rp-web"));
  EXPECT_THAT(sr_->PutObjectJson("recovery-plan", model::ToJson(got)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("asrctl plan")));

  EXPECT_THAT(plans().Create(c), StatusIs(absl::StatusCode::kAlreadyExists));
  c.set_name("other");
  c.clear_items();
  EXPECT_THAT(plans().Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("at least one VM")));
  c.add_items("VM1");
  c.add_items("NoSuchVM");
  EXPECT_THAT(plans().Create(c), StatusIs(absl::StatusCode::kNotFound,
                                          HasSubstr("enable protection of the VM first")));
  c.set_items(1, "SilverVM");
  EXPECT_THAT(plans().Create(c), StatusIs(absl::StatusCode::kFailedPrecondition,
                                          HasSubstr("one source to one target")));
  c.set_items(1, "pi-vm1");
  EXPECT_THAT(plans().Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("named twice")));
  c.set_name("rp-x");
  EXPECT_THAT(plans().Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  c.set_name("bad\nname");
  EXPECT_THAT(plans().Create(c), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(plans().Get("nope"), StatusIs(absl::StatusCode::kNotFound, HasSubstr("plan list")));
}

TEST_F(RecoveryPlanTest, EditGroupsVmsAndActions) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 3, 1));
  model::RecoveryPlanEdit e;
  e.set_operation("AppendGroup");
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  ASSERT_EQ(plan.groups_size(), 5);
  EXPECT_EQ(plan.groups(4).name(), "Group 3");

  e = {};
  e.set_operation("MoveProtectedItems");
  e.set_to_group("2");
  e.add_items("VM3");
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  EXPECT_EQ(plan.groups(3).replication_protected_items(0).id(), "pi-vm3");
  EXPECT_EQ(plan.groups(2).replication_protected_items_size(), 2);

  // Group 2 (VM3) goes first: the names follow the position.
  e = {};
  e.set_operation("MoveGroup");
  e.set_group("Group 2");
  e.set_position(1);
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  EXPECT_EQ(plan.groups(2).name(), "Group 1");
  EXPECT_EQ(plan.groups(2).replication_protected_items(0).id(), "pi-vm3");
  EXPECT_EQ(plan.groups(3).name(), "Group 2");
  EXPECT_EQ(plan.groups(3).replication_protected_items_size(), 2);
  e.set_position(4);
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Boot groups 1 .. 3")));
  e.set_group("Shutdown");
  e.set_position(1);
  EXPECT_THAT(plans().Edit("app", e), StatusIs(absl::StatusCode::kInvalidArgument));

  e = {};
  e.set_operation("RemoveGroup");
  e.set_group("Group 1");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("holds VMs (VM3)")));
  e.set_group("Failover");
  EXPECT_THAT(plans().Edit("app", e), StatusIs(absl::StatusCode::kInvalidArgument));
  e.set_group("Group 9");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("Shutdown, Failover, Group 1")));
  e.set_group("group 3");  // empty: removed
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  EXPECT_EQ(plan.groups_size(), 4);

  e = {};
  e.set_operation("AddProtectedItems");
  e.set_group("Group 1");
  e.add_items("VM1");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("already in Group 2")));
  e.set_items(0, "VM4");
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  EXPECT_EQ(plan.groups(2).replication_protected_items_size(), 2);
  e.set_group("Failover");
  e.set_items(0, "VM5");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("holds no VMs")));
  e.set_group("Group 1");
  e.set_items(0, "SilverVM");
  EXPECT_THAT(plans().Edit("app", e), StatusIs(absl::StatusCode::kFailedPrecondition));

  e = {};
  e.set_operation("RemoveProtectedItems");
  e.add_items("VM4");
  e.set_group("Group 2");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is in Group 1")));
  e.clear_group();
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  EXPECT_THAT(plans().Edit("app", e), StatusIs(absl::StatusCode::kNotFound));
  e.set_items(0, "VM1");
  e.add_items("VM2");
  e.add_items("VM3");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("delete the plan")));
  // A refused edit changes nothing.
  ASSERT_OK_AND_ASSIGN(plan, plans().Get("app"));
  EXPECT_EQ(plan.groups(2).replication_protected_items_size(), 1);
  EXPECT_EQ(plan.groups(3).replication_protected_items_size(), 2);

  // Actions: validated, named uniquely per group, removable.
  std::string ok = Script("ok.sh", "exit 0\n");
  model::RecoveryPlanAction a = ScriptAction("dns", ok, model::Recovery, {"PlannedFailover"});
  ASSERT_OK_AND_ASSIGN(plan, AddAction("app", "Group 1", "End", a));
  EXPECT_EQ(plan.groups(2).end_group_actions(0).action_name(), "dns");
  EXPECT_THAT(AddAction("app", "Group 1", "Start", a), StatusIs(absl::StatusCode::kAlreadyExists));
  a.set_action_name("x");
  EXPECT_THAT(AddAction("app", "Group 1", "Middle", a),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Start or End")));
  model::RecoveryPlanAction bad = a;
  bad.clear_failover_types();
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("PlannedFailover")));
  bad = a;
  bad.set_failover_types(0, "Reprotect");
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown failover type")));
  bad = a;
  bad.set_failover_directions(0, "Sideways");
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("RecoveryToPrimary")));
  bad = a;
  bad.mutable_script()->clear_path();
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no path")));
  bad = a;
  bad.mutable_script()->clear_fabric_location();
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Primary or Recovery")));
  bad = a;
  bad.mutable_manual()->set_description("");
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no description")));
  bad.clear_manual();
  EXPECT_THAT(AddAction("app", "Shutdown", "Start", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("neither")));
  e = {};
  e.set_operation("RemoveAction");
  e.set_group("Group 1");
  e.set_action_name("nope");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("its actions: dns")));
  e.set_action_name("dns");
  ASSERT_OK_AND_ASSIGN(plan, plans().Edit("app", e));
  EXPECT_EQ(plan.groups(2).end_group_actions_size(), 0);

  e = {};
  e.set_operation("Rename");
  EXPECT_THAT(plans().Edit("app", e),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("AppendGroup")));

  ASSERT_OK(plans().Delete("app"));
  EXPECT_THAT(plans().Get("app"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(plans().Delete("app"), StatusIs(absl::StatusCode::kNotFound));
}

// Groups run in order, the VMs of a group in parallel, one task per VM with
// its steps below it.
TEST_F(RecoveryPlanTest, PlannedFailoverRunsGroupsInOrderAndVmsInParallel) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 12, 3));
  fake_->SetStepDelay(absl::Milliseconds(30));
  ASSERT_OK_AND_ASSIGN(model::Job job, plans().Run("app", Op("PlannedFailover")));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(job.scenario_name(), "RecoveryPlanPlannedFailover");
  EXPECT_EQ(job.target_object_id(), "rp-app");
  EXPECT_EQ(job.target_object_type(), "recovery-plan");

  std::vector<FakeItemFailover::Call> calls = fake_->calls();
  ASSERT_EQ(calls.size(), 12u);
  EXPECT_GE(fake_->max_concurrent(), 3);
  EXPECT_LE(fake_->max_concurrent(), 4);  // 4 VMs per group
  std::map<std::string, int> group_of;
  for (int g = 2; g < plan.groups_size(); ++g) {
    for (const auto& i : plan.groups(g).replication_protected_items()) group_of[i.id()] = g;
  }
  for (const auto& a : calls) {
    EXPECT_EQ(a.operation, "PlannedFailover");
    EXPECT_EQ(a.input.direction, "PrimaryToRecovery");
    for (const auto& b : calls) {
      // Every VM of an earlier group finished before any VM of a later one.
      if (group_of[a.input.item_ref] < group_of[b.input.item_ref]) {
        EXPECT_LE(a.end, b.start);
      }
    }
  }
  for (int i = 1; i <= 12; ++i) {
    FakeVmPower p = fake_->Power(Item(i));
    EXPECT_FALSE(p.source_running) << i;
    EXPECT_TRUE(p.target_running) << i;
    const std::string task = absl::StrCat("g", group_of[Item(i)] + 1, "-vm-", Item(i));
    const model::JobTask* t = FindTask(job, task);
    ASSERT_NE(t, nullptr) << task;
    EXPECT_EQ(t->state(), model::Succeeded);
    EXPECT_NE(FindTask(job, task + "/shutdown-source"), nullptr);
    EXPECT_NE(FindTask(job, task + "/start-target"), nullptr);
  }
  ASSERT_OK_AND_ASSIGN(auto result, jobs::ResultOf<model::RecoveryPlanRunResult>(job));
  EXPECT_EQ(result.succeeded(), 12);
  EXPECT_EQ(result.failed(), 0);
  ASSERT_OK_AND_ASSIGN(plan, plans().Get("app"));
  EXPECT_GT(plan.last_planned_failover_time_unix(), 0);
  EXPECT_EQ(plan.current_scenario().job_id(), job.id());
  EXPECT_EQ(plan.current_scenario_status(), "Succeeded");

  // At most max_parallel at once.
  fake_ = std::make_unique<FakeItemFailover>();
  fake_->SetStepDelay(absl::Milliseconds(10));
  plans().SetItemFailover(fake_.get());
  model::RecoveryPlanRunRequest r = Op("TestFailover");
  r.set_max_parallel(2);
  r.set_network_type("Isolated");
  ASSERT_OK_AND_ASSIGN(job, plans().Run("app", r));
  EXPECT_EQ(fake_->max_concurrent(), 2);
  for (const auto& c : fake_->calls()) EXPECT_EQ(c.input.network_type, "Isolated");
  EXPECT_TRUE(fake_->Power(Item(5)).test_running);
}

TEST_F(RecoveryPlanTest, ScriptActionsFilteredByTypeAndDirectionRunOnTheirSide) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 4, 2));
  const std::string log = JoinPath(root_, "actions.log");
  std::string record = Script("record.sh", "echo \"$*\" >> " + log + "\n");
  ASSERT_OK(AddAction("app", "Shutdown", "Start",
                      ScriptAction("stop-app", record, model::Primary, {"PlannedFailover"}))
                .status());
  ASSERT_OK(AddAction("app", "Group 1", "End",
                      ScriptAction("dns", record, model::Recovery,
                                   {"PlannedFailover", "UnplannedFailover"}))
                .status());
  ASSERT_OK(AddAction("app", "Group 2", "Start",
                      ScriptAction("test-only", record, model::Recovery, {"TestFailover"}))
                .status());
  model::RecoveryPlanAction back =
      ScriptAction("failback-only", record, model::Primary, {"PlannedFailover"});
  back.set_failover_directions(0, "RecoveryToPrimary");
  ASSERT_OK(AddAction("app", "Group 2", "End", back).status());

  ASSERT_OK_AND_ASSIGN(model::Job job, plans().Run("app", Op("PlannedFailover")));
  EXPECT_EQ(job.state(), model::Succeeded);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileToString(log));
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << text;
  EXPECT_EQ(lines[0],
            "--plan app --operation PlannedFailover --direction PrimaryToRecovery --group "
            "Shutdown --action stop-app");
  EXPECT_EQ(lines[1],
            "--plan app --operation PlannedFailover --direction PrimaryToRecovery --group Group 1 "
            "--action dns");
  EXPECT_THAT(host_->script_hosts(), ::testing::ElementsAre("hv-ny-01", "hv-chi-01"));
  const model::JobTask* t = FindTask(job, "g1-start-stop-app");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->friendly_name(), "Shutdown start action 'stop-app' (script on Primary)");
  EXPECT_EQ(FindTask(job, "g4-start-test-only"), nullptr);
  EXPECT_EQ(FindTask(job, "g4-end-failback-only"), nullptr);
  // The end action of Group 1 ran after its VMs and before Group 2's.
  int dns = -1, g1 = -1, g2 = -1;
  for (int i = 0; i < job.tasks_size(); ++i) {
    const std::string& n = job.tasks(i).name();
    if (n == "g3-end-dns") dns = i;
    if (absl::StartsWith(n, "g3-vm-")) g1 = i;
    if (absl::StartsWith(n, "g4-vm-") && g2 < 0) g2 = i;
  }
  EXPECT_LT(g1, dns);
  EXPECT_LT(dns, g2);
}

TEST_F(RecoveryPlanTest, FailingScriptFailsTheJobAtItsTaskWithTheOutput) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 4, 2));
  const std::string flag = JoinPath(root_, "dns-fixed");
  std::string dns = Script("dns.sh", "if [ -f " + flag +
                                         " ]; then exit 0; fi\necho \"DNS server ns1 refused the "
                                         "update\"\nexit 3\n");
  ASSERT_OK(AddAction("app", "Group 1", "End",
                      ScriptAction("dns", dns, model::Recovery, {"UnplannedFailover"}))
                .status());
  absl::StatusOr<model::Job> run = plans().Run("app", Op("UnplannedFailover"));
  ASSERT_THAT(run.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("DNS server ns1 refused the update")));
  EXPECT_THAT(run.status().message(), HasSubstr("exited with code 3"));
  const std::string id = jobs::JobIdOf(run.status());
  ASSERT_OK_AND_ASSIGN(model::Job job, sr_->jobs().Get(id));
  EXPECT_EQ(job.state(), model::Failed);
  EXPECT_TRUE(job.allowed_restart());
  const model::JobTask* t = FindTask(job, "g3-end-dns");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->state(), model::Failed);
  EXPECT_EQ(t->errors(0).error_code(), "ScriptActionFailed");
  EXPECT_EQ(fake_->calls().size(), 2u);  // Group 2 did not start
  ASSERT_OK_AND_ASSIGN(plan, plans().Get("app"));
  EXPECT_EQ(plan.current_scenario_status(), "Failed");

  // Fixed: the restart runs the script and Group 2, not Group 1's VMs again.
  ASSERT_OK(WriteFileAtomically(flag, "1"));
  ASSERT_OK_AND_ASSIGN(job, sr_->jobs().Restart(id));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(fake_->calls().size(), 4u);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(fake_->calls_of(Item(i)), 1);

  // A script that does not finish in time is stopped; the job says so.
  std::string slow = Script("slow.sh", "echo waiting for the load balancer\nsleep 30\n");
  ASSERT_OK(AddAction("app", "Shutdown", "Start",
                      ScriptAction("drain", slow, model::Primary, {"TestFailover"}, 1))
                .status());
  absl::Time start = absl::Now();
  run = plans().Run("app", Op("TestFailover"));
  EXPECT_THAT(run.status(), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                     HasSubstr("waiting for the load balancer")));
  EXPECT_THAT(run.status().message(), HasSubstr("did not finish within 1 s"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(RecoveryPlanTest, ManualActionSuspendsResumeContinuesCancelStops) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 4, 2));
  model::RecoveryPlanAction m;
  m.set_action_name("check");
  m.add_failover_types("PlannedFailover");
  m.add_failover_types("TestFailover");
  m.add_failover_directions("PrimaryToRecovery");
  m.mutable_manual()->set_description("check that the database is up in Chicago");
  ASSERT_OK(AddAction("app", "Group 2", "Start", m).status());

  ASSERT_OK_AND_ASSIGN(model::Job job, plans().Run("app", Op("PlannedFailover")));
  EXPECT_EQ(job.state(), model::Suspended);
  EXPECT_THAT(job.suspend_reason(), HasSubstr("check that the database is up in Chicago"));
  EXPECT_EQ(fake_->calls().size(), 2u);
  // One job of a plan at a time; a plan with a suspended job is not deleted.
  EXPECT_THAT(plans().Run("app", Op("PlannedFailover")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(job.id())));
  EXPECT_THAT(plans().Delete("app"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("cancel it")));
  ASSERT_OK_AND_ASSIGN(plan, plans().Get("app"));
  EXPECT_EQ(plan.current_scenario_status(), "Suspended");

  ASSERT_OK_AND_ASSIGN(job, sr_->jobs().Resume(job.id()));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(fake_->calls().size(), 4u);
  for (int i = 1; i <= 4; ++i) EXPECT_EQ(fake_->calls_of(Item(i)), 1);

  // Cancelled at the manual action: Group 2 never runs.
  ASSERT_OK_AND_ASSIGN(job, plans().Run("app", Op("TestFailover")));
  EXPECT_EQ(job.state(), model::Suspended);
  ASSERT_OK_AND_ASSIGN(job, sr_->jobs().Cancel(job.id()));
  EXPECT_EQ(job.state(), model::Cancelled);
  int tests = 0;
  for (const auto& c : fake_->calls()) tests += c.operation == "TestFailover";
  EXPECT_EQ(tests, 2);
  EXPECT_FALSE(fake_->Power(Item(4)).test_running);
  ASSERT_OK(plans().Delete("app"));
}

// A failed VM is reported without losing the others' progress; restarting
// runs only what did not succeed.
TEST_F(RecoveryPlanTest, OneVmFailingKeepsTheOthersAndRestartRetriesOnlyIt) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 6, 2));
  fake_->FailNext(Item(2), "start-target", absl::UnavailableError("hv-chi-01 did not answer"));
  absl::StatusOr<model::Job> run = plans().Run("app", Op("PlannedFailover"));
  ASSERT_THAT(run.status(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("1 of 3 VMs of Group 1")));
  EXPECT_THAT(run.status().message(), HasSubstr("VM2: hv-chi-01 did not answer"));
  const std::string id = jobs::JobIdOf(run.status());
  ASSERT_OK_AND_ASSIGN(model::Job job, sr_->jobs().Get(id));
  ASSERT_OK_AND_ASSIGN(auto result, jobs::ResultOf<model::RecoveryPlanRunResult>(job));
  EXPECT_EQ(result.succeeded(), 2);
  EXPECT_EQ(result.failed(), 1);
  std::map<std::string, std::string> state;
  for (const auto& o : result.items()) state[o.vm_name()] = o.state();
  EXPECT_EQ(state["VM1"], "Succeeded");
  EXPECT_EQ(state["VM2"], "Failed");
  EXPECT_EQ(state["VM3"], "Succeeded");
  EXPECT_EQ(state["VM4"], "NotStarted");
  EXPECT_EQ(FindTask(job, "g3-vm-pi-vm2/shutdown-source")->state(), model::Succeeded);
  EXPECT_EQ(FindTask(job, "g3-vm-pi-vm2/start-target")->state(), model::Failed);
  EXPECT_TRUE(fake_->Power(Item(1)).target_running);
  EXPECT_FALSE(fake_->Power(Item(2)).target_running);
  EXPECT_FALSE(fake_->Power(Item(2)).source_running);
  EXPECT_EQ(fake_->calls_of(Item(4)), 0);

  // The restart re-runs VM2 (its finished step is skipped) and Group 2.
  ASSERT_OK_AND_ASSIGN(job, sr_->jobs().Restart(id));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(fake_->calls_of(Item(1)), 1);
  EXPECT_EQ(fake_->calls_of(Item(2)), 2);
  EXPECT_EQ(fake_->calls_of(Item(3)), 1);
  for (int i = 4; i <= 6; ++i) EXPECT_EQ(fake_->calls_of(Item(i)), 1);
  for (int i = 1; i <= 6; ++i) EXPECT_TRUE(fake_->Power(Item(i)).target_running) << i;
  EXPECT_FALSE(fake_->EverRanOnBothSides({Item(1), Item(2), Item(3), Item(4), Item(5), Item(6)}));
}

TEST_F(RecoveryPlanTest, RunChecksTheOperationAndEveryVm) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 3, 1));
  EXPECT_THAT(plans().Run("app", Op("Reprotect")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ReverseReplicate")));
  model::RecoveryPlanRunRequest r = Op("PlannedFailover");
  r.set_direction("Up");
  EXPECT_THAT(plans().Run("app", r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.set_direction("");
  r.set_multi_vm_sync_point("Sometimes");
  EXPECT_THAT(plans().Run("app", r), StatusIs(absl::StatusCode::kInvalidArgument));
  // Commit is not allowed for Protected VMs: refused before any job starts.
  EXPECT_THAT(plans().Run("app", Op("Commit")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("VM1 (Protected: allows PlannedFailover")));
  ASSERT_OK(PutItem(Item(2), Vm(2), "pair-gold", model::InitialReplicationInProgress));
  EXPECT_THAT(plans().Run("app", Op("PlannedFailover")),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("1 VM(s): VM2 (InitialReplicationInProgress")));
  EXPECT_EQ(fake_->calls().size(), 0u);
  ASSERT_OK_AND_ASSIGN(std::vector<model::Job> js, sr_->jobs().List());
  for (const auto& j : js) EXPECT_NE(j.target_object_type(), "recovery-plan");
  ASSERT_OK_AND_ASSIGN(plan, plans().Get("app"));
  EXPECT_TRUE(plan.allowed_operations().empty());
}

// A plan over a per-VM failover that is not available: each VM fails
// saying so.
TEST_F(RecoveryPlanTest, WithoutFailoverServiceEveryVmSaysSo) {
  ASSERT_OK_AND_ASSIGN(model::RecoveryPlan plan, MakePlan("app", 2, 1));
  UnavailableItemFailover none;
  plans().SetItemFailover(&none);
  absl::StatusOr<model::Job> run = plans().Run("app", Op("TestFailover"));
  EXPECT_THAT(run.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                     HasSubstr("failover is not available")));
}

}  // namespace
}  // namespace asr::failover
