#include "asr/mapping/placement.h"

#include <memory>
#include <string>
#include <vector>

#include "asr/common/testing/status_matchers.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/golden_fixtures.h"
#include "gtest/gtest.h"

namespace asr::mapping {
namespace {

using golden::kGiB;
using golden::TargetCloudsPerDocument;

std::unique_ptr<FabricIndex> Build(FabricSnapshot s) {
  auto index = FabricIndex::Build(std::move(s));
  EXPECT_OK(index);
  return std::move(index).value();
}

FabricSnapshot Networks() {
  return golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
}

TEST(Placement, PlacesOnAHostWithTheMappedNetwork) {
  auto index = Build(Networks());
  auto p = PlaceReplica(*index, "vm1");
  ASSERT_OK(p);
  ASSERT_TRUE(p->placed()) << p->explanation();
  EXPECT_EQ(p->pairing_id(), golden::kGoldPairing);
  EXPECT_EQ(p->recovery_cloud_name(), "GoldCloud2");
  EXPECT_EQ(p->host_id(), "chicago-h1");
  ASSERT_EQ(p->nics_size(), 1);
  EXPECT_EQ(p->nics(0).target_vm_network_id(), golden::kVmNetwork1Chicago);
  EXPECT_EQ(p->nics(0).target_subnet_name(), "Subnet1");
  ASSERT_EQ(p->hosts_size(), 1);
  EXPECT_TRUE(p->hosts(0).qualifies());
}

// The host a tie between `sorted_hosts` (in (name, id) order) goes to.
std::string RotationPick(const std::string& vm_id, const std::vector<std::string>& sorted_hosts) {
  return sorted_hosts[PlacementRotation(vm_id) % sorted_hosts.size()];
}

TEST(Placement, TiesFollowTheVmsRotation) {
  auto index = Build(Networks());
  auto p = PlaceReplica(*index, "vm7");
  ASSERT_OK(p);
  ASSERT_TRUE(p->placed());
  EXPECT_EQ(p->host_id(), RotationPick("vm7", {"chicago-h2", "chicago-h3"}));
  ASSERT_EQ(p->nics_size(), 2);
  EXPECT_EQ(p->nics(0).target_subnet_name(), "Backend");
  EXPECT_EQ(p->nics(1).target_vm_network_id(), "");
  EXPECT_NE(p->explanation().find("in the VM's rotation"), std::string::npos);
  // The explained list starts with the chosen host; both qualify.
  ASSERT_EQ(p->hosts_size(), 2);
  EXPECT_EQ(p->hosts(0).host_id(), p->host_id());
  EXPECT_TRUE(p->hosts(1).qualifies());
  // Without the explanation of every host the answer is the same.
  PlacementOptions quick;
  quick.explain = false;
  auto q = PlaceReplica(*index, "vm7", quick);
  ASSERT_OK(q);
  EXPECT_EQ(q->host_id(), p->host_id());
  EXPECT_EQ(q->hosts_size(), 0);
}

TEST(Placement, PlacementRotationIsFnv1a) {
  // Pinned: placements must not change between releases or platforms.
  EXPECT_EQ(PlacementRotation(""), 14695981039346656037ull);
  EXPECT_EQ(PlacementRotation("a"), 0xaf63dc4c8601ec8cull);
}

TEST(Placement, BatchSpreadsOverEqualHosts) {
  FabricSnapshot s = Networks();
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    model::VirtualMachine vm = s.vms[1];
    vm.set_id("clone" + std::to_string(i));
    vm.set_name(vm.id());
    s.vms.push_back(vm);
    ids.push_back(vm.id());
  }
  auto index = Build(std::move(s));
  CapacityLedger ledger;
  PlacementOptions quick;
  quick.explain = false;
  auto placements = PlaceReplicas(*index, ids, &ledger, quick);
  ASSERT_OK(placements);
  ASSERT_EQ(placements->size(), 200u);
  EXPECT_EQ((*placements)[0].vm_id(), "clone0");  // VM-id order
  int h2 = ledger.ReplicasOnHost("chicago-h2");
  int h3 = ledger.ReplicasOnHost("chicago-h3");
  EXPECT_EQ(h2 + h3, 200);
  EXPECT_GT(h2, 60);
  EXPECT_GT(h3, 60);
}

TEST(Placement, ExplainsWhenNoHostQualifies) {
  FabricSnapshot s = Networks();
  for (auto& h : s.hosts) {
    if (h.id() == "chicago-h2" || h.id() == "chicago-h3") h.clear_logical_network_ids();
  }
  auto index = Build(std::move(s));
  auto p = PlaceReplica(*index, "vm7");
  ASSERT_OK(p);
  EXPECT_FALSE(p->placed());
  EXPECT_EQ(p->host_id(), "");
  EXPECT_NE(p->explanation().find("no host of recovery cloud 'SilverCloud2'"), std::string::npos)
      << p->explanation();
  EXPECT_NE(p->explanation().find("LogicalNetwork1-Chicago"), std::string::npos);
  ASSERT_EQ(p->hosts_size(), 2);
  for (const auto& h : p->hosts()) {
    EXPECT_FALSE(h.qualifies());
    ASSERT_EQ(h.reasons_size(), 1);
    EXPECT_NE(h.reasons(0).find("not connected to logical network 'LogicalNetwork1-Chicago'"),
              std::string::npos);
  }
}

TEST(Placement, WarnsWhenTheTargetNetworkIsNotAvailableForThePairing) {
  FabricSnapshot s = Networks();
  // Map VMNetwork2-NewYork to VMNetwork2-Chicago: not available for Silver.
  model::NetworkMapping m;
  m.set_id("netmap-vmnet2-newyork");
  m.set_source_vm_network_id(golden::kVmNetwork2NewYork);
  m.set_target_vm_network_id(golden::kVmNetwork2Chicago);
  s.network_mappings.push_back(m);
  auto index = Build(std::move(s));
  auto p = PlaceReplica(*index, "vm7");
  ASSERT_OK(p);
  EXPECT_FALSE(p->placed());  // no Silver host has LogicalNetwork2Chicago
  ASSERT_EQ(p->warnings_size(), 1);
  EXPECT_NE(p->warnings(0).find("not available for pairing 'pair-silver'"), std::string::npos);
}

TEST(Placement, PrefersHostsThatReachMappedStorage) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  model::HyperVHost other = s.hosts[1];
  other.set_id("aaa-host");
  other.set_name("aaa-host");  // sorts first, but reaches no mapped storage
  other.clear_storage_target_ids();
  s.hosts.push_back(other);
  auto index = Build(std::move(s));
  auto p = PlaceReplica(*index, "vm1");
  ASSERT_OK(p);
  ASSERT_TRUE(p->placed());
  EXPECT_EQ(p->host_id(), golden::kTargetHost);
  ASSERT_EQ(p->hosts_size(), 2);
  EXPECT_EQ(p->hosts(0).host_id(), golden::kTargetHost);
  EXPECT_EQ(p->hosts(0).disks_on_mapped_storage(), 1);
  EXPECT_EQ(p->hosts(1).disks_on_mapped_storage(), 0);
  // VM5 (unclassified) has no mapped disks: both hosts tie.
  auto p5 = PlaceReplica(*index, "vm5");
  ASSERT_OK(p5);
  EXPECT_EQ(p5->host_id(), RotationPick("vm5", {"aaa-host", golden::kTargetHost}));
}

