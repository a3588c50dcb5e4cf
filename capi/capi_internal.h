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

#include <exception>
#include <memory>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asr.h"
#include "asr/site_recovery/site_recovery.h"
#include "capi/c_host_callbacks.h"

// An engine handle holds exactly the one facade and the host table it calls.
struct asr_engine {
  std::unique_ptr<asr::capi::CHostCallbacks> host;
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

// InvalidArgument when `flags` has bits outside `allowed`.
absl::Status CheckFlags(uint32_t flags, uint32_t allowed);

// The facade behind a handle; InvalidArgument for NULL.
absl::StatusOr<asr::SiteRecovery*> SiteRecoveryOf(asr_engine_t* handle);

// Stores `bytes` in a new buffer at *out (which must not be NULL).
void ReturnBuffer(asr_buffer_t** out, std::string bytes);

}  // namespace asr::capi

#endif  // ASR_CAPI_CAPI_INTERNAL_H_
