// The version 3 calls of the C host callback table (VMs: describe, create
// replicas, NICs, power, points, scripts, write reporting), version 4's
// group points and version 5's isolated networks, adapted to
// fabric::HostCallbacks. Arguments and results cross as JSON in the proto3
// mapping; a NULL callback is the base class's default ("the host cannot
// ..."), and a bad result from the host is an error naming the callback.
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/model/groups.pb.h"
#include "asr/model/json.h"
#include "capi/c_host_callbacks.h"
#include "capi/capi_internal.h"

namespace asr::capi {
namespace {

// Parses what a host callback wrote into `out`; the error names the callback.
template <typename Message>
absl::StatusOr<Message> ParseResult(const std::string& json, const char* which) {
  Message m;
  absl::Status s = model::FromJson(json, &m);
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("the host's ", which, " returned bad JSON: ", s.message()));
  }
  return m;
}

}  // namespace

absl::StatusOr<model::VirtualMachine> CHostCallbacks::GetVm(const std::string& vm_id) {
  asr_host_callbacks_t t = Table();
  if (t.get_vm == nullptr) return fabric::HostCallbacks::GetVm(vm_id);
  asr_buffer out;
  int rc = t.get_vm(&out, vm_id.c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "get_vm", out.bytes);
  return ParseResult<model::VirtualMachine>(out.bytes, "get_vm");
}

absl::StatusOr<model::VirtualMachine> CHostCallbacks::CreateReplicaVm(
    const model::ReplicaVmSpec& spec) {
  asr_host_callbacks_t t = Table();
  if (t.create_replica_vm == nullptr) return fabric::HostCallbacks::CreateReplicaVm(spec);
  asr_buffer out;
  int rc = t.create_replica_vm(&out, model::ToJson(spec).c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "create_replica_vm", out.bytes);
  return ParseResult<model::VirtualMachine>(out.bytes, "create_replica_vm");
}

absl::Status CHostCallbacks::ConnectNic(const std::string& vm_id,
                                        const model::NetworkAdapter& nic) {
  asr_host_callbacks_t t = Table();
  if (t.connect_nic == nullptr) return fabric::HostCallbacks::ConnectNic(vm_id, nic);
  asr_buffer out;
  int rc = t.connect_nic(&out, vm_id.c_str(), model::ToJson(nic).c_str(), t.payload);
  return rc == ASR_OK ? absl::OkStatus() : HostError(rc, "connect_nic", out.bytes);
}

#define ASR_VM_POWER_CALL(Method, field)                                       \
  absl::Status CHostCallbacks::Method(const std::string& vm_id) {              \
    asr_host_callbacks_t t = Table();                                          \
    if (t.field == nullptr) return fabric::HostCallbacks::Method(vm_id);       \
    asr_buffer out;                                                            \
    int rc = t.field(&out, vm_id.c_str(), t.payload);                          \
    return rc == ASR_OK ? absl::OkStatus() : HostError(rc, #field, out.bytes); \
  }

ASR_VM_POWER_CALL(StartVm, start_vm)
ASR_VM_POWER_CALL(ShutdownVm, shutdown_vm)
ASR_VM_POWER_CALL(TurnOffVm, turn_off_vm)
#undef ASR_VM_POWER_CALL

absl::Status CHostCallbacks::DeleteVm(const std::string& vm_id, bool delete_disks) {
  asr_host_callbacks_t t = Table();
  if (t.delete_vm == nullptr) return fabric::HostCallbacks::DeleteVm(vm_id, delete_disks);
  asr_buffer out;
  int rc = t.delete_vm(&out, vm_id.c_str(), delete_disks ? 1u : 0u, t.payload);
  return rc == ASR_OK ? absl::OkStatus() : HostError(rc, "delete_vm", out.bytes);
}

absl::StatusOr<model::VmPowerState> CHostCallbacks::GetPowerState(const std::string& vm_id) {
  asr_host_callbacks_t t = Table();
  if (t.get_power_state == nullptr) return fabric::HostCallbacks::GetPowerState(vm_id);
  asr_buffer out;
  int rc = t.get_power_state(&out, vm_id.c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "get_power_state", out.bytes);
  // The name, bare or as a JSON string.
  std::string name(absl::StripAsciiWhitespace(out.bytes));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  model::VmPowerState state;
  if (!model::VmPowerState_Parse(name, &state) || state == model::VM_POWER_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("the host's get_power_state returned '", name.substr(0, 64),
                     "'; expected RUNNING, STOPPED, PAUSED or SAVED"));
  }
  return state;
}

absl::StatusOr<model::HostPoint> CHostCallbacks::CreatePoint(const std::string& vm_id,
                                                             model::RecoveryPointType type) {
  asr_host_callbacks_t t = Table();
  if (t.create_point == nullptr) return fabric::HostCallbacks::CreatePoint(vm_id, type);
  asr_buffer out;
  int rc =
      t.create_point(&out, vm_id.c_str(), model::RecoveryPointType_Name(type).c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "create_point", out.bytes);
  return ParseResult<model::HostPoint>(out.bytes, "create_point");
}

absl::Status CHostCallbacks::ReleasePoint(const model::HostPoint& point) {
  asr_host_callbacks_t t = Table();
  if (t.release_point == nullptr) return fabric::HostCallbacks::ReleasePoint(point);
  asr_buffer out;
  int rc = t.release_point(&out, model::ToJson(point).c_str(), t.payload);
  return rc == ASR_OK ? absl::OkStatus() : HostError(rc, "release_point", out.bytes);
}

