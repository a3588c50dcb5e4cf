// asr/protection/test_site.h: a whole protected site for tests and
// benchmarks: the New York / Chicago example on a simulated fabric with real
// VHDX disks (VM1 and VM2 with two disks each, plus `extra_vms` generated
// VMs in GoldCloud1), a vault with both VMM servers registered and synced,
// GoldCloud1 paired with GoldCloud2 under a policy, networks and storage
// mapped, and the vault's certificates for replication.
//
//   TestSiteOptions o;
//   o.copy_frequency_seconds = 30;
//   ASR_ASSIGN_OR_RETURN(auto site, TestSite::Create(TestPath("site"), o));
//   ASR_ASSIGN_OR_RETURN(auto service, site->StartService({}));   // endpoint + scheduler
//   ASR_ASSIGN_OR_RETURN(model::Job job, site->sr().protection().EnableProtection({"VM1"}));
//
// Thread safety: as SiteRecovery and SimulatedFabric.
#ifndef ASR_PROTECTION_TEST_SITE_H_
#define ASR_PROTECTION_TEST_SITE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/common/clock.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/protection/site_service.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::protection {

struct TestSiteOptions {
  uint64_t disk_size_bytes = 16 << 20;
  int copy_frequency_seconds = 30;
  int recovery_points = 2;
  int app_consistent_hours = 0;
  bool compression = true;
  model::ReplicaDeletion replica_deletion = model::Required;
  model::InitialReplicationMethod method = model::OverNetwork;
  int64_t start_time_unix = 0;
  // Offline: export and import paths under the root ("" when online).
  bool offline = false;
  // Generated VMs vm-gNNN (two disks each) in GoldCloud1 on hv-ny-01.
  int extra_vms = 0;
  const Clock* clock = nullptr;
};

class TestSite {
 public:
  static absl::StatusOr<std::unique_ptr<TestSite>> Create(const std::string& root,
                                                          const TestSiteOptions& options);
  // Opens a site Create made earlier (e.g. in another process).
  static absl::StatusOr<std::unique_ptr<TestSite>> Open(const std::string& root,
                                                        const Clock* clock = nullptr);
  ~TestSite();

  SiteRecovery& sr() { return *sr_; }
  fabric::SimulatedFabric& fabric() { return *fabric_; }
  const std::string& root() const { return root_; }
  const std::string& pki_dir() const { return pki_dir_; }
  const std::string& state_dir() const { return state_dir_; }
  std::string export_dir() const { return root_ + "/export"; }
  std::string import_dir() const { return root_ + "/import"; }

  // The site service over this site: the endpoint on 127.0.0.1:0 and the
  // pki of the site; `options` fields left at their defaults are filled.
  absl::StatusOr<std::unique_ptr<SiteService>> StartService(SiteServiceOptions options);
  // Closes and reopens the state (a restart of the process's SiteRecovery;
  // the fabric stays).
  absl::Status Reopen();
  // Closes the SiteRecovery (e.g. before another process opens the state).
  void Close();

 private:
  TestSite() = default;
  absl::Status Setup(const TestSiteOptions& options);
  absl::Status Open();

  std::string root_, state_dir_, pki_dir_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<fabric::SimulatedFabric> fabric_;
  std::unique_ptr<SiteRecovery> sr_;
};

}  // namespace asr::protection

#endif  // ASR_PROTECTION_TEST_SITE_H_
