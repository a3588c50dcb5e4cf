// asr/fabric/simulated_host.h: an in-process, deterministic VMM host for
// tests and tools: serves inventories it was given, records host
// configuration calls, and fails on demand.
//
//   SimulatedHost host;
//   host.SetInventory("vmm-ny", NewYorkInventory());
//   host.FailHost("hv-ny-02", absl::UnavailableError("WinRM timed out"));
//   asr::SiteRecoveryOptions options;  options.host = &host;
//   auto sr = asr::SiteRecovery::Open(state_dir, options);
//
// Also holds the New York / Chicago fixture from the domain documents.
//
// Thread safety: thread-safe (one mutex).
#ifndef ASR_FABRIC_SIMULATED_HOST_H_
#define ASR_FABRIC_SIMULATED_HOST_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "asr/fabric/host_callbacks.h"

namespace asr::fabric {

class SimulatedHost : public HostCallbacks {
 public:
  struct ConfigureCall {
    std::string host_id;
    std::string policy_id;
    HostRole role;
  };

  // The inventory GetInventory returns for server id (or friendly name) `server`.
  void SetInventory(const std::string& server, model::Inventory inventory);
  // Makes ConfigureHost fail for `host_id` with `status` (OK clears).
  void FailHost(const std::string& host_id, absl::Status status);
  // Makes TestProxy fail with `status` (OK clears).
  void FailProxy(absl::Status status);
  std::vector<ConfigureCall> configure_calls() const;
  std::vector<std::string> proxy_passwords_seen() const;

  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& server) override;
  absl::Status ConfigureHost(const model::HyperVHost& host, const model::ReplicationPolicy& policy,
                             HostRole role) override;
  absl::Status TestProxy(const model::VmmServer& server, absl::string_view password) override;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, model::Inventory> inventories_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Status> host_failures_ ABSL_GUARDED_BY(mu_);
  absl::Status proxy_failure_ ABSL_GUARDED_BY(mu_);
  std::vector<ConfigureCall> calls_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> passwords_ ABSL_GUARDED_BY(mu_);
};

// The documents' worked example. New York (primary VMM server "vmm-ny"):
// clouds GoldCloud1 and SilverCloud1 (Hyper-V profile, one host group each),
// hosts hv-ny-01 (2012 R2) and hv-ny-02 (2012 R2), VMs vm1..vm3, networks
// VMNetwork1-NewYork / VMNetwork2-NewYork on LogicalNetwork1-NewYork,
// storage GOLD, SILVER, BRONZE.
model::Inventory NewYorkInventory();
// Chicago (recovery VMM server "vmm-chi"): GoldCloud2, SilverCloud2, hosts
// hv-chi-01/02 (2012 R2), VMNetwork1-Chicago on LogicalNetwork1-Chicago,
// VMNetwork2-Chicago on LogicalNetwork2-Chicago (no cloud has it), storage
// GOLD_TARGET, SILVER_TARGET, BRONZE_TARGET.
model::Inventory ChicagoInventory();

}  // namespace asr::fabric

#endif  // ASR_FABRIC_SIMULATED_HOST_H_
