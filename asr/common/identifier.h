// asr/common/identifier.h: the one check every identifier gets where it
// enters asr (a C API string argument, an asrctl option, an id or name inside
// a JSON object): valid UTF-8, no control characters, not empty, not too
// long. A bad one is refused with InvalidArgument naming the field, the rule
// it breaks and an escaped, truncated rendering of what was given, so that
// neither a log line nor a state file can be forged through it.
//
//   ASR_RETURN_IF_ERROR(asr::ValidateIdentifier("cloud", cloud_ref));
//   ASR_RETURN_IF_ERROR(asr::ValidatePath("state_dir", state_dir));
//   ASR_RETURN_IF_ERROR(asr::ValidateMessageIdentifiers("vm", vm));  // id, name, *_id
//
// The rules:
//  - UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates
//    (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequence;
//  - no control characters: C0 (U+0000..U+001F, so no NUL, tab or newline),
//    DEL (U+007F) and C1 (U+0080..U+009F);
//  - not empty;
//  - at most `max_bytes` bytes of UTF-8 (kMaxIdentifierBytes for ids and
//    names, kMaxPathBytes for file system paths).
//
// Thread safety: free functions, safe from any thread.
#ifndef ASR_COMMON_IDENTIFIER_H_
#define ASR_COMMON_IDENTIFIER_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace asr {

// The longest id, name, kind or reference asr accepts (bytes of UTF-8).
inline constexpr size_t kMaxIdentifierBytes = 256;
// The longest path asr accepts (Linux's PATH_MAX).
inline constexpr size_t kMaxPathBytes = 4096;

// OK when `value` is an identifier by the rules above; else InvalidArgument:
//   "cloud: not valid UTF-8 (byte 0xff at offset 3) in \"ab\\xffc\"; ..."
absl::Status ValidateIdentifier(absl::string_view field, absl::string_view value,
                                size_t max_bytes = kMaxIdentifierBytes);

// The same rules with a path-sized limit.
inline absl::Status ValidatePath(absl::string_view field, absl::string_view value) {
  return ValidateIdentifier(field, value, kMaxPathBytes);
}

// The same rules where the value is optional: an empty value is OK.
absl::Status ValidateOptionalIdentifier(absl::string_view field, absl::string_view value,
                                        size_t max_bytes = kMaxIdentifierBytes);

// Checks the identifiers inside a model object, recursively: every
// non-empty string field named "id" or "name" or ending in "_id" (and the
// elements of repeated string fields ending in "_ids"). `what` prefixes the
// field path in the message ("vm.id", "inventory.clouds[2].name").
absl::Status ValidateMessageIdentifiers(absl::string_view what,
                                        const google::protobuf::Message& message);

// `value` for a message, quoted: printable ASCII as is, every other byte
// C-escaped (\n, \xff), the first `max_bytes` bytes only, then "...".
std::string EscapeForMessage(absl::string_view value, size_t max_bytes = 48);

}  // namespace asr

#endif  // ASR_COMMON_IDENTIFIER_H_
