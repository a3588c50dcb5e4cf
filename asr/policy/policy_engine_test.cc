// Replication policy rules: value sets, host OS versions, association,
// host configuration jobs, update and delete.
#include "asr/policy/policy_engine.h"

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/fabric/simulated_host.h"
#include "asr/jobs/test_util.h"
#include "gtest/gtest.h"

namespace asr::policy {
namespace {

using ::asr::testing::TestPath;
using ::testing::HasSubstr;

model::ReplicationPolicy R2(const std::string& name) {
  model::ReplicationPolicy p;
  p.set_name(name);
  p.set_replication_provider(model::HyperVReplica2012R2);
  p.set_replication_frequency_in_seconds(30);
  p.set_number_of_recovery_points_to_retain(4);
  p.set_application_consistent_snapshot_frequency_in_hours(2);
  return p;
}

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TestPath("policy");
    ASSERT_OK(fabric::CreateKeyFile(keys_.path()));  // outside the state directory
    host_.SetInventory("vmm-ny", ny_);
    host_.SetInventory("vmm-chi", fabric::ChicagoInventory());
    Reopen();
    ASSERT_OK(fabric_->CreateVault("contoso-dr", "westeurope"));
    for (const char* name : {"vmm-ny", "vmm-chi"}) {
      model::ServerRegistrationRequest r;
      r.set_credentials(*fabric_->GenerateRegistrationKey());
      r.set_friendly_name(name);
      r.set_site_id(std::string(name) == "vmm-ny" ? "primary" : "recovery");
      r.set_sync_all_cloud_metadata(true);
      ASSERT_OK(fabric_->RegisterServer(r));
    }
    ASSERT_OK(fabric_->PairClouds("GoldCloud1", "GoldCloud2"));
  }
  void Reopen() {
    policies_.reset();
    fabric_.reset();
    jobs_.reset();
    repo_.reset();
    repo_ = std::move(*repository::ObjectRepository::Open(dir_, {}));
    ASSERT_OK(repo_->Initialize());
    jobs_ = std::make_unique<jobs::JobManager>(repo_.get(), &clock_);
    fabric_ =
        std::make_unique<fabric::FabricService>(repo_.get(), jobs_.get(), &clock_, &host_, &keys_);
    policies_ = std::make_unique<PolicyEngine>(repo_.get(), jobs_.get(), fabric_.get(), &clock_);
    ASSERT_OK(fabric_->RegisterScenarios());
    ASSERT_OK(policies_->RegisterScenarios());
  }
  absl::StatusOr<model::ReplicationPolicy> Norm(const model::ReplicationPolicy& p) {
    return policies_->Normalize(p);
  }

  std::string dir_;
  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  fabric::SimulatedHost host_;
  fabric::KeyFileProvider keys_{TestPath("kek")};
  model::Inventory ny_ = fabric::NewYorkInventory();
  std::unique_ptr<repository::ObjectRepository> repo_;
  std::unique_ptr<jobs::JobManager> jobs_;
  std::unique_ptr<fabric::FabricService> fabric_;
  std::unique_ptr<PolicyEngine> policies_;
};

// ---- Value sets ------------------------------------------------------------------

TEST_F(PolicyTest, ProviderRequired) {
  model::ReplicationPolicy p = R2("p");
  p.clear_replication_provider();
  EXPECT_STATUS(Norm(p), kInvalidArgument, "the replication provider is required");
  p.set_replication_provider(model::HyperVReplica2012);
  p.clear_replication_frequency_in_seconds();
  EXPECT_OK(Norm(p));
}

TEST_F(PolicyTest, CopyFrequency) {
  model::ReplicationPolicy p = R2("p");
  for (int f : {30, 300, 900}) {
    p.set_replication_frequency_in_seconds(f);
    EXPECT_OK(Norm(p)) << f;
  }
  p.set_replication_frequency_in_seconds(60);
  EXPECT_STATUS(Norm(p), kInvalidArgument, "copy frequency 60 s is not allowed");
  p.clear_replication_frequency_in_seconds();
  EXPECT_EQ(Norm(p)->replication_frequency_in_seconds(), 300);
}

