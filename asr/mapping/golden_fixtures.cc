#include "asr/mapping/golden_fixtures.h"

#include <string>
#include <vector>

namespace asr::mapping::golden {
namespace {

model::Cloud Cloud(const std::string& id, const std::string& name, const std::string& server,
                   const std::string& host_group, std::vector<std::string> logical_networks,
                   std::vector<std::string> classifications = {}) {
  model::Cloud c;
  c.set_id(id);
  c.set_name(name);
  c.set_server_id(server);
  c.add_capability_profiles("Hyper-V");
  c.add_host_group_ids(host_group);
  for (auto& ln : logical_networks) c.add_logical_network_ids(ln);
  for (auto& sc : classifications) c.add_storage_classification_ids(sc);
  return c;
}

model::HostGroup Group(const std::string& id, const std::string& server) {
  model::HostGroup g;
  g.set_id(id);
  g.set_name(id);
  g.set_server_id(server);
  return g;
}

model::HyperVHost Host(const std::string& id, const std::string& server, const std::string& group,
                       std::vector<std::string> logical_networks,
                       std::vector<std::string> storage = {}) {
  model::HyperVHost h;
  h.set_id(id);
  h.set_name(id);
  h.set_server_id(server);
  h.set_host_group_id(group);
  h.set_os_version(model::WINDOWS_SERVER_2012_R2);
  h.set_default_storage_path(kTargetHostDefaultPath);
  h.set_default_storage_free_bytes(4096 * kGiB);
  for (auto& ln : logical_networks) h.add_logical_network_ids(ln);
  for (auto& st : storage) h.add_storage_target_ids(st);
  return h;
}

model::VmNetwork Network(const std::string& id, const std::string& name,
                         const std::string& server, const std::string& logical_network,
                         std::vector<std::string> subnets) {
  model::VmNetwork n;
  n.set_id(id);
  n.set_name(name);
  n.set_server_id(server);
  n.set_logical_network_id(logical_network);
  int i = 0;
  for (auto& s : subnets) {
    model::Subnet* sn = n.add_subnets();
    sn->set_name(s);
    sn->set_address_prefix("10." + std::to_string(static_cast<int>(name.size())) + "." +
                           std::to_string(++i) + ".0/24");
  }
  return n;
}

model::LogicalNetwork Logical(const std::string& id, const std::string& name,
                              const std::string& server) {
  model::LogicalNetwork l;
  l.set_id(id);
  l.set_name(name);
  l.set_server_id(server);
  return l;
}

model::CloudPairing Pairing(const std::string& id, const std::string& primary,
                            const std::string& recovery) {
  model::CloudPairing p;
  p.set_id(id);
  p.set_primary_cloud_id(primary);
  p.set_recovery_cloud_id(recovery);
  p.set_state(model::PAIRING_STATE_PAIRED);
  return p;
}

void AddNic(model::VirtualMachine* vm, const std::string& id, const std::string& network,
            const std::string& subnet) {
  model::NetworkAdapter* nic = vm->add_network_adapters();
  nic->set_id(id);
  nic->set_vm_network_id(network);
  nic->set_subnet_name(subnet);
}

model::StorageTarget Target(const std::string& id, const std::string& path,
                            model::StorageTargetType type, uint64_t free) {
  model::StorageTarget t;
  t.set_id(id);
  t.set_name(id);
  t.set_path(path);
  t.set_type(type);
  t.set_capacity_bytes(free * 2);
  t.set_free_bytes(free);
  return t;
}

model::StorageClassification Classification(const std::string& id, const std::string& server,
                                            std::vector<model::StorageTarget> targets) {
  model::StorageClassification c;
  c.set_id(id);
  c.set_name(id);
  c.set_server_id(server);
  for (auto& t : targets) *c.add_targets() = t;
  return c;
}

}  // namespace

FabricSnapshot NewYorkChicagoNetworks(TargetCloudsPerDocument variant) {
  FabricSnapshot s;
  // Logical and VM network settings (documents' table). VMNetwork2-NewYork's
  // logical network is not in the table; it gets one of its own.
  s.logical_networks = {
      Logical("ln1-newyork", "LogicalNetwork1-NewYork", kServerNewYork),
      Logical("ln2-newyork", "LogicalNetwork2-NewYork", kServerNewYork),
      Logical("ln1-chicago", "LogicalNetwork1-Chicago", kServerChicago),
      Logical("ln2-chicago", "LogicalNetwork2Chicago", kServerChicago),
  };
  s.vm_networks = {
      Network(kVmNetwork1NewYork, "VMNetwork1-NewYork", kServerNewYork, "ln1-newyork",
              {"Subnet1", "Subnet2", "Subnet3"}),
      Network(kVmNetwork2NewYork, "VMNetwork2-NewYork", kServerNewYork, "ln2-newyork",
              {"Subnet1"}),
      Network(kVmNetwork1Chicago, "VMNetwork1-Chicago", kServerChicago, "ln1-chicago",
              {"Backend", "Subnet1", "Subnet2"}),
      Network(kVmNetwork2Chicago, "VMNetwork2-Chicago", kServerChicago, "ln2-chicago",
              {"Subnet1"}),
  };
  // Cloud protection settings (documents' table).
  std::vector<std::string> gold2 = {"ln1-newyork", "ln1-chicago"};
  if (variant == TargetCloudsPerDocument::kAvailabilityTable) gold2.push_back("ln2-chicago");
  s.clouds = {
      Cloud("gold1", "GoldCloud1", kServerNewYork, "hg-gold1", {"ln1-newyork", "ln2-newyork"}),
      Cloud("silver1", "SilverCloud1", kServerNewYork, "hg-silver1",
            {"ln1-newyork", "ln2-newyork"}),
      Cloud("gold2", "GoldCloud2", kServerChicago, "hg-gold2", gold2),
      Cloud("silver2", "SilverCloud2", kServerChicago, "hg-silver2",
            {"ln1-newyork", "ln1-chicago"}),
  };
  s.host_groups = {Group("hg-gold1", kServerNewYork), Group("hg-silver1", kServerNewYork),
                   Group("hg-gold2", kServerChicago), Group("hg-silver2", kServerChicago)};
  s.hosts = {
      Host("newyork-h1", kServerNewYork, "hg-gold1", {"ln1-newyork", "ln2-newyork"}),
      Host("chicago-h1", kServerChicago, "hg-gold2", {"ln1-chicago", "ln2-chicago"}),
      Host("chicago-h2", kServerChicago, "hg-silver2", {"ln1-chicago"}),
      Host("chicago-h3", kServerChicago, "hg-silver2", {"ln1-chicago"}),
  };
  s.pairings = {Pairing(kGoldPairing, "gold1", "gold2"),
                Pairing(kSilverPairing, "silver1", "silver2")};
  model::NetworkMapping m;
  m.set_id(kMapping1);
  m.set_source_server_id(kServerNewYork);
  m.set_source_vm_network_id(kVmNetwork1NewYork);
  m.set_target_server_id(kServerChicago);
  m.set_target_vm_network_id(kVmNetwork1Chicago);
  s.network_mappings = {m};

  model::VirtualMachine vm1;
  vm1.set_id("vm1");
  vm1.set_name("VM1");
  vm1.set_server_id(kServerNewYork);
  vm1.set_cloud_id("gold1");
  vm1.set_host_id("newyork-h1");
  AddNic(&vm1, "vm1-nic0", kVmNetwork1NewYork, "Subnet1");
  model::VirtualMachine vm7;
  vm7.set_id("vm7");
  vm7.set_name("VM7");
  vm7.set_server_id(kServerNewYork);
  vm7.set_cloud_id("silver1");
  vm7.set_host_id("newyork-h1");
  AddNic(&vm7, "vm7-nic0", kVmNetwork1NewYork, "Subnet3");
  AddNic(&vm7, "vm7-nic1", kVmNetwork2NewYork, "Subnet1");
  s.vms = {vm1, vm7};
  model::ProtectedItem item;
  item.set_id("pi-vm1");
  item.set_vm_id("vm1");
  item.set_pairing_id(kGoldPairing);
  item.set_protection_state(model::Protected);
  model::ProtectedItem item7 = item;
  item7.set_id("pi-vm7");
  item7.set_vm_id("vm7");
  item7.set_pairing_id(kSilverPairing);
  s.protected_items = {item, item7};
  return s;
}

FabricSnapshot GoldSilverBronzeStorage() {
  FabricSnapshot s;
  const std::string src = "vmm-source";
  const std::string tgt = "vmm-target";
  s.storage_classifications = {
      Classification("GOLD", src,
                     {Target("SourceVolume1", "C:\\ClusterStorage\\SourceVolume1",
                             model::CLUSTER_SHARED_VOLUME, 1024 * kGiB),
                      Target("SourceShare1", "\\\\FileServer\\SourceShare1", model::SMB_SHARE,
                             1024 * kGiB)}),
      Classification("SILVER", src,
                     {Target("SourceVolume2", "C:\\ClusterStorage\\SourceVolume2",
                             model::CLUSTER_SHARED_VOLUME, 1024 * kGiB),
                      Target("SourceShare2", "\\\\FileServer\\SourceShare2", model::SMB_SHARE,
                             1024 * kGiB)}),
      Classification("BRONZE", src,
                     {Target("SourceShare3", "\\\\FileServer\\SourceShare3", model::SMB_SHARE,
                             1024 * kGiB)}),
      Classification("GOLD_TARGET", tgt,
                     {Target("TargetVolume1", "C:\\ClusterStorage\\TargetVolume1",
                             model::CLUSTER_SHARED_VOLUME, 2048 * kGiB),
                      Target("TargetShare1", "\\\\FileServer\\TargetShare1", model::SMB_SHARE,
                             1024 * kGiB)}),
      Classification("SILVER_TARGET", tgt,
                     {Target("TargetVolume2", "C:\\ClusterStorage\\TargetVolume2",
                             model::CLUSTER_SHARED_VOLUME, 500 * kGiB),
                      Target("TargetShare2", "\\\\FileServer\\TargetShare2", model::SMB_SHARE,
                             800 * kGiB)}),
      Classification("BRONZE_TARGET", tgt,
                     {Target("TargetShare3", "\\\\FileServer\\TargetShare3", model::SMB_SHARE,
                             300 * kGiB)}),
  };
  auto mapping = [&](const std::string& from, const std::string& to) {
    model::StorageMapping m;
    m.set_id("storagemap-" + from);
    m.set_source_server_id(src);
    m.set_source_classification_id(from);
    m.set_target_server_id(tgt);
    m.set_target_classification_id(to);
    return m;
  };
  s.storage_mappings = {mapping("GOLD", "GOLD_TARGET"), mapping("SILVER", "SILVER_TARGET"),
                        mapping("BRONZE", "BRONZE_TARGET")};
  s.clouds = {Cloud("source-cloud", "SourceCloud", src, "hg-source", {},
                    {"GOLD", "SILVER", "BRONZE"}),
              Cloud("target-cloud", "TargetCloud", tgt, "hg-target", {},
                    {"GOLD_TARGET", "SILVER_TARGET", "BRONZE_TARGET"})};
  s.host_groups = {Group("hg-source", src), Group("hg-target", tgt)};
  s.hosts = {Host("source-h1", src, "hg-source", {},
                  {"SourceVolume1", "SourceShare1", "SourceVolume2", "SourceShare2",
                   "SourceShare3", "SourceVolume3"}),
             Host(kTargetHost, tgt, "hg-target", {},
                  {"TargetVolume1", "TargetShare1", "TargetVolume2", "TargetShare2",
                   "TargetShare3"})};
  s.pairings = {Pairing("pair-storage", "source-cloud", "target-cloud")};
  struct Row {
    const char* vm;
    const char* storage;
    const char* dir;
  };
  const Row rows[] = {
      {"VM1", "SourceVolume1", "C:\\ClusterStorage\\SourceVolume1"},
      {"VM2", "SourceShare1", "\\\\FileServer\\SourceShare1"},
      {"VM3", "SourceVolume2", "C:\\ClusterStorage\\SourceVolume2"},
      {"VM4", "SourceShare2", "\\\\FileServer\\SourceShare2"},
      {"VM5", "SourceVolume3", "C:\\ClusterStorage\\SourceVolume3"},
      {"VM6", "SourceShare3", "\\\\FileServer\\SourceShare3"},
  };
  for (const Row& r : rows) {
    model::VirtualMachine vm;
    std::string name = r.vm;
    vm.set_id("vm" + name.substr(2));
    vm.set_name(name);
    vm.set_server_id(src);
    vm.set_cloud_id("source-cloud");
    vm.set_host_id("source-h1");
    model::VirtualDisk* d = vm.add_disks();
    d->set_id(vm.id() + "-disk0");
    d->set_name(name + ".vhdx");
    d->set_path(std::string(r.dir) + "\\" + name + "\\" + name + ".vhdx");
    d->set_size_bytes(100 * kGiB);
    d->set_storage_target_id(r.storage);
    d->set_is_os_disk(true);
    s.vms.push_back(vm);
  }
  return s;
}

}  // namespace asr::mapping::golden
