// Pacing of RateLimiter and ThrottledStream on a fake clock: deterministic,
// no wall-clock timing. Every write's bytes are recorded at the fake time
// they reach the inner stream, and every sliding 10 s window is checked.
#include "asr/net/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "asr/common/clock.h"
#include "asr/common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace asr::net {
namespace {

struct Sample {
  absl::Time time;
  uint64_t total;  // bytes written up to and including this write
};

// A stream that records when (on the fake clock) bytes were written.
class RecordingStream : public ByteStream {
 public:
  RecordingStream(const Clock* clock, std::vector<Sample>* samples)
      : clock_(clock), samples_(samples) {}
  absl::Status WriteAll(const void*, size_t size) override {
    total_ += size;
    samples_->push_back({clock_->Now(), total_});
    return absl::OkStatus();
  }
  absl::Status ReadExactly(void*, size_t) override { return absl::OutOfRangeError("no data"); }
  absl::StatusOr<size_t> ReadSome(void*, size_t) override { return size_t{0}; }
  absl::Status Close() override { return absl::OkStatus(); }
  std::string PeerDescription() const override { return "recorder"; }

 private:
  const Clock* clock_;
  std::vector<Sample>* samples_;
  uint64_t total_ = 0;
};

RateLimiter::Options FakeOptions(FakeClock* clock) {
  RateLimiter::Options o;
  o.clock = clock;
  o.sleep = [clock](absl::Duration d) { clock->Advance(d); };
  return o;
}

// The bytes written in (from, to]: samples are cumulative.
uint64_t BytesIn(const std::vector<Sample>& s, absl::Time from, absl::Time to) {
  uint64_t before = 0, upto = 0;
  for (const Sample& x : s) {
    if (x.time <= from) before = x.total;
    if (x.time <= to) upto = x.total;
  }
  return upto - before;
}

// The largest relative deviation from `bits_per_second` over every 10 s
// window ending at a sample in [from + 10 s, to].
double MaxDeviation(const std::vector<Sample>& s, absl::Time from, absl::Time to,
                    uint64_t bits_per_second) {
  double worst = 0;
  const double expected = static_cast<double>(bits_per_second) / 8.0 * 10.0;
  for (const Sample& x : s) {
    if (x.time < from + absl::Seconds(10) || x.time > to) continue;
    const double got = static_cast<double>(BytesIn(s, x.time - absl::Seconds(10), x.time));
    worst = std::max(worst, std::abs(got - expected) / expected);
  }
  return worst;
}

TEST(RateLimiter, ConstantLimitHoldsEveryTenSecondWindowWithinFivePercent) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const absl::Time start = clock.Now();
  auto limiter = std::make_shared<RateLimiter>(
      [](absl::Time) { return RateLimiter::Rate{50'000'000}; }, FakeOptions(&clock));
  std::vector<Sample> samples;
  auto stream = MakeThrottledStream(std::make_unique<RecordingStream>(&clock, &samples), {limiter});
  const std::string block(1 << 20, 'x');
  // 40 s at 50 Mbit/s = 250 MB.
  for (int i = 0; i < 240; ++i) ASSERT_OK(stream->WriteAll(block.data(), block.size()));
  const absl::Duration took = clock.Now() - start;
  EXPECT_GT(took, absl::Seconds(39));
  EXPECT_LT(took, absl::Seconds(41));
  EXPECT_LT(MaxDeviation(samples, start, clock.Now(), 50'000'000), 0.05);
  // Chunks are one burst (100 ms of rate) at most.
  uint64_t prev = 0, largest = 0;
  for (const Sample& x : samples) {
    largest = std::max(largest, x.total - prev);
    prev = x.total;
  }
  EXPECT_LE(largest, 50'000'000 / 8 / 10);
  EXPECT_EQ(limiter->bytes(), 240u << 20);
  // The first 10 s hold no more than 10 s of rate plus one burst.
  EXPECT_LE(BytesIn(samples, start - absl::Seconds(1), start + absl::Seconds(10)),
            static_cast<uint64_t>(50'000'000 / 8 * 10.1) + 1);
}

TEST(RateLimiter, ScheduleSwitchTakesEffectWithinASecondWhileWriting) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const absl::Time start = clock.Now();
  const absl::Time boundary = start + absl::Seconds(20);
  int evaluations = 0;
  auto limiter = std::make_shared<RateLimiter>(
      [&](absl::Time now) {
        ++evaluations;
        return RateLimiter::Rate{now < boundary ? 50'000'000u : 200'000'000u};
      },
      FakeOptions(&clock));
  std::vector<Sample> samples;
  auto stream = MakeThrottledStream(std::make_unique<RecordingStream>(&clock, &samples), {limiter});
  // One long write, as one disk's cycle: 20 s at 50 then 20 s at 200 Mbit/s.
  const std::string big(125'000'000 + 500'000'000, 'y');
  ASSERT_OK(stream->WriteAll(big.data(), big.size()));
  const absl::Duration took = clock.Now() - start;
  EXPECT_GT(took, absl::Seconds(39));
  EXPECT_LT(took, absl::Seconds(41.5));
  EXPECT_GE(evaluations, 39);  // at least once a second
  EXPECT_LT(MaxDeviation(samples, start, boundary, 50'000'000), 0.05);
  EXPECT_LT(MaxDeviation(samples, boundary + absl::Seconds(1), clock.Now(), 200'000'000), 0.05);
}

