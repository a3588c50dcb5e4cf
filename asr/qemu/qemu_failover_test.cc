// Protection and failover of a real virtual machine: the test guest
// (guest/init.sh) runs under QEMU with two disks and writes checksummed,
// numbered records; asr protects it through the real protection path
// (SiteRecovery, the site service's TLS endpoint, replication cycles from
// the QEMU host's points), and every failover ends with a VM booting from
// replicated disks and its guest printing a verdict on what its disks hold:
//   cycles while the guest writes; a test failover (a test VM on an
//   isolated network boots from a point while replication goes on; cleanup removes
//   it); a planned failover (clean shutdown, last changes, the replica boots
//   with every record); commit, reverse replication and failback (the VM
//   boots at home with every record and writes on); an unplanned failover
//   after SIGKILL of QEMU (the replica boots from the latest point and the
//   verdict names the records written after it, and only those, missing).
// One test, one two-site setup: every boot is a TCG boot of 10-60 s.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "asr/fabric/key_provider.h"
#include "asr/fabric/simulated_host.h"
#include "asr/failover/failover_service.h"
#include "asr/model/json.h"
#include "asr/net/pki.h"
#include "asr/platform/child_process.h"
#include "asr/platform/process.h"
#include "asr/protection/site_service.h"
#include "asr/qemu/qemu_host.h"
#include "asr/qemu/testing/guest_serial.h"
#include "asr/site_recovery/site_recovery.h"
#include "gtest/gtest.h"

namespace asr::qemu {
namespace {

using guest_serial::Field;
using guest_serial::MaxWrote;

std::string GuestFile(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "asr", "/asr/qemu/guest/",
                      name);
}

std::string GuestCmdline() {
  absl::StatusOr<std::string> s = ReadFileToString(GuestFile("cmdline"));
  return s.ok() ? std::string(absl::StripAsciiWhitespace(*s)) : "";
}

// A Windows path of the example inventories as a directory under `root`.
std::string Local(const std::string& root, const std::string& server, const std::string& path) {
  std::string p = absl::StrReplaceAll(path, {{"\\", "/"}, {":", "_"}});
  return absl::StrCat(root, "/storage/", server, "/", p);
}

// The example sites as QEMU host servers: New York (vmm-ny) with VM1 only,
// two disks of its own (64 and 32 MiB VHDX) and the test guest; Chicago
// (vmm-chi) as the recovery site; every storage path local.
absl::StatusOr<std::string> MakeHostDir(const std::string& root) {
  model::Inventory ny = fabric::NewYorkInventory();
  model::Inventory chi = fabric::ChicagoInventory();
  ny.set_server_id("vmm-ny");
  chi.set_server_id("vmm-chi");
  for (model::Inventory* inv : {&ny, &chi}) {
    for (model::HyperVHost& h : *inv->mutable_hosts()) {
      h.set_default_storage_path(Local(root, inv->server_id(), h.default_storage_path()));
      ASR_RETURN_IF_ERROR(MakeDirectories(h.default_storage_path()));
    }
    for (model::StorageClassification& c : *inv->mutable_storage_classifications()) {
      for (model::StorageTarget& t : *c.mutable_targets()) {
        t.set_path(Local(root, inv->server_id(), t.path()));
        ASR_RETURN_IF_ERROR(MakeDirectories(t.path()));
      }
    }
  }
  chi.clear_virtual_machines();
  model::VirtualMachine vm1;
  for (const model::VirtualMachine& vm : ny.virtual_machines()) {
    if (vm.id() == "vm1") vm1 = vm;
  }
  ny.clear_virtual_machines();
  ASR_RETURN_IF_ERROR(MakeDirectories(root + "/disks"));
  vm1.clear_disks();
  // ASR_QEMU_DATA_DISK_MIB makes the data disk larger (the bitmap-vs-scan
  // measurement of benchmarks/README.md); 32 MiB otherwise.
  uint64_t data_mib = 32;
  if (const char* v = std::getenv("ASR_QEMU_DATA_DISK_MIB"); v != nullptr && *v != '\0') {
    if (!absl::SimpleAtoi(v, &data_mib) || data_mib < 32) {
      return absl::InvalidArgumentError(
          absl::StrCat("ASR_QEMU_DATA_DISK_MIB=", v, " is not a size in MiB of at least 32"));
    }
  }
  const uint64_t sizes[] = {64ull << 20, data_mib << 20};
  for (int k = 0; k < 2; ++k) {
    model::VirtualDisk* d = vm1.add_disks();
    d->set_id(absl::StrCat("vm1-d", k));
    d->set_name(absl::StrCat("vm1-d", k, ".vhdx"));
    d->set_path(absl::StrCat(root, "/disks/vm1-d", k, ".vhdx"));
    d->set_size_bytes(sizes[k]);
    d->set_storage_target_id("SourceVolume1");
    d->set_is_os_disk(k == 0);
    disk::CreateOptions o;
    o.format = disk::DiskFormat::kVhdx;
    o.virtual_size = sizes[k];
    o.block_size = 2u << 20;
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<disk::VirtualDisk> vd, disk::CreateDisk(d->path(), o));
    ASR_RETURN_IF_ERROR(vd->Close());
  }
  vm1.clear_power_state();
  *ny.add_virtual_machines() = vm1;

