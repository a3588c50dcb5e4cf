// Protection end to end through the C API, with the simulated fabric (real
// VHDX disks) behind the host callback table of sim_host_table.h: init,
// vault, servers, inventory from the host, pairing, policy, mappings,
// transport, site service, enable, a workload with steps, the item
// Protected with a point, disable.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr.h"
#include "asr/common/test_dir.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/model/json.h"
#include "asr/net/pki.h"
#include "capi/tests/e2e_site.h"
#include "capi/tests/sim_host_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace capi_test {
namespace {

using ::testing::HasSubstr;

TEST(CApiProtectionEndToEnd, ProtectsAVmOfTheSimulatedFabric) {
  E2eSite s;
  ASSERT_NO_FATAL_FAILURE(OpenE2eSite("capi-protection", &s));
  Host& host = s.host;
  asr_engine_t* engine = s.engine;
  asr_site_service_t* site = s.site;
  auto path = [&](const char* file) { return s.path(file); };

  // A block of known data, for the verification below to damage in the replica.
  constexpr uint64_t kAt = 7 << 20, kBlock = 64 << 10;
  ASSERT_TRUE(host.fabric->GuestWrite("vm1", "vm1-d0", kAt, kBlock, 4242).ok());
  std::string enabled = EXPECT_JOB_OK(asr_protect_enable(&job, engine, "{\"vm\":\"VM1\"}", 0));
  EXPECT_THAT(enabled, HasSubstr("\"scenarioName\":\"EnableProtection\""));
  EXPECT_THAT(enabled, HasSubstr("\"state\":\"Succeeded\""));
  EXPECT_GE(host.get_vm_calls, 1);

  // Guest writes through the host's sink; then cycles.
  asr::fabric::WorkloadOptions w;
  w.writes_per_second = 50;
  w.vms = {"vm1"};
  ASSERT_TRUE(host.fabric->StartWorkload(w).ok());
  absl::Time end = absl::Now() + absl::Seconds(4);
  while (absl::Now() < end) {
    EXPECT_EQ(asr_site_service_step(site, 0), ASR_OK) << asr_last_error_message();
    absl::SleepFor(absl::Milliseconds(500));
  }
  asr::fabric::WorkloadStats ws = host.fabric->StopWorkload();
  EXPECT_GT(ws.writes, 0u);
  {
    // The site service attached VM1's disk's tracker through the table.
    absl::MutexLock l(&host.mu);
    EXPECT_EQ(host.sinks.count({"vm1", "vm1-d0"}), 1u);
  }
  EXPECT_EQ(asr_site_service_step(site, 0), ASR_OK) << asr_last_error_message();

  asr_buffer_t* b = nullptr;
  ASSERT_EQ(asr_site_service_stats(&b, site, 0), ASR_OK);
  std::string stats = Take(b);
  EXPECT_THAT(stats, HasSubstr("\"protectedItems\":1"));
  EXPECT_THAT(stats, HasSubstr("\"cyclesFailed\":\"0\""));
  EXPECT_THAT(stats, HasSubstr("\"endpointAddress\":\"127.0.0.1:"));

  ASSERT_EQ(asr_item_get(&b, engine, "VM1", 0), ASR_OK) << asr_last_error_message();
  std::string item_json = Take(b);
  model::ProtectedItem item;
  ASSERT_TRUE(model::FromJson(item_json, &item).ok()) << item_json;
  EXPECT_EQ(item.protection_state(), model::Protected) << item_json;
  EXPECT_GT(item.last_recovery_point_time_unix(), 0) << item_json;
  EXPECT_GE(item.rpo_seconds(), 0);
  EXPECT_THAT(item.allowed_operations(), ::testing::Contains("DisableProtection"));

  ASSERT_EQ(asr_item_points(&b, engine, "VM1", 0), ASR_OK);
  EXPECT_THAT(Take(b), HasSubstr("\"sequence\":\""));
  ASSERT_EQ(asr_item_list(&b, engine, 0), ASR_OK);
  EXPECT_THAT(Take(b), HasSubstr(item.id()));

  // Verification and resynchronization: a clean verification, then one bit
  // flipped in a replica file is found, shown and repaired with one block.
  ASSERT_EQ(asr_item_verify(&b, engine, "VM1", 0), ASR_OK) << asr_last_error_message();
  EXPECT_THAT(Take(b), HasSubstr("\"resyncRequired\":false"));
  EXPECT_EQ(asr_item_resync(&b, engine, "VM1", 0), ASR_FAILED_PRECONDITION);
  EXPECT_THAT(asr_last_error_message(), HasSubstr("RepairReplication"));
  {
    ASSERT_EQ(asr_item_get(&b, engine, "VM1", 0), ASR_OK);
    ASSERT_TRUE(model::FromJson(Take(b), &item).ok());
    // The block as the replica's latest point holds it (restored), found in
    // the replica's file.
    const std::string restored = path("restored.raw");
    ASSERT_EQ(asr_replica_restore(item.disks(0).replica_dir().c_str(), item.disks(0).last_cycle(),
                                  restored.c_str(), 0),
              ASR_OK)
        << asr_last_error_message();
    std::string data(16 << 10, '\0');
    {
      std::ifstream in(restored, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(kAt + kBlock / 2));
      in.read(data.data(), static_cast<std::streamsize>(data.size()));
      ASSERT_TRUE(in.good());
    }
    ASSERT_NE(data, std::string(data.size(), '\0'));
    const std::string file = item.disks(0).replica_path();
    std::string bytes;
    {
      std::ifstream in(file, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const size_t at = bytes.find(data);
    ASSERT_NE(at, std::string::npos) << "the guest write is not in " << file;
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at + 9));
    f.put(static_cast<char>(bytes[at + 9] ^ 0x20));
    f.close();
    ASSERT_EQ(asr_item_verify(&b, engine, "VM1", 0), ASR_OK) << asr_last_error_message();
    model::ItemVerification v;
    ASSERT_TRUE(model::FromJson(Take(b), &v).ok());
    EXPECT_TRUE(v.resync_required());
    EXPECT_THAT(v.disks(0).replica_mismatch_blocks(), ::testing::ElementsAre(kAt / kBlock));
    ASSERT_EQ(asr_item_get(&b, engine, "VM1", 0), ASR_OK);
    std::string shown = Take(b);
    EXPECT_THAT(shown, HasSubstr("\"resyncState\":\"PreparedForResynchronization\""));
    EXPECT_THAT(shown, HasSubstr("\"code\":\"ResyncRequired\""));
    EXPECT_THAT(shown, HasSubstr("\"RepairReplication\""));
    ASSERT_EQ(asr_item_resync(&b, engine, "VM1", 0), ASR_OK) << asr_last_error_message();
    ASSERT_TRUE(model::FromJson(Take(b), &v).ok());
    EXPECT_TRUE(v.resynchronized());
    // The new point also carries the workload's writes since the last cycle
    // (the byte count of the block alone: asr/protection/item_resync_test.cc).
    EXPECT_GT(v.bytes_sent(), 0u);
    EXPECT_GT(v.point_sequence(), 1u);
    ASSERT_EQ(asr_item_verify(&b, engine, "VM1", 0), ASR_OK) << asr_last_error_message();
    EXPECT_THAT(Take(b), HasSubstr("\"resyncRequired\":false"));
    ASSERT_EQ(asr_item_get(&b, engine, "VM1", 0), ASR_OK);
    shown = Take(b);
    EXPECT_THAT(shown, HasSubstr("\"resynchronizationState\":\"ResynchronizationCompleted\""));
    EXPECT_THAT(shown, HasSubstr("\"resyncRequired\":false"));
  }

  EXPECT_EQ(asr_site_service_stop(site), ASR_OK);
  asr_site_service_close(site);

  std::string disabled = EXPECT_JOB_OK(asr_protect_disable(&job, engine, "VM1", 0));
  EXPECT_THAT(disabled, HasSubstr("\"scenarioName\":\"DisableProtection\""));
  ASSERT_EQ(asr_item_list(&b, engine, 0), ASR_OK);
  EXPECT_EQ(Take(b), "[]");
  {
    absl::MutexLock l(&host.mu);
    EXPECT_TRUE(host.sinks.empty());  // every disk detached
  }
  asr_engine_close(engine);
}

}  // namespace
}  // namespace capi_test
