#include "asr/protection/throttle_schedule.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "asr/common/status_macros.h"

namespace asr::protection {
namespace {

constexpr std::array<const char*, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr char kRuleForm[] =
    "write a rule as DAYS START-END RATE, e.g. \"Mon-Fri 08:00-18:00 50Mbit/s\"";

// "Mon" -> 0 ... "Sun" -> 6 (case-insensitive); -1 if none.
int DayIndex(absl::string_view d) {
  for (int i = 0; i < 7; ++i) {
    if (absl::EqualsIgnoreCase(d, kDays[i])) return i;
  }
  return -1;
}

// "08:00" -> 480; "24:00" -> 1440 only when `allow_24`.
absl::StatusOr<int> ParseClock(absl::string_view t, bool allow_24, absl::string_view what) {
  std::vector<absl::string_view> parts = absl::StrSplit(t, ':');
  int h = -1, m = -1;
  if (parts.size() != 2 || parts[0].size() != 2 || parts[1].size() != 2 ||
      !absl::SimpleAtoi(parts[0], &h) || !absl::SimpleAtoi(parts[1], &m) || h < 0 || m < 0 ||
      m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24))) {
    return absl::InvalidArgumentError(absl::StrCat("the ", what, " time '", t,
                                                   "' is not HH:MM (00:00 to 23:59",
                                                   allow_24 ? ", or 24:00" : "", ")"));
  }
  return h * 60 + m;
}

std::string FormatClock(int minutes) {
  return absl::StrFormat("%02d:%02d", minutes / 60, minutes % 60);
}

// "Mon-Fri", "Sat,Sun", "daily", "Mon,Wed-Fri" -> day indexes.
absl::StatusOr<std::set<int>> ParseDays(absl::string_view text) {
  std::set<int> days;
  if (absl::EqualsIgnoreCase(text, "daily") || absl::EqualsIgnoreCase(text, "all")) {
    for (int i = 0; i < 7; ++i) days.insert(i);
    return days;
  }
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::vector<absl::string_view> range = absl::StrSplit(part, '-');
    const int a = range.empty() ? -1 : DayIndex(range[0]);
    const int b = range.size() == 2 ? DayIndex(range[1]) : a;
    if (range.size() > 2 || a < 0 || b < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown days '", part,
                       "': use Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges like Mon-Fri, lists "
                       "like Sat,Sun, or daily"));
    }
    if (b < a) {
      return absl::InvalidArgumentError(absl::StrCat("the day range '", part,
                                                     "' runs backwards; write it Mon to Sun, e.g. ",
                                                     kDays[b], "-", kDays[a], " or split it"));
    }
    for (int i = a; i <= b; ++i) days.insert(i);
  }
  return days;
}

struct Window {
  int start;  // minutes into the day
  int end;
  uint64_t rate;
  int index;  // in the schedule
};

// Each day's windows (validated schedules only).
std::array<std::vector<Window>, 7> ByDay(const model::BandwidthSchedule& s) {
  std::array<std::vector<Window>, 7> by_day;
  for (int i = 0; i < s.windows_size(); ++i) {
    const model::BandwidthWindow& w = s.windows(i);
    absl::StatusOr<int> a = ParseClock(w.start(), false, "start");
    absl::StatusOr<int> b = ParseClock(w.end(), true, "end");
    if (!a.ok() || !b.ok()) continue;
    for (const std::string& d : w.days()) {
      const int k = DayIndex(d);
      if (k >= 0) by_day[k].push_back({*a, *b, w.bits_per_second(), i});
    }
  }
  return by_day;
}

