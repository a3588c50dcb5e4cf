#include "asr/fabric/simulated_host.h"

#include "absl/strings/str_cat.h"
#include "asr/model/json.h"

namespace asr::fabric {

void SimulatedHost::SetInventory(const std::string& server, model::Inventory inventory) {
  absl::MutexLock l(&mu_);
  inventories_[server] = std::move(inventory);
}

void SimulatedHost::FailHost(const std::string& host_id, absl::Status status) {
  absl::MutexLock l(&mu_);
  if (status.ok()) {
    host_failures_.erase(host_id);
  } else {
    host_failures_[host_id] = std::move(status);
  }
}

void SimulatedHost::FailProxy(absl::Status status) {
  absl::MutexLock l(&mu_);
  proxy_failure_ = std::move(status);
}

std::vector<SimulatedHost::ConfigureCall> SimulatedHost::configure_calls() const {
  absl::MutexLock l(&mu_);
  return calls_;
}

std::vector<std::string> SimulatedHost::proxy_passwords_seen() const {
  absl::MutexLock l(&mu_);
  return passwords_;
}

absl::StatusOr<model::Inventory> SimulatedHost::GetInventory(const model::VmmServer& server) {
  absl::MutexLock l(&mu_);
  auto it = inventories_.find(server.id());
  if (it == inventories_.end()) it = inventories_.find(server.friendly_name());
  if (it == inventories_.end()) {
    return absl::UnavailableError(
        absl::StrCat("VMM server '", server.friendly_name(), "' did not answer"));
  }
  return it->second;
}

absl::Status SimulatedHost::ConfigureHost(const model::HyperVHost& host,
                                          const model::ReplicationPolicy& policy,
                                          HostRole role) {
  absl::MutexLock l(&mu_);
  auto it = host_failures_.find(host.id());
  if (it != host_failures_.end()) return it->second;
  calls_.push_back({host.id(), policy.id(), role});
  return absl::OkStatus();
}

absl::Status SimulatedHost::TestProxy(const model::VmmServer& server,
                                      absl::string_view password) {
  absl::MutexLock l(&mu_);
  passwords_.emplace_back(password);
  return proxy_failure_;
}

namespace {

model::Inventory Parse(const char* json) {
  model::Inventory inv;
  absl::Status s = model::FromJson(json, &inv);
  if (!s.ok()) abort();  // the fixtures below are constants
  return inv;
}

}  // namespace

model::Inventory NewYorkInventory() {
  return Parse(R"json({
  "serverId": "vmm-ny",
  "logicalNetworks": [{"id": "ln1-ny", "name": "LogicalNetwork1-NewYork"}],
  "vmNetworks": [
    {"id": "vmn1-ny", "name": "VMNetwork1-NewYork", "logicalNetworkId": "ln1-ny",
     "subnets": [{"name": "Subnet1", "addressPrefix": "10.1.1.0/24"},
                 {"name": "Subnet2", "addressPrefix": "10.1.2.0/24"}]},
    {"id": "vmn2-ny", "name": "VMNetwork2-NewYork", "logicalNetworkId": "ln1-ny",
     "subnets": [{"name": "Subnet1", "addressPrefix": "10.2.1.0/24"}]}],
  "storageClassifications": [
    {"id": "sc-gold", "name": "GOLD", "targets": [{"id": "SourceVolume1", "name": "SourceVolume1",
      "path": "C:\\ClusterStorage\\Volume1", "type": "CLUSTER_SHARED_VOLUME",
      "capacityBytes": "2199023255552", "freeBytes": "1099511627776"}]},
    {"id": "sc-silver", "name": "SILVER", "targets": [{"id": "SourceShare2", "name": "SourceShare2",
      "path": "\\\\fs-ny\\silver", "type": "SMB_SHARE",
      "capacityBytes": "1099511627776", "freeBytes": "549755813888"}]},
    {"id": "sc-bronze", "name": "BRONZE", "targets": [{"id": "SourceShare4", "name": "SourceShare4",
      "path": "\\\\fs-ny\\bronze", "type": "SMB_SHARE",
      "capacityBytes": "1099511627776", "freeBytes": "549755813888"}]}],
  "hostGroups": [
    {"id": "hg-ny-gold", "name": "NewYork-Gold", "hostIds": ["hv-ny-01"]},
    {"id": "hg-ny-silver", "name": "NewYork-Silver", "hostIds": ["hv-ny-02"]}],
  "hosts": [
    {"id": "hv-ny-01", "name": "hv-ny-01.contoso.com", "hostGroupId": "hg-ny-gold",
     "osVersion": "WINDOWS_SERVER_2012_R2", "defaultStoragePath": "D:\\Hyper-V",
     "defaultStorageFreeBytes": "536870912000", "logicalNetworkIds": ["ln1-ny"],
     "storageTargetIds": ["SourceVolume1", "SourceShare2", "SourceShare4"]},
    {"id": "hv-ny-02", "name": "hv-ny-02.contoso.com", "hostGroupId": "hg-ny-silver",
     "osVersion": "WINDOWS_SERVER_2012_R2", "defaultStoragePath": "D:\\Hyper-V",
     "defaultStorageFreeBytes": "536870912000", "logicalNetworkIds": ["ln1-ny"],
     "storageTargetIds": ["SourceShare2", "SourceShare4"]}],
  "clouds": [
    {"id": "gold1", "name": "GoldCloud1", "capabilityProfiles": ["Hyper-V"],
     "hostGroupIds": ["hg-ny-gold"], "logicalNetworkIds": ["ln1-ny"],
     "storageClassificationIds": ["sc-gold", "sc-bronze"]},
    {"id": "silver1", "name": "SilverCloud1", "capabilityProfiles": ["Hyper-V"],
     "hostGroupIds": ["hg-ny-silver"], "logicalNetworkIds": ["ln1-ny"],
     "storageClassificationIds": ["sc-silver"]}],
  "virtualMachines": [
    {"id": "vm1", "name": "VM1", "cloudId": "gold1", "hostId": "hv-ny-01",
     "additionalRecoveryPoints": 4, "powerState": "RUNNING",
     "disks": [{"id": "vm1-d0", "name": "vm1.vhdx", "path": "C:\\ClusterStorage\\Volume1\\vm1.vhdx",
                "sizeBytes": "68719476736", "storageTargetId": "SourceVolume1", "isOsDisk": true}],
     "networkAdapters": [{"id": "vm1-nic0", "vmNetworkId": "vmn1-ny", "subnetName": "Subnet1",
                          "macAddress": "00:15:5D:01:02:01", "ipAddress": "10.1.1.10"}]},
    {"id": "vm2", "name": "VM2", "cloudId": "gold1", "hostId": "hv-ny-01",
     "additionalRecoveryPoints": 4, "powerState": "RUNNING",
     "disks": [{"id": "vm2-d0", "name": "vm2.vhdx", "path": "E:\\SourceVolume3\\vm2.vhdx",
                "sizeBytes": "34359738368", "isOsDisk": true}],
     "networkAdapters": [{"id": "vm2-nic0", "vmNetworkId": "vmn2-ny", "subnetName": "Subnet1",
                          "macAddress": "00:15:5D:01:02:02", "ipAddress": "10.2.1.11"}]},
    {"id": "vm3", "name": "VM3", "cloudId": "silver1", "hostId": "hv-ny-02",
     "additionalRecoveryPoints": 2, "powerState": "STOPPED",
     "disks": [{"id": "vm3-d0", "name": "vm3.vhdx", "path": "\\\\fs-ny\\silver\\vm3.vhdx",
                "sizeBytes": "34359738368", "storageTargetId": "SourceShare2", "isOsDisk": true}],
     "networkAdapters": [{"id": "vm3-nic0", "vmNetworkId": "vmn1-ny", "subnetName": "Subnet2"}]}]
})json");
}

