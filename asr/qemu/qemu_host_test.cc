#include "asr/qemu/qemu_host.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/json.h"
#include "asr/platform/child_process.h"
#include "asr/platform/env.h"
#include "asr/qemu/guest_agent_client.h"
#include "asr/qemu/testing/guest_serial.h"
#include "gtest/gtest.h"

namespace asr::qemu {
namespace {

using guest_serial::Field;
using guest_serial::MaxWrote;

// The test guest built by :guest_image (guest/build_guest.sh).
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

void MakeDisk(const std::string& path, disk::DiskFormat format, uint64_t size) {
  disk::CreateOptions o;
  o.format = format;
  o.virtual_size = size;
  o.block_size = 2u << 20;
  absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> d = disk::CreateDisk(path, o);
  ASSERT_OK(d.status());
  ASSERT_OK((*d)->Close());
}

// A host directory: host kvm-01, network net-a, VM vm1 with a VHDX and a
// VHD data disk (made by asr) and one NIC, booting the test guest.
// With `vm2`, a second VM vm2 (one VHDX disk) that boots from its blank
// disk through the BIOS: it finds nothing to boot and idles.
std::string MakeHost(int shutdown_timeout_s = 90, const std::string& vm_boot_json = "",
                     bool vm2 = false) {
  std::string root = testing::TestDir("qemu-host");
  EXPECT_OK(MakeDirectories(root + "/disks"));
  MakeDisk(root + "/disks/vm1-d0.vhdx", disk::DiskFormat::kVhdx, 64ull << 20);
  MakeDisk(root + "/disks/vm1-d1.vhd", disk::DiskFormat::kVhd, 32ull << 20);
  if (vm2) MakeDisk(root + "/disks/vm2-d0.vhdx", disk::DiskFormat::kVhdx, 16ull << 20);
  const std::string vm2_inventory = vm2 ? R"(, {
        "id": "vm2", "name": "vm2", "host_id": "kvm-01",
        "disks": [{"id": "vm2-d0", "path": "disks/vm2-d0.vhdx", "size_bytes": 16777216}]})"
                                        : "";
  const std::string vm2_qemu = vm2 ? R"(, {"vm_id": "vm2", "boot": {"kernel": ""}})" : "";
  std::string config = absl::StrCat(R"({
    "inventory": {
      "server_id": "vmm-qemu",
      "hosts": [{"id": "kvm-01", "name": "kvm-01"}],
      "vm_networks": [{"id": "net-a", "name": "a"}],
      "virtual_machines": [{
        "id": "vm1", "name": "vm1", "host_id": "kvm-01",
        "disks": [{"id": "vm1-d0", "path": "disks/vm1-d0.vhdx", "size_bytes": 67108864},
                  {"id": "vm1-d1", "path": "disks/vm1-d1.vhd", "size_bytes": 33554432}],
        "network_adapters": [{"id": "nic0", "vm_network_id": "net-a",
                              "mac_address": "52:54:00:12:34:56"}]
      })",
                                    vm2_inventory, R"(]
    },
    "vms": [{"vm_id": "vm1", "memory_mib": 256)",
                                    vm_boot_json, "}", vm2_qemu, R"(],
    "default_boot": {"kernel": ")",
                                    GuestFile("vmlinuz"), R"(", "initrd": ")",
                                    GuestFile("initrd.gz"), R"(", "append": ")", GuestCmdline(),
                                    R"("},
    "shutdown_timeout_seconds": )",
                                    shutdown_timeout_s, "\n}\n");
  EXPECT_OK(WriteFileAtomically(root + "/config.json", config));
  return root;
}

// Tests turn off what they started, also when they fail.
QemuHostOptions Owned() {
  QemuHostOptions o;
  o.turn_off_vms_on_close = true;
  return o;
}

// A replica VM on kvm-01 whose disks are copies of a point's images (in
// ROOT/replica), to boot and check what the point holds.
absl::StatusOr<model::ReplicaVmSpec> ReplicaOfPoint(const std::string& root,
                                                    const model::HostPoint& point,
                                                    const std::string& replica_vm_id) {
  ASR_RETURN_IF_ERROR(MakeDirectories(root + "/replica"));
  model::ReplicaVmSpec spec;
  spec.set_replica_vm_id(replica_vm_id);
  spec.set_host_id("kvm-01");
  for (int i = 0; i < point.disks_size(); ++i) {
    ASR_ASSIGN_OR_RETURN(std::string image, ReadFileToString(point.disks(i).read_path()));
    std::string copy = absl::StrCat(root, "/replica/d", i, ".vhdx");
    ASR_RETURN_IF_ERROR(WriteFileAtomically(copy, image));
    model::VirtualDisk* d = spec.add_disks();
    d->set_id(point.disks(i).disk_id());
    d->set_path(copy);
  }
  return spec;
}

// Creates the replica VM of `spec`, boots it in check mode and returns the
// guest's verdict line.
absl::StatusOr<std::string> BootToVerdict(QemuHost& host, const model::ReplicaVmSpec& spec) {
  ASR_RETURN_IF_ERROR(host.CreateReplicaVm(spec).status());
  ASR_RETURN_IF_ERROR(host.SetBootArguments(spec.replica_vm_id(), "asr.mode=check"));
  ASR_RETURN_IF_ERROR(host.StartVm(spec.replica_vm_id()));
  return host.WaitForSerial(spec.replica_vm_id(), "ASR-VERDICT", absl::Minutes(3));
}