TEST_F(PolicyTest, CopyFrequencyFixedOn2012) {
  model::ReplicationPolicy p = R2("p");
  p.set_replication_provider(model::HyperVReplica2012);
  p.set_replication_frequency_in_seconds(30);
  EXPECT_STATUS(Norm(p), kInvalidArgument,
                "HyperVReplica2012 copies every 300 seconds; the copy frequency setting (30 s) "
                "is refused");
  p.clear_replication_frequency_in_seconds();
  auto n = Norm(p);
  ASSERT_OK(n);
  EXPECT_EQ(n->replication_frequency_in_seconds(), 300);
}

TEST_F(PolicyTest, RecoveryPointsPerProvider) {
  model::ReplicationPolicy p = R2("p");
  p.set_number_of_recovery_points_to_retain(24);
  EXPECT_OK(Norm(p));
  p.set_number_of_recovery_points_to_retain(25);
  EXPECT_STATUS(Norm(p), kInvalidArgument,
                "25 additional recovery points are out of range for HyperVReplica2012R2 (0 to 24)");
  p.set_replication_provider(model::HyperVReplica2012);
  p.clear_replication_frequency_in_seconds();
  p.set_number_of_recovery_points_to_retain(15);
  EXPECT_OK(Norm(p));
  p.set_number_of_recovery_points_to_retain(16);
  EXPECT_STATUS(Norm(p), kInvalidArgument, "out of range for HyperVReplica2012 (0 to 15)");
}

TEST_F(PolicyTest, AppConsistentLessThanRecoveryPoints) {
  model::ReplicationPolicy p = R2("p");
  p.set_number_of_recovery_points_to_retain(4);
  p.set_application_consistent_snapshot_frequency_in_hours(3);
  EXPECT_OK(Norm(p));
  p.set_application_consistent_snapshot_frequency_in_hours(4);
  EXPECT_STATUS(Norm(p), kInvalidArgument,
                "application-consistent snapshot frequency 4 h must be less than the number of "
                "additional recovery points (4)");
  p.set_application_consistent_snapshot_frequency_in_hours(0);
  p.set_number_of_recovery_points_to_retain(0);
  EXPECT_OK(Norm(p));  // off is always fine
  p.set_number_of_recovery_points_to_retain(24);
  p.set_application_consistent_snapshot_frequency_in_hours(13);
  EXPECT_STATUS(Norm(p), kInvalidArgument, "use 0 (off) or 1 to 12 hours");
}

TEST_F(PolicyTest, AuthenticationPorts) {
  model::ReplicationPolicy p = R2("p");
  EXPECT_EQ(Norm(p)->authentication(), model::Certificate);
  EXPECT_EQ(Norm(p)->replication_port(), 8084);
  p.set_authentication(model::Kerberos);
  EXPECT_EQ(Norm(p)->replication_port(), 8083);
  p.set_replication_port(9000);
  EXPECT_EQ(Norm(p)->replication_port(), 9000);
  p.set_replication_port(65536);
  EXPECT_STATUS(Norm(p), kInvalidArgument, "replication port 65536 is out of range");
}

TEST_F(PolicyTest, OverNetworkStartWithin24Hours) {
  model::ReplicationPolicy p = R2("p");
  p.set_replication_start_time_unix(1700000000 + 23 * 3600);
  EXPECT_OK(Norm(p));
  p.set_replication_start_time_unix(1700000000 + 25 * 3600);
  EXPECT_STATUS(Norm(p), kInvalidArgument, "is more than 24 hours ahead");
  p.set_replication_start_time_unix(1700000000 - 60);
  EXPECT_STATUS(Norm(p), kInvalidArgument, "is in the past");
  p.set_replication_start_time_unix(0);
  p.set_offline_export_path("\\\\fs-ny\\export");
  EXPECT_STATUS(Norm(p), kInvalidArgument, "apply only to Offline");
}

