// asr/failover/plan_test_site.h: a state directory for recovery plan tests
// and benchmarks: the New York / Chicago simulated fabric (scripts run as
// real processes on its hosts) and `vms` protected items VM1..VMn of the
// pairing GoldCloud1 -> GoldCloud2, written as protection leaves them
// (Protected, primary host hv-ny-01, replica host hv-chi-01).
//
//   ASR_ASSIGN_OR_RETURN(auto site, PlanTestSite::Create(TestPath("site"), 12));
//   site->sr().recovery_plans().SetItemFailover(&fake);
//   ... the plan's VMs are "VM1" .. "VM12" (items "pi-vm1" ..) ...
//   site.reset();                                        // e.g. before a fork
//   ASR_ASSIGN_OR_RETURN(site, PlanTestSite::Open(root));
#ifndef ASR_FAILOVER_PLAN_TEST_SITE_H_
#define ASR_FAILOVER_PLAN_TEST_SITE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::failover {

class PlanTestSite {
 public:
  // `state` is where the state lives: empty for ROOT/state, or a
  // postgresql:// URI.
  static absl::StatusOr<std::unique_ptr<PlanTestSite>> Create(const std::string& root, int vms,
                                                              const std::string& state = "");
  static absl::StatusOr<std::unique_ptr<PlanTestSite>> Open(const std::string& root,
                                                            const std::string& state = "");

  SiteRecovery& sr() { return *sr_; }
  fabric::SimulatedFabric& fabric() { return *fabric_; }
  const std::string& root() const { return root_; }
  const std::string& state_dir() const { return state_; }
  // Closes the SiteRecovery (e.g. before asrctl opens the state).
  void Close() { sr_.reset(); }

  static std::string ItemId(int i);  // "pi-vm<i>"
  static std::string VmName(int i);  // "VM<i>"

 private:
  PlanTestSite() = default;
  std::string root_;
  std::string state_;
  std::unique_ptr<fabric::SimulatedFabric> fabric_;
  std::unique_ptr<SiteRecovery> sr_;
};

}  // namespace asr::failover

#endif  // ASR_FAILOVER_PLAN_TEST_SITE_H_
