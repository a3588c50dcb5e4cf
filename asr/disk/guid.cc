#include "asr/disk/guid.h"

#include <cstdio>
#include <cstring>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/platform/env.h"

namespace asr::disk {

Guid Guid::FromBytes(const uint8_t* p) {
  Guid g;
  std::memcpy(g.bytes.data(), p, 16);
  return g;
}

Guid Guid::Random() {
  Guid g;
  if (!platform::FillRandom(g.bytes.data(), g.bytes.size())) {
    // getrandom is unavailable: fall back to the standard library's device.
    std::random_device rd;
    for (auto& b : g.bytes) b = static_cast<uint8_t>(rd());
  }
  g.bytes[7] = static_cast<uint8_t>((g.bytes[7] & 0x0F) | 0x40);  // version 4 (Data3 high nibble)
  g.bytes[8] = static_cast<uint8_t>((g.bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return g;
}

bool Guid::IsZero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

void Guid::CopyTo(uint8_t* p) const { std::memcpy(p, bytes.data(), 16); }

std::string Guid::ToString() const {
  const uint8_t* b = bytes.data();
  return absl::StrFormat("{%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x}",
                         b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

absl::StatusOr<Guid> Guid::Parse(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.size() >= 2 && t.front() == '{' && t.back() == '}') t = t.substr(1, t.size() - 2);
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') {
    return absl::InvalidArgumentError(absl::StrCat("malformed GUID '", text, "'"));
  }
  uint8_t v[16];
  int k = 0;
  for (size_t i = 0; i < t.size();) {
    if (t[i] == '-') {
      ++i;
      continue;
    }
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(t[i])) || i + 1 >= t.size() ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(t[i + 1]))) {
      return absl::InvalidArgumentError(absl::StrCat("malformed GUID '", text, "'"));
    }
    auto hex = [](char c) -> int {
      c = absl::ascii_tolower(static_cast<unsigned char>(c));
      return c <= '9' ? c - '0' : c - 'a' + 10;
    };
    v[k++] = static_cast<uint8_t>(hex(t[i]) * 16 + hex(t[i + 1]));
    i += 2;
  }
  // Text order is Data1..Data4 big-endian; on disk Data1-3 are little-endian.
  Guid g;
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i) g.bytes[i] = v[order[i]];
  return g;
}

}  // namespace asr::disk
