// Golden tests: the storage mapping example of the Site Recovery documents
// (GOLD/SILVER/BRONZE in New York mapped to *_TARGET in Chicago), every row
// of its mapping and VM tables, including the unclassified SourceVolume3.
#include <map>
#include <memory>
#include <string>

#include "asr/common/testing/status_matchers.h"
#include "asr/mapping/fabric_index.h"
#include "asr/mapping/golden_fixtures.h"
#include "asr/mapping/placement.h"
#include "asr/mapping/storage_resolver.h"
#include "gtest/gtest.h"

namespace asr::mapping {
namespace {

using golden::kGiB;

std::unique_ptr<FabricIndex> Build(FabricSnapshot s) {
  auto index = FabricIndex::Build(std::move(s));
  EXPECT_OK(index);
  return std::move(index).value();
}

model::DiskPlacement OnlyDisk(const FabricIndex& index, const std::string& vm_id) {
  const model::VirtualMachine* vm = index.FindVm(vm_id);
  const model::HyperVHost* host = index.FindHost(golden::kTargetHost);
  CapacityLedger ledger;
  model::VmDiskResolutions r = ResolveDisksOnHost(index, *vm, *host, ledger);
  EXPECT_TRUE(r.fits());
  EXPECT_EQ(r.disks_size(), 1);
  return r.disks(0);
}

// | Location | VMM server | File share (source) | Classification | Mapped to     | File share
// (target) | | New York | VMM_Source | SourceShare1        | GOLD           | GOLD_TARGET   |
// TargetShare1        | |          |            | SourceShare2        | SILVER         |
// SILVER_TARGET | TargetShare2        | |          |            | SourceShare3        | BRONZE |
// BRONZE_TARGET | TargetShare3        | | Chicago  | VMM_Target |                     | GOLD_TARGET
// | Not mapped    |                     | |          |            |                     |
// SILVER_TARGET  | Not mapped    |                     | |          |            | | BRONZE_TARGET
// | Not mapped    |                     |
TEST(StorageGolden, MappingTable) {
  auto index = Build(golden::GoldSilverBronzeStorage());
  model::StorageMappingTable table = BuildStorageMappingTable(*index);
  ASSERT_EQ(table.rows_size(), 6);
  std::map<std::string, model::StorageMappingRow> rows;
  for (const auto& r : table.rows()) rows[r.classification_name()] = r;
  const std::pair<const char*, const char*> mapped[] = {
      {"GOLD", "GOLD_TARGET"}, {"SILVER", "SILVER_TARGET"}, {"BRONZE", "BRONZE_TARGET"}};
  for (const auto& [from, to] : mapped) {
    SCOPED_TRACE(from);
    EXPECT_EQ(rows[from].server_id(), "vmm-source");
    EXPECT_TRUE(rows[from].mapped());
    EXPECT_EQ(rows[from].mapped_classification_name(), to);
    EXPECT_EQ(rows[from].mapped_server_id(), "vmm-target");
    EXPECT_EQ(rows[to].server_id(), "vmm-target");
    EXPECT_FALSE(rows[to].mapped());
    EXPECT_EQ(rows[to].incoming_mapping_ids_size(), 1);
  }
  // The shares of each classification, as in the table.
  EXPECT_EQ(rows["GOLD"].storage_names(0), "SourceShare1");
  EXPECT_EQ(rows["SILVER"].storage_names(0), "SourceShare2");
  EXPECT_EQ(rows["BRONZE"].storage_names(0), "SourceShare3");
  EXPECT_EQ(rows["GOLD_TARGET"].storage_names(0), "TargetShare1");
  EXPECT_EQ(rows["SILVER_TARGET"].storage_names(0), "TargetShare2");
  EXPECT_EQ(rows["BRONZE_TARGET"].storage_names(0), "TargetShare3");
  EXPECT_EQ(rows["GOLD_TARGET"].storage_names(1), "TargetVolume1");
}

// | VM  | Source storage                    | Source classification | Mapped target storage |
// | VM1 | C:\ClusterStorage\SourceVolume1   | GOLD   | TargetVolume1 / TargetShare1, both
// GOLD_TARGET | | VM2 | \\FileServer\SourceShare1         | GOLD   | TargetVolume1 / TargetShare1,
// both GOLD_TARGET | | VM3 | C:\ClusterStorage\SourceVolume2   | SILVER | TargetVolume2 /
// TargetShare2, both SILVER_TARGET | | VM4 | \\FileServer\SourceShare2         | SILVER |
// TargetVolume2 / TargetShare2, both SILVER_TARGET | | VM5 | C:\ClusterStorage\SourceVolume3   |
// N/A    | no mapping: the Hyper-V host's default location | The optimal share/volume is the one
// with the most free space that holds the disk: TargetVolume1 (2 TiB) over TargetShare1 (1 TiB);
// TargetShare2 (800 GiB) over TargetVolume2 (500 GiB).
TEST(StorageGolden, VmTable) {
  auto index = Build(golden::GoldSilverBronzeStorage());
  struct Row {
    const char* vm;
    const char* source_classification;
    const char* target_classification;
    const char* target;
    const char* path;
  };
  const Row rows[] = {
      {"vm1", "GOLD", "GOLD_TARGET", "TargetVolume1", "C:\\ClusterStorage\\TargetVolume1"},
      {"vm2", "GOLD", "GOLD_TARGET", "TargetVolume1", "C:\\ClusterStorage\\TargetVolume1"},
      {"vm3", "SILVER", "SILVER_TARGET", "TargetShare2", "\\\\FileServer\\TargetShare2"},
      {"vm4", "SILVER", "SILVER_TARGET", "TargetShare2", "\\\\FileServer\\TargetShare2"},
      {"vm6", "BRONZE", "BRONZE_TARGET", "TargetShare3", "\\\\FileServer\\TargetShare3"},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.vm);
    model::DiskPlacement d = OnlyDisk(*index, r.vm);
    EXPECT_EQ(d.kind(), model::DISK_ON_MAPPED_STORAGE);
    EXPECT_EQ(d.source_classification_name(), r.source_classification);
    EXPECT_EQ(d.target_classification_name(), r.target_classification);
    EXPECT_EQ(d.target_storage_target_id(), r.target);
    EXPECT_EQ(d.target_path(), r.path);
    // Both candidates of the documents' row are in the target classification.
    const StorageTargetRef ref = index->FindStorageTarget(d.target_storage_target_id());
    ASSERT_NE(ref.classification, nullptr);
    EXPECT_EQ(ref.classification->name(), r.target_classification);
  }
  // VM5: unclassified SourceVolume3 -> host default location.
  model::DiskPlacement vm5 = OnlyDisk(*index, "vm5");
  EXPECT_EQ(vm5.kind(), model::DISK_HOST_DEFAULT_UNCLASSIFIED);
  EXPECT_EQ(vm5.source_classification_id(), "");
  EXPECT_EQ(vm5.target_storage_target_id(), "");
  EXPECT_EQ(vm5.target_path(), golden::kTargetHostDefaultPath);
  EXPECT_EQ(vm5.replica_disk_path(), "D:\\Hyper-V\\Replica\\VM5\\VM5.vhdx");
  EXPECT_NE(vm5.explanation().find("no storage classification"), std::string::npos);
}

TEST(StorageGolden, TypesMayDifferSmbToCsv) {
  // VM2's GOLD disk lives on an SMB share and lands on a CSV.
  auto index = Build(golden::GoldSilverBronzeStorage());
  model::DiskPlacement d = OnlyDisk(*index, "vm2");
  EXPECT_EQ(d.target_storage_type(), model::CLUSTER_SHARED_VOLUME);
  EXPECT_EQ(d.replica_disk_path(), "C:\\ClusterStorage\\TargetVolume1\\VM2\\VM2.vhdx");
}

TEST(StorageGolden, OptimalIsMostFreeSpaceThatFits) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  // A 1.5 TiB disk does not fit TargetShare1 (1 TiB) but fits TargetVolume1.
  s.vms[0].mutable_disks(0)->set_size_bytes(1536 * kGiB);
  // A 600 GiB disk: TargetShare2 (800 GiB) is the only SILVER_TARGET fit.
  s.vms[2].mutable_disks(0)->set_size_bytes(600 * kGiB);
  auto index = Build(std::move(s));
  EXPECT_EQ(OnlyDisk(*index, "vm1").target_storage_target_id(), "TargetVolume1");
  EXPECT_EQ(OnlyDisk(*index, "vm3").target_storage_target_id(), "TargetShare2");
}