TEST_F(PolicyTest, OfflineNeedsPathsNotOnHyperVHosts) {
  model::ReplicationPolicy p = R2("offline");
  p.set_replication_method(model::Offline);
  p.set_offline_export_path("\\\\fs-ny\\export");
  EXPECT_STATUS(Norm(p), kInvalidArgument, "needs an export path and an import path");
  p.set_offline_import_path("\\\\fs-chi\\import");
  EXPECT_OK(policies_->CreatePolicy(p));

  model::ReplicationPolicy bad = R2("offline-bad");
  bad.set_replication_method(model::Offline);
  bad.set_offline_export_path("\\\\HV-NY-01\\export");
  bad.set_offline_import_path("\\\\fs-chi\\import");
  EXPECT_STATUS(policies_->CreatePolicy(bad), kFailedPrecondition,
                "the offline export path '\\\\HV-NY-01\\export' is on Hyper-V host "
                "'hv-ny-01.contoso.com'");
  bad.set_offline_export_path("\\\\fs-ny\\export");
  bad.set_offline_import_path("\\\\hv-chi-02.contoso.com\\import");
  EXPECT_STATUS(policies_->CreatePolicy(bad), kFailedPrecondition, "the offline import path");
}

TEST_F(PolicyTest, NamesUnique) {
  ASSERT_OK(policies_->CreatePolicy(R2("Gold")));
  EXPECT_STATUS(policies_->CreatePolicy(R2("gold")), kAlreadyExists, "already exists");
}

// ---- Association and host configuration ---------------------------------------

TEST_F(PolicyTest, AssociateConfiguresEveryHost) {
  auto created = policies_->CreatePolicy(R2("gold"));
  ASSERT_OK(created);
  Reopen();
  auto job = policies_->AssociatePolicy("gold", "GoldCloud1");
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), model::Succeeded);
  auto calls = host_.configure_calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].host_id, "hv-ny-01");
  EXPECT_EQ(calls[0].role, fabric::HostRole::kPrimary);
  EXPECT_EQ(calls[1].host_id, "hv-chi-01");
  EXPECT_EQ(calls[1].role, fabric::HostRole::kRecovery);
  Reopen();
  EXPECT_EQ(repo_->Get<model::CloudPairing>("pair-gold1-gold2")->policy_id(), "gold");
}

TEST_F(PolicyTest, HostsMustRunThePolicysOsVersion) {
  ASSERT_OK(policies_->CreatePolicy(R2("gold")));
  model::ReplicationPolicy old = R2("old");
  old.set_replication_provider(model::HyperVReplica2012);
  old.clear_replication_frequency_in_seconds();
  ASSERT_OK(policies_->CreatePolicy(old));
  EXPECT_STATUS(policies_->AssociatePolicy("old", "pair-gold1-gold2"), kFailedPrecondition,
                "policy 'old' is for Windows Server 2012 hosts, but these hosts of cloud "
                "'GoldCloud1' are not: hv-ny-01.contoso.com (Windows Server 2012 R2)");

  // A mixed cloud: one 2012 host joins GoldCloud1's host group.
  auto* h = ny_.add_hosts();
  h->set_id("hv-ny-03");
  h->set_name("hv-ny-03.contoso.com");
  h->set_host_group_id("hg-ny-gold");
  h->set_os_version(model::WINDOWS_SERVER_2012);
  ny_.mutable_host_groups(0)->add_host_ids("hv-ny-03");
  ASSERT_OK(fabric_->SyncInventory("vmm-ny", &ny_, ""));
  auto job = policies_->AssociatePolicy("gold", "GoldCloud1");
  EXPECT_STATUS(job, kFailedPrecondition,
                "these hosts of cloud 'GoldCloud1' are not: hv-ny-03.contoso.com (Windows "
                "Server 2012)");
  EXPECT_STATUS(job, kFailedPrecondition,
                "a cloud with mixed host versions needs several policies");
  EXPECT_TRUE(host_.configure_calls().empty());
}

