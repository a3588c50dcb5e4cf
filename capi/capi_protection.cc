// The C API of protection: the transport, enable/onboard/disable (jobs),
// protected items and their recovery points, and the site service for
// hosts that embed it. Requests and settings cross as JSON of
// asr/model/protection_api.proto; items and points as the model's
// ProtectedItem and RecoveryPoint.
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/model/protection.pb.h"
#include "asr/model/protection_api.pb.h"
#include "asr/protection/protection_service.h"
#include "asr/protection/site_service.h"
#include "asr/protection/tls_transport.h"
#include "capi/capi_internal.h"

// A site service handle: the service and the engine it runs over.
struct asr_site_service {
  asr_engine_t* engine = nullptr;
  std::unique_ptr<asr::protection::SiteService> service;
  std::atomic<bool> stopped{false};
};

namespace asr::capi {
namespace {

absl::StatusOr<SiteRecovery*> Begin(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags,
                                    uint32_t allowed = 0) {
  ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
  *out = nullptr;
  ASR_RETURN_IF_ERROR(CheckFlags(flags, allowed));
  return SiteRecoveryOf(engine);
}

// Parses a JSON argument of the C API into `m`, naming the argument.
absl::Status ParseArgument(const char* json, const char* what, google::protobuf::Message* m) {
  ASR_RETURN_IF_ERROR(CheckNotNull(json, what));
  absl::Status s = model::FromJson(json, m);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  return ValidateMessageIdentifiers(what, *m);
}

// The references of an enable or onboard request (the identifier rules;
// the pairing and the host may be empty).
absl::Status CheckRefs(const std::string& vm, const std::string& pairing,
                       const std::string& recovery_host) {
  ASR_RETURN_IF_ERROR(ValidateIdentifier("request_json.vm", vm));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("request_json.pairing", pairing));
  return ValidateOptionalIdentifier("request_json.recoveryHost", recovery_host);
}

absl::StatusOr<protection::TransportOptions> TransportOptionsFrom(
    const model::TransportSettings& t) {
  protection::TransportOptions o;
  if (t.pki_dir().empty()) {
    return absl::InvalidArgumentError(
        "transport: \"pkiDir\" is required: the vault PKI directory (asrctl pki init makes it)");
  }
  if (t.point_interval_seconds() < 0 || t.connect_timeout_seconds() < 0) {
    return absl::InvalidArgumentError(
        "transport: \"pointIntervalSeconds\" and \"connectTimeoutSeconds\" must not be negative");
  }
  ASR_RETURN_IF_ERROR(ValidatePath("transport.pkiDir", t.pki_dir()));
  ASR_RETURN_IF_ERROR(
      ValidateOptionalIdentifier("transport.senderCertificate", t.sender_certificate()));
  ASR_RETURN_IF_ERROR(
      ValidateOptionalIdentifier("transport.receiverCertificate", t.receiver_certificate()));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("transport.address", t.address()));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("transport.receiverName", t.receiver_name()));
  o.pki_dir = t.pki_dir();
  if (t.has_sender_certificate()) o.sender_certificate = t.sender_certificate();
  if (t.has_receiver_certificate()) o.receiver_certificate = t.receiver_certificate();
  o.address = t.address();
  o.receiver_name = t.receiver_name();
  o.point_interval = absl::Seconds(t.point_interval_seconds());
  if (t.connect_timeout_seconds() > 0)
    o.connect_timeout = absl::Seconds(t.connect_timeout_seconds());
  return o;
}

absl::StatusOr<protection::SiteServiceOptions> SiteServiceOptionsFrom(
    const model::SiteServiceSettings& s) {
  protection::SiteServiceOptions o;
  if (s.has_replicate()) o.replicate = s.replicate();
  if (s.has_serve_replicas()) o.serve_replicas = s.serve_replicas();
  if (s.has_listen()) o.listen = s.listen();
  if (s.has_max_concurrent()) {
    if (s.max_concurrent() < 1) {
      return absl::InvalidArgumentError(absl::StrCat("site service options: \"maxConcurrent\" is ",
                                                     s.max_concurrent(),
                                                     "; it must be at least 1"));
    }
    o.max_concurrent = s.max_concurrent();
  }
  if (s.has_threads()) o.threads = s.threads();
  if (s.has_transport()) {
    ASR_ASSIGN_OR_RETURN(o.transport, TransportOptionsFrom(s.transport()));
  }
  return o;
}

template <typename T>
std::string JsonArray(const std::vector<T>& items) {
  std::string json = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) json += ",";
    json += model::ToJson(items[i]);
  }
  return json + "]";
}

absl::Status CheckService(const asr_site_service_t* service) {
  if (service == nullptr || service->service == nullptr) {
    return absl::InvalidArgumentError(
        "service must not be NULL (start one with asr_site_service_start)");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace asr::capi

using asr::capi::Begin;
using asr::capi::Guard;
using asr::capi::ParseArgument;
namespace model = asr::model;
namespace protection = asr::protection;

extern "C" {

int asr_engine_set_transport(asr_engine_t* engine, const char* transport_json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    if (transport_json == nullptr) {
      sr->protection().SetTransport(nullptr);
      return absl::OkStatus();
    }
    model::TransportSettings settings;
    ASR_RETURN_IF_ERROR(ParseArgument(transport_json, "transport_json", &settings));
    ASR_ASSIGN_OR_RETURN(protection::TransportOptions options,
                         asr::capi::TransportOptionsFrom(settings));
    ASR_ASSIGN_OR_RETURN(std::shared_ptr<protection::Transport> transport,
                         protection::MakeTlsTransport(options));
    sr->protection().SetTransport(std::move(transport));
    return absl::OkStatus();
  });
}

int asr_protect_enable(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                       uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    model::EnableProtectionRequest r;
    ASR_RETURN_IF_ERROR(ParseArgument(request_json, "request_json", &r));
    if (r.vm().empty()) {
      return absl::InvalidArgumentError("request_json: \"vm\" is required (the VM's id or name)");
    }
    ASR_RETURN_IF_ERROR(asr::capi::CheckRefs(r.vm(), r.pairing(), r.recovery_host()));
    protection::EnableRequest request;
    request.vm_ref = r.vm();
    request.pairing_ref = r.pairing();
    request.recovery_host_ref = r.recovery_host();
    return asr::capi::ReturnJob(out, sr->protection().EnableProtection(request));
  });
}

