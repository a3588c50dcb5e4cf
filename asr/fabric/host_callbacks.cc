#include "asr/fabric/host_callbacks.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace asr::fabric {
namespace {

absl::Status Cannot(absl::string_view what) {
  return absl::FailedPreconditionError(
      absl::StrCat("the host cannot ", what,
                   ": its callback table does not implement it; attach a host that does "
                   "(a VMM provider, the simulated fabric, or a QEMU host)"));
}

}  // namespace

absl::StatusOr<model::VirtualMachine> HostCallbacks::GetVm(const std::string&) {
  return Cannot("describe a VM (GetVm)");
}
absl::StatusOr<model::VirtualMachine> HostCallbacks::CreateReplicaVm(const model::ReplicaVmSpec&) {
  return Cannot("create a replica VM (CreateReplicaVm)");
}
absl::Status HostCallbacks::ConnectNic(const std::string&, const model::NetworkAdapter&) {
  return Cannot("connect a NIC (ConnectNic)");
}
absl::Status HostCallbacks::StartVm(const std::string&) { return Cannot("start a VM (StartVm)"); }
absl::Status HostCallbacks::ShutdownVm(const std::string&) {
  return Cannot("shut down a VM (ShutdownVm)");
}
absl::Status HostCallbacks::TurnOffVm(const std::string&) {
  return Cannot("turn off a VM (TurnOffVm)");
}
absl::Status HostCallbacks::DeleteVm(const std::string&, bool) {
  return Cannot("delete a VM (DeleteVm)");
}
absl::StatusOr<model::VmPowerState> HostCallbacks::GetPowerState(const std::string&) {
  return Cannot("report a VM's power state (GetPowerState)");
}
absl::StatusOr<model::HostPoint> HostCallbacks::CreatePoint(const std::string&,
                                                            model::RecoveryPointType) {
  return Cannot("take a point of a VM's disks (CreatePoint)");
}
absl::Status HostCallbacks::ReleasePoint(const model::HostPoint&) {
  return Cannot("release a point (ReleasePoint)");
}
absl::StatusOr<std::vector<model::HostPoint>> HostCallbacks::CreateGroupPoint(
    const std::vector<std::string>&, model::RecoveryPointType) {
  return Cannot("take one point of several VMs at one instant (CreateGroupPoint)");
}
absl::StatusOr<model::ScriptResult> HostCallbacks::RunScript(const model::ScriptRequest&) {
  return Cannot("run a script (RunScript)");
}
absl::Status HostCallbacks::AttachChangeTracking(const std::string&, const std::string&,
                                                 WriteSink*) {
  return Cannot("report guest writes (AttachChangeTracking)");
}
absl::StatusOr<std::string> HostCallbacks::CreateIsolatedNetwork(const std::string&,
                                                                 const std::string&) {
  return Cannot("create an isolated test network (CreateIsolatedNetwork)");
}
absl::Status HostCallbacks::DeleteIsolatedNetwork(const std::string&, const std::string&) {
  return Cannot("delete an isolated test network (DeleteIsolatedNetwork)");
}
absl::Status HostCallbacks::DetachChangeTracking(const std::string&, const std::string&) {
  return absl::OkStatus();  // nothing attached, nothing to stop
}

bool IsTransientHostError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
      return true;
    default:
      return false;
  }
}

absl::Status CallWithRetries(const std::function<absl::Status()>& call, const RetryPolicy& policy) {
  const int attempts = policy.attempts < 1 ? 1 : policy.attempts;
  absl::Duration delay = policy.first_delay;
  absl::Status last;
  for (int i = 1; i <= attempts; ++i) {
    last = call();
    if (last.ok() || !IsTransientHostError(last)) return last;
    if (i == attempts) break;
    if (policy.sleep) {
      policy.sleep(delay);
    } else {
      absl::SleepFor(delay);
    }
    delay = delay * policy.backoff;
  }
  return absl::Status(last.code(), absl::StrCat(last.message(), " (failed ", attempts,
                                                " times; transient errors are retried)"));
}

}  // namespace asr::fabric
