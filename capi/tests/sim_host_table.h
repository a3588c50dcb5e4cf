// capi/tests/sim_host_table.h: a C host callback table (version 4) over a
// SimulatedFabric for the C API's end-to-end tests: its callbacks turn the C
// calls and their JSON back into SimulatedFabric calls, as a provider DLL
// turns them into VMM calls; plus the helpers those tests share.
#ifndef ASR_CAPI_TESTS_SIM_HOST_TABLE_H_
#define ASR_CAPI_TESTS_SIM_HOST_TABLE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "asr.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/model/groups.pb.h"
#include "asr/model/host.pb.h"
#include "asr/model/json.h"
#include "gtest/gtest.h"

namespace capi_test {

using asr::fabric::SimulatedFabric;
namespace model = asr::model;

// ---- A version 4 host table over a SimulatedFabric ------------------------------

// Reports the fabric's guest writes into the sink asr handed the host.
class CSinkForwarder : public asr::fabric::WriteSink {
 public:
  explicit CSinkForwarder(asr_write_sink_t* sink) : sink_(sink) {}
  absl::Status RecordWrite(uint64_t offset, uint64_t length) override {
    int rc = asr_write_sink_record(sink_, offset, length);
    if (rc == ASR_OK) return absl::OkStatus();
    return absl::Status(static_cast<absl::StatusCode>(rc), asr_last_error_message());
  }

