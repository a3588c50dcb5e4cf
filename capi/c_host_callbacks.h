// capi/c_host_callbacks.h: adapts the C host callback table
// (asr_host_callbacks_t) to fabric::HostCallbacks, so that the one
// SiteRecovery behind an engine handle can call a provider's host side.
//
//   auto host = std::make_unique<asr::capi::CHostCallbacks>();
//   options.host = host.get();                  // before SiteRecovery::Open
//   host->Set(table);                           // asr_engine_set_host_callbacks
//
// Thread safety: thread-safe; Set may race with calls through the table.
#ifndef ASR_CAPI_C_HOST_CALLBACKS_H_
#define ASR_CAPI_C_HOST_CALLBACKS_H_

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/host_callbacks.h"
#include "asr/model/json.h"

struct asr_buffer {
  std::string bytes;
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
    table_ = table != nullptr
                 ? *table
                 : asr_host_callbacks_t{
                       sizeof(asr_host_callbacks_t), 0, nullptr, nullptr, nullptr, nullptr};
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
};

}  // namespace asr::capi

#endif  // ASR_CAPI_C_HOST_CALLBACKS_H_
