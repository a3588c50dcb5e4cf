// asr/platform/dynamic_library.h: a shared library loaded at run time, its
// symbols and its dependencies kept apart from the process's own.
//
// asr links BoringSSL; a client library such as libpq brings Debian's OpenSSL
// with it, which exports the same symbol names. Loaded with OpenIsolated,
// the library and its dependencies resolve their symbols among themselves
// first (RTLD_LOCAL | RTLD_DEEPBIND) and the process keeps resolving its own
// to BoringSSL, so the two never meet.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<DynamicLibrary> pq,
//                        DynamicLibrary::OpenIsolated("libpq.so.5"));
//   ASR_ASSIGN_OR_RETURN(void* fn, pq->Symbol("PQlibVersion"));
//
// A loaded library stays loaded for the life of the process (unloading a
// library that registered exit handlers is unsafe); destroying the object
// only drops the handle.
//
// Thread safety: Symbol may be called from any thread.
#ifndef ASR_PLATFORM_DYNAMIC_LIBRARY_H_
#define ASR_PLATFORM_DYNAMIC_LIBRARY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace asr::platform {

class DynamicLibrary {
 public:
  // Loads `name` (a file name searched the usual way, or a path). NotFound
  // naming the library and the loader's message when it cannot be loaded.
  static absl::StatusOr<std::unique_ptr<DynamicLibrary>> OpenIsolated(const std::string& name);

  DynamicLibrary(const DynamicLibrary&) = delete;
  DynamicLibrary& operator=(const DynamicLibrary&) = delete;

  // The address of `symbol`; NotFound naming the library when it has none.
  absl::StatusOr<void*> Symbol(const char* symbol) const;

  const std::string& name() const { return name_; }

 private:
  DynamicLibrary(std::string name, void* handle) : name_(std::move(name)), handle_(handle) {}
  std::string name_;
  void* handle_;
};

}  // namespace asr::platform

#endif  // ASR_PLATFORM_DYNAMIC_LIBRARY_H_
