#include "asr/fabric/simulated_fabric.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "asr/platform/env.h"
#include "asr/platform/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::fabric {
namespace {

using ::asr::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint64_t kMiB = 1 << 20;

class RecordingSink : public WriteSink {
 public:
  absl::Status RecordWrite(uint64_t offset, uint64_t length) override {
    absl::MutexLock l(&mu_);
    writes_.emplace_back(offset, length);
    return absl::OkStatus();
  }
  std::vector<std::pair<uint64_t, uint64_t>> writes() {
    absl::MutexLock l(&mu_);
    return writes_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<uint64_t, uint64_t>> writes_;
};

model::VmmServer Server(const std::string& name) {
  model::VmmServer s;
  s.set_id("srv-" + name);
  s.set_friendly_name(name);
  return s;
}

std::unique_ptr<SimulatedFabric> Example(std::string* root = nullptr, uint64_t size = 16 * kMiB) {
  std::string dir = asr::testing::TestDir("fabric");
  if (root) *root = dir;
  FabricOptions o;
  o.disk_size_bytes = size;
  auto f = CreateExampleFabric(dir, o);
  EXPECT_OK(f);
  return f.ok() ? *std::move(f) : nullptr;
}

// Copies the virtual disk at `from` into a new VHDX at `to`, as a replica's
// reader would: through asr's disk library, read-only.
void CopyImage(const std::string& from, const std::string& to) {
  ASSERT_OK_AND_ASSIGN(auto src, disk::OpenDisk(from, disk::OpenMode::kReadOnly));
  disk::CreateOptions co;
  co.virtual_size = src->virtual_size();
  ASSERT_OK_AND_ASSIGN(auto dst, disk::CreateDisk(to, co));
  std::vector<uint8_t> buf(kMiB);
  for (uint64_t off = 0; off < src->virtual_size(); off += buf.size()) {
    ASSERT_OK(src->ReadAt(off, absl::MakeSpan(buf)));
    ASSERT_OK(dst->WriteAt(off, absl::MakeConstSpan(buf)));
  }
  ASSERT_OK(dst->Close());
}

model::VmPowerState Power(SimulatedFabric& f, const std::string& vm) {
  auto p = f.GetPowerState(vm);
  EXPECT_OK(p);
  return p.ok() ? *p : model::VM_POWER_STATE_UNSPECIFIED;
}

std::string DiskPath(SimulatedFabric& f, const std::string& vm, int i = 0) {
  auto v = f.GetVm(vm);
  EXPECT_OK(v);
  return v.ok() ? v->disks(i).path() : "";
}

TEST(SimulatedFabricTest, CreateRewritesPathsAndMakesRealDisks) {
  std::string root;
  auto f = Example(&root);
  ASSERT_NE(f, nullptr);
  ASSERT_OK_AND_ASSIGN(model::Inventory ny, f->GetInventory(Server("vmm-ny")));
  ASSERT_EQ(ny.virtual_machines_size(), 3);
  for (const model::VirtualMachine& vm : ny.virtual_machines()) {
    for (const model::VirtualDisk& d : vm.disks()) {
      EXPECT_THAT(d.path(), StartsWith(root + "/storage/vmm-ny/"));
      EXPECT_EQ(d.size_bytes(), 16 * kMiB);
      ASSERT_OK_AND_ASSIGN(auto disk, disk::OpenDisk(d.path(), disk::OpenMode::kReadOnly));
      EXPECT_EQ(disk->info().format, disk::DiskFormat::kVhdx);
      EXPECT_EQ(disk->info().type, disk::DiskType::kDynamic);
      EXPECT_EQ(disk->virtual_size(), 16 * kMiB);
    }
  }
  // Shared storage at the server level, host-local storage per host.
  EXPECT_EQ(ny.virtual_machines(0).disks(0).path(),
            root + "/storage/vmm-ny/C_/ClusterStorage/Volume1/vm1.vhdx");
  EXPECT_EQ(ny.virtual_machines(1).disks(0).path(),
            root + "/storage/vmm-ny/hv-ny-01/E_/SourceVolume3/vm2.vhdx");
  ASSERT_OK_AND_ASSIGN(model::Inventory chi, f->GetInventory(Server("vmm-chi")));
  for (const auto& sc : chi.storage_classifications()) {
    for (const auto& t : sc.targets()) {
      EXPECT_THAT(t.path(), StartsWith(root + "/storage/vmm-chi/"));
      ASSERT_OK_AND_ASSIGN(auto info, platform::Env::Default()->Stat(t.path()));
      EXPECT_EQ(info.type, platform::FileType::kDirectory);
    }
  }
  for (const auto& h : chi.hosts()) {
    EXPECT_THAT(h.default_storage_path(), StartsWith(root + "/storage/vmm-chi/" + h.id() + "/"));
    EXPECT_TRUE(PathExists(h.default_storage_path()));
  }
  EXPECT_THAT(f->GetInventory(Server("vmm-la")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(CreateExampleFabric(root), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(SimulatedFabric::Open(asr::testing::TestDir("empty")),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(SimulatedFabricTest, DefaultSizesAreCapped) {
  std::string dir = asr::testing::TestDir("capped");
  FabricOptions o;
  o.max_disk_size_bytes = 32 * kMiB;
  ASSERT_OK_AND_ASSIGN(auto f, CreateExampleFabric(dir, o));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm1, f->GetVm("vm1"));
  EXPECT_EQ(vm1.disks(0).size_bytes(), 32 * kMiB);  // 64 GiB in the inventory
}

TEST(SimulatedFabricTest, InventoryFileLoads) {
  std::string dir = asr::testing::TestDir("invfile");
  std::string path = JoinPath(dir, "inv.json");
  ASSERT_OK(WriteFileAtomically(path, R"({"servers":[{"name":"vmm-a","inventory":{
    "hosts":[{"id":"h1","defaultStoragePath":"D:\\VMs"}],
    "virtualMachines":[{"id":"a1","hostId":"h1","powerState":"RUNNING",
      "disks":[{"id":"a1-d0","path":"D:\\VMs\\a1.vhdx","sizeBytes":"1048576"}]}]}}]})"));
  ASSERT_OK_AND_ASSIGN(auto servers, LoadInventoryFile(path));
  ASSERT_EQ(servers.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto f, SimulatedFabric::Create(JoinPath(dir, "fab"), servers));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine a1, f->GetVm("a1"));
  EXPECT_EQ(a1.server_id(), "vmm-a");
  EXPECT_EQ(a1.disks(0).size_bytes(), kMiB);
  EXPECT_OK(f->GuestWrite("a1", "a1-d0", 0, 4096, 1));

  ASSERT_OK(WriteFileAtomically(path, R"({"servers":"nope"})"));
  EXPECT_THAT(LoadInventoryFile(path), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SimulatedFabricTest, StatePersistsAcrossOpenAndReachesOtherInstances) {
  std::string root;
  auto a = Example(&root);
  ASSERT_NE(a, nullptr);
  ASSERT_OK_AND_ASSIGN(auto b, SimulatedFabric::Open(root));  // as another process would
  ASSERT_OK(a->StartVm("vm3"));
  EXPECT_EQ(Power(*b, "vm3"), model::RUNNING);
  ASSERT_OK(a->SetHostDown("hv-ny-02", true));
  EXPECT_THAT(b->GetVm("vm3"), StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("host hv-ny-02 is not responding")));
  ASSERT_OK_AND_ASSIGN(model::HostPoint p1, a->CreatePoint("vm1", model::CrashConsistent));
  ASSERT_OK(a->ReleasePoint(p1));
  a.reset();
  b.reset();

  ASSERT_OK_AND_ASSIGN(auto c, SimulatedFabric::Open(root));
  ASSERT_OK(c->SetHostDown("hv-ny-02", false));
  EXPECT_EQ(Power(*c, "vm3"), model::RUNNING);
  ASSERT_OK_AND_ASSIGN(model::HostPoint p2, c->CreatePoint("vm1", model::CrashConsistent));
  EXPECT_EQ(p1.id(), "1");
  EXPECT_EQ(p2.id(), "2");  // unique across processes
  ASSERT_OK(c->ReleasePoint(p2));
}

TEST(SimulatedFabricTest, PowerStates) {
  auto f = Example();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Power(*f, "vm3"), model::STOPPED);
  EXPECT_THAT(f->GuestWrite("vm3", "vm3-d0", 0, 512, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not running")));
  ASSERT_OK(f->StartVm("vm3"));
  ASSERT_OK(f->StartVm("vm3"));  // already running: fine
  EXPECT_OK(f->GuestWrite("vm3", "vm3-d0", 0, 512, 1));
  EXPECT_THAT(f->DeleteVm("vm3", true), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(f->ShutdownVm("vm3"));
  EXPECT_EQ(Power(*f, "vm3"), model::STOPPED);
  ASSERT_OK(f->StartVm("vm3"));
  ASSERT_OK(f->TurnOffVm("vm3"));
  std::string path = DiskPath(*f, "vm3");
  ASSERT_TRUE(PathExists(path));
  ASSERT_OK(f->DeleteVm("vm3", /*delete_disks=*/true));
  EXPECT_FALSE(PathExists(path));
  EXPECT_THAT(f->GetVm("vm3"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(f->DeleteVm("vm3", true), StatusIs(absl::StatusCode::kNotFound));
  // Without delete_disks the file stays.
  ASSERT_OK(f->TurnOffVm("vm2"));
  path = DiskPath(*f, "vm2");
  ASSERT_OK(f->DeleteVm("vm2", false));
  EXPECT_TRUE(PathExists(path));
}

TEST(SimulatedFabricTest, ReplicaVmsAndNics) {
  auto f = Example();
  ASSERT_NE(f, nullptr);
  ASSERT_OK_AND_ASSIGN(model::Inventory chi, f->GetInventory(Server("vmm-chi")));
  std::string dir = chi.storage_classifications(0).targets(0).path();
  std::string replica = JoinPath(dir, "vm1-replica.vhdx");
  disk::CreateOptions co;
  co.virtual_size = 16 * kMiB;
  ASSERT_OK_AND_ASSIGN(auto d, disk::CreateDisk(replica, co));
  ASSERT_OK(d->Close());

  model::ReplicaVmSpec spec;
  spec.set_replica_vm_id("vm1-replica");
  spec.set_name("VM1");
  spec.set_host_id("hv-chi-01");
  spec.set_source_vm_id("vm1");
  model::VirtualDisk* vd = spec.add_disks();
  vd->set_id("vm1-d0");
  vd->set_path(replica);
  vd->set_size_bytes(16 * kMiB);
  model::NetworkAdapter* nic = spec.add_network_adapters();
  nic->set_id("vm1-nic0");

  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm, f->CreateReplicaVm(spec));
  EXPECT_EQ(vm.host_id(), "hv-chi-01");
  EXPECT_EQ(vm.cloud_id(), "gold2");
  EXPECT_EQ(vm.server_id(), "vmm-chi");
  EXPECT_EQ(vm.power_state(), model::STOPPED);
  EXPECT_OK(f->CreateReplicaVm(spec));  // idempotent
  ASSERT_OK_AND_ASSIGN(chi, f->GetInventory(Server("vmm-chi")));
  ASSERT_EQ(chi.virtual_machines_size(), 1);
  EXPECT_EQ(chi.virtual_machines(0).id(), "vm1-replica");

  model::ReplicaVmSpec other = spec;
  other.set_host_id("hv-chi-02");
  EXPECT_THAT(f->CreateReplicaVm(other), StatusIs(absl::StatusCode::kAlreadyExists));
  other = spec;
  other.set_replica_vm_id("vm9");
  other.mutable_disks(0)->set_path(JoinPath(dir, "missing-dir/missing.vhdx"));
  EXPECT_THAT(f->CreateReplicaVm(other),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing-dir/missing.vhdx")));
  other = spec;
  other.set_replica_vm_id("vm9");
  other.set_host_id("hv-la-01");
  EXPECT_THAT(f->CreateReplicaVm(other), StatusIs(absl::StatusCode::kNotFound));

  model::NetworkAdapter connect;
  connect.set_id("vm1-nic0");
  connect.set_vm_network_id("vmn1-chi");
  connect.set_subnet_name("Subnet1");
  ASSERT_OK(f->ConnectNic("vm1-replica", connect));
  ASSERT_OK_AND_ASSIGN(vm, f->GetVm("vm1-replica"));
  EXPECT_EQ(vm.network_adapters(0).vm_network_id(), "vmn1-chi");
  EXPECT_EQ(vm.network_adapters(0).subnet_name(), "Subnet1");
  // The subnet's pool (172.16.1.0/24) gives the NIC an address, from .10;
  // connected again to the same subnet it keeps it.
  EXPECT_EQ(vm.network_adapters(0).ip_address(), "172.16.1.10");
  ASSERT_OK(f->ConnectNic("vm1-replica", connect));
  ASSERT_OK_AND_ASSIGN(vm, f->GetVm("vm1-replica"));
  EXPECT_EQ(vm.network_adapters(0).ip_address(), "172.16.1.10");
  // Another VM of the subnet gets the next free one; one it asks for when
  // that is free and in the subnet, else the next free one.
  model::ReplicaVmSpec second = spec;
  second.set_replica_vm_id("vm2-replica");
  second.mutable_disks(0)->set_path(JoinPath(dir, "vm2-replica.vhdx"));
  ASSERT_OK_AND_ASSIGN(auto d2, disk::CreateDisk(second.disks(0).path(), co));
  ASSERT_OK(d2->Close());
  ASSERT_OK(f->CreateReplicaVm(second).status());
  ASSERT_OK(f->ConnectNic("vm2-replica", connect));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm2, f->GetVm("vm2-replica"));
  EXPECT_EQ(vm2.network_adapters(0).ip_address(), "172.16.1.11");
  model::NetworkAdapter wants = connect;
  wants.set_vm_network_id("vmn2-chi");
  wants.set_ip_address("172.16.2.77");
  ASSERT_OK(f->ConnectNic("vm2-replica", wants));
  ASSERT_OK_AND_ASSIGN(vm2, f->GetVm("vm2-replica"));
  EXPECT_EQ(vm2.network_adapters(0).ip_address(), "172.16.2.77");
  // No subnet named: the network's first one, with its pool.
  model::NetworkAdapter first = connect;
  first.set_vm_network_id("vmn2-chi");
  first.clear_subnet_name();
  ASSERT_OK(f->ConnectNic("vm1-replica", first));
  ASSERT_OK_AND_ASSIGN(vm, f->GetVm("vm1-replica"));
  EXPECT_EQ(vm.network_adapters(0).subnet_name(), "Subnet1");
  EXPECT_EQ(vm.network_adapters(0).ip_address(), "172.16.2.10");
  ASSERT_OK(f->ConnectNic("vm1-replica", connect));
  wants.set_vm_network_id("vmn1-chi");
  wants.set_ip_address("172.16.1.10");  // taken by vm1-replica
  ASSERT_OK(f->ConnectNic("vm2-replica", wants));
  ASSERT_OK_AND_ASSIGN(vm2, f->GetVm("vm2-replica"));
  EXPECT_EQ(vm2.network_adapters(0).ip_address(), "172.16.1.11");
  connect.set_vm_network_id("vmn1-ny");  // not on this server
  EXPECT_THAT(f->ConnectNic("vm1-replica", connect), StatusIs(absl::StatusCode::kNotFound));
  connect.set_vm_network_id("vmn1-chi");
  connect.set_subnet_name("Subnet9");
  EXPECT_THAT(f->ConnectNic("vm1-replica", connect), StatusIs(absl::StatusCode::kNotFound));
  connect.set_vm_network_id("");
  ASSERT_OK(f->ConnectNic("vm1-replica", connect));
  ASSERT_OK_AND_ASSIGN(vm, f->GetVm("vm1-replica"));
  EXPECT_EQ(vm.network_adapters(0).vm_network_id(), "");
  EXPECT_EQ(vm.network_adapters(0).ip_address(), "");  // back to the pool
  ASSERT_OK(f->StartVm("vm1-replica"));                // a failover would
}

TEST(SimulatedFabricTest, GuestWritesReportLogAndVerify) {
  std::string root;
  auto f = Example(&root);
  ASSERT_NE(f, nullptr);
  RecordingSink sink;
  ASSERT_OK(f->AttachChangeTracking("vm1", "vm1-d0", &sink));
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 10 * kMiB + 200 * 1024, 64 * 1024, 7));
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 3 * kMiB + 100, 5000, 8));  // unaligned
  ASSERT_OK_AND_ASSIGN(model::HostPoint p, f->CreatePoint("vm1", model::AppConsistent));
  EXPECT_EQ(p.id(), "1");
  ASSERT_EQ(p.disks_size(), 1);
  std::string image = JoinPath(root, "vm1-at-point.vhdx");
  CopyImage(p.disks(0).read_path(), image);  // read while the point is held
  ASSERT_OK(f->ReleasePoint(p));
  // Overwrites part of the first write after the point.
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 10 * kMiB + 200 * 1024 + 4096, 512, 9));
  ASSERT_OK(f->DetachChangeTracking("vm1", "vm1-d0"));
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 0, 512, 10));

  EXPECT_EQ(sink.writes(),
            (std::vector<std::pair<uint64_t, uint64_t>>{{10 * kMiB + 200 * 1024, 64 * 1024},
                                                        {3 * kMiB + 100, 5000},
                                                        {10 * kMiB + 200 * 1024 + 4096, 512}}));
  ASSERT_OK_AND_ASSIGN(auto log, ReadWriteLog(root));
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[2].kind, WriteLogRecord::Kind::kPoint);
  EXPECT_EQ(log[2].point, 1u);
  EXPECT_EQ(log[3].seq, 4u);

  EXPECT_OK(f->VerifyDiskAtPoint("vm1", "vm1-d0", "1", image));
  EXPECT_OK(f->VerifyDiskLatest("vm1", "vm1-d0", DiskPath(*f, "vm1")));
  // The image lacks what came after the point.
  EXPECT_THAT(f->VerifyDiskLatest("vm1", "vm1-d0", image),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("write #4 (vm1 vm1-d0, 512 B at")));
  // The live disk holds a write from after the point over write #1.
  EXPECT_THAT(f->VerifyDiskAtPoint("vm1", "vm1-d0", "1", DiskPath(*f, "vm1")),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("write #1 (vm1 vm1-d0, 64 KiB at 10.2 MiB, "
                                                  "before point 1) is missing"),
                                        HasSubstr("the data of write #4, made after the point"))));
  // One corrupted byte in the image.
  {
    ASSERT_OK_AND_ASSIGN(auto d, disk::OpenDisk(image, disk::OpenMode::kReadWrite));
    uint8_t b = 0;
    ASSERT_OK(d->ReadAt(3 * kMiB + 2000, absl::MakeSpan(&b, 1)));
    b ^= 0x40;
    ASSERT_OK(d->WriteAt(3 * kMiB + 2000, absl::MakeConstSpan(&b, 1)));
    ASSERT_OK(d->Close());
  }
  EXPECT_THAT(f->VerifyDiskAtPoint("vm1", "vm1-d0", "1", image),
              StatusIs(absl::StatusCode::kDataLoss,
                       ::testing::AllOf(HasSubstr("write #2 (vm1 vm1-d0, 4.9 KiB at 3.0 MiB"),
                                        HasSubstr("at byte 3147728"))));
  EXPECT_THAT(f->VerifyDiskAtPoint("vm2", "vm2-d0", "1", image),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(f->VerifyDiskAtPoint("vm1", "vm1-d0", "99", image),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(f->GuestWrite("vm1", "vm1-d0", 16 * kMiB - 100, 512, 1),
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(SimulatedFabricTest, PointFreezesTheVmsWritesUntilRelease) {
  auto f = Example();
  ASSERT_NE(f, nullptr);
  ASSERT_OK_AND_ASSIGN(model::HostPoint p, f->CreatePoint("vm1", model::CrashConsistent));
  EXPECT_THAT(f->CreatePoint("vm1", model::CrashConsistent),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already held")));
  EXPECT_THAT(f->TurnOffVm("vm1"), StatusIs(absl::StatusCode::kFailedPrecondition));
  std::atomic<bool> done{false};
  absl::Status result;
  std::thread writer([&] {
    result = f->GuestWrite("vm1", "vm1-d0", 0, 4096, 1);
    done = true;
  });
  EXPECT_OK(f->GuestWrite("vm2", "vm2-d0", 0, 4096, 2));  // other VMs are not frozen
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(done.load());
  ASSERT_OK(f->ReleasePoint(p));
  writer.join();
  EXPECT_TRUE(done.load());
  EXPECT_OK(result);
  EXPECT_THAT(f->ReleasePoint(p), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(auto log, ReadWriteLog(f->root()));
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].kind, WriteLogRecord::Kind::kPoint);
  EXPECT_EQ(log[1].vm_id, "vm2");
  EXPECT_EQ(log[2].vm_id, "vm1");  // after the point
}

TEST(SimulatedFabricTest, WritesOfAnotherInstanceReachTheSinkAtThePoint) {
  std::string root;
  auto site = Example(&root);
  ASSERT_NE(site, nullptr);
  ASSERT_OK_AND_ASSIGN(auto workload, SimulatedFabric::Open(root));  // as another process
  RecordingSink sink;
  ASSERT_OK(site->AttachChangeTracking("vm1", "vm1-d0", &sink));
  ASSERT_OK(workload->GuestWrite("vm1", "vm1-d0", kMiB, 8192, 3));
  EXPECT_TRUE(sink.writes().empty());
  ASSERT_OK_AND_ASSIGN(model::HostPoint p, site->CreatePoint("vm1", model::CrashConsistent));
  EXPECT_EQ(sink.writes(), (std::vector<std::pair<uint64_t, uint64_t>>{{kMiB, 8192}}));
  // The other instance's write is readable at the point (its metadata flushed).
  std::string image = JoinPath(root, "copy.vhdx");
  CopyImage(p.disks(0).read_path(), image);
  ASSERT_OK(site->ReleasePoint(p));
  EXPECT_OK(site->VerifyDiskAtPoint("vm1", "vm1-d0", p.id(), image));
  // Only one process writes a disk at a time.
  EXPECT_THAT(site->GuestWrite("vm1", "vm1-d0", 0, 512, 1),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("another process")));
}

TEST(SimulatedFabricTest, WorkloadWritesRunningVmsAndVerifies) {
  std::string root;
  auto f = Example(&root, 8 * kMiB);
  ASSERT_NE(f, nullptr);
  RecordingSink sink;
  ASSERT_OK(f->AttachChangeTracking("vm1", "vm1-d0", &sink));
  WorkloadOptions w;
  w.writes_per_second = 200;
  w.min_write_bytes = 512;
  w.max_write_bytes = 128 * 1024;
  w.seed = 42;
  ASSERT_OK(f->StartWorkload(w));
  EXPECT_THAT(f->StartWorkload(w), StatusIs(absl::StatusCode::kFailedPrecondition));
  absl::SleepFor(absl::Milliseconds(400));
  ASSERT_OK_AND_ASSIGN(model::HostPoint p, f->CreatePoint("vm1", model::CrashConsistent));
  std::string image = JoinPath(root, "vm1-point.vhdx");
  CopyImage(p.disks(0).read_path(), image);
  ASSERT_OK(f->ReleasePoint(p));
  absl::SleepFor(absl::Milliseconds(300));
  WorkloadStats stats = f->StopWorkload();
  EXPECT_EQ(stats.errors, 0u) << stats.last_error;
  EXPECT_GT(stats.writes, 100u);

  ASSERT_OK_AND_ASSIGN(auto log, ReadWriteLog(root));
  std::vector<std::pair<uint64_t, uint64_t>> logged;
  std::set<std::string> vms;
  uint64_t after_point = 0;
  for (const WriteLogRecord& r : log) {
    if (r.kind != WriteLogRecord::Kind::kWrite) continue;
    vms.insert(r.vm_id);
    if (r.vm_id == "vm1" && r.disk_id == "vm1-d0") {
      logged.emplace_back(r.offset, r.length);
      if (r.seq > 0 && r.time_us > p.time_us()) ++after_point;
    }
  }
  EXPECT_EQ(vms, (std::set<std::string>{"vm1", "vm2"}));  // vm3 is stopped
  EXPECT_EQ(sink.writes(), logged);
  EXPECT_OK(f->VerifyDiskAtPoint("vm1", "vm1-d0", p.id(), image));
  EXPECT_OK(f->VerifyDiskLatest("vm1", "vm1-d0", DiskPath(*f, "vm1")));
  EXPECT_OK(f->VerifyDiskLatest("vm2", "vm2-d0", DiskPath(*f, "vm2")));
  if (after_point > 0) {
    EXPECT_THAT(f->VerifyDiskLatest("vm1", "vm1-d0", image), StatusIs(absl::StatusCode::kDataLoss));
  }
  // StopWorkload closed the disks: clean files for other tools.
  platform::ProcessResult check;
  if (PathExists("/usr/bin/qemu-img")) {
    ASSERT_OK_AND_ASSIGN(check, platform::RunProcess("/usr/bin/qemu-img",
                                                     {"check", "-f", "vhdx", DiskPath(*f, "vm1")}));
    EXPECT_EQ(check.exit_code, 0) << check.output;
  }
}

// A guest write whose process dies after its log record and before its
// disk write was never completed to the guest: the disk does not hold it,
// and verification must not call that a loss; it still demands every
// acknowledged write. (The fault stops the write exactly there, as a kill
// -9 of the workload's process at that moment does.)
TEST(SimulatedFabricTest, WriteCutOffBeforeItsDiskWriteIsNotDemandedByVerify) {
  std::string root;
  auto f = Example(&root);
  ASSERT_NE(f, nullptr);
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 1 * kMiB, 64 * 1024, 1));  // #1
  absl::Status cut = absl::UnavailableError("killed before the disk write (injected)");
  f->FailNextCalls("GuestDiskWrite", 2, cut);
  // #2 over the middle of #1; #3 into blocks never written (they read 0x00).
  EXPECT_THAT(f->GuestWrite("vm1", "vm1-d0", 1 * kMiB + 4096, 8192, 2),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(f->GuestWrite("vm1", "vm1-d0", 6 * kMiB + 600 * 1024, 9728, 3),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK_AND_ASSIGN(model::HostPoint p1, f->CreatePoint("vm1", model::CrashConsistent));
  std::string before = JoinPath(root, "at-p1.vhdx");
  CopyImage(p1.disks(0).read_path(), before);
  ASSERT_OK(f->ReleasePoint(p1));
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 2 * kMiB, 4096, 4));  // #5 (#4 is p1's marker)
  ASSERT_OK_AND_ASSIGN(model::HostPoint p2, f->CreatePoint("vm1", model::CrashConsistent));
  std::string after = JoinPath(root, "at-p2.vhdx");
  CopyImage(p2.disks(0).read_path(), after);
  ASSERT_OK(f->ReleasePoint(p2));

  ASSERT_OK_AND_ASSIGN(auto log, ReadWriteLog(root));
  ASSERT_EQ(log.size(), 6u);  // acknowledgements are folded into their writes
  EXPECT_TRUE(log[0].acknowledged);
  EXPECT_FALSE(log[1].acknowledged);
  EXPECT_FALSE(log[2].acknowledged);
  EXPECT_EQ(log[3].kind, WriteLogRecord::Kind::kPoint);
  EXPECT_TRUE(log[4].acknowledged);
  EXPECT_EQ(log[4].seq, 5u);

  EXPECT_OK(f->VerifyDiskAtPoint("vm1", "vm1-d0", p1.id(), before));
  EXPECT_OK(f->VerifyDiskAtPoint("vm1", "vm1-d0", p2.id(), after));
  EXPECT_OK(f->VerifyDiskLatest("vm1", "vm1-d0", after));
  // An acknowledged write missing is still data loss, and so are the bytes
  // of #1 that the cut-off #2 did not cover.
  EXPECT_THAT(f->VerifyDiskAtPoint("vm1", "vm1-d0", p2.id(), before),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("write #5")));
  {
    ASSERT_OK_AND_ASSIGN(auto img, disk::OpenDisk(before, disk::OpenMode::kReadWrite));
    std::vector<uint8_t> zeros(512, 0);
    ASSERT_OK(img->WriteAt(1 * kMiB + 4096 + 8192, absl::MakeConstSpan(zeros)));
    ASSERT_OK(img->Close());
  }
  EXPECT_THAT(f->VerifyDiskAtPoint("vm1", "vm1-d0", p1.id(), before),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("write #1")));

  // The same after a real kill -9 right after the cut-off write: the next
  // process's point and verification agree with the disk.
  ASSERT_OK(f->CloseDisks());
  f.reset();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto child = SimulatedFabric::Open(root);
    if (!child.ok()) _exit(10);
    if (!(*child)->GuestWrite("vm1", "vm1-d0", 3 * kMiB, 4096, 5).ok()) _exit(11);
    (*child)->FailNextCalls("GuestDiskWrite", 1, cut);
    (void)(*child)->GuestWrite("vm1", "vm1-d0", 3 * kMiB, 16384, 6);
    kill(getpid(), SIGKILL);
    _exit(12);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  ASSERT_OK_AND_ASSIGN(f, SimulatedFabric::Open(root));
  ASSERT_OK_AND_ASSIGN(model::HostPoint p3, f->CreatePoint("vm1", model::CrashConsistent));
  std::string third = JoinPath(root, "at-p3.vhdx");
  CopyImage(p3.disks(0).read_path(), third);
  ASSERT_OK(f->ReleasePoint(p3));
  ASSERT_OK_AND_ASSIGN(log, ReadWriteLog(root));
  ASSERT_GE(log.size(), 3u);
  EXPECT_TRUE(log[log.size() - 3].acknowledged);
  EXPECT_FALSE(log[log.size() - 2].acknowledged);
  EXPECT_OK(f->VerifyDiskAtPoint("vm1", "vm1-d0", p3.id(), third));
}