  QemuHostConfig config;
  *config.add_servers() = ny;
  *config.add_servers() = chi;
  QemuVm* q = config.add_vms();
  q->set_vm_id("vm1");
  q->mutable_boot()->set_kernel(GuestFile("vmlinuz"));
  q->mutable_boot()->set_initrd(GuestFile("initrd.gz"));
  // VM1 writes a record every 200 ms.
  q->mutable_boot()->set_append(absl::StrCat(GuestCmdline(), " asr.interval_ms=200"));
  // Replica and test VMs boot the same guest, check their disks and idle
  // (asr.records=1: a disk with records writes no more), so that they run
  // as a failed-over VM does and shut down cleanly when asked.
  config.mutable_default_boot()->set_kernel(GuestFile("vmlinuz"));
  config.mutable_default_boot()->set_initrd(GuestFile("initrd.gz"));
  config.mutable_default_boot()->set_append(absl::StrCat(GuestCmdline(), " asr.records=1"));
  config.set_shutdown_timeout_seconds(120);
  const std::string dir = root + "/qemu-host";
  ASR_RETURN_IF_ERROR(MakeDirectories(dir));
  ASR_RETURN_IF_ERROR(WriteFileAtomically(dir + "/config.json", model::ToJson(config, true)));
  return dir;
}

class QemuFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = testing::TestDir("qemu-failover");
    ASSERT_OK_AND_ASSIGN(std::string dir, MakeHostDir(root_));
    QemuHostOptions ho;
    ho.turn_off_vms_on_close = true;  // no VM outlives the test
    ASSERT_OK_AND_ASSIGN(host_, QemuHost::Open(dir, ho));
    ASSERT_OK(fabric::CreateKeyFile(root_ + "/kek").status());
    SiteRecoveryOptions o;
    o.host = host_.get();
    o.key_provider = std::make_shared<fabric::KeyFileProvider>(root_ + "/kek");
    ASSERT_OK_AND_ASSIGN(sr_, SiteRecovery::Open(root_ + "/state", o));
    ASSERT_OK(sr_->Initialize());
    ASSERT_OK(sr_->fabric().CreateVault("contoso", "on-premises").status());
    ASSERT_OK_AND_ASSIGN(std::string key, sr_->fabric().GenerateRegistrationKey());
    for (const char* name : {"vmm-ny", "vmm-chi"}) {
      model::ServerRegistrationRequest r;
      r.set_credentials(key);
      r.set_friendly_name(name);
      if (std::string(name) == "vmm-chi") r.set_site_id("recovery");
      ASSERT_OK(sr_->fabric().RegisterServer(r).status());
      ASSERT_OK(sr_->fabric().SyncInventory(name, nullptr, "").status());
    }
    ASSERT_OK(sr_->fabric().SyncInventory("vmm-ny", nullptr, "GoldCloud1").status());
    ASSERT_OK(sr_->fabric().SyncInventory("vmm-chi", nullptr, "GoldCloud2").status());
    ASSERT_OK(sr_->fabric().PairClouds("GoldCloud1", "GoldCloud2").status());
    model::ReplicationPolicy p;
    p.set_name("gold-policy");
    p.set_replication_provider(model::HyperVReplica2012R2);
    p.set_replication_frequency_in_seconds(30);
    p.set_number_of_recovery_points_to_retain(2);
    p.set_compression_enabled(true);
    p.set_authentication(model::Certificate);
    ASSERT_OK(sr_->policies().CreatePolicy(p).status());
    ASSERT_OK(sr_->policies().AssociatePolicy("gold-policy", "GoldCloud1").status());
    model::NetworkMapping m;
    m.set_source_vm_network_id("VMNetwork1-NewYork");
    m.set_target_vm_network_id("VMNetwork1-Chicago");
    ASSERT_OK(sr_->mappings().MapNetwork(m, false).status());
    model::StorageMapping sm;
    sm.set_source_classification_id("GOLD");
    sm.set_target_classification_id("GOLD_TARGET");
    ASSERT_OK(sr_->mappings().MapStorage(sm, false).status());
    net::VaultPkiOptions po;
    po.primary_name = "hv-ny-01.contoso.com";
    po.recovery_name = "hv-chi-01.contoso.com";
    ASSERT_OK(net::InitVaultPki(root_ + "/pki", po).status());
    protection::SiteServiceOptions so;
    so.threads = false;  // cycles when the test says
    so.transport.pki_dir = root_ + "/pki";
    so.transport.point_interval = absl::Seconds(1);
    ASSERT_OK_AND_ASSIGN(service_, protection::SiteService::Start(*sr_, so));
  }

  void TearDown() override {
    service_.reset();
    sr_.reset();
    host_.reset();  // turns off what still runs
  }

  protection::ProtectionService& protection() { return sr_->protection(); }
  failover::FailoverService& failover() { return sr_->failover(); }

  model::ProtectedItem Item() {
    absl::StatusOr<model::ProtectedItem> i = protection().GetItem("VM1");
    EXPECT_OK(i.status());
    return i.ok() ? *i : model::ProtectedItem();
  }
  int64_t Acknowledged(const std::string& vm) {
    absl::StatusOr<std::string> log = host_->SerialLog(vm);
    EXPECT_OK(log.status());
    return log.ok() ? MaxWrote(*log) : -1;
  }
  void WaitForRecord(const std::string& vm, int64_t record) {
    ASSERT_OK(
        host_->WaitForSerial(vm, absl::StrCat("ASR-WROTE ", record), absl::Minutes(3)).status());
  }
  // The verdict of the VM's current boot, and how long the boot took to it.
  std::string Verdict(const std::string& vm) {
    const absl::Time t = absl::Now();
    absl::StatusOr<std::string> v = host_->WaitForSerial(vm, "ASR-VERDICT", absl::Minutes(4));
    EXPECT_OK(v.status());
    std::cout << vm << ": " << (v.ok() ? *v : "no verdict") << " (waited "
              << absl::FormatDuration(absl::Now() - t) << ")\n";
    return v.ok() ? *v : "";
  }
  void Cycle() {
    absl::StatusOr<model::CycleOutcome> c = protection().ReplicateNow("VM1", {});
    ASSERT_OK(c.status());
    std::cout << "cycle: " << c->bytes_sent() << " bytes sent in " << c->seconds() << " s\n";
  }
  static failover::FailoverInput In() {
    failover::FailoverInput in;
    in.item_ref = "VM1";
    return in;
  }

  std::string root_;
  std::unique_ptr<QemuHost> host_;
  std::unique_ptr<SiteRecovery> sr_;
  std::unique_ptr<protection::SiteService> service_;
};

