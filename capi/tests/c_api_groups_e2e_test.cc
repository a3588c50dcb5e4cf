// Replication groups through the C API, with the simulated fabric (real
// VHDX disks) behind a version 4 host callback table (create_group_point):
// VM1 and VM2 protected, a group of both, the site service's step runs the
// group's cycle, the shared point's member points are restored and proven
// against the fabric's write log; the rules and a table without
// create_group_point refuse with clear errors.
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
#include "asr/replication/replica_store.h"
#include "capi/tests/e2e_site.h"
#include "capi/tests/sim_host_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace capi_test {
namespace {

using ::testing::HasSubstr;

TEST(CApiGroupsEndToEnd, AGroupsSharedPointCoversEveryMemberAtOneInstant) {
  E2eSite s;
  ASSERT_NO_FATAL_FAILURE(OpenE2eSite("capi-groups", &s));
  Host& host = s.host;
  asr_host_callbacks_t& table = s.table;
  asr_engine_t* engine = s.engine;
  asr_site_service_t* site = s.site;
  auto path = [&](const char* file) { return s.path(file); };

  for (const char* vm : {"{\"vm\":\"VM1\"}", "{\"vm\":\"VM2\"}"}) {
    std::string enabled = EXPECT_JOB_OK(asr_protect_enable(&job, engine, vm, 0));
    EXPECT_THAT(enabled, HasSubstr("\"state\":\"Succeeded\""));
  }
  asr_buffer_t* b = nullptr;
  // The rules: an unknown VM, a bad request, a VM in two groups.
  EXPECT_EQ(asr_group_create(&b, engine, "{\"name\":\"app\",\"vms\":[\"VM9\"]}", 0), ASR_NOT_FOUND);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("VM9"));
  EXPECT_EQ(asr_group_create(&b, engine, "{\"vms\":[]}", 0), ASR_INVALID_ARGUMENT);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("\"name\" is required"));
  ASSERT_EQ(asr_group_create(&b, engine, "{\"name\":\"app\",\"vms\":[\"VM1\"]}", 0), ASR_OK)
      << asr_last_error_message();
  EXPECT_THAT(Take(b), HasSubstr("\"id\":\"rg-app\""));
  EXPECT_EQ(asr_group_create(&b, engine, "{\"name\":\"db\",\"vms\":[\"VM1\"]}", 0),
            ASR_FAILED_PRECONDITION);
  EXPECT_THAT(asr_last_error_detail(), HasSubstr("VmInAnotherGroup"));
  ASSERT_EQ(asr_group_add(&b, engine, "app", "{\"vms\":[\"VM2\"]}", 0), ASR_OK)
      << asr_last_error_message();
  EXPECT_THAT(Take(b), HasSubstr("\"protectedItemIds\":[\"pi-vm1\",\"pi-vm2\"]"));
  EXPECT_EQ(asr_group_latest_point(&b, engine, "app", 0), ASR_NOT_FOUND);

  // The site service's step runs the group's cycle through create_group_point.
  ASSERT_TRUE(host.fabric->GuestWrite("vm1", "vm1-d0", 1 << 20, 65536, 5).ok());
  ASSERT_TRUE(host.fabric->GuestWrite("vm2", "vm2-d0", 3 << 20, 65536, 6).ok());
  EXPECT_EQ(asr_site_service_step(site, 0), ASR_OK) << asr_last_error_message();
  EXPECT_EQ(host.group_point_calls, 1);
  ASSERT_EQ(asr_group_latest_point(&b, engine, "rg-app", 0), ASR_OK) << asr_last_error_message();
  model::GroupRecoveryPoint shared;
  ASSERT_TRUE(model::FromJson(Take(b), &shared).ok());
  ASSERT_EQ(shared.members_size(), 2);
  for (const auto& m : shared.members()) {
    ASSERT_EQ(asr_item_get(&b, engine, m.protected_item_id().c_str(), 0), ASR_OK);
    model::ProtectedItem item;
    ASSERT_TRUE(model::FromJson(Take(b), &item).ok());
    ASSERT_EQ(asr_object_get(&b, engine, "recovery-point", m.recovery_point_id().c_str(), 0),
              ASR_OK)
        << asr_last_error_message();
    model::RecoveryPoint rp;
    ASSERT_TRUE(model::FromJson(Take(b), &rp).ok());
    EXPECT_EQ(rp.source_time_us(), shared.source_time_us());  // one instant
    for (int k = 0; k < item.disks_size(); ++k) {
      const std::string out = path((m.vm_id() + "-" + std::to_string(k) + ".vhdx").c_str());
      ASSERT_TRUE(asr::replication::RestorePoint(item.disks(k).replica_dir(),
                                                 rp.disks(k).replica_point_id(), out, {})
                      .ok());
      absl::Status v = host.fabric->VerifyDiskAtPoint(item.vm_id(), item.disks(k).disk_id(),
                                                      rp.host_point_id(), out);
      EXPECT_TRUE(v.ok()) << v;
    }
  }
  // What a failover of VM2 uses.
  ASSERT_EQ(asr_group_resolve_point(&b, engine, "VM2", "UseMultiVmSyncRecoveryPoint", 0), ASR_OK)
      << asr_last_error_message();
  EXPECT_THAT(Take(b), HasSubstr(shared.members(1).recovery_point_id()));
  EXPECT_EQ(asr_group_resolve_point(&b, engine, "VM2", "Sometimes", 0), ASR_INVALID_ARGUMENT);
  ASSERT_EQ(asr_group_points(&b, engine, "app", 0), ASR_OK);
  EXPECT_THAT(Take(b), HasSubstr(shared.id()));
  ASSERT_EQ(asr_group_list(&b, engine, 0), ASR_OK);
  EXPECT_THAT(Take(b), HasSubstr("\"latestSharedPointId\":\"" + shared.id() + "\""));

  // A host table of version 3 (no create_group_point): the group refuses.
  asr_host_callbacks_t v3 = Table(&host);
  v3.struct_size = offsetof(asr_host_callbacks_t, create_group_point);
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &v3, 0), ASR_OK) << asr_last_error_message();
  EXPECT_EQ(asr_group_replicate_now(&b, engine, "app", 0), ASR_FAILED_PRECONDITION);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("CreateGroupPoint"));
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &table, 0), ASR_OK);
  ASSERT_EQ(asr_group_replicate_now(&b, engine, "app", ASR_GROUP_APP_CONSISTENT), ASR_OK)
      << asr_last_error_message();
  EXPECT_THAT(Take(b), HasSubstr("\"pointSequence\":\"2\""));
  ASSERT_EQ(asr_group_latest_point(&b, engine, "app", ASR_GROUP_APP_CONSISTENT), ASR_OK);
  EXPECT_THAT(Take(b), HasSubstr("AppConsistent"));

  ASSERT_EQ(asr_group_set_sync_interval(&b, engine, "app", 120, 0), ASR_OK);
  EXPECT_THAT(Take(b), HasSubstr("\"syncIntervalSeconds\":120"));
  ASSERT_EQ(asr_group_remove(&b, engine, "app", "{\"vms\":[\"VM2\"]}", 0), ASR_OK);
  Take(b);
  EXPECT_EQ(asr_group_delete(engine, "app", 0), ASR_OK);
  EXPECT_EQ(asr_group_get(&b, engine, "app", 0), ASR_NOT_FOUND);
  EXPECT_EQ(asr_site_service_stop(site), ASR_OK);
  asr_site_service_close(site);
  asr_engine_close(engine);
}

}  // namespace
}  // namespace capi_test