absl::Status CheckRate(uint64_t bps, absl::string_view what) {
  if (bps == 0) return absl::OkStatus();
  if (bps < kMinBitsPerSecond || bps > kMaxBitsPerSecond) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", FormatRate(bps), " is out of range: give 64kbit/s to 100Gbit/s, or unlimited"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> ParseRate(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (absl::EqualsIgnoreCase(t, "unlimited") || absl::EqualsIgnoreCase(t, "none")) return 0;
  size_t n = 0;
  while (n < t.size() && (absl::ascii_isdigit(t[n]) || t[n] == '.')) ++n;
  const absl::string_view number = t.substr(0, n);
  absl::string_view unit = absl::StripAsciiWhitespace(t.substr(n));
  double value = 0;
  if (number.empty() || !absl::SimpleAtod(number, &value) || !std::isfinite(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the rate '", text,
        "' is not a number with a unit: write e.g. 50Mbit/s, 1.5Gbit/s, 800kbit/s, 10MB/s or "
        "unlimited"));
  }
  struct Unit {
    const char* name;
    double factor;
  };
  static constexpr Unit kUnits[] = {
      {"bit/s", 1},  {"bps", 1},      {"kbit/s", 1e3}, {"kbps", 1e3},   {"Kbit/s", 1e3},
      {"Kbps", 1e3}, {"Mbit/s", 1e6}, {"Mbps", 1e6},   {"Gbit/s", 1e9}, {"Gbps", 1e9},
      {"B/s", 8},    {"KB/s", 8e3},   {"kB/s", 8e3},   {"MB/s", 8e6},   {"GB/s", 8e9},
  };
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      const double bps = std::round(value * u.factor);
      if (bps <= 0 || bps > static_cast<double>(kMaxBitsPerSecond)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the rate '", text, "' is out of range: give 64kbit/s to 100Gbit/s, or unlimited"));
      }
      const uint64_t r = static_cast<uint64_t>(bps);
      ASR_RETURN_IF_ERROR(CheckRate(r, absl::StrCat("the rate '", text, "':")));
      return r;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown unit '", unit, "' in the rate '", text,
      "': use bit/s, kbit/s, Mbit/s, Gbit/s (or bps, kbps, Mbps, Gbps), B/s, KB/s, MB/s, GB/s"));
}

std::string FormatRate(uint64_t bps) {
  if (bps == 0) return "unlimited";
  struct Unit {
    uint64_t factor;
    const char* name;
  };
  static constexpr Unit kUnits[] = {
      {1'000'000'000, "Gbit/s"}, {1'000'000, "Mbit/s"}, {1'000, "kbit/s"}, {1, "bit/s"}};
  for (const Unit& u : kUnits) {
    if (bps >= u.factor) {
      if (bps % u.factor == 0) return absl::StrCat(bps / u.factor, u.name);
      return absl::StrCat(absl::StrFormat("%.3g", static_cast<double>(bps) / u.factor), u.name);
    }
  }
  return absl::StrCat(bps, "bit/s");
}

absl::StatusOr<model::BandwidthWindow> ParseWindow(absl::string_view rule) {
  std::vector<absl::string_view> words = absl::StrSplit(rule, ' ', absl::SkipWhitespace());
  if (words.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("the rule '", rule, "' has ", words.size(), " parts, not 3; ", kRuleForm));
  }
  ASR_ASSIGN_OR_RETURN(std::set<int> days, ParseDays(words[0]));
  std::vector<absl::string_view> times = absl::StrSplit(words[1], '-');
  if (times.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("the times '", words[1], "' of the rule '", rule,
                                                   "' are not START-END; ", kRuleForm));
  }
  model::BandwidthWindow w;
  for (int d : days) w.add_days(kDays[d]);
  w.set_start(std::string(times[0]));
  w.set_end(std::string(times[1]));
  absl::StatusOr<uint64_t> rate = ParseRate(words[2]);
  if (!rate.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("rule '", rule, "': ", rate.status().message()));
  }
  w.set_bits_per_second(*rate);
  model::BandwidthSchedule one;
  *one.add_windows() = w;
  absl::Status s = ValidateSchedule(one);
  if (!s.ok()) return s;
  return w;
}

