// The C API's core entry points: version, errors, buffers, engine, objects.
#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/status_macros.h"
#include "asr/jobs/rule_error.h"
#include "asr/model/errors.pb.h"
#include "asr/model/json.h"
#include "capi/capi_internal.h"

namespace asr::capi {

thread_local std::string t_last_error;
thread_local std::string t_last_error_detail;

void SetLastError(const absl::Status& status) {
  t_last_error = status.ok() ? std::string() : std::string(status.message());
  model::ErrorDetail detail;
  detail.set_code(static_cast<int>(status.code()));
  detail.set_code_name(asr_status_name(static_cast<int>(status.code())));
  detail.set_message(t_last_error);
  detail.set_rule(jobs::RuleOf(status));
  detail.set_recommended_action(jobs::RecommendedActionOf(status));
  detail.set_job_id(jobs::JobIdOf(status));
  t_last_error_detail = model::ToJson(detail);
}

absl::Status CheckNotNull(const void* p, const char* what) {
  if (p == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, " must not be NULL"));
  return absl::OkStatus();
}

absl::Status CheckIdentifier(const char* p, const char* what, size_t max_bytes) {
  ASR_RETURN_IF_ERROR(CheckNotNull(p, what));
  return ValidateIdentifier(what, p, max_bytes);
}

absl::Status CheckPath(const char* p, const char* what) {
  return CheckIdentifier(p, what, kMaxPathBytes);
}

absl::Status CheckOptionalIdentifier(const char* p, const char* what) {
  return p == nullptr ? absl::OkStatus() : CheckIdentifier(p, what);
}

absl::Status CheckFlags(uint32_t flags, uint32_t allowed) {
  if ((flags & ~allowed) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("unknown flags 0x", absl::Hex(flags & ~allowed),
                                                   "; pass 0 or a documented flag"));
  }
  return absl::OkStatus();
}

absl::StatusOr<asr::SiteRecovery*> SiteRecoveryOf(asr_engine_t* handle) {
  if (handle == nullptr || handle->site_recovery == nullptr) {
    return absl::InvalidArgumentError("engine must not be NULL (open one with asr_engine_open)");
  }
  return handle->site_recovery.get();
}

void ReturnBuffer(asr_buffer_t** out, std::string bytes) {
  auto* b = new asr_buffer;
  b->bytes = std::move(bytes);
  *out = b;
}

absl::Status ReturnJob(asr_buffer_t** out, const absl::StatusOr<model::Job>& job) {
  if (!job.ok()) {
    std::string id = jobs::JobIdOf(job.status());
    if (id.empty()) return job.status();
    // The id stays in the message for readers of asr_last_error_message; the
    // payloads (rule, action, job id) reach asr_last_error_detail.
    absl::Status s(job.status().code(), absl::StrCat(job.status().message(), " (job ", id, ")"));
    job.status().ForEachPayload(
        [&](absl::string_view url, const absl::Cord& payload) { s.SetPayload(url, payload); });
    return s;
  }
  ReturnBuffer(out, model::ToJson(*job));
  return absl::OkStatus();
}

}  // namespace asr::capi

using asr::capi::CheckFlags;
using asr::capi::CheckNotNull;
using asr::capi::Guard;
using asr::capi::SiteRecoveryOf;

