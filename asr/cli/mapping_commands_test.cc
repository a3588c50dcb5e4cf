#include "asr/cli/mapping_commands.h"

#include <sstream>
#include <string>
#include <vector>

#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/mapping/golden_fixtures.h"
#include "asr/repository/object_repository.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::cli {
namespace {

using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out;
  std::string err;
};

template <typename T>
void PutAll(repository::ObjectRepository& e, const std::vector<T>& items) {
  for (const auto& item : items) ASSERT_OK(e.Put(item));
}

class MappingCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { Load(false); }

  // A fresh state directory with the network example (without its mapping)
  // or the storage example (without its mappings).
  void Load(bool storage) {
    dir_ = asr::testing::TestPath("mapcli");
    auto e = repository::ObjectRepository::Open(dir_, {});
    ASSERT_OK(e);
    ASSERT_OK((*e)->Initialize());
    mapping::FabricSnapshot s =
        storage ? mapping::golden::GoldSilverBronzeStorage()
                : mapping::golden::NewYorkChicagoNetworks(
                      mapping::golden::TargetCloudsPerDocument::kAvailabilityTable);
    PutAll(**e, s.clouds);
    PutAll(**e, s.host_groups);
    PutAll(**e, s.hosts);
    PutAll(**e, s.vms);
    PutAll(**e, s.vm_networks);
    PutAll(**e, s.logical_networks);
    PutAll(**e, s.storage_classifications);
    PutAll(**e, s.pairings);
    PutAll(**e, s.protected_items);
  }

  Result Asrctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"--state-dir", dir_});
    CommandRegistry registry;
    RegisterMappingCommands(registry);
    std::ostringstream out, err;
    int code = registry.Run(args, out, err);
    return {code, out.str(), err.str()};
  }

  std::string dir_;
};

TEST_F(MappingCommandsTest, NetworkMapLifecycle) {
  Result list = Asrctl({"network-map", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr("VMNetwork2-NewYork"));
  EXPECT_THAT(list.out, HasSubstr("not mapped"));

  Result add = Asrctl(
      {"network-map", "add", "--source", "VMNetwork1-NewYork", "--target", "VMNetwork1-Chicago"});
  ASSERT_EQ(add.code, 0) << add.err;
  EXPECT_THAT(add.out, HasSubstr("created network mapping netmap-vmnet1-newyork"));
  EXPECT_THAT(add.out, HasSubstr("VM1 NIC vm1-nic0: no network -> VMNetwork1-Chicago/Subnet1"));
  EXPECT_THAT(add.out, HasSubstr("VM7 NIC vm7-nic0: no network -> VMNetwork1-Chicago/Backend"));

  Result dup = Asrctl(
      {"network-map", "add", "--source", "VMNetwork1-NewYork", "--target", "VMNetwork2-Chicago"});
  EXPECT_EQ(dup.code, 1);
  EXPECT_THAT(dup.err, HasSubstr("already mapped to 'VMNetwork1-Chicago'"));

  Result list2 = Asrctl({"network-map", "list"});
  EXPECT_THAT(list2.out, HasSubstr("VMNetwork1-Chicago  VMNetwork1-NewYork"));

  Result targets = Asrctl({"network-map", "list", "--source", "VMNetwork1-NewYork"});
  ASSERT_EQ(targets.code, 0) << targets.err;
  EXPECT_THAT(targets.out, HasSubstr("not available"));

  Result resolve = Asrctl({"network-map", "resolve", "--vm", "VM7"});
  ASSERT_EQ(resolve.code, 0) << resolve.err;
  EXPECT_THAT(resolve.out,
              HasSubstr("vm7-nic0: VMNetwork1-NewYork/Subnet3 -> VMNetwork1-Chicago/Backend"));
  EXPECT_THAT(resolve.out, HasSubstr("vm7-nic1: VMNetwork2-NewYork/Subnet1 -> no network"));

  Result failback =
      Asrctl({"network-map", "resolve", "--vm", "VM1", "--failback", "--replica-network", "none"});
  ASSERT_EQ(failback.code, 0) << failback.err;
  EXPECT_THAT(failback.out, HasSubstr("FAILBACK_REPLICA_DISCONNECTED"));

  Result json = Asrctl({"--json", "network-map", "resolve", "--vm", "VM1"});
  ASSERT_EQ(json.code, 0);
  EXPECT_THAT(json.out, HasSubstr("\"targetSubnetName\":\"Subnet1\""));

  Result remove = Asrctl({"network-map", "remove", "VMNetwork1-NewYork"});
  ASSERT_EQ(remove.code, 0) << remove.err;
  EXPECT_THAT(remove.out, HasSubstr("VMNetwork1-Chicago/Subnet1 -> no network"));
  EXPECT_EQ(Asrctl({"network-map", "remove", "VMNetwork1-NewYork"}).code, 1);
}

TEST_F(MappingCommandsTest, StorageMapAndPlacement) {
  Load(true);
  for (auto [from, to] : std::vector<std::pair<const char*, const char*>>{
           {"GOLD", "GOLD_TARGET"}, {"SILVER", "SILVER_TARGET"}, {"BRONZE", "BRONZE_TARGET"}}) {
    Result add = Asrctl({"storage-map", "add", "--source", from, "--target", to});
    ASSERT_EQ(add.code, 0) << add.err;
  }
  Result list = Asrctl({"storage-map", "list"});
  ASSERT_EQ(list.code, 0);
  EXPECT_THAT(list.out, HasSubstr("GOLD_TARGET"));
  EXPECT_THAT(list.out, HasSubstr("not mapped"));

  Result vm5 = Asrctl({"storage-map", "resolve", "--vm", "VM5"});
  ASSERT_EQ(vm5.code, 0) << vm5.err;
  EXPECT_THAT(vm5.out, HasSubstr("D:\\Hyper-V\\Replica\\VM5\\VM5.vhdx"));

  Result show = Asrctl({"placement", "show", "--vm", "VM1"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("VM1 -> host target-h1 in recovery cloud TargetCloud"));
  EXPECT_THAT(show.out, HasSubstr("C:\\ClusterStorage\\TargetVolume1\\VM1\\VM1.vhdx"));

  Result missing = Asrctl({"placement", "show", "--vm", "NoSuchVm"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr("no vm with id or name 'NoSuchVm'"));
  Result usage = Asrctl({"placement", "show"});
  EXPECT_EQ(usage.code, 2);
}

TEST_F(MappingCommandsTest, PlacementExplainsWhenNoHostQualifies) {
  ASSERT_EQ(Asrctl({"network-map", "add", "--source", "VMNetwork2-NewYork", "--target",
                    "VMNetwork2-Chicago"})
                .code,
            0);
  Result show = Asrctl({"placement", "show", "--vm", "VM7"});
  EXPECT_EQ(show.code, 1);
  EXPECT_THAT(show.err, HasSubstr("no host of recovery cloud 'SilverCloud2' can take VM 'VM7'"));
  EXPECT_THAT(show.out, HasSubstr("not connected to logical network 'LogicalNetwork2Chicago'"));
}

}  // namespace
}  // namespace asr::cli