// Boot, write, clean shutdown; boot again and write, killed; boot to check:
// the guest's verdicts say what its disks hold after each kind of stop.
TEST(QemuHostTest, GuestWritesShutsDownCleanlyAndAfterAKillHoldsEveryAcknowledgedRecord) {
  std::string root = MakeHost();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  ASSERT_OK_AND_ASSIGN(model::VmPowerState power, host->GetPowerState("vm1"));
  EXPECT_EQ(power, model::STOPPED);

  // 1. Fresh disks: the guest makes its file systems, writes 12 records, idles.
  ASSERT_OK(host->SetBootArguments("vm1", "asr.records=12 asr.interval_ms=0"));
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK_AND_ASSIGN(power, host->GetPowerState("vm1"));
  EXPECT_EQ(power, model::RUNNING);
  ASSERT_OK_AND_ASSIGN(VmProcessInfo info, host->ProcessInfo("vm1"));
  EXPECT_GT(info.pid, 0);
  ASSERT_OK_AND_ASSIGN(std::string verdict,
                       host->WaitForSerial("vm1", "ASR-VERDICT", absl::Minutes(3)));
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT ok records=0 last=0 disks=2")) << verdict;
  ASSERT_OK_AND_ASSIGN(std::string idle, host->WaitForSerial("vm1", "ASR-IDLE", absl::Minutes(3)));
  EXPECT_EQ(idle, "ASR-IDLE last=12");
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm, host->GetVm("vm1"));
  EXPECT_EQ(vm.power_state(), model::RUNNING);
  EXPECT_EQ(vm.disks(0).path(), root + "/disks/vm1-d0.vhdx");
  ASSERT_OK(host->ShutdownVm("vm1"));  // ACPI power button: the guest unmounts and powers off
  ASSERT_OK_AND_ASSIGN(info, host->ProcessInfo("vm1"));
  EXPECT_EQ(info.power, model::STOPPED);
  EXPECT_EQ(info.last_exit, "powered off");
  ASSERT_OK_AND_ASSIGN(std::string log, host->SerialLog("vm1"));
  EXPECT_NE(log.find("ASR-SHUTDOWN clean last=12"), std::string::npos) << log;

  // 2. Every record survived the clean shutdown; the guest goes on writing
  // until its QEMU is killed.
  ASSERT_OK(host->SetBootArguments("vm1", "asr.interval_ms=0"));
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK_AND_ASSIGN(verdict, host->WaitForSerial("vm1", "ASR-VERDICT", absl::Minutes(3)));
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT ok records=12 last=12 disks=2 torn=0"))
      << verdict;
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-WROTE 20", absl::Minutes(3)).status());
  ASSERT_OK(host->KillVmProcess("vm1"));
  ASSERT_OK_AND_ASSIGN(log, host->SerialLog("vm1"));
  int64_t acknowledged = MaxWrote(log);
  EXPECT_GE(acknowledged, 20);
  absl::Time t = absl::Now();
  ASSERT_OK_AND_ASSIGN(info, host->ProcessInfo("vm1"));
  EXPECT_EQ(info.power, model::STOPPED);
  EXPECT_EQ(info.last_exit, "killed by signal 9");
  ASSERT_OK(host->ShutdownVm("vm1"));  // stopped already: nothing to wait for
  ASSERT_OK(host->TurnOffVm("vm1"));
  EXPECT_LT(absl::Now() - t, absl::Seconds(5));

  // 3. A check boot: every record the guest saw synced before the kill is
  // there (its sync reached the VHDX and VHD files QEMU wrote), and the
  // verdict names what is missing against a higher expectation.
  ASSERT_OK(host->SetBootArguments("vm1", "asr.mode=check asr.expect=1000000"));
  const absl::Time boot = absl::Now();
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK_AND_ASSIGN(verdict, host->WaitForSerial("vm1", "ASR-VERDICT", absl::Minutes(3)));
  std::cout << "boot to verdict: " << absl::FormatDuration(absl::Now() - boot) << "\n";
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT missing first=")) << verdict;
  int64_t last = Field(verdict, "last");
  // (More may be there: records synced whose line had not left the
  // guest's serial port when it was killed.)
  EXPECT_GE(last, acknowledged) << verdict;
  EXPECT_EQ(Field(verdict, "first"), last + 1);
  // The check boot powers off by itself.
  absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (absl::Now() < deadline && *host->GetPowerState("vm1") != model::STOPPED) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_OK_AND_ASSIGN(info, host->ProcessInfo("vm1"));
  EXPECT_EQ(info.power, model::STOPPED);
  EXPECT_EQ(info.last_exit, "powered off");
}

TEST(QemuHostTest, InventoryNicsReplicaVmsScriptsAndBadConfigs) {
  std::string root = MakeHost();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  // Several host objects (here, and in other processes) may have a
  // directory open at once; each sees what the others changed.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> second, QemuHost::Open(root));

  model::VmmServer server;
  server.set_id("vmm-qemu");
  ASSERT_OK_AND_ASSIGN(model::Inventory inv, host->GetInventory(server));
  ASSERT_EQ(inv.virtual_machines_size(), 1);
  EXPECT_EQ(inv.virtual_machines(0).power_state(), model::STOPPED);
  EXPECT_EQ(inv.virtual_machines(0).server_id(), "vmm-qemu");
  server.set_id("vmm-other");
  EXPECT_EQ(host->GetInventory(server).status().code(), absl::StatusCode::kNotFound);
  model::HyperVHost h;
  h.set_id("kvm-01");
  EXPECT_OK(host->ConfigureHost(h, {}, fabric::HostRole::kRecovery));
  h.set_id("kvm-99");
  EXPECT_EQ(host->ConfigureHost(h, {}, fabric::HostRole::kRecovery).code(),
            absl::StatusCode::kNotFound);

  // NICs: disconnect, unknown network, unknown NIC; kept across opens.
  model::NetworkAdapter nic;
  nic.set_id("nic0");
  ASSERT_OK(host->ConnectNic("vm1", nic));
  nic.set_vm_network_id("net-zz");
  EXPECT_EQ(host->ConnectNic("vm1", nic).code(), absl::StatusCode::kNotFound);
  nic.set_id("nic7");
  nic.set_vm_network_id("net-a");
  EXPECT_EQ(host->ConnectNic("vm1", nic).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(host->GetVm("nope").status().code(), absl::StatusCode::kNotFound);

  // Replica VMs: created stopped, idempotent, conflicting ids refused,
  // deleted with their disks.
  ASSERT_OK(MakeDirectories(root + "/replica"));
  MakeDisk(root + "/replica/r.vhdx", disk::DiskFormat::kVhdx, 16ull << 20);
  model::ReplicaVmSpec spec;
  spec.set_replica_vm_id("vm9-replica");
  spec.set_host_id("kvm-01");
  spec.set_source_vm_id("vm9");
  model::VirtualDisk* d = spec.add_disks();
  d->set_id("vm9-d0");
  d->set_path(root + "/replica/r.vhdx");
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine replica, host->CreateReplicaVm(spec));
  EXPECT_EQ(replica.power_state(), model::STOPPED);
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine seen, second->GetVm("vm9-replica"));
  EXPECT_EQ(seen.disks(0).path(), root + "/replica/r.vhdx");
  second.reset();
  ASSERT_OK(host->CreateReplicaVm(spec).status());
  model::ReplicaVmSpec other = spec;
  other.mutable_disks(0)->set_path(root + "/replica/other.vhdx");
  EXPECT_EQ(host->CreateReplicaVm(other).status().code(), absl::StatusCode::kAlreadyExists);
  other = spec;
  other.set_host_id("kvm-99");
  other.set_replica_vm_id("vm8-replica");
  EXPECT_EQ(host->CreateReplicaVm(other).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(host->DeleteVm("vm1", false).code(), absl::StatusCode::kFailedPrecondition);
  host.reset();

  ASSERT_OK_AND_ASSIGN(host, QemuHost::Open(root, Owned()));
  server.set_id("");
  ASSERT_OK_AND_ASSIGN(inv, host->GetInventory(server));
  ASSERT_EQ(inv.virtual_machines_size(), 2);
  EXPECT_EQ(inv.virtual_machines(1).id(), "vm9-replica");
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm1, host->GetVm("vm1"));
  EXPECT_EQ(vm1.network_adapters(0).vm_network_id(), "");  // as ConnectNic left it
  ASSERT_OK(host->DeleteVm("vm9-replica", true));
  EXPECT_FALSE(PathExists(root + "/replica/r.vhdx"));
  EXPECT_EQ(host->GetVm("vm9-replica").status().code(), absl::StatusCode::kNotFound);

  // Scripts run on a host of the config, with their time limit.
  model::ScriptRequest script;
  script.set_host_id("kvm-01");
  script.set_path("/bin/sh");
  script.add_arguments("-c");
  script.add_arguments("echo drained; exit 3");
  ASSERT_OK_AND_ASSIGN(model::ScriptResult r, host->RunScript(script));
  EXPECT_EQ(r.exit_code(), 3);
  EXPECT_EQ(r.output(), "drained\n");
  script.set_host_id("kvm-99");
  EXPECT_EQ(host->RunScript(script).status().code(), absl::StatusCode::kNotFound);
  host.reset();

  // Configurations that cannot work are refused when opened, by name.
  std::string bad = testing::TestDir("qemu-bad");
  ASSERT_OK(WriteFileAtomically(bad + "/config.json", R"({"inventory": {"virtual_machines": [
      {"id": "a", "host_id": "h", "disks": [{"id": "d", "path": "a.qcow2"}]}]}})"));
  absl::StatusOr<std::unique_ptr<QemuHost>> refused = QemuHost::Open(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("inventory.hosts"), std::string::npos)
      << refused.status();
  ASSERT_OK(WriteFileAtomically(bad + "/config.json", R"({"inventory": {
      "hosts": [{"id": "h"}],
      "virtual_machines": [{"id": "a", "host_id": "h", "disks": [{"id": "d", "path": "a.qcow2"}]}]}})"));
  refused = QemuHost::Open(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("VHDX and VHD"), std::string::npos) << refused.status();
  ASSERT_OK(WriteFileAtomically(bad + "/config.json", "{\"inventory\": 3}"));
  EXPECT_EQ(QemuHost::Open(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QemuHost::Open(bad + "/none").status().code(), absl::StatusCode::kNotFound);
}