TEST(StorageGolden, TiesGoToTheLowerName) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  for (auto& c : s.storage_classifications) {
    for (auto& t : *c.mutable_targets()) t.set_free_bytes(700 * kGiB);
  }
  auto index = Build(std::move(s));
  // "TargetShare1" < "TargetVolume1".
  EXPECT_EQ(OnlyDisk(*index, "vm1").target_storage_target_id(), "TargetShare1");
}

TEST(StorageGolden, NothingFitsFallsBackToHostDefault) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  s.vms[0].mutable_disks(0)->set_size_bytes(3000 * kGiB);
  auto index = Build(std::move(s));
  model::DiskPlacement d = OnlyDisk(*index, "vm1");
  EXPECT_EQ(d.kind(), model::DISK_HOST_DEFAULT_NO_SUITABLE_TARGET);
  EXPECT_EQ(d.target_path(), golden::kTargetHostDefaultPath);
  EXPECT_NE(d.explanation().find("TargetVolume1: 2048 GiB free"), std::string::npos)
      << d.explanation();
}

TEST(StorageGolden, UnreachableStorageFallsBackToHostDefault) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  for (auto& h : s.hosts) {
    if (h.id() == golden::kTargetHost) h.clear_storage_target_ids();
  }
  auto index = Build(std::move(s));
  model::DiskPlacement d = OnlyDisk(*index, "vm1");
  EXPECT_EQ(d.kind(), model::DISK_HOST_DEFAULT_NO_SUITABLE_TARGET);
  EXPECT_NE(d.explanation().find("not reachable"), std::string::npos);
}

