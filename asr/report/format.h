// asr/report/format.h: how the report writes numbers, sizes, durations and
// times, the same in Markdown and HTML; and HTML escaping.
//
//   HumanBytes(3 << 20)          -> "3.0 MiB"
//   HumanSeconds(0.25)           -> "250 ms"
//   UtcTime(1700000000000000)    -> "2023-11-14 22:13:20"
//   HtmlEscape("<VM & \"1\">")   -> "&lt;VM &amp; &quot;1&quot;&gt;"
//
// Thread safety: pure functions.
#ifndef ASR_REPORT_FORMAT_H_
#define ASR_REPORT_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace asr::report {

std::string HumanBytes(uint64_t bytes);
// Below a second in milliseconds, below a minute in seconds with one
// decimal, then minutes and seconds, then hours and minutes.
std::string HumanSeconds(double seconds);
// "YYYY-MM-DD HH:MM:SS" (UTC); with `millis`, ".mmm" after the seconds.
std::string UtcTime(int64_t unix_us, bool millis = false);
// "HH:MM:SS" (UTC).
std::string UtcClock(int64_t unix_us);
// A compression ratio: "3.25x", or "-" for 0 (nothing sent).
std::string Ratio(double ratio);
// "1 cycle", "3 cycles": `n` and the noun, with an "s" unless n is 1.
std::string Plural(uint64_t n, absl::string_view noun);
// Text for HTML element content and attribute values: & < > " ' escaped,
// control characters other than tab and newline dropped.
std::string HtmlEscape(absl::string_view text);

}  // namespace asr::report

#endif  // ASR_REPORT_FORMAT_H_
