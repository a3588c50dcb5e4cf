#include "asr/mapping/mapping_service.h"

#include <memory>
#include <string>

#include "asr/common/clock.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/jobs/job_manager.h"
#include "asr/jobs/rule_error.h"
#include "asr/mapping/golden_fixtures.h"
#include "asr/repository/object_repository.h"
#include "gtest/gtest.h"

namespace asr::mapping {
namespace {

using golden::TargetCloudsPerDocument;

using ::asr::testing::TestPath;

template <typename T>
void PutAll(repository::ObjectRepository& e, const std::vector<T>& items) {
  for (const auto& item : items) ASSERT_OK(e.Put(item)) << item.DebugString();
}

void PutSnapshot(repository::ObjectRepository& e, const FabricSnapshot& s) {
  PutAll(e, s.clouds);
  PutAll(e, s.host_groups);
  PutAll(e, s.hosts);
  PutAll(e, s.vms);
  PutAll(e, s.vm_networks);
  PutAll(e, s.logical_networks);
  PutAll(e, s.storage_classifications);
  PutAll(e, s.pairings);
  PutAll(e, s.network_mappings);
  PutAll(e, s.storage_mappings);
  PutAll(e, s.protected_items);
}

class MappingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = repository::ObjectRepository::Open(TestPath("mapping"), {});
    ASSERT_OK(e);
    repo_ = std::move(*e);
    ASSERT_OK(repo_->Initialize());
    jobs_ = std::make_unique<jobs::JobManager>(repo_.get(), &clock_);
    service_ = std::make_unique<MappingService>(repo_.get(), jobs_.get());
    ASSERT_OK(service_->RegisterScenarios());
  }

  // The New York/Chicago example without its mapping, plus an unprotected
  // VM9 on VMNetwork1-NewYork.
  void LoadNetworks() {
    FabricSnapshot s = golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
    s.network_mappings.clear();
    model::VirtualMachine vm9 = s.vms[0];
    vm9.set_id("vm9");
    vm9.set_name("VM9");
    vm9.mutable_network_adapters(0)->set_id("vm9-nic0");
    s.vms.push_back(vm9);
    PutSnapshot(*repo_, s);
  }

  model::NetworkMapping Mapping(const std::string& from, const std::string& to) {
    model::NetworkMapping m;
    m.set_source_vm_network_id(from);
    m.set_target_vm_network_id(to);
    return m;
  }

  FakeClock clock_{absl::FromUnixSeconds(1700000000)};
  std::unique_ptr<repository::ObjectRepository> repo_;
  std::unique_ptr<jobs::JobManager> jobs_;
  std::unique_ptr<MappingService> service_;
};

TEST_F(MappingServiceTest, CreateReconnectsProtectedReplicasAsAJob) {
  LoadNetworks();
  auto report = service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago"), false);
  ASSERT_OK(report);
  EXPECT_EQ(report->operation(), "create");
  EXPECT_EQ(report->current().id(), "netmap-vmnet1-newyork");
  EXPECT_EQ(report->current().source_server_id(), golden::kServerNewYork);
  EXPECT_EQ(report->current().target_server_id(), golden::kServerChicago);
  EXPECT_EQ(report->protected_vms_examined(), 2);  // VM1, VM7; VM9 is unprotected
  ASSERT_EQ(report->changes_size(), 2);
  EXPECT_EQ(report->changes(0).vm_id(), "vm1");
  EXPECT_EQ(report->changes(0).before().target_vm_network_id(), "");
  EXPECT_EQ(report->changes(0).after().target_vm_network_id(), golden::kVmNetwork1Chicago);
  EXPECT_EQ(report->changes(0).after().target_subnet_name(), "Subnet1");
  EXPECT_EQ(report->changes(1).vm_id(), "vm7");
  EXPECT_EQ(report->changes(1).after().target_subnet_name(), "Backend");

  ASSERT_FALSE(report->job_id().empty());
  auto job = jobs_->Get(report->job_id());
  ASSERT_OK(job);
  EXPECT_EQ(job->state(), model::Succeeded);
  EXPECT_EQ(job->scenario_name(), "MapNetwork");
  EXPECT_EQ(job->state_description(), "CompletedWithInformation");
  ASSERT_EQ(job->tasks_size(), 3);

  auto stored = repo_->Get<model::NetworkMapping>("netmap-vmnet1-newyork");
  ASSERT_OK(stored);
  EXPECT_EQ(stored->target_vm_network_id(), golden::kVmNetwork1Chicago);

  // The same mapping again: nothing to do.
  auto again =
      service_->MapNetwork(Mapping(golden::kVmNetwork1NewYork, golden::kVmNetwork1Chicago), false);
  ASSERT_OK(again);
  EXPECT_EQ(again->operation(), "unchanged");
  EXPECT_EQ(again->changes_size(), 0);
  EXPECT_EQ(jobs_->Get(again->job_id())->state_description(), "Skipped");
}

