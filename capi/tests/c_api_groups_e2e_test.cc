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
#include "capi/tests/sim_host_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace capi_test {
namespace {

using ::testing::HasSubstr;

TEST(CApiGroupsEndToEnd, AGroupsSharedPointCoversEveryMemberAtOneInstant) {
  const std::string root = asr::testing::TestDir("capi-groups");
  auto path = [&](const char* name) { return root + "/" + name; };
  asr::fabric::FabricOptions fo;
  fo.disk_size_bytes = 16 << 20;
  absl::StatusOr<std::unique_ptr<SimulatedFabric>> fabric =
      asr::fabric::CreateExampleFabric(path("fabric"), fo);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  Host host;
  host.fabric = fabric->get();

  asr::net::VaultPkiOptions po;
  po.recovery_extra_names = {"127.0.0.1"};
  ASSERT_TRUE(asr::net::InitVaultPki(path("pki"), po).ok());
  ASSERT_EQ(
      setenv("ASR_TEST_KEK", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1),
      0);

  asr_engine_t* engine = nullptr;
  ASSERT_EQ(asr_engine_open(&engine, path("state").c_str(), nullptr, 0), ASR_OK)
      << asr_last_error_message();
  ASSERT_EQ(asr_engine_initialize(engine, 0), ASR_OK);
  ASSERT_EQ(asr_engine_set_key_file(engine, "ASR_TEST_KEK", ASR_KEY_FROM_ENVIRONMENT), ASR_OK)
      << asr_last_error_message();
  asr_host_callbacks_t table = Table(&host);
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &table, 0), ASR_OK);

  EXPECT_JOB_OK(asr_vault_create(&job, engine, "contoso-dr", "eastus", 0));
  asr_buffer_t* key = nullptr;
  ASSERT_EQ(asr_key_generate(&key, engine, 0), ASR_OK);
  std::string credentials = Quoted(Take(key));
  EXPECT_JOB_OK(asr_server_register(
      &job, engine,
      ("{\"credentials\":" + credentials + ",\"friendlyName\":\"vmm-ny\",\"siteId\":\"primary\"}")
          .c_str(),
      0));
  EXPECT_JOB_OK(asr_server_register(
      &job, engine,
      ("{\"credentials\":" + credentials + ",\"friendlyName\":\"vmm-chi\",\"siteId\":\"recovery\"}")
          .c_str(),
      0));
  // The inventories come from the host table.
  EXPECT_JOB_OK(asr_inventory_sync(&job, engine, "vmm-ny", nullptr, nullptr, 0));
  EXPECT_JOB_OK(asr_inventory_sync(&job, engine, "vmm-chi", nullptr, nullptr, 0));
  EXPECT_JOB_OK(asr_inventory_sync(&job, engine, "vmm-ny", nullptr, "GoldCloud1", 0));
  EXPECT_JOB_OK(asr_inventory_sync(&job, engine, "vmm-chi", nullptr, "GoldCloud2", 0));
  EXPECT_JOB_OK(asr_cloud_pair(&job, engine, "GoldCloud1", "GoldCloud2", 0));
  EXPECT_JOB_OK(asr_policy_create(&job, engine,
                                  "{\"name\":\"gold\",\"replicationProvider\":"
                                  "\"HyperVReplica2012R2\",\"replicationFrequencyInSeconds\":30,"
                                  "\"numberOfRecoveryPointsToRetain\":2}",
                                  0));
  EXPECT_JOB_OK(asr_policy_associate(&job, engine, "gold", "GoldCloud1", 0));
  Take([&] {
    asr_buffer_t* b = nullptr;
    EXPECT_EQ(asr_network_mapping_add(
                  &b, engine,
                  "{\"sourceVmNetworkId\":\"vmn1-ny\",\"targetVmNetworkId\":\"vmn1-chi\"}", 0),
              ASR_OK)
        << asr_last_error_message();
    return b;
  }());
  Take([&] {
    asr_buffer_t* b = nullptr;
    EXPECT_EQ(asr_storage_mapping_add(
                  &b, engine,
                  "{\"sourceClassificationId\":\"sc-gold\",\"targetClassificationId\":"
                  "\"sc-gold-t\"}",
                  0),
              ASR_OK)
        << asr_last_error_message();
    return b;
  }());

  std::string transport = "{\"pkiDir\":" + Quoted(path("pki")) + ",\"pointIntervalSeconds\":1}";
  ASSERT_EQ(asr_engine_set_transport(engine, transport.c_str(), 0), ASR_OK)
      << asr_last_error_message();
  asr_site_service_t* site = nullptr;
  ASSERT_EQ(asr_site_service_start(
                &site, engine, ("{\"threads\":false,\"transport\":" + transport + "}").c_str(), 0),
            ASR_OK)
      << asr_last_error_message();

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
