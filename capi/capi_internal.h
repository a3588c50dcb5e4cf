// capi/capi_internal.h: helpers shared by the C API's implementation files:
// the per-entry-point guard that turns Status (and any escaped exception)
// into a code plus the thread-local message, and buffer construction.
//
//   int asr_thing_do(asr_engine_t* engine, uint32_t flags) {
//     return asr::capi::Guard([&]() -> absl::Status {
//       ASR_RETURN_IF_ERROR(asr::capi::CheckFlags(flags, 0));
//       ASR_ASSIGN_OR_RETURN(asr::SiteRecovery * sr, asr::capi::SiteRecoveryOf(engine));
//       return sr->DoThing();
//     });
//   }
#ifndef ASR_CAPI_CAPI_INTERNAL_H_
#define ASR_CAPI_CAPI_INTERNAL_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/common/identifier.h"
#include "asr/model/job.pb.h"
#include "asr/site_recovery/site_recovery.h"
#include "capi/c_host_callbacks.h"

// An engine handle holds exactly the one facade and the host table it calls.
struct asr_engine {
  // Whether a site service (asr_site_service_start) runs over this engine.
  std::atomic<bool> site_service_running{false};
  std::unique_ptr<asr::capi::CHostCallbacks> host;
  // The key provider the facade holds too (it calls into `host`).
  std::shared_ptr<asr::capi::CKeyProvider> keys;
  // Declared after `host`, so destroyed before it.
  std::unique_ptr<asr::SiteRecovery> site_recovery;
};

namespace asr::capi {

// Records the thread's last error: its message and its detail (JSON, see
// asr_last_error_detail); OK clears both.
void SetLastError(const absl::Status& status);

// Runs `fn`, recording its error; converts exceptions to ASR_INTERNAL (or
// ASR_RESOURCE_EXHAUSTED for bad_alloc). Never throws.
template <typename Fn>
int Guard(Fn&& fn) noexcept {
  try {
    absl::Status s = fn();
    SetLastError(s);
    return static_cast<int>(s.code());
  } catch (const std::bad_alloc&) {
    SetLastError(absl::ResourceExhaustedError("out of memory"));
    return ASR_RESOURCE_EXHAUSTED;
  } catch (const std::exception& e) {
    SetLastError(absl::InternalError(absl::StrCat("internal error: ", e.what())));
    return ASR_INTERNAL;
  } catch (...) {
    SetLastError(absl::InternalError("internal error: unknown exception"));
    return ASR_INTERNAL;
  }
}

// InvalidArgument naming `what` when `p` is NULL.
absl::Status CheckNotNull(const void* p, const char* what);

// The identifier rules (asr/common/identifier.h) for a C string argument:
// InvalidArgument naming `what` when it is NULL, not UTF-8, has control
// characters, is empty or longer than `max_bytes`.
absl::Status CheckIdentifier(const char* p, const char* what,
                             size_t max_bytes = kMaxIdentifierBytes);
// The same with the path limit.
absl::Status CheckPath(const char* p, const char* what);
// An optional identifier: NULL is OK.
absl::Status CheckOptionalIdentifier(const char* p, const char* what);

// InvalidArgument when `flags` has bits outside `allowed`.
absl::Status CheckFlags(uint32_t flags, uint32_t allowed);

// The facade behind a handle; InvalidArgument for NULL.
absl::StatusOr<asr::SiteRecovery*> SiteRecoveryOf(asr_engine_t* handle);

// Stores `bytes` in a new buffer at *out (which must not be NULL).
void ReturnBuffer(asr_buffer_t** out, std::string bytes);

// Stores a finished job's JSON in *out; for a failed job returns its error
// with " (job job-NNNNNN)" appended to the message (the payloads that
// asr_last_error_detail reads are kept).
absl::Status ReturnJob(asr_buffer_t** out, const absl::StatusOr<model::Job>& job);

// The size of a versioned struct's first version: the end of its last
// field `last_v1_field`, e.g.
//   constexpr size_t kV1 = ASR_CAPI_STRUCT_END(asr_tls_files_t, ca_path);
#define ASR_CAPI_STRUCT_END(type, last_v1_field) \
  (offsetof(type, last_v1_field) + sizeof(static_cast<type*>(nullptr)->last_v1_field))

// Reads a caller's versioned struct (uint32_t struct_size first) into *out,
// the one way every versioned struct of the C API is read: copies
// min(caller's struct_size, sizeof(T)) bytes, zero-fills the rest (so the
// fields an older caller does not have read as zero) and leaves
// out->struct_size at the caller's value. InvalidArgument naming `name`
// when `in` is NULL or its struct_size is below `first_version_size`.
//
//   asr_tls_files_t tls;
//   ASR_RETURN_IF_ERROR(ReadVersionedStruct(in, kTlsFilesV1, "asr_tls_files_t", &tls));
template <typename T>
absl::Status ReadVersionedStruct(const T* in, size_t first_version_size, const char* name, T* out) {
  static_assert(offsetof(T, struct_size) == 0, "struct_size must be the first field");
  if (in == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, " is NULL"));
  uint32_t size = 0;
  memcpy(&size, in, sizeof size);
  if (size < first_version_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".struct_size is ", size, ", below its first version's ",
                     first_version_size, "; initialize it with its _INIT macro or _init function"));
  }
  memset(static_cast<void*>(out), 0, sizeof(T));
  memcpy(static_cast<void*>(out), static_cast<const void*>(in), std::min<size_t>(size, sizeof(T)));
  return absl::OkStatus();
}

}  // namespace asr::capi

#endif  // ASR_CAPI_CAPI_INTERNAL_H_