int asr_protect_onboard(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                        uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    model::OnboardProtectionRequest r;
    ASR_RETURN_IF_ERROR(ParseArgument(request_json, "request_json", &r));
    if (r.vm().empty() || r.recovery_host().empty() || r.replica_dirs().empty()) {
      return absl::InvalidArgumentError(
          "request_json: \"vm\", \"recoveryHost\" and \"replicaDirs\" (one existing replica "
          "directory per disk) are required");
    }
    ASR_RETURN_IF_ERROR(asr::capi::CheckRefs(r.vm(), r.pairing(), r.recovery_host()));
    protection::OnboardRequest request;
    request.vm_ref = r.vm();
    request.pairing_ref = r.pairing();
    request.recovery_host_ref = r.recovery_host();
    for (const std::string& dir : r.replica_dirs()) {
      ASR_RETURN_IF_ERROR(
          asr::ValidateIdentifier("request_json.replicaDirs", dir, asr::kMaxPathBytes));
      request.replica_dirs.push_back(dir);
    }
    return asr::capi::ReturnJob(out, sr->protection().OnboardProtection(request));
  });
}

int asr_protect_disable(asr_buffer_t** out, asr_engine_t* engine, const char* item_ref,
                        uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags, ASR_PROTECT_FORCE));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(item_ref, "item_ref"));
    protection::DisableRequest request;
    request.item_ref = item_ref;
    request.force = (flags & ASR_PROTECT_FORCE) != 0;
    return asr::capi::ReturnJob(out, sr->protection().DisableProtection(request));
  });
}

int asr_item_get(asr_buffer_t** out, asr_engine_t* engine, const char* ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(ref, "ref"));
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, sr->protection().GetItem(ref));
    asr::capi::ReturnBuffer(out, model::ToJson(item));
    return absl::OkStatus();
  });
}

int asr_item_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, sr->protection().ListItems());
    asr::capi::ReturnBuffer(out, asr::capi::JsonArray(items));
    return absl::OkStatus();
  });
}

int asr_item_points(asr_buffer_t** out, asr_engine_t* engine, const char* ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(ref, "ref"));
    ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                         sr->protection().ListRecoveryPoints(ref));
    asr::capi::ReturnBuffer(out, asr::capi::JsonArray(points));
    return absl::OkStatus();
  });
}

int asr_item_verify(asr_buffer_t** out, asr_engine_t* engine, const char* ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(ref, "ref"));
    ASR_ASSIGN_OR_RETURN(model::ItemVerification v, sr->protection().VerifyItem(ref));
    asr::capi::ReturnBuffer(out, model::ToJson(v));
    return absl::OkStatus();
  });
}

int asr_item_resync(asr_buffer_t** out, asr_engine_t* engine, const char* ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(ref, "ref"));
    ASR_ASSIGN_OR_RETURN(model::ItemVerification v, sr->protection().ResyncItem(ref));
    asr::capi::ReturnBuffer(out, model::ToJson(v));
    return absl::OkStatus();
  });
}

int asr_site_service_start(asr_site_service_t** out, asr_engine_t* engine, const char* options_json,
                           uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    model::SiteServiceSettings settings;
    if (options_json != nullptr) {
      ASR_RETURN_IF_ERROR(ParseArgument(options_json, "options_json", &settings));
    }
    ASR_ASSIGN_OR_RETURN(protection::SiteServiceOptions options,
                         asr::capi::SiteServiceOptionsFrom(settings));
    if (engine->site_service_running.exchange(true)) {
      return absl::FailedPreconditionError(
          "a site service already runs over this engine; close it (asr_site_service_close) "
          "before starting another");
    }
    absl::StatusOr<std::unique_ptr<protection::SiteService>> service =
        protection::SiteService::Start(*sr, options);
    if (!service.ok()) {
      engine->site_service_running = false;
      return service.status();
    }
    auto handle = std::make_unique<asr_site_service>();
    handle->engine = engine;
    handle->service = std::move(*service);
    *out = handle.release();
    return absl::OkStatus();
  });
}

int asr_site_service_step(asr_site_service_t* service, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckService(service));
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    if (service->stopped) {
      return absl::FailedPreconditionError(
          "the site service is stopped; start a new one with asr_site_service_start");
    }
    return service->service->Step();
  });
}

int asr_site_service_stats(asr_buffer_t** out, asr_site_service_t* service, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(asr::capi::CheckService(service));
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    asr::capi::ReturnBuffer(out, model::ToJson(protection::StatisticsOf(*service->service)));
    return absl::OkStatus();
  });
}

int asr_site_service_stop(asr_site_service_t* service) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckService(service));
    service->service->Stop();
    service->stopped = true;
    return absl::OkStatus();
  });
}

void asr_site_service_close(asr_site_service_t* service) {
  (void)Guard([&]() -> absl::Status {
    if (service == nullptr) return absl::OkStatus();
    if (service->service != nullptr) service->service->Stop();
    service->service.reset();
    if (service->engine != nullptr) service->engine->site_service_running = false;
    delete service;
    return absl::OkStatus();
  });
}

}  // extern "C"
