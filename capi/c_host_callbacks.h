// capi/c_host_callbacks.h: adapts the C host callback table
// (asr_host_callbacks_t) to fabric::HostCallbacks, so that the one
// SiteRecovery behind an engine handle can call a provider's host side; and
// the engine's key provider (CKeyProvider): a key file set with
// asr_engine_set_key_file, else the table's get_key_encryption_key.
// The VM calls of table version 3 (GetVm .. DetachChangeTracking) are in
// c_host_vm_calls.cc; a NULL callback falls back to fabric::HostCallbacks'
// default ("the host cannot ...").
//
//   auto host = std::make_unique<asr::capi::CHostCallbacks>();
//   auto keys = std::make_shared<asr::capi::CKeyProvider>(host.get());
//   options.host = host.get();                  // before SiteRecovery::Open
//   options.key_provider = keys;
//   host->Set(table);                           // asr_engine_set_host_callbacks
//
// Thread safety: thread-safe; Set may race with calls through the table.
#ifndef ASR_CAPI_C_HOST_CALLBACKS_H_
#define ASR_CAPI_C_HOST_CALLBACKS_H_

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/fabric/key_provider.h"
#include "asr/model/json.h"

struct asr_buffer {
  std::string bytes;
};

// What attach_change_tracking hands the host: asr's sink of one disk.
struct asr_write_sink {
  asr::fabric::WriteSink* sink;
};

namespace asr::capi {

// Adapts the C table to fabric::HostCallbacks.
class CHostCallbacks : public fabric::HostCallbacks {
 public:
  // `table`: a whole table of this version (ReadVersionedStruct made it
  // from whatever version the caller passed), or null to remove it.
  void Set(const asr_host_callbacks_t* table) {
    absl::MutexLock l(&mu_);
    installed_ = table != nullptr;
    if (table != nullptr) {
      table_ = *table;
    } else {
      table_ = asr_host_callbacks_t{};
      table_.struct_size = sizeof(asr_host_callbacks_t);
    }
  }
  bool available() const override {
    absl::MutexLock l(&mu_);
    return installed_;
  }

  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& server) override {
    asr_host_callbacks_t t = Table();
    if (t.get_inventory == nullptr) return Missing("get_inventory");
    asr_buffer out;
    int rc = t.get_inventory(&out, model::ToJson(server).c_str(), t.payload);
    if (rc != ASR_OK) return HostError(rc, "get_inventory", out.bytes);
    model::Inventory inventory;
    ASR_RETURN_IF_ERROR(Annotate(model::FromJson(out.bytes, &inventory),
                                 "the host's get_inventory returned a bad inventory"));
    return inventory;
  }

  absl::Status ConfigureHost(const model::HyperVHost& host, const model::ReplicationPolicy& policy,
                             fabric::HostRole role) override {
    asr_host_callbacks_t t = Table();
    if (t.configure_host == nullptr) return Missing("configure_host");
    asr_buffer out;
    int rc =
        t.configure_host(&out, model::ToJson(host).c_str(), model::ToJson(policy).c_str(),
                         role == fabric::HostRole::kPrimary ? "Primary" : "Recovery", t.payload);
    return rc == ASR_OK ? absl::OkStatus() : HostError(rc, "configure_host", out.bytes);
  }

  absl::Status TestProxy(const model::VmmServer& server, absl::string_view password) override {
    asr_host_callbacks_t t = Table();
    if (t.test_proxy == nullptr) return Missing("test_proxy");
    asr_buffer out;
    std::string pw(password);
    int rc = t.test_proxy(&out, model::ToJson(server).c_str(), pw.c_str(), t.payload);
    return rc == ASR_OK ? absl::OkStatus() : HostError(rc, "test_proxy", out.bytes);
  }

  // ---- Version 3: VMs (c_host_vm_calls.cc) ----
  absl::StatusOr<model::VirtualMachine> GetVm(const std::string& vm_id) override;
  absl::StatusOr<model::VirtualMachine> CreateReplicaVm(const model::ReplicaVmSpec& spec) override;
  absl::Status ConnectNic(const std::string& vm_id, const model::NetworkAdapter& nic) override;
  absl::Status StartVm(const std::string& vm_id) override;
  absl::Status ShutdownVm(const std::string& vm_id) override;
  absl::Status TurnOffVm(const std::string& vm_id) override;
  absl::Status DeleteVm(const std::string& vm_id, bool delete_disks) override;
  absl::StatusOr<model::VmPowerState> GetPowerState(const std::string& vm_id) override;
  absl::StatusOr<model::HostPoint> CreatePoint(const std::string& vm_id,
                                               model::RecoveryPointType type) override;
  absl::Status ReleasePoint(const model::HostPoint& point) override;
  absl::StatusOr<model::ScriptResult> RunScript(const model::ScriptRequest& request) override;
  absl::Status AttachChangeTracking(const std::string& vm_id, const std::string& disk_id,
                                    fabric::WriteSink* sink) override;
  absl::Status DetachChangeTracking(const std::string& vm_id, const std::string& disk_id) override;
  // ---- Version 4: replication groups (c_host_vm_calls.cc) ----
  absl::StatusOr<std::vector<model::HostPoint>> CreateGroupPoint(
      const std::vector<std::string>& vm_ids, model::RecoveryPointType type) override;
  // ---- Version 5: test failover's isolated networks (c_host_vm_calls.cc) ----
  absl::StatusOr<std::string> CreateIsolatedNetwork(const std::string& host_id,
                                                    const std::string& name) override;
  absl::Status DeleteIsolatedNetwork(const std::string& host_id,
                                     const std::string& network_id) override;

