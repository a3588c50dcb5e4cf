// Golden tests: the network mapping example of the Site Recovery documents
// (sites New York and Chicago), every row of its mapping, target-network and
// failback tables.
#include <map>
#include <memory>
#include <string>

#include "asr/common/testing/status_matchers.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/golden_fixtures.h"
#include "asr/mapping/network_resolver.h"
#include "gtest/gtest.h"

namespace asr::mapping {
namespace {

using golden::TargetCloudsPerDocument;

std::unique_ptr<FabricIndex> Build(FabricSnapshot s) {
  auto index = FabricIndex::Build(std::move(s));
  EXPECT_OK(index);
  return std::move(index).value();
}

std::unique_ptr<FabricIndex> Example(
    TargetCloudsPerDocument v = TargetCloudsPerDocument::kAvailabilityTable) {
  return Build(golden::NewYorkChicagoNetworks(v));
}

// | Location | VMM server  | VM networks        | Mapped to                   |
// | New York | VMM-NewYork | VMNetwork1-NewYork | Mapped to VMNetwork1-Chicago |
// |          |             | VMNetwork2-NewYork | Not mapped                  |
// | Chicago  | VMM-Chicago | VMNetwork1-Chicago | Mapped to VMNetwork1-NewYork |
// |          |             | VMNetwork2-Chicago | Not mapped                  |
TEST(NetworkGolden, MappingTable) {
  auto index = Example();
  model::NetworkMappingTable table = BuildNetworkMappingTable(*index);
  ASSERT_EQ(table.rows_size(), 4);
  std::map<std::string, model::NetworkMappingRow> rows;
  for (const auto& r : table.rows()) rows[r.vm_network_name()] = r;

  const auto& ny1 = rows["VMNetwork1-NewYork"];
  EXPECT_EQ(ny1.server_id(), golden::kServerNewYork);
  EXPECT_TRUE(ny1.mapped());
  EXPECT_TRUE(ny1.is_mapping_source());
  EXPECT_EQ(ny1.mapped_vm_network_name(), "VMNetwork1-Chicago");
  EXPECT_EQ(ny1.mapped_server_id(), golden::kServerChicago);

  const auto& ny2 = rows["VMNetwork2-NewYork"];
  EXPECT_EQ(ny2.server_id(), golden::kServerNewYork);
  EXPECT_FALSE(ny2.mapped());
  EXPECT_EQ(ny2.mapped_vm_network_id(), "");

  const auto& chi1 = rows["VMNetwork1-Chicago"];
  EXPECT_EQ(chi1.server_id(), golden::kServerChicago);
  EXPECT_TRUE(chi1.mapped());
  EXPECT_FALSE(chi1.is_mapping_source());
  EXPECT_EQ(chi1.mapped_vm_network_name(), "VMNetwork1-NewYork");
  EXPECT_EQ(chi1.mapping_id(), golden::kMapping1);
  ASSERT_EQ(chi1.incoming_mapping_ids_size(), 1);

  const auto& chi2 = rows["VMNetwork2-Chicago"];
  EXPECT_EQ(chi2.server_id(), golden::kServerChicago);
  EXPECT_FALSE(chi2.mapped());

  // Rows come in (server id, name) order: Chicago's first.
  EXPECT_EQ(table.rows(0).vm_network_name(), "VMNetwork1-Chicago");
  EXPECT_EQ(table.rows(3).vm_network_name(), "VMNetwork2-NewYork");
  ASSERT_EQ(table.mappings_size(), 1);
}

// "A replica of any VM connected to VMNetwork1-NewYork is connected to
// VMNetwork1-Chicago; a replica of a VM on VMNetwork2-NewYork or
// VMNetwork2-Chicago is connected to no network."
TEST(NetworkGolden, ReplicaNicsFollowTheMapping) {
  auto index = Example();
  auto vm1 = ResolveVmNics(*index, "vm1");
  ASSERT_OK(vm1);
  ASSERT_EQ(vm1->nics_size(), 1);
  EXPECT_EQ(vm1->nics(0).target_vm_network_id(), golden::kVmNetwork1Chicago);
  EXPECT_EQ(vm1->nics(0).target_vm_network_name(), "VMNetwork1-Chicago");
  EXPECT_EQ(vm1->nics(0).network_mapping_id(), golden::kMapping1);
  // Subnet rule: Subnet1 exists in the target network.
  EXPECT_EQ(vm1->nics(0).target_subnet_name(), "Subnet1");
  EXPECT_EQ(vm1->nics(0).kind(), model::NIC_SAME_NAME_SUBNET);

  auto vm7 = ResolveVmNics(*index, "vm7");
  ASSERT_OK(vm7);
  ASSERT_EQ(vm7->nics_size(), 2);
  // Subnet3 does not exist in VMNetwork1-Chicago: the first subnet.
  EXPECT_EQ(vm7->nics(0).target_vm_network_id(), golden::kVmNetwork1Chicago);
  EXPECT_EQ(vm7->nics(0).target_subnet_name(), "Backend");
  EXPECT_EQ(vm7->nics(0).kind(), model::NIC_FIRST_SUBNET);
  // VMNetwork2-NewYork is not mapped: no network.
  EXPECT_EQ(vm7->nics(1).target_vm_network_id(), "");
  EXPECT_EQ(vm7->nics(1).target_subnet_name(), "");
  EXPECT_EQ(vm7->nics(1).kind(), model::NIC_UNMAPPED);
  EXPECT_NE(vm7->nics(1).explanation().find("not mapped"), std::string::npos);

  // A NIC on VMNetwork2-Chicago (a VM on the Chicago side) joins no network.
  model::NetworkAdapter nic;
  nic.set_id("x");
  nic.set_vm_network_id(golden::kVmNetwork2Chicago);
  EXPECT_EQ(ResolveNic(*index, nic).kind(), model::NIC_UNMAPPED);
  EXPECT_EQ(ResolveNic(*index, nic).target_vm_network_id(), "");
}

TEST(NetworkGolden, SubnetMatchingIgnoresCaseAfterExactNames) {
  model::VmNetwork n;
  n.add_subnets()->set_name("Front");
  n.add_subnets()->set_name("subnet1");
  n.add_subnets()->set_name("Subnet1");
  model::NicResolutionKind kind;
  EXPECT_EQ(ChooseSubnet(n, "Subnet1", &kind), "Subnet1");
  EXPECT_EQ(kind, model::NIC_SAME_NAME_SUBNET);
  EXPECT_EQ(ChooseSubnet(n, "SUBNET1", &kind), "subnet1");
  EXPECT_EQ(ChooseSubnet(n, "", &kind), "Front");
  EXPECT_EQ(kind, model::NIC_FIRST_SUBNET);
  model::VmNetwork empty;
  EXPECT_EQ(ChooseSubnet(empty, "Subnet1", &kind), "");
  EXPECT_EQ(kind, model::NIC_TARGET_WITHOUT_SUBNETS);
}

// | Select             | Protected cloud | Protecting cloud | Target network available |
// | VMNetwork1-Chicago | SilverCloud1    | SilverCloud2     | Available                |
// |                    | GoldCloud1      | GoldCloud2       | Available                |
// | VMNetwork2-Chicago | SilverCloud1    | SilverCloud2     | Not available            |
// |                    | GoldCloud1      | GoldCloud2       | Available                |
TEST(NetworkGolden, TargetNetworkTable) {
  auto index = Example(TargetCloudsPerDocument::kAvailabilityTable);
  auto table = BuildTargetNetworkTable(*index, golden::kVmNetwork1NewYork);
  ASSERT_OK(table);
  ASSERT_EQ(table->rows_size(), 4);
  std::map<std::pair<std::string, std::string>, model::TargetNetworkAvailability> rows;
  for (const auto& r : table->rows()) {
    rows[{r.target_vm_network_name(), r.primary_cloud_name()}] = r;
  }
  auto row = [&](const char* net, const char* cloud) { return rows.at({net, cloud}); };
  EXPECT_TRUE(row("VMNetwork1-Chicago", "SilverCloud1").available());
  EXPECT_EQ(row("VMNetwork1-Chicago", "SilverCloud1").recovery_cloud_name(), "SilverCloud2");
  EXPECT_TRUE(row("VMNetwork1-Chicago", "GoldCloud1").available());
  EXPECT_EQ(row("VMNetwork1-Chicago", "GoldCloud1").recovery_cloud_name(), "GoldCloud2");
  EXPECT_FALSE(row("VMNetwork2-Chicago", "SilverCloud1").available());
  EXPECT_NE(row("VMNetwork2-Chicago", "SilverCloud1").explanation().find("LogicalNetwork2Chicago"),
            std::string::npos);
  EXPECT_TRUE(row("VMNetwork2-Chicago", "GoldCloud1").available());
  // Deterministic order: target network name, then primary cloud name.
  EXPECT_EQ(table->rows(0).primary_cloud_name(), "GoldCloud1");
  EXPECT_EQ(table->rows(1).primary_cloud_name(), "SilverCloud1");
  EXPECT_EQ(table->rows(3).target_vm_network_name(), "VMNetwork2-Chicago");
}

// With exactly the documents' cloud table (GoldCloud2 without
// LogicalNetwork2Chicago) the rule offers VMNetwork2-Chicago to no pairing,
// as the domain digest says ("LogicalNetwork2-Chicago, which no target cloud
// has").
TEST(NetworkGolden, TargetNetworkTableUnderTheCloudTable) {
  auto index = Example(TargetCloudsPerDocument::kCloudTable);
  auto table =
      BuildTargetNetworkTable(*index, golden::kVmNetwork1NewYork, golden::kVmNetwork2Chicago);
  ASSERT_OK(table);
  ASSERT_EQ(table->rows_size(), 2);
  for (const auto& r : table->rows()) EXPECT_FALSE(r.available()) << r.primary_cloud_name();
  auto one =
      BuildTargetNetworkTable(*index, golden::kVmNetwork1NewYork, golden::kVmNetwork1Chicago);
  ASSERT_OK(one);
  ASSERT_EQ(one->rows_size(), 2);
  for (const auto& r : one->rows()) EXPECT_TRUE(r.available()) << r.primary_cloud_name();
}

TEST(NetworkGolden, TargetNetworkTableUnknownSource) {
  auto index = Example();
  auto table = BuildTargetNetworkTable(*index, "nope");
  EXPECT_EQ(table.status().code(), absl::StatusCode::kNotFound);
}

// Failback with VM1 on VMNetwork1-NewYork and its replica VM2 on
// VMNetwork1-Chicago:
// | Scenario                                              | Outcome |
// | No change in VM2's network after failover             | VM1 stays on the source network |
// | VM2 disconnected after failover                        | VM1 is disconnected |
// | VM2 moved to VMNetwork2-Chicago (not mapped)           | VM1 is disconnected |
// | The mapping of VMNetwork1-Chicago changes              | VM1 joins the network now mapped |
model::FailbackRequest Request(const std::string& replica_network) {
  model::FailbackRequest r;
  r.set_vm_id("vm1");
  r.set_replica_vm_network_id(replica_network);
  r.set_replica_subnet_name("Subnet1");
  r.set_replica_failover_vm_network_id(golden::kVmNetwork1Chicago);
  return r;
}

TEST(NetworkGolden, FailbackNoChange) {
  auto index = Example();
  auto r = ResolveFailback(*index, Request(golden::kVmNetwork1Chicago));
  ASSERT_OK(r);
  EXPECT_EQ(r->scenario(), model::FAILBACK_NETWORK_UNCHANGED);
  EXPECT_EQ(r->original_vm_network_id(), golden::kVmNetwork1NewYork);
  EXPECT_EQ(r->vm_network_id(), golden::kVmNetwork1NewYork);
  EXPECT_EQ(r->subnet_name(), "Subnet1");
}

TEST(NetworkGolden, FailbackReplicaDisconnected) {
  auto index = Example();
  auto r = ResolveFailback(*index, Request(""));
  ASSERT_OK(r);
  EXPECT_EQ(r->scenario(), model::FAILBACK_REPLICA_DISCONNECTED);
  EXPECT_EQ(r->vm_network_id(), "");
}

TEST(NetworkGolden, FailbackReplicaOnUnmappedNetwork) {
  auto index = Example();
  auto r = ResolveFailback(*index, Request(golden::kVmNetwork2Chicago));
  ASSERT_OK(r);
  EXPECT_EQ(r->scenario(), model::FAILBACK_REPLICA_ON_UNMAPPED_NETWORK);
  EXPECT_EQ(r->vm_network_id(), "");
  EXPECT_NE(r->explanation().find("VMNetwork2-Chicago"), std::string::npos);
}

TEST(NetworkGolden, FailbackMappingChangedByRemappingTheSource) {
  // The mapping onto VMNetwork1-Chicago now comes from VMNetwork2-NewYork.
  FabricSnapshot s = golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
  s.network_mappings[0].set_source_vm_network_id(golden::kVmNetwork2NewYork);
  auto index = Build(std::move(s));
  auto r = ResolveFailback(*index, Request(golden::kVmNetwork1Chicago));
  ASSERT_OK(r);
  EXPECT_EQ(r->scenario(), model::FAILBACK_MAPPING_CHANGED);
  EXPECT_EQ(r->vm_network_id(), golden::kVmNetwork2NewYork);
  EXPECT_EQ(r->vm_network_name(), "VMNetwork2-NewYork");
  EXPECT_EQ(r->subnet_name(), "Subnet1");
}

TEST(NetworkGolden, FailbackMappingChangedByReverseMapping) {
  // An explicit mapping from VMNetwork1-Chicago wins over the reverse of
  // VMNetwork1-NewYork's mapping.
  FabricSnapshot s = golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
  model::NetworkMapping back;
  back.set_id("netmap-vmnet1-chicago");
  back.set_source_vm_network_id(golden::kVmNetwork1Chicago);
  back.set_target_vm_network_id(golden::kVmNetwork2NewYork);
  s.network_mappings.push_back(back);
  auto index = Build(std::move(s));
  auto r = ResolveFailback(*index, Request(golden::kVmNetwork1Chicago));
  ASSERT_OK(r);
  EXPECT_EQ(r->scenario(), model::FAILBACK_MAPPING_CHANGED);
  EXPECT_EQ(r->network_mapping_id(), "netmap-vmnet1-chicago");
  EXPECT_EQ(r->vm_network_id(), golden::kVmNetwork2NewYork);
}

TEST(NetworkGolden, FailbackReplicaMovedToAnotherMappedNetwork) {
  FabricSnapshot s = golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
  model::NetworkMapping m2;
  m2.set_id("netmap-vmnet2-newyork");
  m2.set_source_vm_network_id(golden::kVmNetwork2NewYork);
  m2.set_target_vm_network_id(golden::kVmNetwork2Chicago);
  s.network_mappings.push_back(m2);
  auto index = Build(std::move(s));
  auto r = ResolveFailback(*index, Request(golden::kVmNetwork2Chicago));
  ASSERT_OK(r);
  EXPECT_EQ(r->scenario(), model::FAILBACK_REPLICA_ON_OTHER_MAPPED_NETWORK);
  EXPECT_EQ(r->vm_network_id(), golden::kVmNetwork2NewYork);
}

TEST(NetworkGolden, FailbackNeedsAnOriginalNetwork) {
  auto index = Example();
  model::FailbackRequest r;
  r.set_replica_vm_network_id(golden::kVmNetwork1Chicago);
  EXPECT_EQ(ResolveFailback(*index, r).status().code(), absl::StatusCode::kInvalidArgument);
  r.set_vm_id("missing");
  EXPECT_EQ(ResolveFailback(*index, r).status().code(), absl::StatusCode::kNotFound);
}

TEST(FabricIndex, RejectsTwoMappingsFromOneSourceNetwork) {
  FabricSnapshot s = golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
  model::NetworkMapping dup = s.network_mappings[0];
  dup.set_id("other");
  dup.set_target_vm_network_id(golden::kVmNetwork2Chicago);
  s.network_mappings.push_back(dup);
  auto index = FabricIndex::Build(std::move(s));
  ASSERT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(index.status().message().find("at most one target"), std::string::npos);
}

TEST(FabricIndex, RejectsDuplicateIds) {
  FabricSnapshot s = golden::NewYorkChicagoNetworks(TargetCloudsPerDocument::kAvailabilityTable);
  s.vm_networks.push_back(s.vm_networks[0]);
  auto index = FabricIndex::Build(std::move(s));
  ASSERT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(index.status().message().find("vmnet1-newyork"), std::string::npos);
}

}  // namespace
}  // namespace asr::mapping
