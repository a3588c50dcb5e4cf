// Failover through the C API, with the simulated fabric (real VHDX disks)
// behind a version 5 host callback table: a test failover on an isolated
// network (create_isolated_network / delete_isolated_network) and its
// cleanup, the same refused by a version 4 table and cleaned up, then a
// planned failover proven against the fabric's write log and its commit.
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr.h"
#include "asr/common/test_dir.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/model/groups.pb.h"
#include "asr/model/json.h"
#include "asr/net/pki.h"
#include "capi/tests/e2e_site.h"
#include "capi/tests/sim_host_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace capi_test {
namespace {

using ::testing::HasSubstr;

model::ProtectedItem GetItem(asr_engine_t* engine) {
  asr_buffer_t* b = nullptr;
  EXPECT_EQ(asr_item_get(&b, engine, "VM1", 0), ASR_OK) << asr_last_error_message();
  model::ProtectedItem item;
  EXPECT_TRUE(model::FromJson(Take(b), &item).ok());
  return item;
}

TEST(CApiFailoverEndToEnd, TestFailoverOnAnIsolatedNetworkThenPlannedFailoverAndCommit) {
  E2eSite s;
  ASSERT_NO_FATAL_FAILURE(OpenE2eSite("capi-failover", &s));
  Host& host = s.host;
  asr_host_callbacks_t& table = s.table;
  asr_engine_t* engine = s.engine;
  asr_site_service_t* site = s.site;

  std::string enabled = EXPECT_JOB_OK(asr_protect_enable(&job, engine, "{\"vm\":\"VM1\"}", 0));
  EXPECT_THAT(enabled, HasSubstr("\"state\":\"Succeeded\""));

  // Test failover on an isolated network the host creates.
  const char* test_in = "{\"itemId\":\"VM1\",\"networkType\":\"Isolated\"}";
  std::string tested = EXPECT_JOB_OK(asr_failover_start(&job, engine, "TestFailover", test_in, 0));
  EXPECT_THAT(tested, HasSubstr("\"scenarioName\":\"TestFailover\""));
  model::ProtectedItem item = GetItem(engine);
  EXPECT_EQ(item.test_failover_state(), "TestFailoverCompleted");
  absl::StatusOr<model::VirtualMachine> test_vm = host.fabric->GetVm(item.test_vm_id());
  ASSERT_TRUE(test_vm.ok()) << test_vm.status();
  EXPECT_EQ(test_vm->power_state(), model::RUNNING);
  ASSERT_EQ(test_vm->network_adapters_size(), 1);
  EXPECT_EQ(test_vm->network_adapters(0).vm_network_id(), "isolated-test-vm1");
  EXPECT_JOB_OK(asr_failover_start(&job, engine, "TestFailoverCleanup", "{\"itemId\":\"VM1\"}", 0));
  EXPECT_EQ(GetItem(engine).test_failover_state(), "None");
  EXPECT_FALSE(host.fabric->GetVm(item.test_vm_id()).ok());

  // A version 4 table cannot make the network: the job fails naming the
  // call, and the test's cleanup still works.
  asr_host_callbacks_t v4 = Table(&host);
  v4.struct_size = offsetof(asr_host_callbacks_t, create_isolated_network);
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &v4, 0), ASR_OK) << asr_last_error_message();
  asr_buffer_t* b = nullptr;
  EXPECT_EQ(asr_failover_start(&b, engine, "TestFailover", test_in, 0), ASR_FAILED_PRECONDITION);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("CreateIsolatedNetwork"));
  EXPECT_EQ(GetItem(engine).test_failover_state(), "TestFailoverFailed");
  EXPECT_JOB_OK(asr_failover_start(&job, engine, "TestFailoverCleanup", "{\"itemId\":\"VM1\"}", 0));
  EXPECT_EQ(GetItem(engine).test_failover_state(), "None");
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &table, 0), ASR_OK);

  // Planned failover: every acknowledged write is in the replica VM's disks.
  ASSERT_TRUE(host.fabric->GuestWrite("vm1", "vm1-d0", 1 << 20, 65536, 5).ok());
  std::string planned =
      EXPECT_JOB_OK(asr_failover_start(&job, engine, "PlannedFailover", "{\"itemId\":\"VM1\"}", 0));
  EXPECT_THAT(planned, HasSubstr("\"state\":\"Succeeded\""));
  item = GetItem(engine);
  EXPECT_EQ(model::ProtectionState_Name(item.protection_state()), "PlannedFailoverCompleted");
  for (const auto& d : item.disks()) {
    absl::Status v = host.fabric->VerifyDiskLatest("vm1", d.disk_id(), d.replica_path());
    EXPECT_TRUE(v.ok()) << v;
  }
  EXPECT_JOB_OK(asr_failover_start(&job, engine, "Commit", "{\"itemId\":\"VM1\"}", 0));
  EXPECT_EQ(model::ProtectionState_Name(GetItem(engine).protection_state()), "Committed");

  EXPECT_EQ(asr_site_service_stop(site), ASR_OK);
  asr_site_service_close(site);
  asr_engine_close(engine);
}

}  // namespace
}  // namespace capi_test
