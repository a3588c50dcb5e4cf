#include <dlfcn.h>

#include "absl/strings/str_cat.h"
#include "asr/platform/dynamic_library.h"

namespace asr::platform {
namespace {

// The address sanitizer's runtime refuses RTLD_DEEPBIND; sanitized builds
// load the library with local symbols only.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kDeepBind = 0;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int kDeepBind = 0;
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif
#else
constexpr int kDeepBind = RTLD_DEEPBIND;
#endif

}  // namespace

absl::StatusOr<std::unique_ptr<DynamicLibrary>> DynamicLibrary::OpenIsolated(
    const std::string& name) {
  void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL | kDeepBind);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return absl::NotFoundError(
        absl::StrCat("cannot load ", name, ": ", why != nullptr ? why : "unknown error"));
  }
  return std::unique_ptr<DynamicLibrary>(new DynamicLibrary(name, handle));
}

absl::StatusOr<void*> DynamicLibrary::Symbol(const char* symbol) const {
  ::dlerror();
  void* address = ::dlsym(handle_, symbol);
  if (address == nullptr) {
    const char* why = ::dlerror();
    return absl::NotFoundError(absl::StrCat(name_, " has no symbol ", symbol, ": ",
                                            why != nullptr ? why : "null address"));
  }
  return address;
}

}  // namespace asr::platform
