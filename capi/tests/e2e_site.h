// capi/tests/e2e_site.h: the two sites the C API end-to-end tests start
// from, made through the C API alone: a simulated fabric (real VHDX disks)
// behind a host callback table, a vault, both VMM servers registered with a
// registration key, inventories synced from the host table, GoldCloud1
// paired with GoldCloud2 under policy "gold" (30 s, 2 points), VMNetwork1
// and GOLD storage mapped, a PKI for loopback TLS, the transport set and the
// site service started (no threads: the test steps it).
//
//   E2eSite s;
//   ASSERT_NO_FATAL_FAILURE(OpenE2eSite("capi-failover", &s));
//   ... asr_protect_enable(&job, s.engine, "{\"vm\":\"VM1\"}", 0) ...
//   CloseE2eSite(&s);
#ifndef CAPI_TESTS_E2E_SITE_H_
#define CAPI_TESTS_E2E_SITE_H_

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "asr.h"
#include "asr/common/test_dir.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/net/pki.h"
#include "capi/tests/sim_host_table.h"
#include "gtest/gtest.h"

namespace capi_test {

struct E2eSite {
  std::string root;
  std::unique_ptr<SimulatedFabric> fabric;
  Host host;                   // the table's context: keep the site where it is
  asr_host_callbacks_t table;  // the host table over `host`
  asr_engine_t* engine = nullptr;
  asr_site_service_t* site = nullptr;
  std::string path(const char* file) const { return root + "/" + file; }
};

// Fills `s` (a fresh one) under the test directory `name`; fails the test
// with the C API's message at the first step that fails.
inline void OpenE2eSite(const char* name, E2eSite* s) {
  s->root = asr::testing::TestDir(name);
  auto path = [&](const char* file) { return s->path(file); };
  asr::fabric::FabricOptions fo;
  fo.disk_size_bytes = 16 << 20;
  absl::StatusOr<std::unique_ptr<SimulatedFabric>> fabric =
      asr::fabric::CreateExampleFabric(path("fabric"), fo);
  ASSERT_TRUE(fabric.ok()) << fabric.status();
  s->fabric = *std::move(fabric);
  s->host.fabric = s->fabric.get();

  asr::net::VaultPkiOptions po;
  po.recovery_extra_names = {"127.0.0.1"};
  ASSERT_TRUE(asr::net::InitVaultPki(path("pki"), po).ok());
  ASSERT_EQ(
      setenv("ASR_TEST_KEK", "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1),
      0);

  ASSERT_EQ(asr_engine_open(&s->engine, path("state").c_str(), nullptr, 0), ASR_OK)
      << asr_last_error_message();
  asr_engine_t* engine = s->engine;
  ASSERT_EQ(asr_engine_initialize(engine, 0), ASR_OK);
  ASSERT_EQ(asr_engine_set_key_file(engine, "ASR_TEST_KEK", ASR_KEY_FROM_ENVIRONMENT), ASR_OK)
      << asr_last_error_message();
  s->table = Table(&s->host);
  ASSERT_EQ(asr_engine_set_host_callbacks(engine, &s->table, 0), ASR_OK);

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
  ASSERT_EQ(
      asr_site_service_start(&s->site, engine,
                             ("{\"threads\":false,\"transport\":" + transport + "}").c_str(), 0),
      ASR_OK)
      << asr_last_error_message();
}

}  // namespace capi_test

#endif  // CAPI_TESTS_E2E_SITE_H_
