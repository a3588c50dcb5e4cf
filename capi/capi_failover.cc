// The C API of failover of protected VMs (asr/failover/failover_service.h):
// one entry point runs any of the operations as a job; the input crosses as
// JSON of asr/failover/operations.proto's FailoverParams.
#include <string>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/identifier.h"
#include "asr/common/status_macros.h"
#include "asr/failover/failover_service.h"
#include "asr/failover/operations.pb.h"
#include "asr/model/json.h"
#include "capi/capi_internal.h"

int asr_failover_start(asr_buffer_t** out, asr_engine_t* engine, const char* operation,
                       const char* input_json, uint32_t flags) {
  return asr::capi::Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(asr::capi::CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(operation, "operation"));
    ASR_RETURN_IF_ERROR(asr::capi::CheckNotNull(input_json, "input_json"));
    asr::failover::FailoverParams p;
    absl::Status parsed = asr::model::FromJson(input_json, &p);
    if (!parsed.ok()) {
      return absl::Status(parsed.code(), absl::StrCat("input_json: ", parsed.message()));
    }
    if (p.item_id().empty()) {
      return absl::InvalidArgumentError(
          "input_json: \"itemId\" is required (the protected item's id, or its VM's id or name)");
    }
    ASR_RETURN_IF_ERROR(asr::ValidateIdentifier("input_json.itemId", p.item_id()));
    for (const auto& [name, value] :
         {std::pair<const char*, const std::string*>{"direction", &p.direction()},
          {"recoveryTag", &p.recovery_tag()},
          {"recoveryPointId", &p.recovery_point_id()},
          {"networkType", &p.network_type()},
          {"networkId", &p.network_id()},
          {"optimize", &p.optimize()}}) {
      ASR_RETURN_IF_ERROR(
          asr::ValidateOptionalIdentifier(absl::StrCat("input_json.", name), *value));
    }
    asr::failover::FailoverInput in;
    in.item_ref = p.item_id();
    if (!p.direction().empty()) in.direction = p.direction();
    if (std::string(operation) == asr::failover::kFailback && p.direction().empty()) {
      in.direction = "RecoveryToPrimary";
    }
    if (!p.recovery_tag().empty()) in.recovery_tag = p.recovery_tag();
    in.recovery_point_id = p.recovery_point_id();
    if (!p.network_type().empty()) in.network_type = p.network_type();
    in.network_id = p.network_id();
    if (!p.optimize().empty()) in.optimize = p.optimize();
    in.perform_source_side_action = p.perform_source_side_action();
    return asr::capi::ReturnJob(out, sr->failover().Start(operation, in));
  });
}