// Test failover's isolated network: recorded by the host (seen by another
// QemuHost of the directory), listed in its server's inventory while it
// exists, connectable, and not deleted while a NIC is on it. No boot.
TEST(QemuHostTest, IsolatedNetworksAreListedConnectableAndKeptWhileANicUsesThem) {
  std::string root = MakeHost();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> second, QemuHost::Open(root));
  model::VmmServer server;
  server.set_id("vmm-qemu");
  auto networks = [&](QemuHost& h) {
    std::vector<std::string> ids;
    absl::StatusOr<model::Inventory> inv = h.GetInventory(server);
    EXPECT_OK(inv.status());
    if (inv.ok()) {
      for (const model::VmNetwork& n : inv->vm_networks()) ids.push_back(n.id());
    }
    return ids;
  };
  EXPECT_EQ(networks(*host), std::vector<std::string>({"net-a"}));

  ASSERT_OK_AND_ASSIGN(std::string id, host->CreateIsolatedNetwork("kvm-01", "test-vm1"));
  EXPECT_EQ(id, "isolated-test-vm1");
  ASSERT_OK_AND_ASSIGN(std::string again, second->CreateIsolatedNetwork("kvm-01", "test-vm1"));
  EXPECT_EQ(again, id);  // idempotent, also from another object
  EXPECT_EQ(networks(*second), std::vector<std::string>({"net-a", id}));
  ASSERT_OK_AND_ASSIGN(model::Inventory inv, host->GetInventory(server));
  EXPECT_EQ(inv.vm_networks(1).server_id(), "vmm-qemu");
  EXPECT_EQ(inv.vm_networks(1).name(), "test-vm1 (isolated)");
  EXPECT_EQ(host->CreateIsolatedNetwork("kvm-99", "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(host->CreateIsolatedNetwork("kvm-01", "").status().code(),
            absl::StatusCode::kInvalidArgument);

  // A NIC on it: the network stays until the NIC leaves.
  model::NetworkAdapter nic;
  nic.set_id("nic0");
  nic.set_vm_network_id(id);
  ASSERT_OK(host->ConnectNic("vm1", nic));
  ASSERT_OK_AND_ASSIGN(model::VirtualMachine vm1, second->GetVm("vm1"));
  EXPECT_EQ(vm1.network_adapters(0).vm_network_id(), id);
  absl::Status busy = second->DeleteIsolatedNetwork("kvm-01", id);
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition) << busy;
  EXPECT_NE(busy.message().find("vm1"), std::string::npos) << busy;
  EXPECT_EQ(networks(*host), std::vector<std::string>({"net-a", id}));
  EXPECT_EQ(host->DeleteIsolatedNetwork("kvm-99", id).code(), absl::StatusCode::kNotFound);

  nic.set_vm_network_id("net-a");
  ASSERT_OK(host->ConnectNic("vm1", nic));
  ASSERT_OK(second->DeleteIsolatedNetwork("kvm-01", id));
  EXPECT_OK(host->DeleteIsolatedNetwork("kvm-01", id));  // gone already
  EXPECT_EQ(networks(*host), std::vector<std::string>({"net-a"}));
  nic.set_vm_network_id(id);
  EXPECT_EQ(host->ConnectNic("vm1", nic).code(), absl::StatusCode::kNotFound);
}

