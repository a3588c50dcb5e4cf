// The whole control-plane scenario of the documents (New York -> Chicago),
// with the state closed and reopened between every two operations: nothing
// may live only in memory.
#include <functional>

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/simulated_host.h"
#include "asr/jobs/test_util.h"
#include "asr/site_recovery/site_recovery.h"
#include "gtest/gtest.h"

namespace asr {
namespace {

using ::asr::testing::TestPath;

class Session {
 public:
  Session(const std::string& dir, const Clock* clock, fabric::HostCallbacks* host) {
    SiteRecoveryOptions options;
    options.clock = clock;
    options.host = host;
    // The key-encryption key in a file beside the state directory.
    options.key_provider = std::make_shared<fabric::KeyFileProvider>(dir + ".kek");
    sr_ = std::move(*SiteRecovery::Open(dir, options));
  }
  SiteRecovery* operator->() { return sr_.get(); }

 private:
  std::unique_ptr<SiteRecovery> sr_;
};

TEST(Scenario, EveryStepSurvivesARestart) {
  std::string dir = TestPath("scenario");
  ASSERT_OK(fabric::CreateKeyFile(dir + ".kek"));
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  fabric::SimulatedHost host;
  host.SetInventory("vmm-ny", fabric::NewYorkInventory());
  host.SetInventory("vmm-chi", fabric::ChicagoInventory());
  std::string key;
  // Each step runs in a fresh session over the same state directory.
  std::vector<std::pair<std::string, std::function<absl::Status(Session&)>>> steps = {
      {"create vault",
       [&](Session& s) { return s->fabric().CreateVault("contoso", "westeurope").status(); }},
      {"generate key",
       [&](Session& s) -> absl::Status {
         ASR_ASSIGN_OR_RETURN(key, s->fabric().GenerateRegistrationKey());
         return absl::OkStatus();
       }},
      {"register New York",
       [&](Session& s) {
         model::ServerRegistrationRequest r;
         r.set_credentials(key);
         r.set_friendly_name("vmm-ny");
         r.set_proxy_address("proxy.contoso.com");
         r.set_proxy_port(3128);
         r.set_proxy_password("pw");
         return s->fabric().RegisterServer(r).status();
       }},
      {"register Chicago",
       [&](Session& s) {
         model::ServerRegistrationRequest r;
         r.set_credentials(key);
         r.set_friendly_name("vmm-chi");
         r.set_site_id("recovery");
         return s->fabric().RegisterServer(r).status();
       }},
      {"sync GoldCloud1",
       [&](Session& s) {
         return s->fabric().SyncInventory("vmm-ny", nullptr, "GoldCloud1").status();
       }},
      {"sync GoldCloud2",
       [&](Session& s) {
         return s->fabric().SyncInventory("vmm-chi", nullptr, "GoldCloud2").status();
       }},
      {"pair gold",
       [&](Session& s) { return s->fabric().PairClouds("GoldCloud1", "GoldCloud2").status(); }},
      {"create policy",
       [&](Session& s) {
         model::ReplicationPolicy p;
         p.set_name("gold-policy");
         p.set_replication_provider(model::HyperVReplica2012R2);
         p.set_number_of_recovery_points_to_retain(4);
         return s->policies().CreatePolicy(p).status();
       }},
      {"associate",
       [&](Session& s) {
         return s->policies().AssociatePolicy("gold-policy", "GoldCloud1").status();
       }},
      {"update policy",
       [&](Session& s) -> absl::Status {
         ASR_ASSIGN_OR_RETURN(model::ReplicationPolicy p, s->policies().FindPolicy("gold-policy"));
         p.set_compression_enabled(true);
         return s->policies().UpdatePolicy(p).status();
       }},
  };
  for (auto& [name, step] : steps) {
    clock.Advance(absl::Minutes(1));
    Session s(dir, &clock, &host);
    absl::Status st = step(s);
    ASSERT_OK(st) << name << ": " << st;
  }
  Session s(dir, &clock, &host);
  auto jobs = s->jobs().List();
  ASSERT_OK(jobs);
  ASSERT_EQ(jobs->size(), 9u);  // every step but key generation was a job
  for (const auto& j : *jobs) EXPECT_EQ(j.state(), model::Succeeded) << j.display_name();
  EXPECT_EQ((*jobs)[0].scenario_name(), "CreateVault");
  EXPECT_EQ((*jobs)[8].scenario_name(), "SavePolicy");
  auto pairing = s->fabric().FindPairing("GoldCloud1");
  ASSERT_OK(pairing);
  EXPECT_EQ(pairing->policy_id(), "gold-policy");
  EXPECT_TRUE(s->policies().FindPolicy("gold-policy")->compression_enabled());
  // Associate + update each configured hv-ny-01 and hv-chi-01.
  EXPECT_EQ(host.configure_calls().size(), 4u);
  // Only single clouds were synced: the Silver clouds are unknown to the vault.
  EXPECT_STATUS(s->fabric().PairClouds("SilverCloud1", "SilverCloud2"), kNotFound,
                "no cloud with id or name 'SilverCloud1'");
}

TEST(Scenario, InterruptedJobIsRecoveredOnOpen) {
  std::string dir = TestPath("interrupted");
  ASSERT_OK(fabric::CreateKeyFile(dir + ".kek"));
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  {
    auto engine = std::move(*repository::ObjectRepository::Open(dir, {}));
    model::Job j;
    j.set_id("job-000001");
    j.set_sequence(1);
    j.set_scenario_name("CreateVault");
    j.set_state(model::InProgress);
    j.set_parameters_json(R"({"name":"v","region":"r"})");
    ASSERT_OK(engine->Put(j));
  }
  Session s(dir, &clock, nullptr);
  auto j = s->jobs().Get("job-000001");
  EXPECT_EQ(j->state(), model::Failed);
  auto r = s->jobs().Restart("job-000001");
  ASSERT_OK(r);
  EXPECT_EQ(s->fabric().vault().Get()->name(), "v");
}

}  // namespace
}  // namespace asr
