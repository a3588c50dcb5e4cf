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
// Thread safety: the control-plane calls (GetInventory, ConfigureHost,
// TestProxy) run on the thread that called the asr operation that needs
// them (jobs run on the caller's thread). The VM calls (GetVm .. RunScript,
// change tracking) are also made by the site service's replication pool:
// an implementation of those must be thread-safe (calls for different VMs
// arrive concurrently; calls for one VM are never concurrent).
//
// Errors: every call returns a status. Unavailable, DeadlineExceeded and
// Aborted are transient: asr retries them (CallWithRetries below); any other
// code is permanent and becomes the job's error with the host's message.
#ifndef ASR_FABRIC_HOST_CALLBACKS_H_
#define ASR_FABRIC_HOST_CALLBACKS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/model/fabric.pb.h"
#include "asr/model/host.pb.h"
#include "asr/model/protection.pb.h"

namespace asr::fabric {

// Which side of a pairing a host is configured for.
enum class HostRole {
  kPrimary,   // replicates its VMs out
  kRecovery,  // receives replicas (Hyper-V Replica server)
};

// Where a host reports a protected disk's guest writes: asr's change
// tracker of that disk (replication/change_tracker.h). The host calls
// RecordWrite for every guest write before it completes the write to the
// guest; OK means the write is recorded (durably enough that a crash of asr
// is detected and answered with a scan). Thread-safe.
class WriteSink {
 public:
  virtual ~WriteSink() = default;
  virtual absl::Status RecordWrite(uint64_t offset, uint64_t length) = 0;
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

  // ---- VMs (protection and failover). The defaults say the host cannot. ----

  // The VM as its host sees it now: host_id, disks (path, size; the path's
  // extension gives the format), NICs (network, subnet, MAC) and power
  // state. NotFound when the host has no such VM.
  virtual absl::StatusOr<model::VirtualMachine> GetVm(const std::string& vm_id);
  // Creates a stopped replica VM on spec.host_id with the given disks
  // (their files exist: the replicas) and NICs; returns it as GetVm would.
  // AlreadyExists when a VM with that id exists on another host or with
  // other disks; the same spec again succeeds (idempotent).
  virtual absl::StatusOr<model::VirtualMachine> CreateReplicaVm(const model::ReplicaVmSpec& spec);
  // Connects NIC nic.id() of a VM to nic.vm_network_id() / nic.subnet_name();
  // an empty network disconnects it.
  virtual absl::Status ConnectNic(const std::string& vm_id, const model::NetworkAdapter& nic);
  virtual absl::Status StartVm(const std::string& vm_id);
  // Clean shutdown through the guest (DeadlineExceeded if it does not stop).
  virtual absl::Status ShutdownVm(const std::string& vm_id);
  // Power off at once (no guest shutdown).
  virtual absl::Status TurnOffVm(const std::string& vm_id);
  // Deletes a (stopped) VM's configuration; its disk files too when
  // `delete_disks`. NotFound when there is no such VM.
  virtual absl::Status DeleteVm(const std::string& vm_id, bool delete_disks);
  virtual absl::StatusOr<model::VmPowerState> GetPowerState(const std::string& vm_id);
  // Takes a point of all the VM's disks at one instant (crash-consistent),
  // or with the guest's writers quiesced first (AppConsistent, as VSS
  // does). Hold it as short as possible: release it with ReleasePoint.
  virtual absl::StatusOr<model::HostPoint> CreatePoint(const std::string& vm_id,
                                                       model::RecoveryPointType type);
  virtual absl::Status ReleasePoint(const model::HostPoint& point);
  // Replication groups: takes one point of each VM of `vm_ids` (distinct,
  // at least one) at ONE instant: every VM's writes are frozen before any
  // point is taken, so a write acknowledged to the guest of one VM before a
  // write of another is in the first's point whenever the second's is. The
  // points are returned in the order of `vm_ids`, all with the same time_us;
  // each is released with ReleasePoint. On an error no point is held. The
  // default says the host cannot (groups then refuse to cycle, naming it).
  virtual absl::StatusOr<std::vector<model::HostPoint>> CreateGroupPoint(
      const std::vector<std::string>& vm_ids, model::RecoveryPointType type);
  // Runs a script on a host and waits for it (at most the request's
  // timeout, then the script is killed and the result says timed_out).
  virtual absl::StatusOr<model::ScriptResult> RunScript(const model::ScriptRequest& request);
  // From now on, reports every guest write to disk `disk_id` of `vm_id`
  // into `sink` (which stays valid until Detach). Replaces an earlier sink.
  virtual absl::Status AttachChangeTracking(const std::string& vm_id, const std::string& disk_id,
                                            WriteSink* sink);
  // Stops reporting; after it returns, `sink` is not called again.
  virtual absl::Status DetachChangeTracking(const std::string& vm_id, const std::string& disk_id);

  // Test failover's isolated network: creates a VM network named `name` on
  // recovery host `host_id`'s server that reaches nothing outside the host
  // (no uplink), for test VMs' NICs; returns its id (as ConnectNic takes
  // it). The same name again returns the same network (idempotent).
  virtual absl::StatusOr<std::string> CreateIsolatedNetwork(const std::string& host_id,
                                                            const std::string& name);
  // Deletes a network CreateIsolatedNetwork made; OK when it is gone
  // already. FailedPrecondition while a NIC is connected to it.
  virtual absl::Status DeleteIsolatedNetwork(const std::string& host_id,
                                             const std::string& network_id);

  // Whether a host is attached at all; when false asr treats the callbacks
  // as absent (inventories only as documents, hosts not configured, proxies
  // not tested; jobs say so).
  virtual bool available() const { return true; }
};

// Whether `status` is a transient host failure worth retrying
// (Unavailable, DeadlineExceeded, Aborted).
bool IsTransientHostError(const absl::Status& status);

struct RetryPolicy {
  int attempts = 4;  // in all, the first included
  absl::Duration first_delay = absl::Milliseconds(200);
  double backoff = 2.0;
  // How to wait between attempts (tests pass a no-op); default: sleep.
  std::function<void(absl::Duration)> sleep;
};

// Runs `call` until it returns OK or a permanent error, or the attempts are
// used up; the last error says how many attempts were made
// ("... (failed 4 times; transient errors are retried)").
absl::Status CallWithRetries(const std::function<absl::Status()>& call,
                             const RetryPolicy& policy = {});

}  // namespace asr::fabric

#endif  // ASR_FABRIC_HOST_CALLBACKS_H_