// A VM whose disk QEMU cannot open does not start, with QEMU's reason; a
// guest that ignores the power button makes ShutdownVm say so, and TurnOffVm
// still stops it.
TEST(QemuHostTest, StartFailuresShutdownTimeoutsAndTurnOff) {
  // No kernel: SeaBIOS finds nothing to boot on the blank disk and waits,
  // deaf to ACPI.
  std::string root = MakeHost(/*shutdown_timeout_s=*/2, R"(, "boot": {"kernel": ""})");
  // The VM outlives the host object that started it (as a hypervisor's VMs
  // outlive the tool that started them): another one, opened later, finds
  // the same QEMU process and controls it.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root));
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK_AND_ASSIGN(VmProcessInfo started, host->ProcessInfo("vm1"));
  host.reset();
  ASSERT_OK_AND_ASSIGN(host, QemuHost::Open(root, Owned()));
  ASSERT_OK_AND_ASSIGN(VmProcessInfo found, host->ProcessInfo("vm1"));
  EXPECT_EQ(found.power, model::RUNNING);
  EXPECT_EQ(found.pid, started.pid);
  ASSERT_OK(host->StartVm("vm1"));  // running already
  ASSERT_OK_AND_ASSIGN(google::protobuf::Value st, host->Qmp("vm1", "query-status"));
  EXPECT_EQ(QmpField(st, "status")->string_value(), "running");
  // The NIC's link follows ConnectNic while the VM runs.
  model::NetworkAdapter nic;
  nic.set_id("nic0");
  ASSERT_OK(host->ConnectNic("vm1", nic));
  absl::Status shut = host->ShutdownVm("vm1");
  EXPECT_EQ(shut.code(), absl::StatusCode::kDeadlineExceeded) << shut;
  EXPECT_NE(shut.message().find("TurnOffVm"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(model::VmPowerState power, host->GetPowerState("vm1"));
  EXPECT_EQ(power, model::RUNNING);
  ASSERT_OK(host->Qmp("vm1", "stop").status());
  ASSERT_OK_AND_ASSIGN(power, host->GetPowerState("vm1"));
  EXPECT_EQ(power, model::PAUSED);
  ASSERT_OK(host->TurnOffVm("vm1"));
  ASSERT_OK_AND_ASSIGN(VmProcessInfo info, host->ProcessInfo("vm1"));
  EXPECT_EQ(info.power, model::STOPPED);
  EXPECT_EQ(info.last_exit, "powered off");  // quit: QEMU exits 0
  EXPECT_EQ(host->Qmp("vm1", "query-status").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // A disk that is no VHDX: QEMU refuses it and says why.
  {
    std::ofstream f(root + "/disks/vm1-d0.vhdx", std::ios::trunc);
    f << "not a disk";
  }
  absl::Status start = host->StartVm("vm1");
  EXPECT_EQ(start.code(), absl::StatusCode::kFailedPrecondition) << start;
  EXPECT_NE(start.message().find("vm1-d0.vhdx"), std::string::npos) << start;
  ASSERT_OK_AND_ASSIGN(power, host->GetPowerState("vm1"));
  EXPECT_EQ(power, model::STOPPED);
  ASSERT_OK(platform::Env::Default()->Unlink(root + "/disks/vm1-d0.vhdx"));
  start = host->StartVm("vm1");
  EXPECT_EQ(start.code(), absl::StatusCode::kFailedPrecondition) << start;
  EXPECT_NE(start.message().find("is missing"), std::string::npos) << start;
}

// A point of a running VM: both disks at one instant while the guest goes
// on writing; a VM booted from the point's images finds every record
// acknowledged before the point, and none written after it.
TEST(QemuHostTest, APointOfARunningVmIsConsistentAndBootsToAGoodVerdict) {
  std::string root = MakeHost();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  // A stopped VM's point is its disks (nothing writes them: no guest to
  // freeze for an app-consistent one).
  ASSERT_OK_AND_ASSIGN(model::HostPoint cold, host->CreatePoint("vm1", model::CrashConsistent));
  ASSERT_EQ(cold.disks_size(), 2);
  EXPECT_EQ(cold.disks(1).read_path(), root + "/disks/vm1-d1.vhd");
  ASSERT_OK(host->ReleasePoint(cold));
  ASSERT_OK_AND_ASSIGN(cold, host->CreatePoint("vm1", model::AppConsistent));
  EXPECT_EQ(cold.type(), model::AppConsistent);
  ASSERT_OK(host->ReleasePoint(cold));

  ASSERT_OK(host->SetBootArguments("vm1", "asr.interval_ms=0"));
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-WROTE 8", absl::Minutes(3)).status());
  ASSERT_OK_AND_ASSIGN(std::string log, host->SerialLog("vm1"));
  const int64_t before = MaxWrote(log);
  ASSERT_OK_AND_ASSIGN(model::HostPoint point, host->CreatePoint("vm1", model::CrashConsistent));
  ASSERT_OK_AND_ASSIGN(log, host->SerialLog("vm1"));
  const int64_t after = MaxWrote(log);
  std::cout << "point transaction: " << absl::FormatDuration(host->last_point_transaction())
            << "; records acknowledged before " << before << ", after " << after << "\n";
  EXPECT_LT(host->last_point_transaction(), absl::Seconds(5));
  EXPECT_EQ(point.type(), model::CrashConsistent);
  ASSERT_EQ(point.disks_size(), 2);
  // The guest did not stop for the point.
  ASSERT_OK(
      host->WaitForSerial("vm1", absl::StrCat("ASR-WROTE ", after + 3), absl::Minutes(3)).status());

  // The point's images are complete disks QEMU no longer holds: copy them
  // as the replica's disks, release the point, boot the replica to check.
  ASSERT_OK_AND_ASSIGN(model::ReplicaVmSpec spec, ReplicaOfPoint(root, point, "vm1-replica"));
  ASSERT_OK(host->ReleasePoint(point));
  EXPECT_FALSE(PathExists(DirName(point.disks(0).read_path())));
  ASSERT_OK(host->TurnOffVm("vm1"));
  ASSERT_OK_AND_ASSIGN(std::string verdict, BootToVerdict(*host, spec));
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT ok records=")) << verdict;
  EXPECT_GE(Field(verdict, "last"), before) << verdict;
  EXPECT_LE(Field(verdict, "last"), after + 1) << verdict;
  absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (absl::Now() < deadline && *host->GetPowerState("vm1-replica") != model::STOPPED) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(*host->GetPowerState("vm1-replica"), model::STOPPED);
}

// The line of the serial log that starts with `prefix` and holds `word`
// ("" when none).
std::string SerialLine(const std::string& log, const std::string& prefix, const std::string& word) {
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StartsWith(line, prefix) && absl::StrContains(line, word)) {
      return std::string(absl::StripTrailingAsciiWhitespace(line));
    }
  }
  return "";
}

// Application-consistent points through the guest agent: the test guest
// runs qemu-ga; its freeze makes the workload sync a quiesce marker and
// wait, the point is cut, the thaw lets it go on, and a VM booted from the
// point's images finds the marker as the last record of both disks. A
// guest with no agent (vm2 idles in its BIOS: QEMU serves the port,
// nothing in the guest answers) makes the point fail at once with the
// reason, alone or in a group, and the frozen group member is thawed.
TEST(QemuHostTest, AppConsistentPointsFreezeTheGuestThroughItsAgentAndThawItOnEveryPath) {
  std::string root = MakeHost(90, "", /*vm2=*/true);
  QemuHostOptions options = Owned();
  options.agent.answer_timeout = absl::Seconds(4);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, options));
  ASSERT_OK(host->StartVm("vm2"));
  ASSERT_OK(host->SetBootArguments("vm1", "asr.interval_ms=20"));
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK_AND_ASSIGN(std::string agent,
                       host->WaitForSerial("vm1", "ASR-AGENT", absl::Minutes(3)));
  ASSERT_TRUE(absl::StartsWith(agent, "ASR-AGENT running port=/dev/vport")) << agent;
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-WROTE 5", absl::Minutes(3)).status());

  // 1. The point: frozen, cut, thawed.
  ASSERT_OK_AND_ASSIGN(model::HostPoint point, host->CreatePoint("vm1", model::AppConsistent));
  std::cout << "app-consistent point: writes held "
            << absl::FormatDuration(host->last_point_quiesce())
            << " (freeze, instant, thaw), transaction "
            << absl::FormatDuration(host->last_point_transaction()) << "\n";
  EXPECT_EQ(point.type(), model::AppConsistent);
  ASSERT_EQ(point.disks_size(), 2);
  EXPECT_GT(host->last_point_quiesce(), host->last_point_transaction());
  EXPECT_LT(host->last_point_quiesce(), absl::Seconds(60));
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-RESUMED freeze=1", absl::Minutes(1)).status());
  ASSERT_OK_AND_ASSIGN(std::string log, host->SerialLog("vm1"));
  const std::string quiesced = SerialLine(log, "ASR-QUIESCED", "freeze=1");
  ASSERT_FALSE(quiesced.empty()) << log;
  const int64_t marker = Field(quiesced, "seq");
  EXPECT_GT(marker, 5) << quiesced;
  EXPECT_EQ(SerialLine(log, "ASR-FREEZE", "freeze=1"), "ASR-FREEZE freeze=1 workload=quiesced");
  EXPECT_EQ(SerialLine(log, "ASR-THAW", "freeze=1"), "ASR-THAW freeze=1");
  // The workload goes on after the thaw.
  ASSERT_OK(host->WaitForSerial("vm1", absl::StrCat("ASR-WROTE ", marker + 3), absl::Minutes(2))
                .status());
  GuestAgentClient vm1_agent(root + "/vms/vm1/qga.sock", "vm1");
  ASSERT_OK_AND_ASSIGN(std::string status, vm1_agent.FreezeStatus());
  EXPECT_EQ(status, "thawed");

  // 2. No agent answers in vm2: refused within the agent's time limit,
  // with the reason; vm2 runs on.
  absl::Time t = absl::Now();
  absl::Status refused = host->CreatePoint("vm2", model::AppConsistent).status();
  std::cout << "no agent: refused after " << absl::FormatDuration(absl::Now() - t) << "\n";
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "VM 'vm2'")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "no guest agent answers")) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), "crash-consistent point")) << refused;
  EXPECT_LT(absl::Now() - t, absl::Seconds(30));
  ASSERT_OK_AND_ASSIGN(google::protobuf::Value st, host->Qmp("vm2", "query-status"));
  EXPECT_EQ(QmpField(st, "status")->string_value(), "running");

  // 3. A group of both: vm1 is frozen first, vm2 fails, vm1 is thawed and
  // writes on; no point is left.
  ASSERT_OK_AND_ASSIGN(log, host->SerialLog("vm1"));
  const int64_t before_group = MaxWrote(log);
  absl::Status group = host->CreateGroupPoint({"vm1", "vm2"}, model::AppConsistent).status();
  EXPECT_EQ(group.code(), absl::StatusCode::kFailedPrecondition) << group;
  EXPECT_TRUE(absl::StrContains(group.message(), "VM 'vm2' cannot be quiesced")) << group;
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-RESUMED freeze=2", absl::Minutes(1)).status());
  ASSERT_OK_AND_ASSIGN(log, host->SerialLog("vm1"));
  EXPECT_EQ(SerialLine(log, "ASR-THAW", "freeze=2"), "ASR-THAW freeze=2") << log;
  ASSERT_OK(
      host->WaitForSerial("vm1", absl::StrCat("ASR-WROTE ", before_group + 5), absl::Minutes(2))
          .status());
  ASSERT_OK_AND_ASSIGN(status, vm1_agent.FreezeStatus());
  EXPECT_EQ(status, "thawed");
  for (const char* vm : {"vm1", "vm2"}) {
    ASSERT_OK_AND_ASSIGN(google::protobuf::Value jobs, host->Qmp(vm, "query-block-jobs"));
    EXPECT_EQ(jobs.list_value().values_size(), 0) << vm;
  }

  // 3b. An asr process that froze vm1 and died before its thaw leaves the
  // guest frozen and the VM's frozen mark (vms/ID/agent-frozen): the VM's
  // next point, of any kind, thaws it first, and the workload goes on.
  ASSERT_OK_AND_ASSIGN(int frozen_fs, vm1_agent.Freeze());
  EXPECT_GE(frozen_fs, 1);
  ASSERT_OK(WriteFileAtomically(root + "/vms/vm1/agent-frozen", "frozen by a process that died\n"));
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-QUIESCED freeze=3", absl::Minutes(1)).status());
  ASSERT_OK_AND_ASSIGN(status, vm1_agent.FreezeStatus());
  EXPECT_EQ(status, "frozen");
  ASSERT_OK_AND_ASSIGN(log, host->SerialLog("vm1"));
  const int64_t while_frozen = MaxWrote(log);
  ASSERT_OK_AND_ASSIGN(model::HostPoint crash_point,
                       host->CreatePoint("vm1", model::CrashConsistent));
  EXPECT_EQ(crash_point.type(), model::CrashConsistent);
  ASSERT_OK_AND_ASSIGN(status, vm1_agent.FreezeStatus());
  EXPECT_EQ(status, "thawed");
  EXPECT_FALSE(PathExists(root + "/vms/vm1/agent-frozen"));
  ASSERT_OK(host->WaitForSerial("vm1", "ASR-RESUMED freeze=3", absl::Minutes(1)).status());
  ASSERT_OK(
      host->WaitForSerial("vm1", absl::StrCat("ASR-WROTE ", while_frozen + 3), absl::Minutes(2))
          .status());
  ASSERT_OK(host->ReleasePoint(crash_point));
  // A mark without an agent that answers (vm2 has none) is dropped, and the
  // point is taken.
  ASSERT_OK(WriteFileAtomically(root + "/vms/vm2/agent-frozen", "stale\n"));
  ASSERT_OK_AND_ASSIGN(model::HostPoint vm2_point,
                       host->CreatePoint("vm2", model::CrashConsistent));
  EXPECT_FALSE(PathExists(root + "/vms/vm2/agent-frozen"));
  ASSERT_OK(host->ReleasePoint(vm2_point));

  // 4. The app-consistent point's images boot to a good verdict whose last
  // record on both disks is the quiesce marker of freeze 1.
  ASSERT_OK_AND_ASSIGN(model::ReplicaVmSpec spec, ReplicaOfPoint(root, point, "vm1-replica"));
  ASSERT_OK(host->ReleasePoint(point));
  ASSERT_OK(host->TurnOffVm("vm1"));
  ASSERT_OK(host->TurnOffVm("vm2"));
  ASSERT_OK_AND_ASSIGN(std::string verdict, BootToVerdict(*host, spec));
  EXPECT_TRUE(absl::StartsWith(verdict, "ASR-VERDICT ok records=")) << verdict;
  EXPECT_EQ(Field(verdict, "last"), marker) << verdict;
  ASSERT_OK_AND_ASSIGN(std::string consistency,
                       host->WaitForSerial("vm1-replica", "ASR-QUIESCE", absl::Minutes(1)));
  EXPECT_EQ(consistency, absl::StrCat("ASR-QUIESCE quiesced freeze=1 seq=", marker));
}