TEST(StorageGolden, UnmappedClassificationGoesToHostDefault) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  s.storage_mappings.pop_back();  // BRONZE no longer mapped
  auto index = Build(std::move(s));
  model::DiskPlacement d = OnlyDisk(*index, "vm6");
  EXPECT_EQ(d.kind(), model::DISK_HOST_DEFAULT_UNMAPPED);
  EXPECT_EQ(d.target_path(), golden::kTargetHostDefaultPath);
}

TEST(StorageGolden, DisksOfOneVmShareFreeSpace) {
  FabricSnapshot s = golden::GoldSilverBronzeStorage();
  // Two 1.2 TiB GOLD disks: the first takes TargetVolume1 (2 TiB), the
  // second no longer fits there (0.8 TiB left) nor on TargetShare1 (1 TiB).
  model::VirtualDisk second = s.vms[0].disks(0);
  second.set_id("vm1-disk1");
  second.set_path("C:\\ClusterStorage\\SourceVolume1\\VM1\\data.vhdx");
  s.vms[0].mutable_disks(0)->set_size_bytes(1228 * kGiB);
  second.set_size_bytes(1228 * kGiB);
  *s.vms[0].add_disks() = second;
  auto index = Build(std::move(s));
  CapacityLedger ledger;
  auto r = ResolveDisksOnHost(*index, *index->FindVm("vm1"), *index->FindHost(golden::kTargetHost),
                              ledger);
  ASSERT_TRUE(r.fits());
  EXPECT_EQ(r.disks(0).target_storage_target_id(), "TargetVolume1");
  EXPECT_EQ(r.disks(1).kind(), model::DISK_HOST_DEFAULT_NO_SUITABLE_TARGET);
  EXPECT_EQ(r.disks(1).replica_disk_path(), "D:\\Hyper-V\\Replica\\VM1\\data.vhdx");
}

TEST(StorageGolden, PlacementOfTheStorageExample) {
  auto index = Build(golden::GoldSilverBronzeStorage());
  for (const char* vm : {"vm1", "vm2", "vm3", "vm4", "vm5", "vm6"}) {
    auto p = PlaceReplica(*index, vm);
    ASSERT_OK(p);
    EXPECT_TRUE(p->placed()) << p->explanation();
    EXPECT_EQ(p->host_id(), golden::kTargetHost);
    ASSERT_EQ(p->disks_size(), 1);
  }
}

TEST(StorageGolden, JoinWindowsPath) {
  EXPECT_EQ(JoinWindowsPath("D:\\R", "vm"), "D:\\R\\vm");
  EXPECT_EQ(JoinWindowsPath("D:\\R\\", "vm"), "D:\\R\\vm");
  EXPECT_EQ(JoinWindowsPath("D:\\R\\", "\\vm"), "D:\\R\\vm");
  EXPECT_EQ(JoinWindowsPath("", "vm"), "vm");
}

}  // namespace
}  // namespace asr::mapping
