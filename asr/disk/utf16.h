// asr/disk/utf16.h: UTF-8 <-> UTF-16 conversion for the path strings stored
// in VHD parent locators (UTF-16LE, parent name UTF-16BE) and VHDX parent
// locators (UTF-16LE).
//
//   std::string bytes = Utf8ToUtf16(path, /*big_endian=*/false);
//   absl::StatusOr<std::string> back = Utf16ToUtf8(bytes, false);
#ifndef ASR_DISK_UTF16_H_
#define ASR_DISK_UTF16_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::disk {

// Encodes UTF-8 `text` as UTF-16 (no terminator). Invalid UTF-8 bytes become
// U+FFFD.
std::string Utf8ToUtf16(absl::string_view text, bool big_endian);

// Decodes UTF-16 bytes up to the first NUL code unit. An odd byte count or an
// unpaired surrogate is InvalidArgument.
absl::StatusOr<std::string> Utf16ToUtf8(absl::string_view bytes, bool big_endian);

}  // namespace asr::disk

#endif  // ASR_DISK_UTF16_H_
