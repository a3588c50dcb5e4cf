// The C API's mapping entry points: network and storage mappings, their
// resolution, failback and replica placement (asr/mapping), JSON in and out.
#include <memory>
#include <string>

#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/mapping/mapping_service.h"
#include "asr/model/json.h"
#include "asr/model/mapping.pb.h"
#include "capi/capi_internal.h"

namespace asr::capi {
namespace {

// Runs `fn` with the handle's one MappingService (its changes run as jobs
// of the handle's one JobManager).
template <typename Fn>
absl::Status WithService(asr_engine_t* handle, Fn&& fn) {
  ASR_ASSIGN_OR_RETURN(SiteRecovery * sr, SiteRecoveryOf(handle));
  return fn(sr->mappings());
}

// Stores `result` as JSON in *out.
template <typename T>
absl::Status Return(asr_buffer_t** out, const absl::StatusOr<T>& result) {
  ASR_RETURN_IF_ERROR(result.status());
  ReturnBuffer(out, model::ToJson(*result));
  return absl::OkStatus();
}

absl::Status Start(asr_buffer_t** out, uint32_t flags, uint32_t allowed) {
  ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
  *out = nullptr;
  return CheckFlags(flags, allowed);
}

std::string Opt(const char* s) { return s == nullptr ? std::string() : std::string(s); }

}  // namespace
}  // namespace asr::capi

using asr::capi::CheckNotNull;
using asr::capi::Guard;
using asr::capi::Opt;
using asr::capi::Return;
using asr::capi::Start;
using asr::capi::WithService;
using asr::mapping::MappingService;

extern "C" {

int asr_network_mapping_add(asr_buffer_t** out, asr_engine_t* engine, const char* mapping_json,
                            uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, ASR_MAPPING_REPLACE));
    ASR_RETURN_IF_ERROR(CheckNotNull(mapping_json, "mapping_json"));
    asr::model::NetworkMapping m;
    ASR_RETURN_IF_ERROR(asr::model::FromJson(mapping_json, &m));
    ASR_RETURN_IF_ERROR(asr::ValidateMessageIdentifiers("mapping", m));
    return WithService(engine, [&](MappingService& s) {
      return Return(out, s.MapNetwork(m, (flags & ASR_MAPPING_REPLACE) != 0));
    });
  });
}

int asr_network_mapping_remove(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                               uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(ref, "ref"));
    return WithService(engine, [&](MappingService& s) { return Return(out, s.UnmapNetwork(ref)); });
  });
}

int asr_network_mapping_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    return WithService(engine,
                       [&](MappingService& s) { return Return(out, s.ListNetworkMappings()); });
  });
}

int asr_network_mapping_targets(asr_buffer_t** out, asr_engine_t* engine, const char* source_ref,
                                const char* target_ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(source_ref, "source_ref"));
    return WithService(engine, [&](MappingService& s) {
      ASR_RETURN_IF_ERROR(asr::capi::CheckOptionalIdentifier(target_ref, "target_ref"));
      return Return(out, s.TargetNetworks(source_ref, Opt(target_ref)));
    });
  });
}

int asr_network_mapping_resolve(asr_buffer_t** out, asr_engine_t* engine, const char* vm_ref,
                                uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(vm_ref, "vm_ref"));
    return WithService(engine,
                       [&](MappingService& s) { return Return(out, s.ResolveNetworks(vm_ref)); });
  });
}

int asr_network_mapping_failback(asr_buffer_t** out, asr_engine_t* engine, const char* request_json,
                                 uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(CheckNotNull(request_json, "request_json"));
    asr::model::FailbackRequest r;
    ASR_RETURN_IF_ERROR(asr::model::FromJson(request_json, &r));
    ASR_RETURN_IF_ERROR(asr::ValidateMessageIdentifiers("request", r));
    return WithService(engine,
                       [&](MappingService& s) { return Return(out, s.ResolveFailback(r)); });
  });
}

int asr_storage_mapping_add(asr_buffer_t** out, asr_engine_t* engine, const char* mapping_json,
                            uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, ASR_MAPPING_REPLACE));
    ASR_RETURN_IF_ERROR(CheckNotNull(mapping_json, "mapping_json"));
    asr::model::StorageMapping m;
    ASR_RETURN_IF_ERROR(asr::model::FromJson(mapping_json, &m));
    ASR_RETURN_IF_ERROR(asr::ValidateMessageIdentifiers("mapping", m));
    return WithService(engine, [&](MappingService& s) {
      return Return(out, s.MapStorage(m, (flags & ASR_MAPPING_REPLACE) != 0));
    });
  });
}

int asr_storage_mapping_remove(asr_buffer_t** out, asr_engine_t* engine, const char* ref,
                               uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(ref, "ref"));
    return WithService(engine, [&](MappingService& s) { return Return(out, s.UnmapStorage(ref)); });
  });
}

int asr_storage_mapping_list(asr_buffer_t** out, asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    return WithService(engine,
                       [&](MappingService& s) { return Return(out, s.ListStorageMappings()); });
  });
}

int asr_storage_mapping_resolve(asr_buffer_t** out, asr_engine_t* engine, const char* vm_ref,
                                const char* host_ref, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(vm_ref, "vm_ref"));
    return WithService(engine, [&](MappingService& s) {
      ASR_RETURN_IF_ERROR(asr::capi::CheckOptionalIdentifier(host_ref, "host_ref"));
      return Return(out, s.ResolveStorage(vm_ref, Opt(host_ref)));
    });
  });
}

int asr_placement_show(asr_buffer_t** out, asr_engine_t* engine, const char* vm_ref,
                       const char* pairing_id, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(Start(out, flags, 0));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(vm_ref, "vm_ref"));
    ASR_RETURN_IF_ERROR(asr::capi::CheckOptionalIdentifier(pairing_id, "pairing_id"));
    asr::mapping::PlacementOptions options;
    options.pairing_id = Opt(pairing_id);
    return WithService(
        engine, [&](MappingService& s) { return Return(out, s.ShowPlacement(vm_ref, options)); });
  });
}

}  // extern "C"