TEST(SimulatedFabricTest, TornLogTailIsIgnoredAndCutOff) {
  std::string root;
  auto f = Example(&root);
  ASSERT_NE(f, nullptr);
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 0, 4096, 1));
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 4096, 4096, 2));
  ASSERT_OK(f->CloseDisks());
  f.reset();
  std::string log_path = JoinPath(root, "writes.log");
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(log_path));
  // The second write's record cut short, as by a crash mid-append (the
  // last record is its acknowledgement).
  ASSERT_OK(WriteFileAtomically(log_path, bytes.substr(0, bytes.rfind("AWL1") - 7)));
  ASSERT_OK_AND_ASSIGN(auto log, ReadWriteLog(root));
  ASSERT_EQ(log.size(), 1u);
  ASSERT_OK_AND_ASSIGN(f, SimulatedFabric::Open(root));
  ASSERT_OK(f->GuestWrite("vm1", "vm1-d0", 8192, 512, 3));
  ASSERT_OK_AND_ASSIGN(log, ReadWriteLog(root));
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].seq, 2u);
  EXPECT_EQ(log[1].data_seed, 3u);
  // A flipped bit is detected as well.
  ASSERT_OK_AND_ASSIGN(bytes, ReadFileToString(log_path));
  bytes[bytes.rfind("AWL1") - 20] ^= 1;  // in the write's record, before its acknowledgement
  ASSERT_OK(WriteFileAtomically(log_path, bytes));
  ASSERT_OK_AND_ASSIGN(log, ReadWriteLog(root));
  EXPECT_EQ(log.size(), 1u);
}