model::Inventory ChicagoInventory() {
  return Parse(R"json({
  "serverId": "vmm-chi",
  "logicalNetworks": [{"id": "ln1-chi", "name": "LogicalNetwork1-Chicago"},
                      {"id": "ln2-chi", "name": "LogicalNetwork2-Chicago"}],
  "vmNetworks": [
    {"id": "vmn1-chi", "name": "VMNetwork1-Chicago", "logicalNetworkId": "ln1-chi",
     "subnets": [{"name": "Subnet1", "addressPrefix": "172.16.1.0/24"}]},
    {"id": "vmn2-chi", "name": "VMNetwork2-Chicago", "logicalNetworkId": "ln2-chi",
     "subnets": [{"name": "Subnet1", "addressPrefix": "172.16.2.0/24"}]}],
  "storageClassifications": [
    {"id": "sc-gold-t", "name": "GOLD_TARGET", "targets": [{"id": "TargetVolume1",
      "name": "TargetVolume1", "path": "C:\\ClusterStorage\\Volume1", "type": "CLUSTER_SHARED_VOLUME",
      "capacityBytes": "2199023255552", "freeBytes": "1649267441664"}]},
    {"id": "sc-silver-t", "name": "SILVER_TARGET", "targets": [{"id": "TargetShare2",
      "name": "TargetShare2", "path": "\\\\fs-chi\\silver", "type": "SMB_SHARE",
      "capacityBytes": "1099511627776", "freeBytes": "824633720832"}]},
    {"id": "sc-bronze-t", "name": "BRONZE_TARGET", "targets": [{"id": "TargetShare4",
      "name": "TargetShare4", "path": "\\\\fs-chi\\bronze", "type": "SMB_SHARE",
      "capacityBytes": "1099511627776", "freeBytes": "824633720832"}]}],
  "hostGroups": [
    {"id": "hg-chi-gold", "name": "Chicago-Gold", "hostIds": ["hv-chi-01"]},
    {"id": "hg-chi-silver", "name": "Chicago-Silver", "hostIds": ["hv-chi-02"]}],
  "hosts": [
    {"id": "hv-chi-01", "name": "hv-chi-01.contoso.com", "hostGroupId": "hg-chi-gold",
     "osVersion": "WINDOWS_SERVER_2012_R2", "defaultStoragePath": "D:\\Replicas",
     "defaultStorageFreeBytes": "1073741824000", "logicalNetworkIds": ["ln1-chi"],
     "storageTargetIds": ["TargetVolume1", "TargetShare4"]},
    {"id": "hv-chi-02", "name": "hv-chi-02.contoso.com", "hostGroupId": "hg-chi-silver",
     "osVersion": "WINDOWS_SERVER_2012_R2", "defaultStoragePath": "D:\\Replicas",
     "defaultStorageFreeBytes": "1073741824000", "logicalNetworkIds": ["ln1-chi", "ln2-chi"],
     "storageTargetIds": ["TargetShare2", "TargetShare4"]}],
  "clouds": [
    {"id": "gold2", "name": "GoldCloud2", "capabilityProfiles": ["Hyper-V"],
     "hostGroupIds": ["hg-chi-gold"], "logicalNetworkIds": ["ln1-chi"],
     "storageClassificationIds": ["sc-gold-t", "sc-bronze-t"]},
    {"id": "silver2", "name": "SilverCloud2", "capabilityProfiles": ["Hyper-V"],
     "hostGroupIds": ["hg-chi-silver"], "logicalNetworkIds": ["ln1-chi"],
     "storageClassificationIds": ["sc-silver-t"]}]
})json");
}

}  // namespace asr::fabric
