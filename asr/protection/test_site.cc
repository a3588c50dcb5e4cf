#include "asr/protection/test_site.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/key_provider.h"
#include "asr/net/pki.h"

namespace asr::protection {
namespace {

// VM1 and VM2 get a second (data) disk; `extra` generated VMs join
// GoldCloud1 on hv-ny-01 with two disks each.
model::Inventory NewYork(int extra) {
  model::Inventory inv = fabric::NewYorkInventory();
  for (auto& vm : *inv.mutable_virtual_machines()) {
    if (vm.id() != "vm1" && vm.id() != "vm2") continue;
    model::VirtualDisk d = vm.disks(0);
    d.set_id(vm.id() + "-d1");
    d.set_name(vm.id() + "-data.vhdx");
    d.set_path(absl::StrCat(d.path().substr(0, d.path().size() - 5), "-data.vhdx"));
    d.set_is_os_disk(false);
    *vm.add_disks() = d;
  }
  const model::VirtualMachine templ = inv.virtual_machines(0);  // VM1: gold1, hv-ny-01
  for (int i = 1; i <= extra; ++i) {
    model::VirtualMachine vm = templ;
    const std::string id = absl::StrFormat("vm-g%03d", i);
    vm.set_id(id);
    vm.set_name(absl::StrFormat("VM-G%03d", i));
    for (int k = 0; k < vm.disks_size(); ++k) {
      model::VirtualDisk* d = vm.mutable_disks(k);
      d->set_id(absl::StrCat(id, "-d", k));
      d->set_name(absl::StrCat(id, k == 0 ? "" : "-data", ".vhdx"));
      d->set_path(absl::StrCat("C:\\ClusterStorage\\Volume1\\", d->name()));
    }
    vm.mutable_network_adapters(0)->set_id(id + "-nic0");
    vm.mutable_network_adapters(0)->set_mac_address(
        absl::StrFormat("00:15:5D:02:%02X:%02X", i / 256, i % 256));
    *inv.add_virtual_machines() = vm;
  }
  return inv;
}

}  // namespace

TestSite::~TestSite() {
  sr_.reset();
  fabric_.reset();
}

absl::StatusOr<std::unique_ptr<TestSite>> TestSite::Create(const std::string& root,
                                                           const TestSiteOptions& options) {
  std::unique_ptr<TestSite> site(new TestSite());
  site->root_ = root;
  site->state_dir_ = root + "/state";
  site->pki_dir_ = root + "/pki";
  site->clock_ = options.clock != nullptr ? options.clock : &Clock::Real();
  ASR_RETURN_IF_ERROR(MakeDirectories(root));
  ASR_RETURN_IF_ERROR(site->Setup(options));
  return site;
}

absl::StatusOr<std::unique_ptr<TestSite>> TestSite::Open(const std::string& root,
                                                         const Clock* clock) {
  std::unique_ptr<TestSite> site(new TestSite());
  site->root_ = root;
  site->state_dir_ = root + "/state";
  site->pki_dir_ = root + "/pki";
  site->clock_ = clock != nullptr ? clock : &Clock::Real();
  ASR_ASSIGN_OR_RETURN(site->fabric_, fabric::SimulatedFabric::Open(root + "/fabric"));
  ASR_RETURN_IF_ERROR(site->Open());
  return site;
}

absl::Status TestSite::Open() {
  SiteRecoveryOptions o;
  o.clock = clock_;
  o.host = fabric_.get();
  o.key_provider = std::make_shared<fabric::KeyFileProvider>(root_ + "/kek");
  ASR_ASSIGN_OR_RETURN(sr_, SiteRecovery::Open(state_dir_, o));
  return absl::OkStatus();
}

void TestSite::Close() { sr_.reset(); }

absl::Status TestSite::Reopen() {
  sr_.reset();
  return Open();
}

absl::Status TestSite::Setup(const TestSiteOptions& options) {
  fabric::FabricOptions fo;
  fo.disk_size_bytes = options.disk_size_bytes;
  std::vector<fabric::FabricServer> servers(2);
  servers[0].set_name("vmm-ny");
  *servers[0].mutable_inventory() = NewYork(options.extra_vms);
  servers[1].set_name("vmm-chi");
  *servers[1].mutable_inventory() = fabric::ChicagoInventory();
  ASR_ASSIGN_OR_RETURN(fabric_, fabric::SimulatedFabric::Create(root_ + "/fabric", servers, fo));

  ASR_RETURN_IF_ERROR(fabric::CreateKeyFile(root_ + "/kek").status());
  ASR_RETURN_IF_ERROR(Open());
  ASR_RETURN_IF_ERROR(sr_->Initialize());
  ASR_RETURN_IF_ERROR(sr_->fabric().CreateVault("contoso", "on-premises").status());
  ASR_ASSIGN_OR_RETURN(std::string key, sr_->fabric().GenerateRegistrationKey());
  for (const char* name : {"vmm-ny", "vmm-chi"}) {
    model::ServerRegistrationRequest r;
    r.set_credentials(key);
    r.set_friendly_name(name);
    if (std::string(name) == "vmm-chi") r.set_site_id("recovery");
    ASR_RETURN_IF_ERROR(sr_->fabric().RegisterServer(r).status());
    ASR_RETURN_IF_ERROR(sr_->fabric().SyncInventory(name, nullptr, "").status());
  }
  ASR_RETURN_IF_ERROR(sr_->fabric().SyncInventory("vmm-ny", nullptr, "GoldCloud1").status());
  ASR_RETURN_IF_ERROR(sr_->fabric().SyncInventory("vmm-chi", nullptr, "GoldCloud2").status());
  ASR_RETURN_IF_ERROR(sr_->fabric().PairClouds("GoldCloud1", "GoldCloud2").status());
  model::ReplicationPolicy p;
  p.set_name("gold-policy");
  p.set_replication_provider(model::HyperVReplica2012R2);
  p.set_replication_frequency_in_seconds(options.copy_frequency_seconds);
  p.set_number_of_recovery_points_to_retain(options.recovery_points);
  p.set_application_consistent_snapshot_frequency_in_hours(options.app_consistent_hours);
  p.set_compression_enabled(options.compression);
  p.set_authentication(model::Certificate);
  p.set_replica_deletion(options.replica_deletion);
  p.set_replication_method(options.offline ? model::Offline : options.method);
  p.set_replication_start_time_unix(options.start_time_unix);
  if (options.offline) {
    ASR_RETURN_IF_ERROR(MakeDirectories(export_dir()));
    ASR_RETURN_IF_ERROR(MakeDirectories(import_dir()));
    p.set_offline_export_path(export_dir());
    p.set_offline_import_path(import_dir());
  }
  ASR_RETURN_IF_ERROR(sr_->policies().CreatePolicy(p).status());
  ASR_RETURN_IF_ERROR(sr_->policies().AssociatePolicy("gold-policy", "GoldCloud1").status());
  for (const auto& [src, dst] : std::vector<std::pair<std::string, std::string>>{
           {"VMNetwork1-NewYork", "VMNetwork1-Chicago"},
           {"VMNetwork2-NewYork", "VMNetwork1-Chicago"}}) {
    model::NetworkMapping m;
    m.set_source_vm_network_id(src);
    m.set_target_vm_network_id(dst);
    ASR_RETURN_IF_ERROR(sr_->mappings().MapNetwork(m, false).status());
  }
  model::StorageMapping sm;
  sm.set_source_classification_id("GOLD");
  sm.set_target_classification_id("GOLD_TARGET");
  ASR_RETURN_IF_ERROR(sr_->mappings().MapStorage(sm, false).status());
  net::VaultPkiOptions po;
  po.primary_name = "hv-ny-01.contoso.com";
  po.recovery_name = "hv-chi-01.contoso.com";
  return net::InitVaultPki(pki_dir_, po).status();
}

absl::StatusOr<std::unique_ptr<SiteService>> TestSite::StartService(SiteServiceOptions options) {
  if (options.transport.pki_dir.empty()) options.transport.pki_dir = pki_dir_;
  if (options.transport.point_interval == absl::ZeroDuration()) {
    options.transport.point_interval = absl::Seconds(1);
  }
  if (!options.admit) {
    fabric::SimulatedFabric* f = fabric_.get();
    options.admit = [f](const std::string& host) { return f->CheckRecoveryStorage(host); };
  }
  return SiteService::Start(*sr_, options);
}

}  // namespace asr::protection
