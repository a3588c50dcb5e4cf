// asr/net/rate_limiter.h: bandwidth throttling of byte streams. A
// RateLimiter is a token bucket whose rate comes from a function of the
// time (a weekly schedule, asr/protection/throttle.h), asked again at the
// schedule's next boundary and at least every second, so a limit changes at
// a window boundary while a cycle runs. A ThrottledStream paces the writes of a stream
// through one or more limiters (the site's, shared by all its streams, and
// the VM's own): every write obeys all of them.
//
//   auto site = std::make_shared<RateLimiter>(
//       [](absl::Time) { return RateLimiter::Rate{50'000'000}; });
//   std::unique_ptr<ByteStream> s = MakeThrottledStream(std::move(tls), {site, vm});
//   ASR_RETURN_IF_ERROR(s->WriteAll(data, size));   // at most 50 Mbit/s
//
// The bucket holds at most `burst` (100 ms) of the current rate, so over
// any window of W seconds at most rate * (W + 0.1 s) bytes pass: within 1%
// of the limit over 10 s. Writes are cut into chunks of at most one burst.
//
// Thread safety: a RateLimiter is thread-safe (streams of several threads
// share it); a ThrottledStream is as thread-safe as ByteStream.
#ifndef ASR_NET_RATE_LIMITER_H_
#define ASR_NET_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/common/clock.h"
#include "asr/net/stream.h"

namespace asr::net {

class RateLimiter {
 public:
  // The limit at a moment, in bits per second (0 = unlimited), and until
  // when it holds: the limiter asks again then (a schedule's next window
  // boundary), or after `reevaluate` at the latest.
  struct Rate {
    uint64_t bits_per_second = 0;
    absl::Time valid_until = absl::InfiniteFuture();
  };
  using RateFunction = std::function<Rate(absl::Time now)>;

  struct Options {
    // The most the bucket holds, as time at the current rate.
    absl::Duration burst = absl::Milliseconds(100);
    // The rate function is called again when this much time has passed.
    absl::Duration reevaluate = absl::Seconds(1);
    // Time and sleeping; tests pass a FakeClock and a sleep that advances it.
    const Clock* clock = &Clock::Real();
    std::function<void(absl::Duration)> sleep;  // null: absl::SleepFor
  };

  explicit RateLimiter(RateFunction rate);
  RateLimiter(RateFunction rate, Options options);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Waits until `bytes` may be sent at the current rate, and counts them.
  void Acquire(size_t bytes);
  // The largest write to hand to Acquire at once: one burst at the current
  // rate (at least 1 KiB); SIZE_MAX when unlimited.
  size_t ChunkBytes();
  // The rate in force now (evaluating the function when due); 0 = unlimited.
  uint64_t CurrentBitsPerSecond();
  // Asks the rate function again at the next Acquire (e.g. when a new
  // stream starts, so that a changed schedule applies from its first byte).
  void Refresh();
  // Bytes acquired so far.
  uint64_t bytes() const;

 private:
  uint64_t RateLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RateFunction rate_fn_;
  const Options options_;
  mutable absl::Mutex mu_;
  uint64_t rate_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time evaluated_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time valid_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The theoretical arrival time of the bytes reserved so far (GCRA): a
  // reservation conforms once now >= tat - burst.
  absl::Time tat_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

// `inner` with its writes paced by every limiter of `limiters` (null
// entries are skipped). Reads, Close and the peer pass through.
std::unique_ptr<ByteStream> MakeThrottledStream(std::unique_ptr<ByteStream> inner,
                                                std::vector<std::shared_ptr<RateLimiter>> limiters);

}  // namespace asr::net

#endif  // ASR_NET_RATE_LIMITER_H_
