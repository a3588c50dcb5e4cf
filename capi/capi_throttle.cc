// The C API of bandwidth throttles: set, get, list and clear the weekly
// schedules of the site and of VMs (asr/protection/throttle.h). Requests
// and throttles cross as JSON of asr/model/throttle.proto.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/model/throttle.pb.h"
#include "asr/protection/throttle.h"
#include "capi/capi_internal.h"

namespace {

namespace model = asr::model;
using asr::capi::Guard;

// NULL or "" is the site; else an identifier.
absl::StatusOr<std::string> TargetOf(const char* target) {
  if (target == nullptr || target[0] == '\0') return std::string();
  ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(target, "target"));
  return std::string(target);
}

absl::StatusOr<asr::SiteRecovery*> Begin(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  ASR_RETURN_IF_ERROR(asr::capi::CheckNotNull(out, "out"));
  *out = nullptr;
  ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
  return asr::capi::SiteRecoveryOf(engine);
}

std::string JsonArray(const std::vector<model::Throttle>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += model::ToJson(items[i]);
  }
  return out + "]";
}

}  // namespace

int asr_throttle_set(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                     uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckNotNull(request_json, "request_json"));
    model::ThrottleSetRequest request;
    absl::Status parsed = model::FromJson(request_json, &request);
    if (!parsed.ok()) {
      return absl::Status(parsed.code(), absl::StrCat("request_json: ", parsed.message()));
    }
    ASR_RETURN_IF_ERROR(asr::ValidateOptionalIdentifier("request_json.vm", request.vm()));
    for (const std::string& l : request.limits()) {
      ASR_RETURN_IF_ERROR(asr::ValidateIdentifier("request_json.limits", l));
    }
    asr::protection::ThrottleService service(&sr->repository(), &sr->clock());
    ASR_ASSIGN_OR_RETURN(model::Throttle t, service.Set(request));
    asr::capi::ReturnBuffer(out, model::ToJson(t));
    return absl::OkStatus();
  });
}

int asr_throttle_get(asr_buffer_t** out, asr_engine_t* engine, const char* target, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::string t, TargetOf(target));
    asr::protection::ThrottleService service(&sr->repository(), &sr->clock());
    ASR_ASSIGN_OR_RETURN(model::Throttle throttle, service.Get(t));
    asr::capi::ReturnBuffer(out, model::ToJson(throttle));
    return absl::OkStatus();
  });
}

int asr_throttle_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    asr::protection::ThrottleService service(&sr->repository(), &sr->clock());
    ASR_ASSIGN_OR_RETURN(std::vector<model::Throttle> all, service.List());
    asr::capi::ReturnBuffer(out, JsonArray(all));
    return absl::OkStatus();
  });
}

int asr_throttle_clear(asr_engine_t* engine, const char* target, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    ASR_ASSIGN_OR_RETURN(std::string t, TargetOf(target));
    asr::protection::ThrottleService service(&sr->repository(), &sr->clock());
    return service.Clear(t);
  });
}