std::string FormatWindow(const model::BandwidthWindow& w) {
  std::set<int> days;
  for (const std::string& d : w.days()) {
    const int k = DayIndex(d);
    if (k >= 0) days.insert(k);
  }
  std::vector<std::string> parts;
  if (days.size() == 7) {
    parts.push_back("daily");
  } else {
    for (int i = 0; i < 7;) {
      if (!days.count(i)) {
        ++i;
        continue;
      }
      int j = i;
      while (j + 1 < 7 && days.count(j + 1)) ++j;
      parts.push_back(j == i ? std::string(kDays[i]) : absl::StrCat(kDays[i], "-", kDays[j]));
      i = j + 1;
    }
  }
  return absl::StrCat(absl::StrJoin(parts, ","), " ", w.start(), "-", w.end(), " ",
                      FormatRate(w.bits_per_second()));
}

absl::Status ValidateSchedule(const model::BandwidthSchedule& s) {
  ASR_RETURN_IF_ERROR(CheckRate(s.default_bits_per_second(), "the default limit"));
  for (const model::BandwidthWindow& w : s.windows()) {
    const std::string label = absl::StrCat("rule '", FormatWindow(w), "'");
    if (w.days().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(label, " names no day; ", kRuleForm));
    }
    for (const std::string& d : w.days()) {
      if (DayIndex(d) < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            label, ": unknown day '", d, "'; days are Mon, Tue, Wed, Thu, Fri, Sat, Sun"));
      }
    }
    absl::StatusOr<int> a = ParseClock(w.start(), false, "start");
    if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat(label, ": ", a.status().message()));
    absl::StatusOr<int> b = ParseClock(w.end(), true, "end");
    if (!b.ok()) return absl::InvalidArgumentError(absl::StrCat(label, ": ", b.status().message()));
    if (*b <= *a) {
      return absl::InvalidArgumentError(absl::StrCat(
          label, ": the end ", w.end(), " is not after the start ", w.start(),
          "; a window over midnight is two rules, e.g. \"Mon-Fri 22:00-24:00 ...\" and "
          "\"Tue-Sat 00:00-06:00 ...\""));
    }
    ASR_RETURN_IF_ERROR(CheckRate(w.bits_per_second(), absl::StrCat(label, ": the limit")));
  }
  const auto by_day = ByDay(s);
  for (int d = 0; d < 7; ++d) {
    std::vector<Window> ws = by_day[d];
    std::sort(ws.begin(), ws.end(),
              [](const Window& x, const Window& y) { return x.start < y.start; });
    for (size_t i = 1; i < ws.size(); ++i) {
      if (ws[i].start < ws[i - 1].end) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the rules '", FormatWindow(s.windows(ws[i - 1].index)), "' and '",
            FormatWindow(s.windows(ws[i].index)), "' overlap on ", kDays[d], " from ",
            FormatClock(ws[i].start), " to ", FormatClock(std::min(ws[i].end, ws[i - 1].end)),
            "; make the windows of a day disjoint"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<model::BandwidthSchedule> ParseSchedule(const std::vector<std::string>& rules,
                                                       absl::string_view default_rate) {
  model::BandwidthSchedule s;
  if (!default_rate.empty()) {
    absl::StatusOr<uint64_t> d = ParseRate(default_rate);
    if (!d.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the default limit: ", d.status().message()));
    }
    s.set_default_bits_per_second(*d);
  }
  for (const std::string& r : rules) {
    ASR_ASSIGN_OR_RETURN(*s.add_windows(), ParseWindow(r));
  }
  ASR_RETURN_IF_ERROR(ValidateSchedule(s));
  return s;
}

std::vector<std::string> FormatSchedule(const model::BandwidthSchedule& s) {
  std::vector<std::string> out;
  for (const model::BandwidthWindow& w : s.windows()) out.push_back(FormatWindow(w));
  out.push_back(absl::StrCat("default ", FormatRate(s.default_bits_per_second())));
  return out;
}

absl::StatusOr<int> ParseUtcOffset(absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  if (t.empty() || absl::EqualsIgnoreCase(t, "UTC") || absl::EqualsIgnoreCase(t, "Z")) return 0;
  if (absl::StartsWithIgnoreCase(t, "UTC")) t.remove_prefix(3);
  const std::string bad = absl::StrCat(
      "the UTC offset '", text,
      "' is not +HH:MM or -HH:MM (-12:00 to +14:00), e.g. +01:00 for CET, -05:00 for EST, or UTC");
  if (t.size() != 6 || (t[0] != '+' && t[0] != '-') || t[3] != ':') {
    return absl::InvalidArgumentError(bad);
  }
  int h = 0, m = 0;
  if (!absl::SimpleAtoi(t.substr(1, 2), &h) || !absl::SimpleAtoi(t.substr(4, 2), &m) || m > 59 ||
      !absl::ascii_isdigit(t[1]) || !absl::ascii_isdigit(t[4])) {
    return absl::InvalidArgumentError(bad);
  }
  const int minutes = (t[0] == '-' ? -1 : 1) * (h * 60 + m);
  if (minutes < -720 || minutes > 840) return absl::InvalidArgumentError(bad);
  return minutes;
}

std::string FormatUtcOffset(int minutes) {
  if (minutes == 0) return "UTC";
  const int a = std::abs(minutes);
  return absl::StrFormat("UTC%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60, a % 60);
}

ScheduledLimit LimitAt(const model::BandwidthSchedule& schedule, int utc_offset_minutes,
                       absl::Time now) {
  const auto by_day = ByDay(schedule);
  const absl::TimeZone zone = absl::FixedTimeZone(utc_offset_minutes * 60);
  // The limit at a local (day, minute) and the window giving it (-1: default).
  auto at = [&](int day, int minute, int* index) {
    for (const Window& w : by_day[day]) {
      if (minute >= w.start && minute < w.end) {
        *index = w.index;
        return w.rate;
      }
    }
    *index = -1;
    return schedule.default_bits_per_second();
  };
  const absl::CivilMinute local = absl::ToCivilMinute(now, zone);
  auto day_of = [](absl::CivilMinute m) {
    switch (absl::GetWeekday(absl::CivilDay(m))) {
      case absl::Weekday::monday:
        return 0;
      case absl::Weekday::tuesday:
        return 1;
      case absl::Weekday::wednesday:
        return 2;
      case absl::Weekday::thursday:
        return 3;
      case absl::Weekday::friday:
        return 4;
      case absl::Weekday::saturday:
        return 5;
      case absl::Weekday::sunday:
        return 6;
    }
    return 0;
  };
  const int minute_of_day = local.hour() * 60 + local.minute();
  ScheduledLimit r;
  int index = -1;
  r.bits_per_second = at(day_of(local), minute_of_day, &index);
  r.rule = index >= 0 ? FormatWindow(schedule.windows(index))
                      : absl::StrCat("default ", FormatRate(schedule.default_bits_per_second()));
  // The next boundary (a window's start or end within 8 days) where the
  // limit or its rule changes.
  std::set<absl::CivilMinute> boundaries;
  const absl::CivilDay today(local);
  for (int k = 0; k <= 8; ++k) {
    const absl::CivilDay day = today + k;
    const int d = day_of(absl::CivilMinute(day));
    for (const Window& w : by_day[d]) {
      boundaries.insert(absl::CivilMinute(day) + w.start);
      boundaries.insert(absl::CivilMinute(day) + w.end);
    }
  }
  for (const absl::CivilMinute& b : boundaries) {
    if (b <= local) continue;
    int i = -1;
    const uint64_t rate = at(day_of(b), b.hour() * 60 + b.minute(), &i);
    if (rate != r.bits_per_second || i != index) {
      r.next_change = absl::FromCivil(b, zone);
      break;
    }
  }
  return r;
}

}  // namespace asr::protection
