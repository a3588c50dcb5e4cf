// The C API of recovery plans: create, get, list, edit, delete, and run a
// plan operation as one job. Requests cross as the model's
// RecoveryPlanCreateRequest, RecoveryPlanEdit and RecoveryPlanRunRequest
// JSON, plans as RecoveryPlan (asr/model/recovery_plan.proto), runs as the
// plan's Job.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/model/json.h"
#include "asr/model/recovery_plan.pb.h"
#include "capi/capi_internal.h"

namespace asr::capi {
namespace {

absl::StatusOr<SiteRecovery*> BeginPlan(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
  *out = nullptr;
  ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
  return SiteRecoveryOf(engine);
}

absl::Status ParsePlanJson(const char* json, const char* what, google::protobuf::Message* m) {
  ASR_RETURN_IF_ERROR(CheckNotNull(json, what));
  absl::Status s = model::FromJson(json, m);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  return absl::OkStatus();
}

}  // namespace
}  // namespace asr::capi

using asr::capi::BeginPlan;
using asr::capi::Guard;
using asr::capi::ParsePlanJson;
namespace model = asr::model;

extern "C" {

int asr_plan_create(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                    uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, BeginPlan(out, engine, flags));
    model::RecoveryPlanCreateRequest r;
    ASR_RETURN_IF_ERROR(ParsePlanJson(request_json, "request_json", &r));
    if (r.name().empty()) {
      return absl::InvalidArgumentError("request_json: \"name\" is required (the plan's name)");
    }
    ASR_ASSIGN_OR_RETURN(model::RecoveryPlan p, sr->recovery_plans().Create(r));
    asr::capi::ReturnBuffer(out, model::ToJson(p));
    return absl::OkStatus();
  });
}

int asr_plan_get(asr_buffer_t** out, asr_engine_t* engine, const char* plan_ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, BeginPlan(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(plan_ref, "plan_ref"));
    ASR_ASSIGN_OR_RETURN(model::RecoveryPlan p, sr->recovery_plans().Get(plan_ref));
    asr::capi::ReturnBuffer(out, model::ToJson(p));
    return absl::OkStatus();
  });
}

int asr_plan_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, BeginPlan(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPlan> plans, sr->recovery_plans().List());
    std::string json = "[";
    for (size_t i = 0; i < plans.size(); ++i) {
      if (i > 0) json += ",";
      json += model::ToJson(plans[i]);
    }
    asr::capi::ReturnBuffer(out, json + "]");
    return absl::OkStatus();
  });
}

int asr_plan_edit(asr_buffer_t** out, asr_engine_t* engine, const char* plan_ref,
                  const char* edit_json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, BeginPlan(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(plan_ref, "plan_ref"));
    model::RecoveryPlanEdit e;
    ASR_RETURN_IF_ERROR(ParsePlanJson(edit_json, "edit_json", &e));
    ASR_ASSIGN_OR_RETURN(model::RecoveryPlan p, sr->recovery_plans().Edit(plan_ref, e));
    asr::capi::ReturnBuffer(out, model::ToJson(p));
    return absl::OkStatus();
  });
}

int asr_plan_delete(asr_engine_t* engine, const char* plan_ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(plan_ref, "plan_ref"));
    return sr->recovery_plans().Delete(plan_ref);
  });
}

int asr_plan_run(asr_buffer_t** out, asr_engine_t* engine, const char* plan_ref,
                 const char* request_json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, BeginPlan(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(plan_ref, "plan_ref"));
    model::RecoveryPlanRunRequest r;
    ASR_RETURN_IF_ERROR(ParsePlanJson(request_json, "request_json", &r));
    return asr::capi::ReturnJob(out, sr->recovery_plans().Run(plan_ref, r));
  });
}

}  // extern "C"