TEST(RateLimiter, ALowerLimitAppliesExactlyAtTheBoundaryItAnnounced) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const absl::Time start = clock.Now();
  const absl::Time boundary = start + absl::Seconds(15.5);
  auto limiter = std::make_shared<RateLimiter>(
      [&](absl::Time now) {
        return now < boundary ? RateLimiter::Rate{200'000'000, boundary}
                              : RateLimiter::Rate{50'000'000};
      },
      FakeOptions(&clock));
  std::vector<Sample> samples;
  auto stream = MakeThrottledStream(std::make_unique<RecordingStream>(&clock, &samples), {limiter});
  const std::string block(1 << 20, 'u');
  while (clock.Now() < boundary + absl::Seconds(20)) {
    ASSERT_OK(stream->WriteAll(block.data(), block.size()));
  }
  EXPECT_LT(MaxDeviation(samples, start, boundary, 200'000'000), 0.05);
  // Every 10 s window from the boundary on, the first included.
  EXPECT_LT(MaxDeviation(samples, boundary, clock.Now(), 50'000'000), 0.05);
}

TEST(RateLimiter, SiteLimitIsSharedAndAVmLimitAppliesToItsStreamOnly) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const absl::Time start = clock.Now();
  auto site = std::make_shared<RateLimiter>(
      [](absl::Time) { return RateLimiter::Rate{80'000'000}; }, FakeOptions(&clock));
  auto vm_b = std::make_shared<RateLimiter>(
      [](absl::Time) { return RateLimiter::Rate{16'000'000}; }, FakeOptions(&clock));
  std::vector<Sample> all, a_samples, b_samples;
  auto a = MakeThrottledStream(std::make_unique<RecordingStream>(&clock, &a_samples), {site});
  auto b = MakeThrottledStream(std::make_unique<RecordingStream>(&clock, &b_samples), {vm_b, site});
  const std::string block(256 << 10, 'z');
  uint64_t a_bytes = 0, b_bytes = 0;
  // Interleaved writes of both streams for 30 s.
  while (clock.Now() - start < absl::Seconds(30)) {
    ASSERT_OK(a->WriteAll(block.data(), block.size()));
    a_bytes += block.size();
    if (b_bytes * 5 < a_bytes) {  // B asks for a fifth of A's rate
      ASSERT_OK(b->WriteAll(block.data(), block.size()));
      b_bytes += block.size();
    }
  }
  const double seconds = absl::ToDoubleSeconds(clock.Now() - start);
  const double total_rate = static_cast<double>(a_bytes + b_bytes) * 8 / seconds;
  EXPECT_NEAR(total_rate, 80'000'000, 80'000'000 * 0.05);
  EXPECT_LE(static_cast<double>(b_bytes) * 8 / seconds, 16'000'000 * 1.05);
  EXPECT_EQ(site->bytes(), a_bytes + b_bytes);
  EXPECT_EQ(vm_b->bytes(), b_bytes);
}

TEST(RateLimiter, UnlimitedNeverWaitsAndLiftingALimitEndsTheWait) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  const absl::Time start = clock.Now();
  bool limited = true;
  auto limiter = std::make_shared<RateLimiter>(
      [&](absl::Time) { return RateLimiter::Rate{limited ? 1'000'000u : 0u}; },
      FakeOptions(&clock));
  std::vector<Sample> samples;
  auto stream = MakeThrottledStream(std::make_unique<RecordingStream>(&clock, &samples), {limiter});
  const std::string block(125'000, 'w');  // 1 s at 1 Mbit/s
  for (int i = 0; i < 5; ++i) ASSERT_OK(stream->WriteAll(block.data(), block.size()));
  EXPECT_GE(clock.Now() - start, absl::Seconds(4.8));
  limited = false;
  clock.Advance(absl::Seconds(1));  // the function is asked again
  const absl::Time lifted = clock.Now();
  const std::string big(100 << 20, 'v');
  ASSERT_OK(stream->WriteAll(big.data(), big.size()));
  EXPECT_EQ(clock.Now(), lifted);
  EXPECT_EQ(limiter->CurrentBitsPerSecond(), 0u);
  EXPECT_EQ(limiter->ChunkBytes(), SIZE_MAX);
}

TEST(RateLimiter, NoLimiterLeavesTheStreamAsItIs) {
  auto pair = MakeStreamPair();
  ASSERT_OK(pair);
  ByteStream* raw = pair->first.get();
  const std::string peer = raw->PeerDescription();
  std::unique_ptr<ByteStream> s = MakeThrottledStream(std::move(pair->first), {nullptr});
  EXPECT_EQ(s.get(), raw);
  EXPECT_EQ(s->PeerDescription(), peer);
}

TEST(ThrottledStream, CarriesEveryByteOverARealSocketPair) {
  auto pair = MakeStreamPair();
  ASSERT_OK(pair);
  // 8 Mbit/s: 1 MB goes out in about one second of real time.
  auto limiter =
      std::make_shared<RateLimiter>([](absl::Time) { return RateLimiter::Rate{8'000'000}; });
  auto a = MakeThrottledStream(std::move(pair->first), {limiter});
  std::string data(1'000'000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  std::string got(data.size(), '\0');
  absl::Status read;
  std::thread reader([&] { read = pair->second->ReadExactly(got.data(), got.size()); });
  ASSERT_OK(a->WriteAll(data.data(), data.size()));
  reader.join();
  ASSERT_OK(read);
  EXPECT_EQ(got, data);
  EXPECT_NE(a->PeerDescription().find("socketpair"), std::string::npos);
  ASSERT_OK(a->Close());
}

}  // namespace
}  // namespace asr::net
