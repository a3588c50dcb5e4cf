// asr/platform/error.h: operating-system errors as absl::Status. Every call
// in asr/platform reports failure with a status whose message is the
// system's reason ("No such file or directory") and whose code follows the
// reason (NotFound, AlreadyExists, PermissionDenied...); the portable kind
// of the error rides along, so callers can react to it without errno.
//
//   absl::StatusOr<std::unique_ptr<File>> f = Env::Default()->Open(path, options);
//   if (!f.ok() && ErrorKindOf(f.status()) == ErrorKind::kExists) { ... }
//   if (!f.ok()) return AddContext(f.status(), "cannot create " + path);
//   // -> "cannot create /x/y: File exists"
//
// Thread safety: all functions are thread-safe.
#ifndef ASR_PLATFORM_ERROR_H_
#define ASR_PLATFORM_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace asr::platform {

// What went wrong, independent of the operating system's numbering.
enum class ErrorKind {
  kNone,               // not a system error (or OK)
  kNotFound,           // ENOENT
  kExists,             // EEXIST
  kInterrupted,        // EINTR (the platform layer retries these itself)
  kWouldBlock,         // EAGAIN / EWOULDBLOCK: a lock is held, a socket has no data
  kInProgress,         // EINPROGRESS: a non-blocking connect goes on
  kLoop,               // ELOOP: a symbolic link where none may be followed
  kIsDirectory,        // EISDIR
  kNoDevice,           // ENXIO: e.g. a FIFO without a reader opened for writing
  kNotSupported,       // EOPNOTSUPP / ENOSYS
  kInvalidArgument,    // EINVAL (e.g. an O_DIRECT write with the wrong alignment)
  kConnectionAborted,  // ECONNABORTED / EPROTO on accept
  kCrossDevice,        // EXDEV: a hard link or rename across file systems
  kOther,
};

// A status for the system error number `err` (an errno value): message
// strerror(err), code as ErrnoToStatus has always mapped it, kind attached.
absl::Status SystemError(int err);

// The same, with "<context>: " in front of the reason.
absl::Status SystemError(int err, absl::string_view context);

// The kind attached by SystemError; kNone for other statuses.
ErrorKind ErrorKindOf(const absl::Status& status);

// `status` with "<context>: " in front of its message; code and kind kept.
// OK stays OK.
absl::Status AddContext(const absl::Status& status, absl::string_view context);

}  // namespace asr::platform

#endif  // ASR_PLATFORM_ERROR_H_
