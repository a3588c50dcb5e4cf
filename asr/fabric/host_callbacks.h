// asr/fabric/host_callbacks.h: what asr asks of the VMM host. The host side
// (System Center VMM, Windows only) implements this interface; the C API
// adapts its asr_host_callbacks_t table to it, and SimulatedHost
// (simulated_host.h) implements it in-process for tests and tools.
//
//   class VmmHost : public asr::fabric::HostCallbacks {
//     absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& s) override {
//       return ReadCloudsHostsVmsFromVmm(s);
//     }
//     ...
//   };
//   VmmHost host;
//   asr::SiteRecoveryOptions options;  options.host = &host;
//   auto sr = asr::SiteRecovery::Open(state_dir, options);
//
// Thread safety: asr calls these methods on the thread that called the asr
// operation that needs them (jobs run on the caller's thread), never two at
// once for one SiteRecovery. Implementations need not be thread-safe unless
// the host drives several SiteRecovery objects concurrently.
#ifndef ASR_FABRIC_HOST_CALLBACKS_H_
#define ASR_FABRIC_HOST_CALLBACKS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/protection.pb.h"

namespace asr::fabric {

// Which side of a pairing a host is configured for.
enum class HostRole {
  kPrimary,   // replicates its VMs out
  kRecovery,  // receives replicas (Hyper-V Replica server)
};

class HostCallbacks {
 public:
  virtual ~HostCallbacks() = default;

  // The server's whole inventory: clouds with capability profiles and host
  // groups, hosts, VMs, VM networks, logical networks, storage
  // classifications. Unavailable when VMM cannot be reached.
  virtual absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& server) = 0;

  // Configures `host` for `policy` (replication port, authentication,
  // compression, recovery points, firewall): as a replicating host for
  // kPrimary, as a replica server for kRecovery.
  virtual absl::Status ConfigureHost(const model::HyperVHost& host,
                                     const model::ReplicationPolicy& policy, HostRole role) = 0;

  // Tests the custom proxy of a registering server (address, port, user in
  // server.proxy(); `password` in plain text, never stored).
  virtual absl::Status TestProxy(const model::VmmServer& server, absl::string_view password) = 0;

  // Whether a host is attached at all; when false asr treats the callbacks
  // as absent (inventories only as documents, hosts not configured, proxies
  // not tested; jobs say so).
  virtual bool available() const { return true; }
};

}  // namespace asr::fabric

#endif  // ASR_FABRIC_HOST_CALLBACKS_H_
