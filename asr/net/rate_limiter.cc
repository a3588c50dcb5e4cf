#include "asr/net/rate_limiter.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/clock.h"

namespace asr::net {
namespace {

constexpr size_t kMinChunk = 1024;

class ThrottledStream final : public ByteStream {
 public:
  ThrottledStream(std::unique_ptr<ByteStream> inner,
                  std::vector<std::shared_ptr<RateLimiter>> limiters)
      : inner_(std::move(inner)), limiters_(std::move(limiters)) {}

  absl::Status WriteAll(const void* data, size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      size_t chunk = size;
      for (const auto& l : limiters_) chunk = std::min(chunk, l->ChunkBytes());
      for (const auto& l : limiters_) l->Acquire(chunk);
      absl::Status s = inner_->WriteAll(p, chunk);
      if (!s.ok()) return s;
      p += chunk;
      size -= chunk;
    }
    return absl::OkStatus();
  }
  absl::Status ReadExactly(void* out, size_t size) override {
    return inner_->ReadExactly(out, size);
  }
  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    return inner_->ReadSome(out, size);
  }
  absl::Status Close() override { return inner_->Close(); }
  std::string PeerDescription() const override { return inner_->PeerDescription(); }
  std::string PeerIdentity() const override { return inner_->PeerIdentity(); }

 private:
  std::unique_ptr<ByteStream> inner_;
  std::vector<std::shared_ptr<RateLimiter>> limiters_;
};

}  // namespace

RateLimiter::RateLimiter(RateFunction rate) : RateLimiter(std::move(rate), Options()) {}

RateLimiter::RateLimiter(RateFunction rate, Options options)
    : rate_fn_(std::move(rate)), options_(std::move(options)) {}

uint64_t RateLimiter::RateLocked(absl::Time now) {
  if (evaluated_ == absl::InfinitePast() || now - evaluated_ >= options_.reevaluate ||
      now < evaluated_ || now >= valid_until_) {
    const Rate next = rate_fn_ ? rate_fn_(now) : Rate();
    const uint64_t r = next.bits_per_second;
    valid_until_ = next.valid_until;
    // A new limit starts from an empty bucket: reservations made at the old
    // rate are not carried over as debt or credit beyond one burst.
    if (r != rate_) tat_ = std::min(tat_, now + options_.burst);
    rate_ = r;
    evaluated_ = now;
  }
  return rate_;
}

void RateLimiter::Acquire(size_t bytes) {
  absl::Duration wait;
  {
    absl::MutexLock l(&mu_);
    bytes_ += bytes;
    const absl::Time now = options_.clock->Now();
    const uint64_t rate = RateLocked(now);
    if (rate == 0) {
      tat_ = now;
      return;
    }
    const absl::Duration cost =
        absl::Seconds(static_cast<double>(bytes) * 8.0 / static_cast<double>(rate));
    tat_ = std::max(tat_, now) + cost;
    wait = tat_ - options_.burst - now;
  }
  if (wait <= absl::ZeroDuration()) return;
  if (options_.sleep) {
    options_.sleep(wait);
  } else {
    absl::SleepFor(wait);
  }
}

size_t RateLimiter::ChunkBytes() {
  absl::MutexLock l(&mu_);
  const uint64_t rate = RateLocked(options_.clock->Now());
  if (rate == 0) return SIZE_MAX;
  const double burst_bytes =
      static_cast<double>(rate) / 8.0 * absl::ToDoubleSeconds(options_.burst);
  return std::max(kMinChunk, static_cast<size_t>(burst_bytes));
}

uint64_t RateLimiter::CurrentBitsPerSecond() {
  absl::MutexLock l(&mu_);
  return RateLocked(options_.clock->Now());
}

void RateLimiter::Refresh() {
  absl::MutexLock l(&mu_);
  evaluated_ = absl::InfinitePast();
}

uint64_t RateLimiter::bytes() const {
  absl::MutexLock l(&mu_);
  return bytes_;
}

std::unique_ptr<ByteStream> MakeThrottledStream(
    std::unique_ptr<ByteStream> inner, std::vector<std::shared_ptr<RateLimiter>> limiters) {
  std::vector<std::shared_ptr<RateLimiter>> present;
  for (auto& l : limiters) {
    if (l != nullptr) present.push_back(std::move(l));
  }
  if (present.empty()) return inner;
  return std::make_unique<ThrottledStream>(std::move(inner), std::move(present));
}

}  // namespace asr::net