TEST_F(MappingServiceTest, ASourceNetworkMapsToAtMostOneTarget) {
  LoadNetworks();
  ASSERT_OK(service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago"), false));
  auto dup = service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork2-Chicago"), false);
  ASSERT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("already mapped to 'VMNetwork1-Chicago'"),
            std::string::npos)
      << dup.status();
  EXPECT_NE(dup.status().message().find("--replace"), std::string::npos);
  // The refused change is a Failed job.
  std::string job_id = jobs::JobIdOf(dup.status());
  ASSERT_FALSE(job_id.empty());
  EXPECT_EQ(jobs_->Get(job_id)->state(), model::Failed);
}

TEST_F(MappingServiceTest, ChangeReportsWhichReplicaNicsMove) {
  LoadNetworks();
  ASSERT_OK(service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago"), false));
  auto report = service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork2-Chicago"), true);
  ASSERT_OK(report);
  EXPECT_EQ(report->operation(), "change");
  EXPECT_EQ(report->previous().target_vm_network_id(), golden::kVmNetwork1Chicago);
  ASSERT_EQ(report->changes_size(), 2);
  for (const auto& c : report->changes()) {
    EXPECT_EQ(c.before().target_vm_network_id(), golden::kVmNetwork1Chicago);
    EXPECT_EQ(c.after().target_vm_network_id(), golden::kVmNetwork2Chicago);
    EXPECT_EQ(c.after().target_subnet_name(), "Subnet1");
  }
  // VMNetwork2-Chicago is offered to the Gold pairing only: no warning.
  EXPECT_EQ(report->warnings_size(), 0);
  auto table = service_->ListNetworkMappings();
  ASSERT_OK(table);
  ASSERT_EQ(table->mappings_size(), 1);
}

TEST_F(MappingServiceTest, RemoveDisconnectsReplicas) {
  LoadNetworks();
  ASSERT_OK(service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago"), false));
  auto report = service_->UnmapNetwork("VMNetwork1-NewYork");
  ASSERT_OK(report);
  EXPECT_EQ(report->operation(), "remove");
  ASSERT_EQ(report->changes_size(), 2);
  EXPECT_EQ(report->changes(0).after().kind(), model::NIC_UNMAPPED);
  EXPECT_EQ(report->changes(0).after().target_vm_network_id(), "");
  EXPECT_FALSE(repo_->Get<model::NetworkMapping>("netmap-vmnet1-newyork").ok());
  auto missing = service_->UnmapNetwork("netmap-vmnet1-newyork");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("network-map list"), std::string::npos);
}

TEST_F(MappingServiceTest, ValidationNamesWhatIsWrong) {
  LoadNetworks();
  auto unknown = service_->MapNetwork(Mapping("NoSuchNetwork", "VMNetwork1-Chicago"), false);
  ASSERT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("source VM network 'NoSuchNetwork'"), std::string::npos)
      << unknown.status();
  auto self = service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-NewYork"), false);
  EXPECT_EQ(self.status().code(), absl::StatusCode::kInvalidArgument);
  model::NetworkMapping wrong_server = Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago");
  wrong_server.set_source_server_id(golden::kServerChicago);
  auto ws = service_->MapNetwork(wrong_server, false);
  ASSERT_EQ(ws.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ws.status().message().find("is on server 'vmm-newyork'"), std::string::npos)
      << ws.status();
  auto empty = service_->MapNetwork(Mapping("", "VMNetwork1-Chicago"), false);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MappingServiceTest, SameServerMappingIsAllowed) {
  LoadNetworks();
  auto r = service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork2-NewYork"), false);
  ASSERT_OK(r);
  EXPECT_EQ(r->current().target_server_id(), golden::kServerNewYork);
  // No pairing leads from New York to New York: a warning, not an error.
  ASSERT_EQ(r->warnings_size(), 1);
  EXPECT_NE(r->warnings(0).find("no cloud pairing"), std::string::npos);
}