TEST(SimulatedFabricTest, Faults) {
  std::string root;
  auto f = Example(&root);
  ASSERT_NE(f, nullptr);
  ASSERT_OK(f->SetHostDown("hv-ny-01", true));
  EXPECT_THAT(f->GetVm("vm1"), StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr("host hv-ny-01 is not responding")));
  EXPECT_THAT(f->CreatePoint("vm2", model::CrashConsistent),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(f->GetVm("vm3"));  // on hv-ny-02
  model::HyperVHost host;
  host.set_id("hv-ny-01");
  EXPECT_THAT(f->ConfigureHost(host, {}, HostRole::kPrimary),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK(f->SetHostDown("hv-ny-01", false));
  EXPECT_OK(f->GetVm("vm1"));
  EXPECT_THAT(f->SetHostDown("hv-xx", true), StatusIs(absl::StatusCode::kNotFound));

  ASSERT_OK(f->SetVmWillNotStart("vm3", true));
  EXPECT_THAT(f->StartVm("vm3"), StatusIs(absl::StatusCode::kInternal, HasSubstr("did not start")));
  ASSERT_OK(f->SetVmWillNotStart("vm3", false));
  EXPECT_OK(f->StartVm("vm3"));

  ASSERT_OK(f->SetPointFails("vm1", true));
  EXPECT_THAT(f->CreatePoint("vm1", model::AppConsistent),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("application-consistent")));
  EXPECT_OK(f->GuestWrite("vm1", "vm1-d0", 0, 512, 1));  // not frozen by the failed point
  ASSERT_OK(f->SetPointFails("vm1", false));
  ASSERT_OK_AND_ASSIGN(model::HostPoint p, f->CreatePoint("vm1", model::AppConsistent));
  ASSERT_OK(f->ReleasePoint(p));

  EXPECT_OK(f->CheckRecoveryStorage("hv-chi-01"));
  ASSERT_OK(
      f->FailRecoveryStorage("hv-chi-01", absl::ResourceExhaustedError("disk full on hv-chi-01")));
  {
    ASSERT_OK_AND_ASSIGN(auto other, SimulatedFabric::Open(root));  // persisted
    EXPECT_THAT(other->CheckRecoveryStorage("hv-chi-01"),
                StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("disk full")));
  }
  EXPECT_OK(f->CheckRecoveryStorage("hv-chi-02"));
  ASSERT_OK(f->FailRecoveryStorage("hv-chi-01", absl::OkStatus()));
  EXPECT_OK(f->CheckRecoveryStorage("hv-chi-01"));

  f->FailNextCalls("GetVm", 2, absl::UnavailableError("WinRM timed out"));
  EXPECT_THAT(f->GetVm("vm1"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(f->GetVm("vm1"), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_OK(f->GetVm("vm1"));
  absl::Status retried = CallWithRetries(
      [&] {
        static int calls = 0;
        if (++calls == 1) f->FailNextCalls("StartVm", 1, absl::UnavailableError("busy"));
        return f->StartVm("vm1");
      },
      RetryPolicy{4, absl::ZeroDuration(), 1.0, [](absl::Duration) {}});
  EXPECT_OK(retried);

  ASSERT_OK(f->SetHostDown("hv-ny-02", true));
  ASSERT_OK(f->ClearFaults());
  EXPECT_OK(f->GetVm("vm3"));
}

TEST(SimulatedFabricTest, Scripts) {
  auto f = Example();
  ASSERT_NE(f, nullptr);
  std::string dir = asr::testing::TestDir("scripts");
  std::string script = JoinPath(dir, "s.sh");
  ASSERT_OK(
      WriteFileAtomically(script, "#!/bin/sh\necho hello \"$1\"\necho oops >&2\nexit 3\n", 0755));
  model::ScriptRequest req;
  req.set_host_id("hv-ny-01");
  req.set_path(script);
  req.add_arguments("world");
  req.set_timeout_seconds(10);
  ASSERT_OK_AND_ASSIGN(model::ScriptResult r, f->RunScript(req));
  EXPECT_EQ(r.exit_code(), 3);
  EXPECT_FALSE(r.timed_out());
  EXPECT_EQ(r.output(), "hello world\noops\n");

  // A script that hangs (with a child of its own) is killed at the timeout.
  std::string hang = JoinPath(dir, "hang.sh");
  ASSERT_OK(WriteFileAtomically(hang, "#!/bin/sh\necho started\nsleep 30\n", 0755));
  req.set_path(hang);
  req.set_timeout_seconds(1);
  absl::Time start = absl::Now();
  ASSERT_OK_AND_ASSIGN(r, f->RunScript(req));
  EXPECT_TRUE(r.timed_out());
  EXPECT_EQ(r.output(), "started\n");
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  // The output keeps its last 64 KiB.
  std::string big = JoinPath(dir, "big.sh");
  ASSERT_OK(WriteFileAtomically(
      big, "#!/bin/sh\ni=0\nwhile [ $i -lt 20000 ]; do echo line$i; i=$((i+1)); done\n", 0755));
  req.set_path(big);
  req.set_timeout_seconds(20);
  ASSERT_OK_AND_ASSIGN(r, f->RunScript(req));
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.output().size(), 64u * 1024);
  EXPECT_TRUE(absl::EndsWith(r.output(), "line19999\n"));

  req.set_path(JoinPath(dir, "missing.sh"));
  EXPECT_THAT(f->RunScript(req), StatusIs(absl::StatusCode::kNotFound));
  req.set_host_id("hv-xx");
  EXPECT_THAT(f->RunScript(req), StatusIs(absl::StatusCode::kNotFound));

  req.set_host_id("hv-ny-01");
  req.set_path(script);
  ASSERT_OK(f->SetScriptFailure(5));
  ASSERT_OK_AND_ASSIGN(r, f->RunScript(req));
  EXPECT_EQ(r.exit_code(), 5);
  ASSERT_OK(f->SetScriptFailure(0));
  ASSERT_OK(f->SetScriptHang(true));
  req.set_timeout_seconds(1);
  ASSERT_OK_AND_ASSIGN(r, f->RunScript(req));
  EXPECT_TRUE(r.timed_out());
}

}  // namespace
}  // namespace asr::fabric