TEST_F(PolicyTest, FailedHostConfigurationRestarts) {
  ASSERT_OK(policies_->CreatePolicy(R2("gold")));
  host_.FailHost("hv-chi-01", absl::UnavailableError("WinRM timed out"));
  auto job = policies_->AssociatePolicy("gold", "GoldCloud1");
  EXPECT_STATUS(job, kUnavailable, "host hv-chi-01.contoso.com could not be configured");
  std::string id = jobs::JobIdOf(job.status());
  Reopen();
  auto failed = jobs_->Get(id);
  EXPECT_EQ(failed->errors(0).error_code(), "HostConfiguredForPolicy");
  EXPECT_THAT(failed->errors(0).recommended_action(), HasSubstr("port 8084 is free"));
  EXPECT_TRUE(repo_->Get<model::CloudPairing>("pair-gold1-gold2")->policy_id().empty());
  host_.FailHost("hv-chi-01", absl::OkStatus());
  auto restarted = jobs_->Restart(id);
  ASSERT_OK(restarted);
  EXPECT_EQ(host_.configure_calls().size(), 2u);  // hv-ny-01 was not configured twice
  EXPECT_EQ(repo_->Get<model::CloudPairing>("pair-gold1-gold2")->policy_id(), "gold");
}

TEST_F(PolicyTest, UpdateReconfiguresHostsAndKeepsProvider) {
  ASSERT_OK(policies_->CreatePolicy(R2("gold")));
  ASSERT_OK(policies_->AssociatePolicy("gold", "GoldCloud1"));
  model::ReplicationPolicy p = *policies_->FindPolicy("gold");
  p.set_replication_frequency_in_seconds(900);
  auto job = policies_->UpdatePolicy(p);
  ASSERT_OK(job);
  EXPECT_EQ(host_.configure_calls().size(), 4u);
  EXPECT_EQ(policies_->FindPolicy("gold")->replication_frequency_in_seconds(), 900);
  p.set_replication_provider(model::HyperVReplica2012);
  p.set_replication_frequency_in_seconds(300);
  EXPECT_STATUS(policies_->UpdatePolicy(p), kFailedPrecondition,
                "its replication provider cannot change");
  model::ReplicationPolicy missing = R2("nope");
  EXPECT_STATUS(policies_->UpdatePolicy(missing), kNotFound, "no replication policy 'nope'");
}

TEST_F(PolicyTest, DeleteRefusedWhileInUse) {
  ASSERT_OK(policies_->CreatePolicy(R2("gold")));
  ASSERT_OK(policies_->AssociatePolicy("gold", "GoldCloud1"));
  model::ProtectedItem item;
  item.set_id("pi-vm1");
  item.set_vm_id("vm1");
  item.set_pairing_id("pair-gold1-gold2");
  item.set_policy_id("gold");
  ASSERT_OK(repo_->Put(item));
  Reopen();
  EXPECT_STATUS(policies_->DeletePolicy("gold"), kFailedPrecondition,
                "replication policy 'gold' is in use by protected VMs: VM1");
  EXPECT_STATUS(policies_->DissociatePolicy("GoldCloud1"), kFailedPrecondition,
                "protects VMs under policy 'gold'");
  ASSERT_OK(repo_->DeleteObject("protected-item", "pi-vm1"));
  EXPECT_STATUS(policies_->DeletePolicy("gold"), kFailedPrecondition,
                "is associated with pairing 'pair-gold1-gold2'");
  ASSERT_OK(policies_->DissociatePolicy("GoldCloud1"));
  Reopen();
  ASSERT_OK(policies_->DeletePolicy("gold"));
  EXPECT_STATUS(policies_->FindPolicy("gold"), kNotFound, "no replication policy");
}

TEST(HostVersions, ProviderMatching) {
  EXPECT_TRUE(HostMatchesProvider(model::WINDOWS_SERVER_2012, model::HyperVReplica2012));
  EXPECT_FALSE(HostMatchesProvider(model::WINDOWS_SERVER_2012_R2, model::HyperVReplica2012));
  EXPECT_TRUE(HostMatchesProvider(model::WINDOWS_SERVER_2016_OR_LATER, model::HyperVReplica2012R2));
  EXPECT_FALSE(HostMatchesProvider(model::WINDOWS_SERVER_2012, model::HyperVReplica2012R2));
  EXPECT_FALSE(HostMatchesProvider(model::HOST_OS_VERSION_UNSPECIFIED, model::HyperVReplica2012R2));
}

}  // namespace
}  // namespace asr::policy