TEST(Placement, NoRoomAnywhere) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  s.hosts[1].set_default_storage_free_bytes(10 * kGiB);
  auto index = Build(std::move(s));
  auto p = PlaceReplica(*index, "vm5");
  ASSERT_OK(p);
  EXPECT_FALSE(p->placed());
  EXPECT_NE(p->explanation().find("no room for disk 'VM5.vhdx'"), std::string::npos)
      << p->explanation();
  EXPECT_NE(p->explanation().find("10 GiB free"), std::string::npos) << p->explanation();
}

TEST(Placement, LedgerConsumesSpaceAcrossTheBatch) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  // BRONZE_TARGET's TargetShare3 has 300 GiB: three 100 GiB replicas fit,
  // the fourth goes to the host default location.
  for (int i = 0; i < 3; ++i) {
    model::VirtualMachine vm = s.vms[5];
    vm.set_id("vm6-" + std::to_string(i));
    s.vms.push_back(vm);
  }
  auto index = Build(std::move(s));
  CapacityLedger ledger;
  auto p = PlaceReplicas(*index, {"vm6", "vm6-0", "vm6-1", "vm6-2"}, &ledger);
  ASSERT_OK(p);
  EXPECT_EQ((*p)[2].disks(0).target_storage_target_id(), "TargetShare3");
  EXPECT_EQ((*p)[3].disks(0).kind(), model::DISK_HOST_DEFAULT_NO_SUITABLE_TARGET);
  EXPECT_EQ(ledger.TakenOnStorage("TargetShare3"), 300 * kGiB);
  EXPECT_EQ(ledger.TakenOnHostDefault(golden::kTargetHost), 100 * kGiB);
}

TEST(Placement, Errors) {
  FabricSnapshot s = Networks();
  s.pairings.clear();
  s.protected_items.clear();
  auto index = Build(std::move(s));
  EXPECT_EQ(PlaceReplica(*index, "nope").status().code(), absl::StatusCode::kNotFound);
  auto unpaired = PlaceReplica(*index, "vm1");
  EXPECT_EQ(unpaired.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unpaired.status().message().find("GoldCloud1"), std::string::npos);
  PlacementOptions o;
  o.pairing_id = "missing";
  EXPECT_EQ(PlaceReplica(*index, "vm1", o).status().code(), absl::StatusCode::kNotFound);
}

TEST(Placement, CloudWithoutHosts) {
  FabricSnapshot s = Networks();
  s.hosts.clear();
  auto index = Build(std::move(s));
  auto p = PlaceReplica(*index, "vm1");
  ASSERT_OK(p);
  EXPECT_FALSE(p->placed());
  EXPECT_NE(p->explanation().find("has no Hyper-V hosts"), std::string::npos);
}

}  // namespace
}  // namespace asr::mapping