absl::StatusOr<std::vector<model::HostPoint>> CHostCallbacks::CreateGroupPoint(
    const std::vector<std::string>& vm_ids, model::RecoveryPointType type) {
  asr_host_callbacks_t t = Table();
  if (t.create_group_point == nullptr) {
    return fabric::HostCallbacks::CreateGroupPoint(vm_ids, type);
  }
  model::GroupPointRequest request;
  for (const std::string& id : vm_ids) request.add_vm_ids(id);
  request.set_type(type);
  asr_buffer out;
  int rc = t.create_group_point(&out, model::ToJson(request).c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "create_group_point", out.bytes);
  ASR_ASSIGN_OR_RETURN(model::GroupPointResult result,
                       ParseResult<model::GroupPointResult>(out.bytes, "create_group_point"));
  std::vector<model::HostPoint> points(result.points().begin(), result.points().end());
  if (points.size() != vm_ids.size()) {
    // asr cannot tell which points the host holds: release what it wrote.
    for (const auto& p : points) (void)ReleasePoint(p);
    return absl::InternalError(absl::StrCat("the host's create_group_point wrote ", points.size(),
                                            " points for ", vm_ids.size(), " VMs"));
  }
  return points;
}

absl::StatusOr<model::ScriptResult> CHostCallbacks::RunScript(const model::ScriptRequest& request) {
  asr_host_callbacks_t t = Table();
  if (t.run_script == nullptr) return fabric::HostCallbacks::RunScript(request);
  asr_buffer out;
  int rc = t.run_script(&out, model::ToJson(request).c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "run_script", out.bytes);
  return ParseResult<model::ScriptResult>(out.bytes, "run_script");
}

absl::Status CHostCallbacks::AttachChangeTracking(const std::string& vm_id,
                                                  const std::string& disk_id,
                                                  fabric::WriteSink* sink) {
  asr_host_callbacks_t t = Table();
  if (t.attach_change_tracking == nullptr) {
    return fabric::HostCallbacks::AttachChangeTracking(vm_id, disk_id, sink);
  }
  auto wrapper = std::make_unique<asr_write_sink>(asr_write_sink{sink});
  asr_buffer out;
  int rc = t.attach_change_tracking(&out, vm_id.c_str(), disk_id.c_str(), wrapper.get(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "attach_change_tracking", out.bytes);
  // The host now reports into the new sink; an earlier one of the disk is
  // no longer called.
  absl::MutexLock l(&sinks_mu_);
  sinks_[{vm_id, disk_id}] = std::move(wrapper);
  return absl::OkStatus();
}

absl::Status CHostCallbacks::DetachChangeTracking(const std::string& vm_id,
                                                  const std::string& disk_id) {
  asr_host_callbacks_t t = Table();
  absl::Status s;
  if (t.detach_change_tracking == nullptr) {
    s = fabric::HostCallbacks::DetachChangeTracking(vm_id, disk_id);
  } else {
    asr_buffer out;
    int rc = t.detach_change_tracking(&out, vm_id.c_str(), disk_id.c_str(), t.payload);
    if (rc != ASR_OK) return HostError(rc, "detach_change_tracking", out.bytes);
  }
  if (s.ok()) {
    absl::MutexLock l(&sinks_mu_);
    sinks_.erase({vm_id, disk_id});
  }
  return s;
}

absl::StatusOr<std::string> CHostCallbacks::CreateIsolatedNetwork(const std::string& host_id,
                                                                  const std::string& name) {
  asr_host_callbacks_t t = Table();
  if (t.create_isolated_network == nullptr) {
    return fabric::HostCallbacks::CreateIsolatedNetwork(host_id, name);
  }
  asr_buffer out;
  int rc = t.create_isolated_network(&out, host_id.c_str(), name.c_str(), t.payload);
  if (rc != ASR_OK) return HostError(rc, "create_isolated_network", out.bytes);
  std::string id(absl::StripAsciiWhitespace(out.bytes));
  if (id.empty()) {
    return absl::InternalError("the host's create_isolated_network wrote no network id");
  }
  return id;
}

absl::Status CHostCallbacks::DeleteIsolatedNetwork(const std::string& host_id,
                                                   const std::string& network_id) {
  asr_host_callbacks_t t = Table();
  if (t.delete_isolated_network == nullptr) {
    return fabric::HostCallbacks::DeleteIsolatedNetwork(host_id, network_id);
  }
  asr_buffer out;
  int rc = t.delete_isolated_network(&out, host_id.c_str(), network_id.c_str(), t.payload);
  return rc == ASR_OK ? absl::OkStatus() : HostError(rc, "delete_isolated_network", out.bytes);
}

}  // namespace asr::capi

extern "C" {

int asr_write_sink_record(asr_write_sink_t* sink, uint64_t offset, uint64_t length) {
  return asr::capi::Guard([&]() -> absl::Status {
    if (sink == nullptr || sink->sink == nullptr) {
      return absl::InvalidArgumentError(
          "sink must not be NULL (pass the one attach_change_tracking received)");
    }
    return sink->sink->RecordWrite(offset, length);
  });
}

}  // extern "C"
