// POSIX error numbers as statuses (asr/platform/error.h).
#include <errno.h>
#include <string.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "asr/platform/error.h"

namespace asr::platform {
namespace {

constexpr absl::string_view kKindPayload = "type.asr/platform.ErrorKind";

absl::StatusCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return absl::StatusCode::kNotFound;
    case EEXIST:
      return absl::StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::StatusCode::kPermissionDenied;
    case ENOSPC:
    case EDQUOT:
      return absl::StatusCode::kResourceExhausted;
    case EINVAL:
    case ENAMETOOLONG:
    case ENOTDIR:
    case EISDIR:
      return absl::StatusCode::kInvalidArgument;
    case EAGAIN:
    case EINTR:
    case EBUSY:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

ErrorKind KindForErrno(int err) {
  switch (err) {
    case 0:
      return ErrorKind::kNone;
    case ENOENT:
      return ErrorKind::kNotFound;
    case EEXIST:
      return ErrorKind::kExists;
    case EINTR:
      return ErrorKind::kInterrupted;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
      return ErrorKind::kWouldBlock;
    case EINPROGRESS:
      return ErrorKind::kInProgress;
    case ELOOP:
      return ErrorKind::kLoop;
    case EISDIR:
      return ErrorKind::kIsDirectory;
    case ENXIO:
      return ErrorKind::kNoDevice;
    case EOPNOTSUPP:
    case ENOSYS:
      return ErrorKind::kNotSupported;
    case EINVAL:
      return ErrorKind::kInvalidArgument;
    case ECONNABORTED:
    case EPROTO:
      return ErrorKind::kConnectionAborted;
    case EXDEV:
      return ErrorKind::kCrossDevice;
    default:
      return ErrorKind::kOther;
  }
}

}  // namespace

absl::Status SystemError(int err) {
  absl::Status s(CodeForErrno(err), strerror(err));
  s.SetPayload(kKindPayload, absl::Cord(absl::StrCat(static_cast<int>(KindForErrno(err)))));
  return s;
}

absl::Status SystemError(int err, absl::string_view context) {
  return AddContext(SystemError(err), context);
}

ErrorKind ErrorKindOf(const absl::Status& status) {
  absl::optional<absl::Cord> p = status.GetPayload(kKindPayload);
  int kind = 0;
  if (!p.has_value() || !absl::SimpleAtoi(std::string(*p), &kind)) return ErrorKind::kNone;
  return static_cast<ErrorKind>(kind);
}

absl::Status AddContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

}  // namespace asr::platform
