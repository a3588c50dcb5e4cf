// Bandwidth throttling over real loopback TLS 1.3 (asr/net/rate_limiter.h,
// asr/protection/throttle_schedule.h): N streams share one site limiter
// whose rate follows a weekly schedule, "Mon-Fri 08:00-18:00 FIRST" with
// the default SECOND, on a schedule clock that starts PHASE seconds before
// Monday 18:00 — so the limit switches from FIRST to SECOND in the middle
// of the run, while the writers keep writing 1 MiB blocks of random data.
// The receiving side timestamps every byte it reads (10 ms buckets) and the
// run reports the achieved rate of every sliding 10 s window (10 ms steps)
// inside each phase: min, max and the largest deviation from the limit;
// how long after the boundary the new rate was reached; and the process
// CPU time.
//
//   bazel run --config=opt //benchmarks:throttle_benchmark --
//       --first 50Mbit/s --second 200Mbit/s --phase 35 --streams 2
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/net/pki.h"
#include "asr/net/rate_limiter.h"
#include "asr/net/stream.h"
#include "asr/net/tls.h"
#include "asr/protection/throttle_schedule.h"

namespace {

constexpr size_t kBlock = 1 << 20;
constexpr int kBucketMs = 10;

struct Args {
  std::string first = "50Mbit/s";
  std::string second = "200Mbit/s";
  int phase_seconds = 35;
  int streams = 1;
  int window_seconds = 10;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--first") {
      a->first = v;
    } else if (k == "--second") {
      a->second = v;
    } else if (k == "--phase") {
      if (!absl::SimpleAtoi(v, &a->phase_seconds) || a->phase_seconds < 15) return false;
    } else if (k == "--streams") {
      if (!absl::SimpleAtoi(v, &a->streams) || a->streams < 1 || a->streams > 16) return false;
    } else if (k == "--window") {
      if (!absl::SimpleAtoi(v, &a->window_seconds) || a->window_seconds < 1) return false;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

struct WindowStats {
  double min_bps = 1e300, max_bps = 0, max_dev = 0;
  int windows = 0;
};

// Every window of `w` buckets starting in [from, to - w] (bucket indexes).
WindowStats Windows(const std::vector<uint64_t>& prefix, int from, int to, int w, double limit) {
  WindowStats s;
  for (int b = from; b + w <= to; ++b) {
    const double bytes = static_cast<double>(prefix[b + w] - prefix[b]);
    const double bps = bytes * 8.0 / (w * kBucketMs / 1000.0);
    s.min_bps = std::min(s.min_bps, bps);
    s.max_bps = std::max(s.max_bps, bps);
    s.max_dev = std::max(s.max_dev, std::abs(bps - limit) / limit);
    ++s.windows;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    fprintf(stderr,
            "usage: throttle_benchmark [--first RATE] [--second RATE] [--phase SECONDS>=15] "
            "[--streams 1..16] [--window SECONDS]\n");
    return 2;
  }
  absl::StatusOr<asr::model::BandwidthSchedule> schedule = asr::protection::ParseSchedule(
      {absl::StrCat("Mon-Fri 08:00-18:00 ", args.first)}, args.second);
  if (!schedule.ok()) {
    fprintf(stderr, "%s\n", schedule.status().ToString().c_str());
    return 2;
  }
  const double first = static_cast<double>(schedule->windows(0).bits_per_second());
  const double second = static_cast<double>(schedule->default_bits_per_second());
  if (first == 0 || second == 0) {
    fprintf(stderr, "both rates must be limits (not unlimited)\n");
    return 2;
  }

  const std::string dir = (std::filesystem::temp_directory_path() /
                           absl::StrCat("asr-throttle-bench-", std::random_device()()))
                              .string();
  if (auto pki = asr::net::InitVaultPki(dir + "/pki", {}); !pki.ok()) {
    fprintf(stderr, "%s\n", pki.status().ToString().c_str());
    return 1;
  }
  auto listener = asr::net::TlsListener::Listen("127.0.0.1", 0,
                                                asr::net::VaultTlsConfig(dir + "/pki", "recovery"));
  if (!listener.ok()) {
    fprintf(stderr, "%s\n", listener.status().ToString().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<asr::net::ByteStream>> senders, receivers;
  for (int i = 0; i < args.streams; ++i) {
    absl::StatusOr<std::unique_ptr<asr::net::ByteStream>> server;
    std::thread accept([&] { server = (*listener)->Accept(); });
    auto client =
        asr::net::TlsConnect("127.0.0.1", (*listener)->port(),
                             asr::net::VaultTlsConfig(dir + "/pki", "primary"), absl::Seconds(10));
    accept.join();
    if (!client.ok() || !server.ok()) {
      fprintf(stderr, "handshake failed: %s %s\n", client.status().ToString().c_str(),
              server.status().ToString().c_str());
      return 1;
    }
    senders.push_back(std::move(*client));
    receivers.push_back(std::move(*server));
  }

  // The schedule's clock: PHASE seconds before Monday 2026-11-30 18:00 UTC.
  const absl::Time boundary =
      absl::FromCivil(absl::CivilSecond(2026, 11, 30, 18, 0, 0), absl::UTCTimeZone());
  const absl::Time start = absl::Now();
  const absl::Time schedule_start = boundary - absl::Seconds(args.phase_seconds);
  const asr::model::BandwidthSchedule sched = *schedule;
  auto site = std::make_shared<asr::net::RateLimiter>([&](absl::Time now) {
    const asr::protection::ScheduledLimit l =
        asr::protection::LimitAt(sched, 0, schedule_start + (now - start));
    asr::net::RateLimiter::Rate r;
    r.bits_per_second = l.bits_per_second;
    if (l.next_change != absl::InfiniteFuture()) {
      r.valid_until = start + (l.next_change - schedule_start);
    }
    return r;
  });
  std::vector<std::unique_ptr<asr::net::ByteStream>> throttled;
  for (auto& s : senders) throttled.push_back(asr::net::MakeThrottledStream(std::move(s), {site}));

  const int total_ms = 2 * args.phase_seconds * 1000;
  std::vector<std::atomic<uint64_t>> buckets(total_ms / kBucketMs + 1000);
  for (auto& b : buckets) b = 0;
  std::atomic<bool> stop{false};
  const std::clock_t cpu0 = std::clock();

  std::vector<std::thread> threads;
  for (auto& r : receivers) {
    threads.emplace_back([&, stream = r.get()] {
      std::vector<char> in(kBlock);
      for (;;) {
        auto n = stream->ReadSome(in.data(), in.size());
        if (!n.ok() || *n == 0) return;
        const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - start);
        const size_t b = std::min<size_t>(ms / kBucketMs, buckets.size() - 1);
        buckets[b] += *n;
      }
    });
  }
  for (auto& t : throttled) {
    threads.emplace_back([&, stream = t.get()] {
      std::mt19937_64 rng(42);
      std::vector<char> block(kBlock);
      for (size_t i = 0; i < kBlock; i += 8) {
        const uint64_t x = rng();
        std::memcpy(block.data() + i, &x, 8);
      }
      while (!stop.load() && absl::Now() - start < absl::Milliseconds(total_ms)) {
        if (!stream->WriteAll(block.data(), block.size()).ok()) return;
      }
      (void)stream->Close();
    });
  }
  for (auto& t : threads) t.join();
  const double cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);

  const int n = total_ms / kBucketMs;
  std::vector<uint64_t> prefix(n + 1, 0);
  for (int i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + buckets[i].load();
  const int w = args.window_seconds * 1000 / kBucketMs;
  const int switch_bucket = args.phase_seconds * 1000 / kBucketMs;
  const WindowStats p1 = Windows(prefix, 0, switch_bucket, w, first);
  const WindowStats p2 = Windows(prefix, switch_bucket, n, w, second);
  // After the boundary: the start of the first 1 s window at >= 95% of the
  // new rate (a raised limit takes effect once the chunks reserved at the
  // old rate are out).
  int reached_ms = -1;
  const int one_s = 1000 / kBucketMs;
  for (int b = switch_bucket; b + one_s <= n; ++b) {
    const double bps = static_cast<double>(prefix[b + one_s] - prefix[b]) * 8.0;
    if (bps >= 0.95 * second) {
      reached_ms = (b - switch_bucket) * kBucketMs;
      break;
    }
  }
  const double total_bytes = static_cast<double>(prefix[n]);
  printf(
      "throttle over loopback TLS 1.3: %d stream(s) sharing one site limiter, %d s at %s "
      "then %d s at %s (a schedule boundary), 1 MiB writes of random data\n",
      args.streams, args.phase_seconds, asr::protection::FormatRate(first).c_str(),
      args.phase_seconds, asr::protection::FormatRate(second).c_str());
  auto report = [&](const char* name, const WindowStats& s, double limit) {
    printf(
        "  %s limit %-10s %4d sliding %d s windows: min %.3f, max %.3f Mbit/s; max deviation "
        "%.2f%%\n",
        name, asr::protection::FormatRate(static_cast<uint64_t>(limit)).c_str(), s.windows,
        args.window_seconds, s.min_bps / 1e6, s.max_bps / 1e6, s.max_dev * 100);
  };
  report("phase 1:", p1, first);
  report("phase 2:", p2, second);
  printf("  the first 1 s window at >= 95%% of the new limit starts %d ms after the boundary\n",
         reached_ms);
  printf("  %.1f MB in %.1f s; CPU (user+sys) %.2f s\n", total_bytes / 1e6, wall, cpu_seconds);
  printf(
      "{\"streams\":%d,\"first_bps\":%.0f,\"second_bps\":%.0f,\"phase1_max_dev\":%.5f,"
      "\"phase2_max_dev\":%.5f,\"phase1_windows\":%d,\"phase2_windows\":%d,\"switch_ms\":%d,"
      "\"bytes\":%.0f,\"cpu_seconds\":%.2f}\n",
      args.streams, first, second, p1.max_dev, p2.max_dev, p1.windows, p2.windows, reached_ms,
      total_bytes, cpu_seconds);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return p1.max_dev <= 0.05 && p2.max_dev <= 0.05 ? 0 : 1;
}