namespace asr::fabric {
namespace {

// Replication groups: one instant of several VMs, every VM frozen until its
// point is released; a point fault of any VM fails the whole group point and
// leaves nothing held; a host without the call refuses naming it.
TEST(SimulatedFabricGroupPointTest, FreezesEveryVmAtOneInstant) {
  auto f = Example();
  ASSERT_NE(f, nullptr);
  ASSERT_OK_AND_ASSIGN(std::vector<model::HostPoint> points,
                       f->CreateGroupPoint({"vm2", "vm1"}, model::CrashConsistent));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].vm_id(), "vm2");  // in the order asked
  EXPECT_EQ(points[1].vm_id(), "vm1");
  EXPECT_EQ(points[0].time_us(), points[1].time_us());
  EXPECT_NE(points[0].id(), points[1].id());
  EXPECT_EQ(points[1].disks_size(), f->GetVm("vm1")->disks_size());
  EXPECT_THAT(f->CreatePoint("vm1", model::CrashConsistent),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already held")));
  ASSERT_OK(f->StartVm("vm3"));
  std::atomic<int> done{0};
  std::thread w1([&] {
    EXPECT_OK(f->GuestWrite("vm1", "vm1-d0", 0, 4096, 1));
    ++done;
  });
  std::thread w2([&] {
    EXPECT_OK(f->GuestWrite("vm2", "vm2-d0", 0, 4096, 2));
    ++done;
  });
  EXPECT_OK(f->GuestWrite("vm3", "vm3-d0", 0, 4096, 3));  // not in the group
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(done.load(), 0);
  ASSERT_OK(f->ReleasePoint(points[0]));
  w2.join();
  EXPECT_EQ(done.load(), 1);  // vm2's write went on, vm1 is still frozen
  ASSERT_OK(f->ReleasePoint(points[1]));
  w1.join();
  EXPECT_EQ(done.load(), 2);
  // Both markers are logged before either VM's next write.
  ASSERT_OK_AND_ASSIGN(auto log, ReadWriteLog(f->root()));
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0].kind, WriteLogRecord::Kind::kPoint);
  EXPECT_EQ(log[1].kind, WriteLogRecord::Kind::kPoint);

  EXPECT_THAT(f->CreateGroupPoint({"vm1", "vm1"}, model::CrashConsistent),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(f->CreateGroupPoint({}, model::CrashConsistent),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(f->CreateGroupPoint({"vm1", "nope"}, model::CrashConsistent),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(f->SetPointFails("vm2", true));
  EXPECT_THAT(f->CreateGroupPoint({"vm1", "vm2"}, model::AppConsistent),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("VM 'vm2'")));
  ASSERT_OK(f->SetPointFails("vm2", false));
  // Nothing was left held: a group point of the same VMs works.
  ASSERT_OK_AND_ASSIGN(points, f->CreateGroupPoint({"vm1", "vm2"}, model::AppConsistent));
  for (const auto& p : points) ASSERT_OK(f->ReleasePoint(p));

  SimulatedHost plain;
  EXPECT_THAT(plain.CreateGroupPoint({"vm1"}, model::CrashConsistent),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CreateGroupPoint")));
}

}  // namespace
}  // namespace asr::fabric

