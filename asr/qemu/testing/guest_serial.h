// asr/qemu/testing/guest_serial.h: reading what the test guest
// (asr/qemu/guest) prints on its serial console: "ASR-WROTE S" after each
// record it synced, and a verdict line of key=value words after a boot.
//
//   int64_t synced = guest_serial::MaxWrote(serial_log);
//   EXPECT_EQ(guest_serial::Field(verdict_line, "missing"), 0);
//
// Thread safety: plain functions.
#ifndef ASR_QEMU_TESTING_GUEST_SERIAL_H_
#define ASR_QEMU_TESTING_GUEST_SERIAL_H_

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace asr::qemu::guest_serial {

// The number after "key=" in a verdict line, -1 if none.
inline int64_t Field(const std::string& line, const std::string& key) {
  for (absl::string_view word : absl::StrSplit(line, ' ')) {
    if (absl::ConsumePrefix(&word, key + "=")) {
      int64_t v = -1;
      if (absl::SimpleAtoi(word, &v)) return v;
    }
  }
  return -1;
}

// The highest "ASR-WROTE S" of a serial log: the last record the guest saw
// synced (0 if none).
inline int64_t MaxWrote(const std::string& log) {
  int64_t acknowledged = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    int64_t s = 0;
    size_t at = line.find("ASR-WROTE ");
    if (at != absl::string_view::npos &&
        absl::SimpleAtoi(absl::StripTrailingAsciiWhitespace(line.substr(at + 10)), &s)) {
      acknowledged = std::max(acknowledged, s);
    }
  }
  return acknowledged;
}

}  // namespace asr::qemu::guest_serial

#endif  // ASR_QEMU_TESTING_GUEST_SERIAL_H_