TEST_F(QemuFailoverTest, ProtectTestFailoverPlannedFailbackAndUnplannedOnARealVm) {
  // VM1 boots with two blank disks: the guest makes its file systems and writes.
  ASSERT_OK(host_->StartVm("vm1"));
  EXPECT_TRUE(absl::StartsWith(Verdict("vm1"), "ASR-VERDICT ok records=0 last=0 disks=2"));
  WaitForRecord("vm1", 5);

  // Protection through the real path: initial replication of both disks
  // from a point of the running VM, then cycles while the guest writes.
  protection::EnableRequest e;
  e.vm_ref = "VM1";
  ASSERT_OK(protection().EnableProtection(e).status());
  model::ProtectedItem item = Item();
  ASSERT_EQ(item.protection_state(), model::Protected) << model::ToJson(item);
  ASSERT_EQ(item.disks_size(), 2);
  const std::string replica_vm = item.replica_vm_id();
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine replica, host_->GetVm(replica_vm));
  EXPECT_EQ(replica.host_id(), item.replica_host_id());
  EXPECT_EQ(replica.server_id(), "vmm-chi");
  ASSERT_OK_AND_ASSIGN(model::VmPowerState power, host_->GetPowerState(replica_vm));
  EXPECT_EQ(power, model::STOPPED);
  Cycle();
  int64_t n = Acknowledged("vm1");
  WaitForRecord("vm1", n + 3);
  // Every record acknowledged before this cycle's point is in the point.
  // The point is application-consistent: the guest agent freezes VM1's
  // file systems around its instant (the guest's workload syncs a quiesce
  // marker and waits), and the recovery point says so.
  const int64_t before_tested = Acknowledged("vm1");
  {
    protection::ReplicateOptions app;
    app.app_consistent = true;
    ASSERT_OK_AND_ASSIGN(model::CycleOutcome c, protection().ReplicateNow("VM1", app));
    EXPECT_EQ(c.app_consistent_fallback(), "");
    ASSERT_OK_AND_ASSIGN(std::vector<model::RecoveryPoint> points,
                         protection().ListRecoveryPoints("VM1"));
    EXPECT_EQ(points.back().recovery_point_type(), model::AppConsistent);
    std::cout << "app-consistent cycle: guest writes held "
              << absl::FormatDuration(host_->last_point_quiesce()) << ", " << c.bytes_sent()
              << " bytes sent in " << c.seconds() << " s\n";
  }
  std::cout << "point transaction: " << absl::FormatDuration(host_->last_point_transaction())
            << "\n";

  // Test failover from the latest point on an isolated network: a test VM
  // boots on the recovery host beside the running VM1 and finds the records.
  failover::FailoverInput test = In();
  test.network_type = "Isolated";
  ASSERT_OK_AND_ASSIGN(model::Job job, failover().Start(failover::kTestFailover, test));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  const std::string test_vm = item.test_vm_id();
  ASSERT_FALSE(test_vm.empty());
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine tvm, host_->GetVm(test_vm));
  EXPECT_EQ(tvm.host_id(), item.replica_host_id());
  EXPECT_EQ(tvm.power_state(), model::RUNNING);
  // Its NICs are on the isolated network the recovery server lists now.
  const std::string test_network = item.test_network_id();
  ASSERT_FALSE(test_network.empty());
  ASSERT_GT(tvm.network_adapters_size(), 0);
  for (const model::NetworkAdapter& nic : tvm.network_adapters()) {
    EXPECT_EQ(nic.vm_network_id(), test_network) << "the test VM is on the isolated network";
  }
  auto listed = [&]() {
    model::VmmServer chi;
    chi.set_id("vmm-chi");
    absl::StatusOr<model::Inventory> inv = host_->GetInventory(chi);
    EXPECT_OK(inv.status());
    bool found = false;
    if (inv.ok()) {
      for (const model::VmNetwork& n : inv->vm_networks()) found = found || n.id() == test_network;
    }
    return found;
  };
  EXPECT_TRUE(listed());
  std::string verdict = Verdict(test_vm);
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT ok records=")) << verdict;
  EXPECT_GE(Field(verdict, "last"), before_tested) << verdict;
  // The latest point was app-consistent: the quiesce marker is the last
  // record of both disks.
  ASSERT_OK_AND_ASSIGN(std::string quiesce,
                       host_->WaitForSerial(test_vm, "ASR-QUIESCE", absl::Minutes(1)));
  EXPECT_TRUE(absl::StartsWith(quiesce, "ASR-QUIESCE quiesced freeze=1 seq=")) << quiesce;
  EXPECT_EQ(Field(quiesce, "seq"), Field(verdict, "last")) << quiesce;
  // Replication goes on meanwhile.
  Cycle();
  ASSERT_OK_AND_ASSIGN(job, failover().Start(failover::kTestFailoverCleanup, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(host_->GetVm(test_vm).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(listed()) << "cleanup deletes the isolated network";
  EXPECT_EQ(Item().test_failover_state(), "None");

  // Planned failover: VM1 is shut down cleanly (its guest prints the last
  // record it wrote), the last changes are sent, the replica boots on the
  // recovery host and holds every record.
  ASSERT_OK_AND_ASSIGN(job, failover().Start(failover::kPlannedFailover, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  ASSERT_OK_AND_ASSIGN(std::string shutdown,
                       host_->WaitForSerial("vm1", "ASR-SHUTDOWN", absl::Seconds(1)));
  const int64_t last = Field(shutdown, "last");
  EXPECT_GE(last, before_tested);
  ASSERT_OK_AND_ASSIGN(power, host_->GetPowerState("vm1"));
  EXPECT_EQ(power, model::STOPPED);
  item = Item();
  EXPECT_EQ(item.protection_state(), model::PlannedFailoverCompleted);
  verdict = Verdict(replica_vm);
  EXPECT_TRUE(absl::StartsWith(
      verdict, absl::StrCat("ASR-VERDICT ok records=", last, " last=", last, " disks=2 torn=0")))
      << "zero data loss: every record up to " << last << " on the replica; " << verdict;
  ASSERT_OK_AND_ASSIGN(power, host_->GetPowerState(replica_vm));
  EXPECT_EQ(power, model::RUNNING);

  // Commit, replicate back, fail back: VM1 boots at home with every record.
  ASSERT_OK_AND_ASSIGN(job, failover().Start(failover::kCommit, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  ASSERT_OK_AND_ASSIGN(job, failover().Start(failover::kReverseReplicate, In()));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  EXPECT_TRUE(item.reversed());
  EXPECT_EQ(item.vm_id(), replica_vm);
  failover::FailoverInput back = In();
  back.direction = "RecoveryToPrimary";
  ASSERT_OK_AND_ASSIGN(job, failover().Start(failover::kFailback, back));
  EXPECT_EQ(job.state(), model::Succeeded);
  item = Item();
  EXPECT_EQ(item.protection_state(), model::Protected);
  EXPECT_FALSE(item.reversed());
  EXPECT_EQ(item.vm_id(), "vm1");
  ASSERT_OK_AND_ASSIGN(power, host_->GetPowerState(replica_vm));
  EXPECT_EQ(power, model::STOPPED);
  verdict = Verdict("vm1");
  EXPECT_TRUE(absl::StartsWith(
      verdict, absl::StrCat("ASR-VERDICT ok records=", last, " last=", last, " disks=2")))
      << verdict;

  // Unplanned failover: VM1 writes on at home and is protected; after a
  // cycle its QEMU is killed. The replica boots from the latest point: the
  // records acknowledged before that point are there, the ones after it
  // are named missing.
  WaitForRecord("vm1", last + 3);
  Cycle();
  const int64_t before_point = Acknowledged("vm1");
  Cycle();
  WaitForRecord("vm1", Acknowledged("vm1") + 5);
  ASSERT_OK(host_->KillVmProcess("vm1"));
  const int64_t acknowledged = Acknowledged("vm1");
  ASSERT_OK_AND_ASSIGN(VmProcessInfo info, host_->ProcessInfo("vm1"));
  EXPECT_EQ(info.last_exit, "killed by signal 9");
  ASSERT_OK(host_->SetBootArguments(replica_vm, absl::StrCat("asr.expect=", acknowledged)));
  failover::FailoverInput lost = In();
  lost.recovery_tag = "LatestAvailable";
  ASSERT_OK_AND_ASSIGN(job, failover().Start(failover::kUnplannedFailover, lost));
  EXPECT_EQ(job.state(), model::Succeeded);
  EXPECT_EQ(Item().protection_state(), model::FailedOver);
  verdict = Verdict(replica_vm);
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT missing first=")) << verdict;
  const int64_t kept = Field(verdict, "last");
  EXPECT_GE(kept, before_point) << "a record acknowledged before the point is missing: " << verdict;
  EXPECT_LT(kept, acknowledged) << verdict;
  EXPECT_EQ(Field(verdict, "first"), kept + 1) << verdict;
  EXPECT_EQ(Field(verdict, "expected"), acknowledged) << verdict;
}

// Whether two disk images hold the same bytes (qemu-img compare: 0 equal,
// 1 different); the tool's words when they differ.
std::string Compare(const std::string& a, const std::string& b) {
  absl::StatusOr<platform::ProcessResult> r = platform::RunProcess(
      "/usr/bin/qemu-img", {"compare", "-q", "-f", "vhdx", "-F", "vhdx", a, b});
  if (!r.ok()) return std::string(r.status().message());
  if (r->exit_code == 0) return "";
  return absl::StrCat("qemu-img compare exit ", r->exit_code, ": ", r->output);
}

uint64_t ExtentBytes(const model::HostPoint& p) {
  uint64_t n = 0;
  for (const model::HostPointDisk& d : p.disks()) {
    for (const model::DiskExtent& e : d.changed_extents()) n += e.length();
  }
  return n;
}

// Cycles from QEMU's dirty bitmaps while the guest writes: each sends the
// blocks written since the last point (the guest's records, and blocks
// the test writes at known places), reads nothing else, and leaves the
// replica byte-for-byte equal to the point; a restart of QEMU between
// cycles makes the next one scan, and it loses nothing either.
TEST_F(QemuFailoverTest, CyclesFromDirtyBitmapsSendTheWritesAndScanAfterAQemuRestart) {
  ASSERT_OK(host_->StartVm("vm1"));
  EXPECT_TRUE(absl::StartsWith(Verdict("vm1"), "ASR-VERDICT ok records=0 last=0 disks=2"));
  WaitForRecord("vm1", 3);
  protection::EnableRequest e;
  e.vm_ref = "VM1";
  ASSERT_OK(protection().EnableProtection(e).status());
  ASSERT_EQ(Item().protection_state(), model::Protected);
  uint64_t disk_bytes = 0;
  const model::ProtectedItem protected_item = Item();
  for (const model::ProtectedDisk& d : protected_item.disks()) disk_bytes += d.size_bytes();

  // A cycle on a point the test holds, so that it can compare the replica
  // with the point before releasing it.
  PointCopy copy;  // what the last point read to make its images
  auto cycle = [&](bool scan, model::HostPoint* taken) -> model::CycleOutcome {
    const absl::Time t0 = absl::Now();
    const double cpu0 = platform::ProcessCpuSeconds();
    absl::StatusOr<model::HostPoint> point = host_->CreatePoint("vm1", model::CrashConsistent);
    const absl::Duration taking = absl::Now() - t0;
    const double cpu1 = platform::ProcessCpuSeconds();
    EXPECT_OK(point.status());
    if (!point.ok()) return {};
    const absl::Duration pause = host_->last_point_transaction();
    copy = host_->last_point_copy("vm1");
    protection::ReplicateOptions o;
    o.host_point = &*point;
    o.scan = scan;
    absl::StatusOr<model::CycleOutcome> c = protection().ReplicateNow("VM1", o);
    EXPECT_OK(c.status());
    const double cpu2 = platform::ProcessCpuSeconds();
    const model::ProtectedItem item = Item();
    for (int k = 0; k < item.disks_size() && k < point->disks_size(); ++k) {
      EXPECT_EQ(Compare(point->disks(k).read_path(), item.disks(k).replica_path()), "")
          << "disk " << k << " of point " << point->id();
    }
    std::cout << "cycle" << (scan ? " (scan asked)" : "") << ": point "
              << absl::FormatDuration(taking) << " (pause " << absl::FormatDuration(pause)
              << ", image: " << copy.bytes_read << " B read, " << copy.disks_updated
              << " disks updated from the base, " << copy.disks_copied << " copied whole"
              << "), changed extents " << ExtentBytes(*point) << " B, read "
              << (c.ok() ? c->bytes_read() : 0) << " B, sent " << (c.ok() ? c->bytes_sent() : 0)
              << " B in " << (c.ok() ? c->seconds() : 0)
              << " s; asr CPU (this process: sender and receiver) point " << (cpu1 - cpu0)
              << " s, cycle " << (cpu2 - cpu1)
              << " s; scans: " << (c.ok() ? absl::StrJoin(c->scans(), "; ") : "") << "\n";
    EXPECT_OK(host_->ReleasePoint(*point));
    if (taken != nullptr) *taken = *point;
    return c.ok() ? *c : model::CycleOutcome();
  };

  model::HostPoint p;
  uint64_t most_read = 0;  // by a cycle from the bitmaps
  cycle(false, &p);        // the first after the initial copy may scan
  for (int round = 0; round < 2; ++round) {
    WaitForRecord("vm1", Acknowledged("vm1") + 3);
    model::CycleOutcome c = cycle(false, &p);
    EXPECT_EQ(c.scans_size(), 0) << absl::StrJoin(c.scans(), "; ");
    ASSERT_EQ(p.disks_size(), 2);
    for (const model::HostPointDisk& d : p.disks()) {
      EXPECT_FALSE(d.needs_scan()) << d.needs_scan_reason();
      EXPECT_FALSE(d.changes_since_point_id().empty());
    }
    // Only the changed blocks were read: the extents, in whole 64 KiB blocks.
    EXPECT_GT(c.bytes_read(), 0u);
    EXPECT_LE(c.bytes_read(), ExtentBytes(p));
    EXPECT_LT(c.bytes_read(), disk_bytes / 4);
    most_read = std::max(most_read, c.bytes_read());
    // The point's images too: the last point's, brought up to date by the
    // extents alone.
    EXPECT_EQ(copy.disks_updated, 2);
    EXPECT_EQ(copy.bytes_read, ExtentBytes(p));
  }

  // Blocks written at known places (through QEMU's block layer, as the
  // guest's writes go), past the end of what the guest's file system uses.
  const uint64_t data_size = Item().disks(1).size_bytes();
  ASSERT_OK(host_
                ->Qmp("vm1", "human-monitor-command",
                      absl::StrCat(R"({"command-line":"qemu-io disk1 \"write -P 0x3c )",
                                   data_size - (128 << 10), R"( 131072\""})"))
                .status());
  model::CycleOutcome c = cycle(false, &p);
  EXPECT_EQ(c.scans_size(), 0) << absl::StrJoin(c.scans(), "; ");
  bool seen = false;
  for (const model::DiskExtent& x : p.disks(1).changed_extents()) {
    seen = seen || (x.offset() <= data_size - (128 << 10) && x.offset() + x.length() >= data_size);
  }
  EXPECT_TRUE(seen) << "the last 128 KiB of the data disk are among its changed extents";
  EXPECT_GE(c.bytes_read(), 128u << 10);
  EXPECT_LE(c.bytes_read(), ExtentBytes(p));

  // QEMU restarted between cycles: the bitmaps died with it, the next
  // cycle scans both disks and the replica is still the point exactly.
  ASSERT_OK(host_->TurnOffVm("vm1"));
  ASSERT_OK(host_->StartVm("vm1"));
  WaitForRecord("vm1", Acknowledged("vm1") + 2);
  c = cycle(false, &p);
  ASSERT_EQ(c.scans_size(), 2) << absl::StrJoin(c.scans(), "; ");
  EXPECT_TRUE(absl::StrContains(c.scans(0), "restarted")) << c.scans(0);
  EXPECT_EQ(copy.disks_copied, 2);
  EXPECT_EQ(copy.bytes_read, disk_bytes);
  // A scan reads every block the point's image holds (its unallocated
  // blocks are known zeros): far more than a cycle of the guest's records.
  EXPECT_GT(c.bytes_read(), 4 * most_read) << "a scan reads every allocated block";
  WaitForRecord("vm1", Acknowledged("vm1") + 3);
  c = cycle(false, &p);
  EXPECT_EQ(c.scans_size(), 0) << absl::StrJoin(c.scans(), "; ");
  // The same point state scanned on request, for the time it costs.
  c = cycle(true, &p);
  EXPECT_EQ(c.scans_size(), 2);
  ASSERT_OK(host_->TurnOffVm("vm1"));
}

}  // namespace
}  // namespace asr::qemu