namespace asr::fabric {
namespace {

TEST(SimulatedFabricIsolatedNetworkTest, CreatedConnectedRefusedWhileInUseDeleted) {
  std::unique_ptr<SimulatedFabric> f = Example();
  ASSERT_NE(f, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string id, f->CreateIsolatedNetwork("hv-chi-01", "test-vm1"));
  EXPECT_EQ(id, "isolated-test-vm1");
  ASSERT_OK_AND_ASSIGN(std::string again, f->CreateIsolatedNetwork("hv-chi-01", "test-vm1"));
  EXPECT_EQ(again, id);
  EXPECT_EQ(f->CreateIsolatedNetwork("hv-none", "x").status().code(), absl::StatusCode::kNotFound);
  // A VM on the host (a test VM) connects to it.
  ASSERT_OK_AND_ASSIGN(model::Inventory chi, f->GetInventory(Server("vmm-chi")));
  model::ReplicaVmSpec spec;
  spec.set_replica_vm_id("vm1-test");
  spec.set_host_id("hv-chi-01");
  model::VirtualDisk* vd = spec.add_disks();
  vd->set_id("vm1-d0");
  vd->set_path(JoinPath(chi.storage_classifications(0).targets(0).path(), "t.vhdx"));
  spec.add_network_adapters()->set_id("vm1-nic0");
  ASSERT_OK(f->CreateReplicaVm(spec).status());
  model::NetworkAdapter nic;
  nic.set_id("vm1-nic0");
  nic.set_vm_network_id(id);
  nic.clear_subnet_name();
  ASSERT_OK(f->ConnectNic("vm1-test", nic));
  EXPECT_EQ(f->DeleteIsolatedNetwork("hv-chi-01", id).code(),
            absl::StatusCode::kFailedPrecondition);
  nic.clear_vm_network_id();
  ASSERT_OK(f->ConnectNic("vm1-test", nic));
  ASSERT_OK(f->DeleteIsolatedNetwork("hv-chi-01", id));
  ASSERT_OK(f->DeleteIsolatedNetwork("hv-chi-01", id));  // gone already: fine
  nic.set_vm_network_id(id);
  EXPECT_EQ(f->ConnectNic("vm1-test", nic).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace asr::fabric