// A group point: both VMs paused for one instant, each VM's disks copied,
// both running again; the points share their time.
TEST(QemuHostTest, AGroupPointPausesEveryVmForOneInstant) {
  std::string root = MakeHost(90, R"(, "boot": {"kernel": ""})", /*vm2=*/true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  ASSERT_OK(host->StartVm("vm1"));
  ASSERT_OK(host->StartVm("vm2"));
  EXPECT_EQ(host->CreateGroupPoint({}, model::CrashConsistent).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(host->CreateGroupPoint({"vm1", "vm1"}, model::CrashConsistent).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(host->CreateGroupPoint({"vm1", "vm7"}, model::CrashConsistent).status().code(),
            absl::StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(std::vector<model::HostPoint> points,
                       host->CreateGroupPoint({"vm2", "vm1"}, model::CrashConsistent));
  std::cout << "group point pause: " << absl::FormatDuration(host->last_point_transaction())
            << "\n";
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].vm_id(), "vm2");
  EXPECT_EQ(points[1].vm_id(), "vm1");
  EXPECT_EQ(points[0].time_us(), points[1].time_us());
  EXPECT_NE(points[0].id(), points[1].id());
  ASSERT_EQ(points[0].disks_size(), 1);
  ASSERT_EQ(points[1].disks_size(), 2);
  // Each image is a whole VHDX of its disk's size, no longer QEMU's.
  const uint64_t sizes[] = {16ull << 20, 64ull << 20, 32ull << 20};
  int n = 0;
  for (const model::HostPoint& p : points) {
    for (const model::HostPointDisk& d : p.disks()) {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<disk::VirtualDisk> image,
                           disk::OpenDisk(d.read_path(), disk::OpenMode::kReadOnly));
      EXPECT_EQ(image->virtual_size(), sizes[n++]) << d.read_path();
    }
  }
  for (const char* vm : {"vm1", "vm2"}) {
    ASSERT_OK_AND_ASSIGN(google::protobuf::Value st, host->Qmp(vm, "query-status"));
    EXPECT_EQ(QmpField(st, "status")->string_value(), "running") << vm;
    ASSERT_OK_AND_ASSIGN(google::protobuf::Value jobs, host->Qmp(vm, "query-block-jobs"));
    EXPECT_EQ(jobs.list_value().values_size(), 0) << vm;
  }
  for (const model::HostPoint& p : points) {
    ASSERT_OK(host->ReleasePoint(p));
    EXPECT_FALSE(PathExists(DirName(p.disks(0).read_path())));
  }
  ASSERT_OK(host->TurnOffVm("vm1"));
  ASSERT_OK(host->TurnOffVm("vm2"));
}

// Writes `length` bytes of `pattern` at `offset` of the VM's drive, through
// QEMU's block layer as the guest's own writes go (HMP qemu-io): the dirty
// bitmaps see them like any guest write.
void WriteThroughQemu(QemuHost& host, const std::string& vm, const std::string& drive,
                      uint64_t offset, uint64_t length, int pattern) {
  ASSERT_OK(host.Qmp(vm, "human-monitor-command",
                     absl::StrCat(R"({"command-line":"qemu-io )", drive, R"( \"write -P )", pattern,
                                  " ", offset, " ", length, R"(\""})"))
                .status());
}

// The 64 KiB clusters a point's changed extents cover.
std::set<uint64_t> Clusters(const model::HostPointDisk& d) {
  std::set<uint64_t> out;
  for (const model::DiskExtent& e : d.changed_extents()) {
    for (uint64_t c = e.offset() >> 16; c < (e.offset() + e.length() + 0xffff) >> 16; ++c) {
      out.insert(c);
    }
  }
  return out;
}

// Change tracking from QEMU's dirty bitmaps: each point of a running VM
// cuts a bitmap at its instant; the next point reports exactly the 64 KiB
// clusters written in between, and falls back to a scan whenever the
// bitmap cannot be trusted (first point, a restarted QEMU, a bitmap gone).
TEST(QemuHostTest, DirtyBitmapsReportTheBlocksWrittenBetweenPointsOrAScan) {
  std::string root = MakeHost(90, R"(, "boot": {"kernel": ""})", /*vm2=*/true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  ASSERT_OK(host->StartVm("vm2"));  // idles in the BIOS: only the test writes its disk
  constexpr uint64_t kDisk = 16ull << 20;
  // What the disk holds: blank, then every write of the test.
  std::vector<uint8_t> disk(kDisk, 0);
  auto write = [&](uint64_t offset, uint64_t length, int pattern) {
    WriteThroughQemu(*host, "vm2", "disk0", offset, length, pattern);
    std::fill(disk.begin() + offset, disk.begin() + offset + length, static_cast<uint8_t>(pattern));
  };
  // A point's image holds exactly `want` (the disk at the point's instant).
  auto holds = [](const model::HostPoint& p, const std::vector<uint8_t>& want) {
    absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> image =
        disk::OpenDisk(p.disks(0).read_path(), disk::OpenMode::kReadOnly);
    if (!image.ok()) return ::testing::AssertionFailure() << image.status();
    if ((*image)->virtual_size() != want.size()) {
      return ::testing::AssertionFailure() << "size " << (*image)->virtual_size();
    }
    std::vector<uint8_t> got(want.size());
    absl::Status r = (*image)->ReadAt(0, absl::MakeSpan(got));
    if (!r.ok()) return ::testing::AssertionFailure() << r;
    for (size_t i = 0; i < got.size(); ++i) {
      if (got[i] != want[i]) {
        return ::testing::AssertionFailure()
               << p.id() << "'s image differs from the disk at byte " << i;
      }
    }
    return ::testing::AssertionSuccess();
  };
  // The guest's pause at each point (the transaction that cuts it).
  std::vector<absl::Duration> pauses;
  auto point = [&]() -> absl::StatusOr<model::HostPoint> {
    absl::StatusOr<model::HostPoint> p = host->CreatePoint("vm2", model::CrashConsistent);
    pauses.push_back(host->last_point_transaction());
    return p;
  };
  // A point made from the base and its extents: it read only them.
  auto updated = [&](const model::HostPoint& p) {
    const PointCopy c = host->last_point_copy("vm2");
    uint64_t extents = 0;
    for (const model::DiskExtent& e : p.disks(0).changed_extents()) extents += e.length();
    EXPECT_EQ(c.disks_updated, 1);
    EXPECT_EQ(c.disks_copied, 0);
    EXPECT_EQ(c.bytes_read, extents);
  };
  auto copied_whole = [&]() {
    const PointCopy c = host->last_point_copy("vm2");
    EXPECT_EQ(c.disks_updated, 0);
    EXPECT_EQ(c.disks_copied, 1);
    EXPECT_EQ(c.bytes_read, kDisk);
  };
  ASSERT_OK_AND_ASSIGN(model::HostPoint p1, point());
  ASSERT_EQ(p1.disks_size(), 1);
  EXPECT_TRUE(p1.disks(0).needs_scan());
  EXPECT_TRUE(absl::StrContains(p1.disks(0).needs_scan_reason(), "first point"))
      << p1.disks(0).needs_scan_reason();
  EXPECT_TRUE(p1.disks(0).changes_since_point_id().empty());
  copied_whole();
  EXPECT_TRUE(holds(p1, disk));
  ASSERT_OK(host->ReleasePoint(p1));

  write(1 << 20, 4096, 0x5a);           // cluster 16
  write((9 << 20) - 4096, 8192, 0x6b);  // clusters 143, 144
  const std::vector<uint8_t> at_p2 = disk;
  ASSERT_OK_AND_ASSIGN(model::HostPoint p2, point());
  write(12 << 20, 4096, 0x7c);  // after p2's instant
  ASSERT_EQ(p2.disks_size(), 1);
  EXPECT_FALSE(p2.disks(0).needs_scan()) << p2.disks(0).needs_scan_reason();
  EXPECT_EQ(p2.disks(0).changes_since_point_id(), p1.id());
  EXPECT_EQ(Clusters(p2.disks(0)), (std::set<uint64_t>{16, 143, 144}));
  // The base (p1's image) brought up to p2 by three clusters: the writes
  // before its instant, not the one after.
  updated(p2);
  EXPECT_TRUE(holds(p2, at_p2));
  ASSERT_OK(host->ReleasePoint(p2));

  ASSERT_OK_AND_ASSIGN(model::HostPoint p3, point());
  EXPECT_FALSE(p3.disks(0).needs_scan()) << p3.disks(0).needs_scan_reason();
  EXPECT_EQ(p3.disks(0).changes_since_point_id(), p2.id());
  EXPECT_EQ(Clusters(p3.disks(0)), (std::set<uint64_t>{192}));  // the write after p2
  updated(p3);
  EXPECT_TRUE(holds(p3, disk));
  ASSERT_OK(host->ReleasePoint(p3));
  // Nothing written: no changes, nothing read, and still no scan.
  ASSERT_OK_AND_ASSIGN(model::HostPoint p4, point());
  EXPECT_FALSE(p4.disks(0).needs_scan());
  EXPECT_TRUE(p4.disks(0).changed_extents().empty());
  updated(p4);
  EXPECT_TRUE(holds(p4, disk));

  // A point while the last one is still held: p4's image is the base and
  // stays p4's, so p5 is copied whole (its extents are still reported).
  const std::vector<uint8_t> at_p4 = disk;
  write(5 << 20, 65536, 0x21);  // cluster 80
  ASSERT_OK_AND_ASSIGN(model::HostPoint p5, point());
  EXPECT_FALSE(p5.disks(0).needs_scan());
  EXPECT_EQ(Clusters(p5.disks(0)), (std::set<uint64_t>{80}));
  copied_whole();
  EXPECT_TRUE(holds(p5, disk));
  EXPECT_TRUE(holds(p4, at_p4));
  ASSERT_OK(host->ReleasePoint(p4));  // p5's image is the base now: p4's goes
  EXPECT_FALSE(PathExists(p4.disks(0).read_path()));
  EXPECT_TRUE(holds(p5, disk));
  ASSERT_OK(host->ReleasePoint(p5));
  write(6 << 20, 4096, 0x22);  // cluster 96
  ASSERT_OK_AND_ASSIGN(model::HostPoint p6, point());
  EXPECT_EQ(Clusters(p6.disks(0)), (std::set<uint64_t>{96}));
  updated(p6);
  EXPECT_TRUE(holds(p6, disk));
  ASSERT_OK(host->ReleasePoint(p6));

  // An update of the base that died half-way (its record is removed first,
  // then the image changes): the next point copies in full, never trusts it.
  const std::string base_dir = JoinPath(JoinPath(JoinPath(root, "vms"), "vm2"), "base");
  ASSERT_TRUE(PathExists(JoinPath(base_dir, "record")));
  ASSERT_OK(platform::Env::Default()->Unlink(JoinPath(base_dir, "record")));
  {
    ASSERT_OK_AND_ASSIGN(
        std::unique_ptr<disk::VirtualDisk> base,
        disk::OpenDisk(JoinPath(base_dir, "disk0.vhdx"), disk::OpenMode::kReadWrite));
    ASSERT_OK(base->WriteAt(7 << 20, std::vector<uint8_t>(4096, 0xee)));
    ASSERT_OK(base->Close());
  }
  write(8 << 20, 4096, 0x23);
  ASSERT_OK_AND_ASSIGN(model::HostPoint p7, point());
  EXPECT_FALSE(p7.disks(0).needs_scan());
  copied_whole();
  EXPECT_TRUE(holds(p7, disk));
  ASSERT_OK(host->ReleasePoint(p7));

  // A resize of the running VM's disk: QEMU 7.2 cannot resize a VHDX
  // drive, and says so; the disk and its tracking stay as they were.
  absl::Status resized =
      host->Qmp("vm2", "block_resize", R"({"device":"disk0","size":33554432})").status();
  EXPECT_FALSE(resized.ok());
  EXPECT_TRUE(absl::StrContains(resized.message(), "resize")) << resized;
  write(10 << 20, 4096, 0x24);  // cluster 160
  ASSERT_OK_AND_ASSIGN(model::HostPoint p8, point());
  EXPECT_FALSE(p8.disks(0).needs_scan()) << p8.disks(0).needs_scan_reason();
  EXPECT_EQ(Clusters(p8.disks(0)), (std::set<uint64_t>{160}));
  updated(p8);
  EXPECT_TRUE(holds(p8, disk));
  ASSERT_OK(host->ReleasePoint(p8));

  // A bitmap that went away (removed by someone else): a scan.
  ASSERT_OK_AND_ASSIGN(google::protobuf::Value blocks, host->Qmp("vm2", "query-block"));
  for (const auto& b : blocks.list_value().values()) {
    const auto* bitmaps = QmpField(*QmpField(b, "inserted"), "dirty-bitmaps");
    ASSERT_NE(bitmaps, nullptr);
    ASSERT_EQ(bitmaps->list_value().values_size(), 1) << "one bitmap per disk between points";
    ASSERT_OK(
        host->Qmp("vm2", "block-dirty-bitmap-remove",
                  absl::StrCat(R"({"node":"disk0","name":")",
                               QmpField(bitmaps->list_value().values(0), "name")->string_value(),
                               R"("})"))
            .status());
  }
  ASSERT_OK_AND_ASSIGN(model::HostPoint p9, point());
  EXPECT_TRUE(p9.disks(0).needs_scan());
  EXPECT_TRUE(absl::StrContains(p9.disks(0).needs_scan_reason(), "no dirty bitmap"))
      << p9.disks(0).needs_scan_reason();
  copied_whole();
  EXPECT_TRUE(holds(p9, disk));
  ASSERT_OK(host->ReleasePoint(p9));

  // A restarted QEMU: its bitmaps died with the old process.
  ASSERT_OK(host->TurnOffVm("vm2"));
  ASSERT_OK(host->StartVm("vm2"));
  ASSERT_OK_AND_ASSIGN(model::HostPoint p10, point());
  EXPECT_TRUE(p10.disks(0).needs_scan());
  EXPECT_TRUE(absl::StrContains(p10.disks(0).needs_scan_reason(), "restarted"))
      << p10.disks(0).needs_scan_reason();
  copied_whole();
  EXPECT_TRUE(holds(p10, disk));
  ASSERT_OK(host->ReleasePoint(p10));
  write(3 << 20, 65536, 0x11);  // cluster 48
  ASSERT_OK_AND_ASSIGN(model::HostPoint p11, point());
  EXPECT_FALSE(p11.disks(0).needs_scan()) << p11.disks(0).needs_scan_reason();
  EXPECT_EQ(Clusters(p11.disks(0)), (std::set<uint64_t>{48}));
  updated(p11);
  EXPECT_TRUE(holds(p11, disk));
  ASSERT_OK(host->ReleasePoint(p11));
  ASSERT_OK_AND_ASSIGN(google::protobuf::Value jobs, host->Qmp("vm2", "query-block-jobs"));
  EXPECT_EQ(jobs.list_value().values_size(), 0);
  std::cout << "point pauses (fleecing):";
  for (absl::Duration d : pauses) {
    std::cout << " " << absl::FormatDuration(d);
    EXPECT_LT(d, absl::Seconds(5));
  }
  std::cout << "\n";
  ASSERT_OK(host->TurnOffVm("vm2"));
}

// Whether the image at `path` holds exactly `want`.
::testing::AssertionResult ImageHolds(const std::string& path, const std::vector<uint8_t>& want) {
  absl::StatusOr<std::unique_ptr<disk::VirtualDisk>> image =
      disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  if (!image.ok()) return ::testing::AssertionFailure() << image.status();
  if ((*image)->virtual_size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << (*image)->virtual_size();
  }
  std::vector<uint8_t> got(want.size());
  absl::Status r = (*image)->ReadAt(0, absl::MakeSpan(got));
  if (!r.ok()) return ::testing::AssertionFailure() << r;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != want[i]) return ::testing::AssertionFailure() << "differs at byte " << i;
  }
  return ::testing::AssertionSuccess();
}

