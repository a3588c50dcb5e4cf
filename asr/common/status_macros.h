// asr/common/status_macros.h: early-return helpers for absl::Status.
//
// Abseil 20220623 (Debian's) has Status and StatusOr but no RETURN_IF_ERROR
// macros, so asr carries its own:
//
//   absl::StatusOr<Header> ReadHeader(File& f) {
//     ASR_RETURN_IF_ERROR(f.Seek(0));
//     ASR_ASSIGN_OR_RETURN(std::string bytes, f.Read(4096));
//     return ParseHeader(bytes);
//   }
#ifndef ASR_COMMON_STATUS_MACROS_H_
#define ASR_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ASR_STATUS_CONCAT_INNER_(a, b) a##b
#define ASR_STATUS_CONCAT_(a, b) ASR_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the caller if not OK.
#define ASR_RETURN_IF_ERROR(expr)                        \
  do {                                                   \
    ::absl::Status asr_status_ = (expr);                 \
    if (!asr_status_.ok()) return asr_status_;           \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status,
// otherwise moves the value into `lhs` (which may be a declaration).
#define ASR_ASSIGN_OR_RETURN(lhs, rexpr) \
  ASR_ASSIGN_OR_RETURN_IMPL_(ASR_STATUS_CONCAT_(asr_statusor_, __LINE__), lhs, rexpr)

#define ASR_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                               \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace asr {

// Returns `status` with `context` prepended to its message ("context: msg"),
// keeping the code. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace asr

#endif  // ASR_COMMON_STATUS_MACROS_H_
