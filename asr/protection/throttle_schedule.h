// asr/protection/throttle_schedule.h: weekly bandwidth schedules
// (model::BandwidthSchedule): the human form operators type, validation
// with errors that say what is wrong, and the limit at a moment.
//
//   ASR_ASSIGN_OR_RETURN(model::BandwidthSchedule s,
//                        ParseSchedule({"Mon-Fri 08:00-18:00 50Mbit/s"}, "unlimited"));
//   ScheduledLimit l = LimitAt(s, /*utc_offset_minutes=*/60, absl::Now());
//   // l.bits_per_second == 50'000'000 on a weekday at 10:00 CET, l.rule names the rule
//
// Human form of a rule: DAYS START-END RATE, where
//   DAYS   Mon, Tue, ... Sun; ranges "Mon-Fri"; lists "Sat,Sun"; "daily"
//   START  HH:MM (00:00..23:59), END HH:MM after START (24:00 = midnight);
//          a window over midnight is two rules ("Mon-Fri 22:00-24:00 ...",
//          "Tue-Sat 00:00-06:00 ...")
//   RATE   a number with a unit: bit/s, kbit/s, Mbit/s, Gbit/s (also bps,
//          kbps, Mbps, Gbps; decimal: 1 Mbit/s = 1,000,000 bit/s) or bytes
//          per second KB/s, MB/s, GB/s (x8); "unlimited"
// Limits are 64 kbit/s .. 100 Gbit/s (or unlimited). Windows of one day
// must not overlap. Times are the site's local time, given as a fixed
// offset from UTC (no daylight saving: change the offset when it changes).
//
// Thread safety: pure functions.
#ifndef ASR_PROTECTION_THROTTLE_SCHEDULE_H_
#define ASR_PROTECTION_THROTTLE_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/model/throttle.pb.h"

namespace asr::protection {

inline constexpr uint64_t kMinBitsPerSecond = 64'000;
inline constexpr uint64_t kMaxBitsPerSecond = 100'000'000'000;

// "50Mbit/s" -> 50'000'000; "unlimited" -> 0.
absl::StatusOr<uint64_t> ParseRate(absl::string_view text);
// 50'000'000 -> "50Mbit/s"; 0 -> "unlimited".
std::string FormatRate(uint64_t bits_per_second);

// "Mon-Fri 08:00-18:00 50Mbit/s" -> a window.
absl::StatusOr<model::BandwidthWindow> ParseWindow(absl::string_view rule);
// A window in the human form (days compressed to ranges).
std::string FormatWindow(const model::BandwidthWindow& window);

// Rules in the human form and the default rate ("" = unlimited); the result
// is validated.
absl::StatusOr<model::BandwidthSchedule> ParseSchedule(const std::vector<std::string>& rules,
                                                       absl::string_view default_rate);
// Every rule of `schedule` in the human form, then "default RATE".
std::vector<std::string> FormatSchedule(const model::BandwidthSchedule& schedule);

// Days, times, rates in range, end after start, no overlap within a day.
absl::Status ValidateSchedule(const model::BandwidthSchedule& schedule);

// "+01:00", "-05:30", "UTC", "" -> minutes east of UTC (-720..840).
absl::StatusOr<int> ParseUtcOffset(absl::string_view text);
// 60 -> "UTC+01:00"; 0 -> "UTC".
std::string FormatUtcOffset(int minutes);

struct ScheduledLimit {
  uint64_t bits_per_second = 0;  // 0 = unlimited
  std::string rule;              // the window in the human form, or "default RATE"
  absl::Time next_change = absl::InfiniteFuture();
};

// The limit at `now` in the site's local time (UTC + offset).
ScheduledLimit LimitAt(const model::BandwidthSchedule& schedule, int utc_offset_minutes,
                       absl::Time now);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_THROTTLE_SCHEDULE_H_