extern "C" {

uint32_t asr_version(void) { return ASR_VERSION_NUMBER; }

const char* asr_version_string(void) {
#define ASR_STR2(x) #x
#define ASR_STR(x) ASR_STR2(x)
  return ASR_STR(ASR_VERSION_MAJOR) "." ASR_STR(ASR_VERSION_MINOR) "." ASR_STR(ASR_VERSION_PATCH);
#undef ASR_STR
#undef ASR_STR2
}

const char* asr_last_error_message(void) { return asr::capi::t_last_error.c_str(); }

const char* asr_last_error_detail(void) {
  if (asr::capi::t_last_error_detail.empty()) asr::capi::SetLastError(absl::OkStatus());
  return asr::capi::t_last_error_detail.c_str();
}

const char* asr_status_name(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "UNKNOWN_CODE";
  return kNames[code];
}

const char* asr_buffer_data(const asr_buffer_t* buffer) {
  return buffer == nullptr ? nullptr : buffer->bytes.c_str();
}

size_t asr_buffer_size(const asr_buffer_t* buffer) {
  return buffer == nullptr ? 0 : buffer->bytes.size();
}

void asr_buffer_dispose(asr_buffer_t* buffer) { delete buffer; }

int asr_engine_open(asr_engine_t** out, const char* state_dir, const asr_engine_options_t* options,
                    uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(asr::capi::CheckPath(state_dir, "state_dir"));
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    asr::SiteRecoveryOptions engine_options;
    if (options != nullptr) {
      // Older callers pass a shorter struct: read only the fields it has.
      if (options->struct_size < offsetof(asr_engine_options_t, read_only) + sizeof(uint32_t)) {
        return absl::InvalidArgumentError(
            absl::StrCat("asr_engine_options_t.struct_size is ", options->struct_size,
                         "; initialize the options with ASR_ENGINE_OPTIONS_INIT"));
      }
      engine_options.read_only = options->read_only != 0;
      if (options->struct_size >=
          offsetof(asr_engine_options_t, create_if_missing) + sizeof(uint32_t)) {
        engine_options.create_if_missing = options->create_if_missing != 0;
      }
    }
    auto host = std::make_unique<asr::capi::CHostCallbacks>();
    auto keys = std::make_shared<asr::capi::CKeyProvider>(host.get());
    engine_options.host = host.get();
    engine_options.key_provider = keys;
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<asr::SiteRecovery> site_recovery,
                         asr::SiteRecovery::Open(state_dir, engine_options));
    auto* handle = new asr_engine;
    handle->host = std::move(host);
    handle->keys = std::move(keys);
    handle->site_recovery = std::move(site_recovery);
    *out = handle;
    return absl::OkStatus();
  });
}

void asr_engine_close(asr_engine_t* engine) {
  (void)Guard([&]() -> absl::Status {
    delete engine;
    return absl::OkStatus();
  });
}

int asr_engine_initialize(asr_engine_t* engine, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * e, SiteRecoveryOf(engine));
    return e->Initialize();
  });
}

int asr_object_put(asr_engine_t* engine, const char* kind, const char* json, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * e, SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(kind, "kind"));
    ASR_RETURN_IF_ERROR(CheckNotNull(json, "json"));
    return e->PutObjectJson(kind, json);
  });
}

int asr_object_get(asr_buffer_t** out, asr_engine_t* engine, const char* kind, const char* id,
                   uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * e, SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(kind, "kind"));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(id, "id"));
    ASR_ASSIGN_OR_RETURN(std::string json, e->GetObjectJson(kind, id));
    asr::capi::ReturnBuffer(out, std::move(json));
    return absl::OkStatus();
  });
}

int asr_object_list(asr_buffer_t** out, asr_engine_t* engine, const char* kind, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckNotNull(out, "out"));
    *out = nullptr;
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * e, SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(kind, "kind"));
    ASR_ASSIGN_OR_RETURN(std::string json, e->ListObjectsJson(kind));
    asr::capi::ReturnBuffer(out, std::move(json));
    return absl::OkStatus();
  });
}

int asr_object_delete(asr_engine_t* engine, const char* kind, const char* id, uint32_t flags) {
  return Guard([&]() -> absl::Status {
    ASR_RETURN_IF_ERROR(CheckFlags(flags, 0));
    ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * e, SiteRecoveryOf(engine));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(kind, "kind"));
    ASR_RETURN_IF_ERROR(asr::capi::CheckIdentifier(id, "id"));
    return e->DeleteObject(kind, id);
  });
}

}  // extern "C"
