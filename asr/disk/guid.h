// asr/disk/guid.h: 128-bit identifiers as VHD and VHDX store them.
//
// VHDX stores GUIDs in Microsoft's mixed-endian layout (Data1 u32 LE, Data2
// and Data3 u16 LE, Data4 as 8 bytes); VHD stores its unique IDs as 16 raw
// bytes. Guid keeps the on-disk bytes and formats them the Microsoft way.
//
//   Guid id = Guid::Random();
//   std::string text = id.ToString();  // "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}"
//   absl::StatusOr<Guid> back = Guid::Parse(text);
#ifndef ASR_DISK_GUID_H_
#define ASR_DISK_GUID_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace asr::disk {

// A value type; thread-compatible.
struct Guid {
  std::array<uint8_t, 16> bytes{};  // on-disk (Microsoft mixed-endian) bytes

  static Guid FromBytes(const uint8_t* p);
  // A random version-4 GUID from the system's entropy source.
  static Guid Random();
  // Parses "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX" with optional braces, any case.
  static absl::StatusOr<Guid> Parse(absl::string_view text);

  bool IsZero() const;
  void CopyTo(uint8_t* p) const;
  // Lowercase with braces, as the VHDX parent locator wants it.
  std::string ToString() const;

  bool operator==(const Guid& o) const { return bytes == o.bytes; }
  bool operator!=(const Guid& o) const { return bytes != o.bytes; }
};

}  // namespace asr::disk

#endif  // ASR_DISK_GUID_H_