 private:
  asr_write_sink_t* const sink_;
};

struct Host {
  SimulatedFabric* fabric = nullptr;
  absl::Mutex mu;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<CSinkForwarder>> sinks;
  int get_vm_calls = 0;
  int group_point_calls = 0;
};

inline Host* H(void* payload) { return static_cast<Host*>(payload); }

inline int Fail(asr_buffer_t* out, const absl::Status& s) {
  std::string m(s.message());
  asr_buffer_set(out, m.data(), m.size());
  return static_cast<int>(s.code());
}

inline int Put(asr_buffer_t* out, const std::string& text) {
  return asr_buffer_set(out, text.data(), text.size());
}

template <typename T>
inline int Json(asr_buffer_t* out, const absl::StatusOr<T>& result) {
  if (!result.ok()) return Fail(out, result.status());
  return Put(out, model::ToJson(*result));
}

inline int Status(asr_buffer_t* out, const absl::Status& s) {
  return s.ok() ? ASR_OK : Fail(out, s);
}

template <typename T>
inline bool Parse(const char* json, T* m, asr_buffer_t* out, int* rc) {
  absl::Status s = model::FromJson(json, m);
  if (!s.ok()) *rc = Fail(out, s);
  return s.ok();
}

inline asr_host_callbacks_t Table(Host* host) {
  asr_host_callbacks_t t = ASR_HOST_CALLBACKS_INIT;
  t.payload = host;
  t.get_inventory = [](asr_buffer_t* out, const char* server_json, void* p) {
    model::VmmServer server;
    int rc = ASR_OK;
    if (!Parse(server_json, &server, out, &rc)) return rc;
    return Json(out, H(p)->fabric->GetInventory(server));
  };
  t.configure_host = [](asr_buffer_t* out, const char* host_json, const char* policy_json,
                        const char* role, void* p) {
    model::HyperVHost host;
    model::ReplicationPolicy policy;
    int rc = ASR_OK;
    if (!Parse(host_json, &host, out, &rc) || !Parse(policy_json, &policy, out, &rc)) return rc;
    return Status(out, H(p)->fabric->ConfigureHost(host, policy,
                                                   std::strcmp(role, "Primary") == 0
                                                       ? asr::fabric::HostRole::kPrimary
                                                       : asr::fabric::HostRole::kRecovery));
  };
  t.get_vm = [](asr_buffer_t* out, const char* vm_id, void* p) {
    ++H(p)->get_vm_calls;
    return Json(out, H(p)->fabric->GetVm(vm_id));
  };
  t.create_replica_vm = [](asr_buffer_t* out, const char* spec_json, void* p) {
    model::ReplicaVmSpec spec;
    int rc = ASR_OK;
    if (!Parse(spec_json, &spec, out, &rc)) return rc;
    return Json(out, H(p)->fabric->CreateReplicaVm(spec));
  };
  t.connect_nic = [](asr_buffer_t* out, const char* vm_id, const char* nic_json, void* p) {
    model::NetworkAdapter nic;
    int rc = ASR_OK;
    if (!Parse(nic_json, &nic, out, &rc)) return rc;
    return Status(out, H(p)->fabric->ConnectNic(vm_id, nic));
  };
  t.start_vm = [](asr_buffer_t* out, const char* vm_id, void* p) {
    return Status(out, H(p)->fabric->StartVm(vm_id));
  };
  t.shutdown_vm = [](asr_buffer_t* out, const char* vm_id, void* p) {
    return Status(out, H(p)->fabric->ShutdownVm(vm_id));
  };
  t.turn_off_vm = [](asr_buffer_t* out, const char* vm_id, void* p) {
    return Status(out, H(p)->fabric->TurnOffVm(vm_id));
  };
  t.delete_vm = [](asr_buffer_t* out, const char* vm_id, uint32_t delete_disks, void* p) {
    return Status(out, H(p)->fabric->DeleteVm(vm_id, delete_disks != 0));
  };
  t.get_power_state = [](asr_buffer_t* out, const char* vm_id, void* p) {
    absl::StatusOr<model::VmPowerState> s = H(p)->fabric->GetPowerState(vm_id);
    if (!s.ok()) return Fail(out, s.status());
    return Put(out, model::VmPowerState_Name(*s));
  };
  t.create_point = [](asr_buffer_t* out, const char* vm_id, const char* type, void* p) {
    model::RecoveryPointType t = model::CrashConsistent;
    if (!model::RecoveryPointType_Parse(type, &t)) {
      return Fail(out, absl::InvalidArgumentError(std::string("unknown point type ") + type));
    }
    return Json(out, H(p)->fabric->CreatePoint(vm_id, t));
  };
  t.release_point = [](asr_buffer_t* out, const char* point_json, void* p) {
    model::HostPoint point;
    int rc = ASR_OK;
    if (!Parse(point_json, &point, out, &rc)) return rc;
    return Status(out, H(p)->fabric->ReleasePoint(point));
  };
  t.create_group_point = [](asr_buffer_t* out, const char* request_json, void* p) {
    model::GroupPointRequest request;
    int rc = ASR_OK;
    if (!Parse(request_json, &request, out, &rc)) return rc;
    std::vector<std::string> vms(request.vm_ids().begin(), request.vm_ids().end());
    absl::StatusOr<std::vector<model::HostPoint>> points =
        H(p)->fabric->CreateGroupPoint(vms, request.type());
    if (!points.ok()) return Fail(out, points.status());
    model::GroupPointResult result;
    for (auto& point : *points) *result.add_points() = point;
    ++H(p)->group_point_calls;
    return Put(out, model::ToJson(result));
  };
  t.create_isolated_network = [](asr_buffer_t* out, const char* host_id, const char* name,
                                 void* p) {
    absl::StatusOr<std::string> id = H(p)->fabric->CreateIsolatedNetwork(host_id, name);
    if (!id.ok()) return Fail(out, id.status());
    return Put(out, *id);
  };
  t.delete_isolated_network = [](asr_buffer_t* out, const char* host_id, const char* network_id,
                                 void* p) {
    return Status(out, H(p)->fabric->DeleteIsolatedNetwork(host_id, network_id));
  };
  t.run_script = [](asr_buffer_t* out, const char* request_json, void* p) {
    model::ScriptRequest request;
    int rc = ASR_OK;
    if (!Parse(request_json, &request, out, &rc)) return rc;
    return Json(out, H(p)->fabric->RunScript(request));
  };
  t.attach_change_tracking = [](asr_buffer_t* out, const char* vm_id, const char* disk_id,
                                asr_write_sink_t* sink, void* p) {
    Host* host = H(p);
    auto forwarder = std::make_unique<CSinkForwarder>(sink);
    absl::Status s = host->fabric->AttachChangeTracking(vm_id, disk_id, forwarder.get());
    if (!s.ok()) return Fail(out, s);
    absl::MutexLock l(&host->mu);
    host->sinks[{vm_id, disk_id}] = std::move(forwarder);
    return ASR_OK;
  };
  t.detach_change_tracking = [](asr_buffer_t* out, const char* vm_id, const char* disk_id,
                                void* p) {
    Host* host = H(p);
    absl::Status s = host->fabric->DetachChangeTracking(vm_id, disk_id);
    if (!s.ok()) return Fail(out, s);
    absl::MutexLock l(&host->mu);
    host->sinks.erase({vm_id, disk_id});
    return ASR_OK;
  };
  return t;
}

// ---- Helpers -----------------------------------------------------------------------

// The buffer's text, disposing it.
inline std::string Take(asr_buffer_t* b) {
  std::string s = b == nullptr ? "" : std::string(asr_buffer_data(b), asr_buffer_size(b));
  asr_buffer_dispose(b);
  return s;
}

// Expects a call returning a job to succeed; returns the job's JSON.
#define EXPECT_JOB_OK(call)                                             \
  [&]() {                                                               \
    asr_buffer_t* job = nullptr;                                        \
    int rc = (call);                                                    \
    EXPECT_EQ(rc, ASR_OK) << #call << ": " << asr_last_error_message(); \
    return Take(job);                                                   \
  }()

inline std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

}  // namespace capi_test

#endif  // ASR_CAPI_TESTS_SIM_HOST_TABLE_H_
