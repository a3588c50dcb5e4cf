// The C API of replication groups (multi-VM consistency): membership,
// shared points, the point a failover uses, and a group cycle now.
// Requests cross as GroupRequest JSON, groups and points as the model's
// ReplicationGroup and GroupRecoveryPoint (asr/model/groups.proto).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/model/groups.pb.h"
#include "asr/model/json.h"
#include "asr/protection/group_service.h"
#include "capi/capi_internal.h"

namespace asr::capi {
namespace {

absl::StatusOr<SiteRecovery*> Begin(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags,
                                    uint32_t allowed = 0) {
  ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
  *out = nullptr;
  ASR_RETURN_IF_ERROR(CheckFlags(flags, allowed));
  return SiteRecoveryOf(engine);
}

absl::StatusOr<model::GroupRequest> ParseRequest(const char* json) {
  ASR_RETURN_IF_ERROR(CheckNotNull(json, "request_json"));
  model::GroupRequest r;
  absl::Status s = model::FromJson(json, &r);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("request_json: ", s.message()));
  ASR_RETURN_IF_ERROR(ValidateOptionalIdentifier("request_json.name", r.name()));
  for (const std::string& vm : r.vms()) {
    ASR_RETURN_IF_ERROR(ValidateIdentifier("request_json.vms", vm));
  }
  return r;
}

std::vector<std::string> Vms(const model::GroupRequest& r) {
  return std::vector<std::string>(r.vms().begin(), r.vms().end());
}

template <typename T>
std::string Array(const std::vector<T>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += model::ToJson(items[i]);
  }
  return out + "]";
}

}  // namespace
}  // namespace asr::capi

using asr::capi::Begin;
using asr::capi::Guard;
namespace model = asr::model;
namespace protection = asr::protection;

extern "C" {

int asr_group_create(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                     uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(model::GroupRequest r, asr::capi::ParseRequest(request_json));
    if (r.name().empty()) {
      return absl::InvalidArgumentError("request_json: \"name\" is required (the group's name)");
    }
    protection::GroupCreateRequest c;
    c.name = r.name();
    c.item_refs = asr::capi::Vms(r);
    c.sync_interval_seconds = r.sync_interval_seconds();
    ASR_ASSIGN_OR_RETURN(model::ReplicationGroup g, sr->groups().Create(c));
    asr::capi::ReturnBuffer(out, model::ToJson(g));
    return absl::OkStatus();
  });
}

int asr_group_add(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                  const char* request_json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    ASR_ASSIGN_OR_RETURN(model::GroupRequest r, asr::capi::ParseRequest(request_json));
    ASR_ASSIGN_OR_RETURN(model::ReplicationGroup g,
                         sr->groups().AddMembers(group_ref, asr::capi::Vms(r)));
    asr::capi::ReturnBuffer(out, model::ToJson(g));
    return absl::OkStatus();
  });
}

int asr_group_remove(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                     const char* request_json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    ASR_ASSIGN_OR_RETURN(model::GroupRequest r, asr::capi::ParseRequest(request_json));
    ASR_ASSIGN_OR_RETURN(model::ReplicationGroup g,
                         sr->groups().RemoveMembers(group_ref, asr::capi::Vms(r)));
    asr::capi::ReturnBuffer(out, model::ToJson(g));
    return absl::OkStatus();
  });
}

int asr_group_set_sync_interval(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                                int32_t seconds, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    ASR_ASSIGN_OR_RETURN(model::ReplicationGroup g,
                         sr->groups().SetSyncInterval(group_ref, seconds));
    asr::capi::ReturnBuffer(out, model::ToJson(g));
    return absl::OkStatus();
  });
}

int asr_group_get(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    ASR_ASSIGN_OR_RETURN(model::ReplicationGroup g, sr->groups().Get(group_ref));
    asr::capi::ReturnBuffer(out, model::ToJson(g));
    return absl::OkStatus();
  });
}

int asr_group_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_ASSIGN_OR_RETURN(std::vector<model::ReplicationGroup> groups, sr->groups().List());
    asr::capi::ReturnBuffer(out, asr::capi::Array(groups));
    return absl::OkStatus();
  });
}

int asr_group_delete(asr_engine_t* engine, const char* group_ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    return sr->groups().Delete(group_ref);
  });
}

int asr_group_points(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                     uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, Begin(out, engine, flags));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    ASR_ASSIGN_OR_RETURN(std::vector<model::GroupRecoveryPoint> points,
                         sr->groups().ListSharedPoints(group_ref));
    asr::capi::ReturnBuffer(out, asr::capi::Array(points));
    return absl::OkStatus();
  });
}

int asr_group_latest_point(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                           uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr,
                         Begin(out, engine, flags, ASR_GROUP_APP_CONSISTENT));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    ASR_ASSIGN_OR_RETURN(
        model::GroupRecoveryPoint p,
        sr->groups().LatestSharedPoint(group_ref, (flags & ASR_GROUP_APP_CONSISTENT) != 0));
    asr::capi::ReturnBuffer(out, model::ToJson(p));
    return absl::OkStatus();
  });
}

int asr_group_resolve_point(asr_buffer_t** out, asr_engine_t* engine, const char* item_ref,
                            const char* option, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr,
                         Begin(out, engine, flags, ASR_GROUP_APP_CONSISTENT));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(item_ref, "item_ref"));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(option, "option"));
    protection::MultiVmSyncPointOption o;
    const std::string opt = option;
    if (opt == "UseMultiVmSyncRecoveryPoint") {
      o = protection::MultiVmSyncPointOption::kUseMultiVmSyncRecoveryPoint;
    } else if (opt == "UsePerVmRecoveryPoint") {
      o = protection::MultiVmSyncPointOption::kUsePerVmRecoveryPoint;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("option '", asr::EscapeForMessage(opt),
                       "' is not UseMultiVmSyncRecoveryPoint or UsePerVmRecoveryPoint"));
    }
    ASR_ASSIGN_OR_RETURN(
        model::RecoveryPoint p,
        sr->groups().ResolveRecoveryPoint(item_ref, o, (flags & ASR_GROUP_APP_CONSISTENT) != 0));
    asr::capi::ReturnBuffer(out, model::ToJson(p));
    return absl::OkStatus();
  });
}

int asr_group_replicate_now(asr_buffer_t** out, asr_engine_t* engine, const char* group_ref,
                            uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr,
                         Begin(out, engine, flags, ASR_GROUP_APP_CONSISTENT));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(group_ref, "group_ref"));
    protection::GroupReplicateOptions o;
    o.app_consistent = (flags & ASR_GROUP_APP_CONSISTENT) != 0;
    ASR_ASSIGN_OR_RETURN(model::GroupCycleOutcome c, sr->groups().ReplicateNow(group_ref, o));
    asr::capi::ReturnBuffer(out, model::ToJson(c));
    return absl::OkStatus();
  });
}

}  // extern "C"
