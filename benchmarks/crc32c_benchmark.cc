// CRC-32C throughput (asr::Crc32c) over one buffer of each size, the way the
// replicator checks frames and the state store its records.
//
//   bazel run --config=opt //benchmarks:crc32c_benchmark
//
// Bytes per second is the figure to compare; the buffer stays in the CPU
// cache from one iteration to the next.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "asr/common/crc32c.h"
#include "benchmark/benchmark.h"

namespace {

std::vector<uint8_t> Data(size_t size) {
  std::vector<uint8_t> data(size);
  uint64_t x = 0x9E3779B97F4A7C15u;
  for (auto& b : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  return data;
}

void BM_Crc32c(benchmark::State& state) {
  const std::vector<uint8_t> data = Data(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(asr::Crc32c(data.data(), data.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32c)->Arg(64)->Arg(512)->Arg(4 << 10)->Arg(16 << 10)->Arg(64 << 10)->Arg(1 << 20);

// A buffer that does not start on an 8-byte boundary.
void BM_Crc32cUnaligned(benchmark::State& state) {
  const std::vector<uint8_t> data = Data(static_cast<size_t>(state.range(0)) + 3);
  for (auto _ : state) {
    benchmark::DoNotOptimize(asr::Crc32c(data.data() + 3, data.size() - 3));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32cUnaligned)->Arg(64 << 10)->Arg(1 << 20);

}  // namespace
