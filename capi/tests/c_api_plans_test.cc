// Recovery plans through the C API, with the simulated fabric behind a
// version 4 host callback table: a plan over three protected VMs is
// created, edited (a Boot group appended, a VM moved, a script action on
// the Primary side), listed and run; the script runs through the C table's
// run_script, then the VMs' planned failover (the engine's failover
// service) fails for each VM of Group 1, whose items were written without
// replicas or a transport: the job fails there naming every VM,
// restartable, Group 2 not started; bad input is refused with clear
// errors; the plan is deleted.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "asr.h"
#include "asr/common/test_dir.h"
#include "asr/failover/plan_test_site.h"
#include "asr/model/json.h"
#include "asr/model/recovery_plan.pb.h"
#include "capi/tests/sim_host_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace capi_test {
namespace {

using ::testing::HasSubstr;

std::string Take(asr_buffer_t* b) {
  std::string s = asr_buffer_data(b) == nullptr ? "" : asr_buffer_data(b);
  asr_buffer_dispose(b);
  return s;
}

TEST(CApiPlans, CreateEditRunAndDelete) {
  const std::string root = asr::testing::TestDir("capi-plans");
  absl::StatusOr<std::unique_ptr<asr::failover::PlanTestSite>> site =
      asr::failover::PlanTestSite::Create(root, 3);
  ASSERT_TRUE(site.ok()) << site.status();
  (*site)->Close();
  Host host;
  host.fabric = &(*site)->fabric();

  asr_engine_t* engine = nullptr;
  ASSERT_EQ(asr_engine_open(&engine, (*site)->state_dir().c_str(), nullptr, 0), ASR_OK)
      << asr_last_error_message();
  asr_host_callbacks_t table = Table(&host);
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &table, 0), ASR_OK);

  asr_buffer_t* out = nullptr;
  ASSERT_EQ(asr_plan_create(&out, engine, R"({"name": "web", "items": ["VM1", "VM2", "VM3"]})", 0),
            ASR_OK)
      << asr_last_error_message();
  model::RecoveryPlan plan;
  ASSERT_TRUE(model::FromJson(Take(out), &plan).ok());
  EXPECT_EQ(plan.id(), "rp-web");
  ASSERT_EQ(plan.groups_size(), 3);
  EXPECT_EQ(plan.groups(2).replication_protected_items_size(), 3);

  ASSERT_EQ(asr_plan_edit(&out, engine, "web", R"({"operation": "AppendGroup"})", 0), ASR_OK);
  asr_buffer_dispose(out);
  ASSERT_EQ(asr_plan_edit(&out, engine, "rp-web",
                          R"({"operation": "MoveProtectedItems", "items": ["VM3"],
                              "toGroup": "Group 2"})",
                          0),
            ASR_OK)
      << asr_last_error_message();
  ASSERT_TRUE(model::FromJson(Take(out), &plan).ok());
  EXPECT_EQ(plan.groups(3).replication_protected_items(0).vm_name(), "VM3");

  const std::string log = root + "/script.log";
  const std::string script = root + "/stop-app.sh";
  {
    std::ofstream f(script);
    f << "#!/bin/sh\necho \"$*\" >> " << log << "\n";
  }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  const std::string action =
      R"({"operation": "AddAction", "group": "Shutdown", "placement": "Start", "action": {
            "actionName": "stop-app", "failoverTypes": ["PlannedFailover"],
            "failoverDirections": ["PrimaryToRecovery"],
            "script": {"path": ")" +
      script + R"(", "timeoutSeconds": 30, "fabricLocation": "Primary"}}})";
  ASSERT_EQ(asr_plan_edit(&out, engine, "web", action.c_str(), 0), ASR_OK)
      << asr_last_error_message();
  asr_buffer_dispose(out);

  ASSERT_EQ(asr_plan_list(&out, engine, 0), ASR_OK);
  std::string list = Take(out);
  EXPECT_THAT(list, HasSubstr("\"name\":\"web\""));
  EXPECT_THAT(list, HasSubstr("\"actionName\":\"stop-app\""));
  ASSERT_EQ(asr_plan_get(&out, engine, "web", 0), ASR_OK);
  ASSERT_TRUE(model::FromJson(Take(out), &plan).ok());
  EXPECT_THAT(
      std::vector<std::string>(plan.allowed_operations().begin(), plan.allowed_operations().end()),
      ::testing::Contains("PlannedFailover"));

  // The run: the script action runs on hv-ny-01 through the table, then
  // every VM of Group 1 fails (no transport to send the last changes).
  int rc = asr_plan_run(&out, engine, "web", R"({"operation": "PlannedFailover"})", 0);
  EXPECT_EQ(rc, ASR_FAILED_PRECONDITION);
  EXPECT_EQ(out, nullptr);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("VM1: replication has no transport configured"));
  EXPECT_THAT(asr_last_error_message(), HasSubstr("2 of 2 VMs of Group 1"));
  const std::string detail = asr_last_error_detail();
  EXPECT_THAT(detail, HasSubstr("\"rule\":\"RecoveryPlanVmsFailed\""));
  EXPECT_THAT(detail, HasSubstr("\"jobId\":\"job-"));
  std::ifstream in(log);
  std::stringstream ran;
  ran << in.rdbuf();
  EXPECT_EQ(ran.str(),
            "--plan web --operation PlannedFailover --direction PrimaryToRecovery --group "
            "Shutdown --action stop-app\n");
  ASSERT_EQ(asr_plan_get(&out, engine, "web", 0), ASR_OK);
  ASSERT_TRUE(model::FromJson(Take(out), &plan).ok());
  EXPECT_EQ(plan.current_scenario().scenario_name(), "RecoveryPlanPlannedFailover");
  EXPECT_EQ(plan.current_scenario_status(), "Failed");
  ASSERT_EQ(asr_job_get(&out, engine, plan.current_scenario().job_id().c_str(), 0), ASR_OK);
  model::Job job;
  ASSERT_TRUE(model::FromJson(Take(out), &job).ok());
  EXPECT_EQ(job.state(), model::Failed);
  EXPECT_TRUE(job.allowed_restart());
  model::RecoveryPlanRunResult result;
  ASSERT_TRUE(model::FromJson(job.result_json(), &result).ok());
  ASSERT_EQ(result.items_size(), 3);
  EXPECT_EQ(result.items(0).state(), "Failed");
  EXPECT_EQ(result.items(2).state(), "NotStarted");

  // Bad input.
  EXPECT_EQ(asr_plan_create(&out, engine, nullptr, 0), ASR_INVALID_ARGUMENT);
  EXPECT_EQ(asr_plan_create(&out, engine, "{\"name\": ", 0), ASR_INVALID_ARGUMENT);
  EXPECT_EQ(asr_plan_create(&out, engine, R"({"items": ["VM1"]})", 0), ASR_INVALID_ARGUMENT);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("\"name\" is required"));
  EXPECT_EQ(asr_plan_create(&out, engine, R"({"name": "web", "items": ["VM1"]})", 0),
            ASR_ALREADY_EXISTS);
  EXPECT_EQ(asr_plan_get(&out, engine, "nope", 0), ASR_NOT_FOUND);
  EXPECT_EQ(asr_plan_get(&out, engine, "web", 7), ASR_INVALID_ARGUMENT);
  EXPECT_EQ(asr_plan_get(nullptr, engine, "web", 0), ASR_INVALID_ARGUMENT);
  EXPECT_EQ(asr_plan_edit(&out, engine, "web", R"({"operation": "Shuffle"})", 0),
            ASR_INVALID_ARGUMENT);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("AppendGroup"));
  EXPECT_EQ(asr_plan_edit(&out, engine, "web", R"({"operation": "RemoveGroup", "group": "1"})", 0),
            ASR_FAILED_PRECONDITION);
  EXPECT_THAT(asr_last_error_detail(), HasSubstr("RecoveryPlanGroupNotEmpty"));
  EXPECT_EQ(asr_plan_run(&out, engine, "web", R"({"operation": "Commit"})", 0),
            ASR_FAILED_PRECONDITION);
  EXPECT_THAT(asr_last_error_detail(), HasSubstr("OperationNotAllowedInState"));
  EXPECT_EQ(asr_plan_run(&out, engine, "web", R"({"operation": "Commit", "bogus": 1})", 0),
            ASR_INVALID_ARGUMENT);
  EXPECT_EQ(asr_plan_delete(engine, nullptr, 0), ASR_INVALID_ARGUMENT);

  ASSERT_EQ(asr_plan_delete(engine, "web", 0), ASR_OK) << asr_last_error_message();
  EXPECT_EQ(asr_plan_get(&out, engine, "web", 0), ASR_NOT_FOUND);
  asr_engine_close(engine);
}

}  // namespace
}  // namespace capi_test