// An asr process killed (SIGKILL) at random moments of its points, also in
// the middle of bringing the base up to date: the next point of another
// process is still exactly the disk, whether it copies whole or updates.
TEST(QemuHostTest, AnAsrProcessKilledMidPointLeavesNoWrongImage) {
  std::string root = MakeHost(90, R"(, "boot": {"kernel": ""})", /*vm2=*/true);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<QemuHost> host, QemuHost::Open(root, Owned()));
  ASSERT_OK(host->StartVm("vm2"));
  constexpr uint64_t kDisk = 16ull << 20;
  std::vector<uint8_t> disk(kDisk, 0);
  auto write = [&](uint64_t offset, uint64_t length, int pattern) {
    WriteThroughQemu(*host, "vm2", "disk0", offset, length, pattern);
    std::fill(disk.begin() + offset, disk.begin() + offset + length, static_cast<uint8_t>(pattern));
  };
  ASSERT_OK_AND_ASSIGN(model::HostPoint first, host->CreatePoint("vm2", model::CrashConsistent));
  ASSERT_OK(host->ReleasePoint(first));
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  const std::string loop = absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "asr",
                                        "/asr/qemu/testing/point_loop");
  std::mt19937 rng(20261201);
  int updated = 0, copied = 0, killed_in_point = 0, killed_in_base = 0;
  // Until three kills landed inside a point (most do; at most 30 rounds).
  for (int round = 0; round < 30 && killed_in_point + killed_in_base < 3; ++round) {
    // Large changes, so that bringing the base up to date takes a while.
    write((round % 2) * (8 << 20), 8 << 20, 0x30 + round);
    {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<platform::ChildProcess> child,
                           platform::ChildProcess::Spawn(loop, {root, "vm2"}));
      absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(50, 1500)(rng)));
      // The destructor kills it (SIGKILL) and reaps it.
    }
    // Where it died: a fleecing job still running (between its transaction
    // and the end of its copy), no base record (bringing the base up to
    // date, or between that and its new record).
    {
      ASSERT_OK_AND_ASSIGN(google::protobuf::Value jobs, host->Qmp("vm2", "query-block-jobs"));
      if (jobs.list_value().values_size() > 0) ++killed_in_point;
    }
    if (!PathExists(JoinPath(root, "vms/vm2/base/record"))) ++killed_in_base;
    ASSERT_OK_AND_ASSIGN(model::HostPoint p, host->CreatePoint("vm2", model::CrashConsistent));
    const PointCopy c = host->last_point_copy("vm2");
    (c.disks_updated == 1 ? updated : copied)++;
    EXPECT_TRUE(ImageHolds(p.disks(0).read_path(), disk))
        << "round " << round << ", point " << p.id();
    ASSERT_OK(host->ReleasePoint(p));
    // The killed process's point (its directory, up to a full image) went
    // with the next point: no point is held now.
    ASSERT_OK_AND_ASSIGN(std::vector<std::string> left,
                         platform::Env::Default()->ListDirectory(JoinPath(root, "vms/vm2/points")));
    EXPECT_THAT(left, ::testing::IsEmpty()) << "round " << round;
  }
  std::cout << "after a kill: " << updated << " points updated from the base, " << copied
            << " copied whole; killed during a point's copy " << killed_in_point
            << " times, with the base not recorded " << killed_in_base << " times\n";
  EXPECT_GE(killed_in_point + killed_in_base, 3) << "too few kills landed inside a point";
  ASSERT_OK_AND_ASSIGN(google::protobuf::Value jobs, host->Qmp("vm2", "query-block-jobs"));
  EXPECT_EQ(jobs.list_value().values_size(), 0) << "no fleecing job outlives its point";
  ASSERT_OK(host->TurnOffVm("vm2"));
}

}  // namespace
}  // namespace asr::qemu