TEST_F(MappingServiceTest, AmbiguousNamesAskForAnId) {
  LoadNetworks();
  model::VmNetwork twin;
  twin.set_id("vmnet1-chicago-b");
  twin.set_name("VMNetwork1-Chicago");
  twin.set_server_id(golden::kServerChicago);
  ASSERT_OK(repo_->Put(twin));
  auto r = service_->TargetNetworks("VMNetwork1-NewYork", "VMNetwork1-Chicago");
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("vmnet1-chicago, vmnet1-chicago-b"), std::string::npos)
      << r.status();
}

TEST_F(MappingServiceTest, ReadsOverTheStore) {
  LoadNetworks();
  ASSERT_OK(service_->MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago"), false));
  auto table = service_->ListNetworkMappings();
  ASSERT_OK(table);
  EXPECT_EQ(table->rows_size(), 4);
  auto targets = service_->TargetNetworks("VMNetwork1-NewYork");
  ASSERT_OK(targets);
  EXPECT_EQ(targets->rows_size(), 4);
  auto nics = service_->ResolveNetworks("VM7");
  ASSERT_OK(nics);
  EXPECT_EQ(nics->nics(0).target_subnet_name(), "Backend");
  model::FailbackRequest fb;
  fb.set_vm_id("VM1");
  fb.set_replica_vm_network_id("VMNetwork1-Chicago");
  auto failback = service_->ResolveFailback(fb);
  ASSERT_OK(failback);
  EXPECT_EQ(failback->scenario(), model::FAILBACK_NETWORK_UNCHANGED);
  auto placement = service_->ShowPlacement("VM1");
  ASSERT_OK(placement);
  EXPECT_EQ(placement->host_id(), "chicago-h1");
}

TEST_F(MappingServiceTest, StorageMappings) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  s.storage_mappings.clear();
  PutSnapshot(*repo_, s);
  model::StorageMapping m;
  m.set_source_classification_id("GOLD");
  m.set_target_classification_id("GOLD_TARGET");
  auto created = service_->MapStorage(m, false);
  ASSERT_OK(created);
  EXPECT_EQ(created->operation(), "create");
  EXPECT_EQ(created->current().id(), "storagemap-GOLD");
  EXPECT_FALSE(created->job_id().empty());

  m.set_target_classification_id("SILVER_TARGET");
  auto dup = service_->MapStorage(m, false);
  ASSERT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(dup.status().message().find("already mapped to 'GOLD_TARGET'"), std::string::npos);
  auto changed = service_->MapStorage(m, true);
  ASSERT_OK(changed);
  EXPECT_EQ(changed->operation(), "change");

  auto disks = service_->ResolveStorage("VM1", "");
  ASSERT_OK(disks);
  EXPECT_EQ(disks->disks(0).target_classification_name(), "SILVER_TARGET");
  EXPECT_EQ(disks->disks(0).target_storage_target_id(), "TargetShare2");
  auto vm5 = service_->ResolveStorage("VM5", golden::kTargetHost);
  ASSERT_OK(vm5);
  EXPECT_EQ(vm5->disks(0).kind(), model::DISK_HOST_DEFAULT_UNCLASSIFIED);

  auto table = service_->ListStorageMappings();
  ASSERT_OK(table);
  EXPECT_EQ(table->mappings_size(), 1);
  auto removed = service_->UnmapStorage("GOLD");
  ASSERT_OK(removed);
  EXPECT_EQ(removed->operation(), "remove");
  EXPECT_EQ(service_->UnmapStorage("GOLD").status().code(), absl::StatusCode::kNotFound);
  auto unknown = service_->MapStorage(m, false);
  ASSERT_OK(unknown);
  m.set_source_classification_id("PLATINUM");
  EXPECT_EQ(service_->MapStorage(m, false).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(MappingServiceTest, WithoutJobs) {
  LoadNetworks();
  MappingService direct(repo_.get(), nullptr);
  ASSERT_OK(direct.RegisterScenarios());
  auto r = direct.MapNetwork(Mapping("VMNetwork1-NewYork", "VMNetwork1-Chicago"), false);
  ASSERT_OK(r);
  EXPECT_EQ(r->job_id(), "");
  EXPECT_EQ(r->changes_size(), 2);
}

}  // namespace
}  // namespace asr::mapping
