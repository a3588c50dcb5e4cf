#include "asr/failover/plan_test_site.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"

namespace asr::failover {

std::string PlanTestSite::ItemId(int i) { return absl::StrCat("pi-vm", i); }
std::string PlanTestSite::VmName(int i) { return absl::StrCat("VM", i); }

absl::StatusOr<std::unique_ptr<PlanTestSite>> PlanTestSite::Create(const std::string& root, int vms,
                                                                   const std::string& state) {
  std::unique_ptr<PlanTestSite> site(new PlanTestSite());
  site->root_ = root;
  site->state_ = state.empty() ? JoinPath(root, "state") : state;
  fabric::FabricOptions fo;
  fo.disk_size_bytes = 1 << 20;
  ASR_ASSIGN_OR_RETURN(site->fabric_, fabric::CreateExampleFabric(JoinPath(root, "fabric"), fo));
  SiteRecoveryOptions o;
  o.host = site->fabric_.get();
  ASR_ASSIGN_OR_RETURN(site->sr_, SiteRecovery::Open(site->state_, o));
  ASR_RETURN_IF_ERROR(site->sr_->Initialize());
  repository::ObjectRepository& repo = site->sr_->repository();
  for (const auto& [cloud, server] :
       {std::pair<const char*, const char*>{"gold1", "vmm-ny"}, {"gold2", "vmm-chi"}}) {
    model::Cloud c;
    c.set_id(cloud);
    c.set_name(cloud);
    c.set_server_id(server);
    ASR_RETURN_IF_ERROR(repo.Put(c));
  }
  model::ReplicationPolicy pol;
  pol.set_id("pol");
  pol.set_name("pol");
  pol.set_replication_frequency_in_seconds(30);
  ASR_RETURN_IF_ERROR(repo.Put(pol));
  model::CloudPairing p;
  p.set_id("pair-gold");
  p.set_primary_cloud_id("gold1");
  p.set_recovery_cloud_id("gold2");
  p.set_policy_id("pol");
  p.set_state(model::PAIRING_STATE_PAIRED);
  ASR_RETURN_IF_ERROR(repo.Put(p));
  for (int i = 1; i <= vms; ++i) {
    model::ProtectedItem item;
    item.set_id(ItemId(i));
    item.set_vm_id(absl::StrCat("vm", i));
    item.set_vm_name(VmName(i));
    item.set_pairing_id("pair-gold");
    item.set_policy_id("pol");
    item.set_protection_state(model::Protected);
    item.set_primary_host_id("hv-ny-01");
    item.set_replica_host_id("hv-chi-01");
    ASR_RETURN_IF_ERROR(repo.Put(item));
  }
  return site;
}

absl::StatusOr<std::unique_ptr<PlanTestSite>> PlanTestSite::Open(const std::string& root,
                                                                 const std::string& state) {
  std::unique_ptr<PlanTestSite> site(new PlanTestSite());
  site->root_ = root;
  site->state_ = state.empty() ? JoinPath(root, "state") : state;
  ASR_ASSIGN_OR_RETURN(site->fabric_, fabric::SimulatedFabric::Open(JoinPath(root, "fabric")));
  SiteRecoveryOptions o;
  o.host = site->fabric_.get();
  o.create_if_missing = false;
  ASR_ASSIGN_OR_RETURN(site->sr_, SiteRecovery::Open(site->state_, o));
  return site;
}

}  // namespace asr::failover
