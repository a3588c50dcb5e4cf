#include "asr/disk/utf16.h"

#include <cstdint>
#include <vector>

namespace asr::disk {
namespace {

void PutUnit(std::string& out, uint16_t u, bool be) {
  if (be) {
    out.push_back(static_cast<char>(u >> 8));
    out.push_back(static_cast<char>(u & 0xFF));
  } else {
    out.push_back(static_cast<char>(u & 0xFF));
    out.push_back(static_cast<char>(u >> 8));
  }
}

void PutUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

std::string Utf8ToUtf16(absl::string_view text, bool big_endian) {
  std::string out;
  size_t i = 0;
  const auto* s = reinterpret_cast<const uint8_t*>(text.data());
  while (i < text.size()) {
    uint32_t cp = 0xFFFD;
    uint8_t c = s[i];
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
    }
    if (len > 1) {
      if (i + len > text.size()) {
        len = 1;
      } else {
        cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; ++k) {
          if ((s[i + k] & 0xC0) != 0x80) {
            cp = 0xFFFD;
            len = 1;
            break;
          }
          cp = (cp << 6) | (s[i + k] & 0x3F);
        }
      }
    }
    i += len;
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
      cp -= 0x10000;
      PutUnit(out, static_cast<uint16_t>(0xD800 | (cp >> 10)), big_endian);
      PutUnit(out, static_cast<uint16_t>(0xDC00 | (cp & 0x3FF)), big_endian);
    } else {
      PutUnit(out, static_cast<uint16_t>(cp > 0xFFFF ? 0xFFFD : cp), big_endian);
    }
  }
  return out;
}

absl::StatusOr<std::string> Utf16ToUtf8(absl::string_view bytes, bool big_endian) {
  if (bytes.size() % 2 != 0) return absl::InvalidArgumentError("UTF-16 string has an odd length");
  std::string out;
  const auto* s = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size() / 2;
  auto unit = [&](size_t k) -> uint16_t {
    return big_endian ? static_cast<uint16_t>((s[2 * k] << 8) | s[2 * k + 1])
                      : static_cast<uint16_t>(s[2 * k] | (s[2 * k + 1] << 8));
  };
  for (size_t k = 0; k < n; ++k) {
    uint16_t u = unit(k);
    if (u == 0) break;
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (k + 1 >= n) return absl::InvalidArgumentError("UTF-16 string has an unpaired surrogate");
      uint16_t lo = unit(k + 1);
      if (lo < 0xDC00 || lo > 0xDFFF) {
        return absl::InvalidArgumentError("UTF-16 string has an unpaired surrogate");
      }
      PutUtf8(out, 0x10000 + ((static_cast<uint32_t>(u - 0xD800) << 10) | (lo - 0xDC00)));
      ++k;
    } else if (u >= 0xDC00 && u <= 0xDFFF) {
      return absl::InvalidArgumentError("UTF-16 string has an unpaired surrogate");
    } else {
      PutUtf8(out, u);
    }
  }
  return out;
}

}  // namespace asr::disk