  // Whether the installed table has a get_key_encryption_key callback.
  bool HasKeyCallback() const {
    absl::MutexLock l(&mu_);
    return installed_ && table_.get_key_encryption_key != nullptr;
  }

  // The host's KEK for `purpose` through get_key_encryption_key.
  absl::StatusOr<fabric::KeyEncryptionKey> GetKeyEncryptionKey(absl::string_view purpose) {
    asr_host_callbacks_t t = Table();
    if (t.get_key_encryption_key == nullptr) return Missing("get_key_encryption_key");
    asr_buffer key, key_id;
    std::string p(purpose);
    int rc = t.get_key_encryption_key(&key, &key_id, p.c_str(), t.payload);
    if (rc != ASR_OK) return HostError(rc, "get_key_encryption_key", key.bytes);
    fabric::KeyEncryptionKey kek{std::move(key.bytes), std::move(key_id.bytes)};
    return kek;
  }

 private:
  asr_host_callbacks_t Table() const {
    absl::MutexLock l(&mu_);
    return table_;
  }
  static absl::Status Missing(const char* which) {
    return absl::FailedPreconditionError(
        absl::StrCat("the host callback table has no ", which, " callback"));
  }
  static absl::Status HostError(int rc, const char* which, const std::string& message) {
    absl::StatusCode code =
        (rc > 0 && rc <= 16) ? static_cast<absl::StatusCode>(rc) : absl::StatusCode::kUnknown;
    return absl::Status(code, message.empty() ? absl::StrCat("the host's ", which, " failed (",
                                                             asr_status_name(rc), ")")
                                              : message);
  }

  mutable absl::Mutex mu_;
  bool installed_ ABSL_GUARDED_BY(mu_) = false;
  asr_host_callbacks_t table_ ABSL_GUARDED_BY(mu_){};

  // The sinks handed to attach_change_tracking, by (VM, disk): each lives
  // until the host's detach for its disk returned, or a later attach of the
  // same disk replaced it.
  absl::Mutex sinks_mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<asr_write_sink>> sinks_
      ABSL_GUARDED_BY(sinks_mu_);
};

// The engine's key provider: the key file (or environment variable) set by
// asr_engine_set_key_file, else the host table's get_key_encryption_key,
// else none (configured() is false).
class CKeyProvider : public fabric::KeyProvider {
 public:
  explicit CKeyProvider(CHostCallbacks* host) : host_(host) {}

  // `source` null: back to the callback (or none).
  void SetSource(std::shared_ptr<fabric::KeyProvider> source) {
    absl::MutexLock l(&mu_);
    source_ = std::move(source);
  }
  bool configured() const override { return Source() != nullptr || host_->HasKeyCallback(); }
  std::string Describe() const override {
    std::shared_ptr<fabric::KeyProvider> s = Source();
    if (s != nullptr) return s->Describe();
    return "the host's get_key_encryption_key callback";
  }
  absl::StatusOr<fabric::KeyEncryptionKey> GetKey(absl::string_view purpose) override {
    std::shared_ptr<fabric::KeyProvider> s = Source();
    if (s != nullptr) return s->GetKey(purpose);
    if (!host_->HasKeyCallback()) {
      return absl::FailedPreconditionError(
          absl::StrCat("no key provider is configured; ", fabric::HowToConfigureKeyProvider()));
    }
    return host_->GetKeyEncryptionKey(purpose);
  }

 private:
  std::shared_ptr<fabric::KeyProvider> Source() const {
    absl::MutexLock l(&mu_);
    return source_;
  }

  CHostCallbacks* const host_;
  mutable absl::Mutex mu_;
  std::shared_ptr<fabric::KeyProvider> source_ ABSL_GUARDED_BY(mu_);
};

}  // namespace asr::capi

#endif  // ASR_CAPI_C_HOST_CALLBACKS_H_
