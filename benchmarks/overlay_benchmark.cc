// benchmarks/overlay_benchmark.cc: what making a view of a recovery point
// costs (asr/replication/replica_overlay.h), for a 64 GiB dynamic replica
// holding 1 GiB of data against a 1 GiB replica holding the same amount.
//
//   bazel run --config=opt //benchmarks:overlay_benchmark -- [--benchmark_repetitions=5]
//   ASR_BENCH_DIR=/var/tmp/x bazel run ...   (default /var/tmp/asr-overlay-bench)
//
// Setup, once per replica size (not timed): a source disk with 1 GiB of
// data (16 MiB every 1 GiB of the 64 GiB disk; all of the 1 GiB disk) is
// replicated (initial cycle, point 1), then 16 MiB of it, in 256 blocks of
// 64 KiB spread over the data, is changed and sent (scan cycle, point 2).
// Timed, per iteration: CreateOverlay of point 1 (the first view also
// freezes the replica: a hard link, a new differencing disk, two state
// saves) and, untimed, DeleteOverlay (the merge back: nothing was
// replicated meanwhile). Counters: bytes written into the view (the 16 MiB
// of point 1's reverse delta), the replica's virtual size. The goal: the
// same time for both sizes within noise, under a second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/net/stream.h"
#include "asr/replication/manifest.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_overlay.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/sender.h"

namespace asr::replication {
namespace {

constexpr char kWriter[] = "bench-primary";
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1ull << 30;

void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

std::string BenchDir() {
  const char* d = std::getenv("ASR_BENCH_DIR");
  return d != nullptr && *d != '\0' ? d : "/var/tmp/asr-overlay-bench";
}

// Deterministic incompressible-enough bytes.
void Fill(std::vector<uint8_t>& buf, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(buf.data() + i, &x, 8);
  }
}

// One cycle of `src` into `store` over a socket pair (the receiver on its
// own thread, the peer named as the writer).
void Cycle(const std::string& src, CycleMode mode, ReplicaStore& store) {
  auto pair = net::MakeStreamPair();
  if (!pair.ok()) Die("socket pair", pair.status());
  std::shared_ptr<net::ByteStream> theirs = std::move(pair->second);
  std::thread receiver([&store, theirs] {
    struct Named : net::ByteStream {
      explicit Named(net::ByteStream& s) : s(s) {}
      absl::Status WriteAll(const void* d, size_t n) override { return s.WriteAll(d, n); }
      absl::Status ReadExactly(void* o, size_t n) override { return s.ReadExactly(o, n); }
      absl::StatusOr<size_t> ReadSome(void* o, size_t n) override { return s.ReadSome(o, n); }
      absl::Status Close() override { return s.Close(); }
      std::string PeerDescription() const override { return "sender"; }
      std::string PeerIdentity() const override { return kWriter; }
      net::ByteStream& s;
    } named(*theirs);
    (void)ServeConnection(named, store, {});
    (void)theirs->Close();
  });
  SendOptions o;
  o.use_tracker_file = false;
  auto st = ReplicateDisk(src, mode, *pair->first, o);
  (void)pair->first->Close();
  receiver.join();
  if (!st.ok()) Die("cycle of " + src, st.status());
}

// The replica directory for a disk of `size` bytes, made once.
const std::string& Replica(uint64_t size) {
  static auto* made = new std::map<uint64_t, std::string>();
  auto it = made->find(size);
  if (it != made->end()) return it->second;
  const std::string base = JoinPath(BenchDir(), absl::StrCat(size / kGiB, "g"));
  (void)RemoveTree(base);
  if (absl::Status s = MakeDirectories(base); !s.ok()) Die(base, s);
  const std::string src = JoinPath(base, "source.vhdx");
  const std::string dir = JoinPath(base, "replica");
  disk::CreateOptions co;
  co.virtual_size = size;
  co.block_size = 32 * kMiB;
  {
    auto d = disk::CreateDisk(src, co);
    if (!d.ok()) Die(src, d.status());
    // 1 GiB of data: 64 pieces of 16 MiB, spread evenly over the disk.
    const uint64_t stride = size / 64;
    std::vector<uint8_t> buf(16 * kMiB);
    for (uint64_t i = 0; i < 64; ++i) {
      Fill(buf, i + 1);
      if (absl::Status s = (*d)->WriteAt(i * stride, absl::MakeConstSpan(buf)); !s.ok()) {
        Die(src, s);
      }
    }
    if (absl::Status s = (*d)->Close(); !s.ok()) Die(src, s);
  }
  ReplicaOptions ro;
  ro.writer = kWriter;
  ro.additional_points = 2;
  ro.point_interval = absl::ZeroDuration();
  auto store = ReplicaStore::Open(dir, ro);
  if (!store.ok()) Die(dir, store.status());
  Cycle(src, CycleMode::kInitial, **store);
  {
    // 16 MiB changed: 4 blocks of 64 KiB in each of the 64 pieces.
    auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
    if (!d.ok()) Die(src, d.status());
    const uint64_t stride = size / 64;
    std::vector<uint8_t> buf(64 << 10);
    for (uint64_t i = 0; i < 64; ++i) {
      for (uint64_t j = 0; j < 4; ++j) {
        Fill(buf, 1000 + i * 4 + j);
        if (absl::Status s = (*d)->WriteAt(i * stride + j * 4 * kMiB, absl::MakeConstSpan(buf));
            !s.ok()) {
          Die(src, s);
        }
      }
    }
    if (absl::Status s = (*d)->Close(); !s.ok()) Die(src, s);
  }
  Cycle(src, CycleMode::kScan, **store);
  return made->emplace(size, dir).first->second;
}

void BM_CreateView(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0)) * kGiB;
  const uint64_t point = static_cast<uint64_t>(state.range(1));
  const std::string& dir = Replica(size);
  uint64_t bytes = 0;
  for (auto _ : state) {
    auto v = CreateOverlay(dir, {"bench", point, ""});
    if (!v.ok()) Die("CreateOverlay", v.status());
    bytes = v->bytes_written;
    state.PauseTiming();
    if (absl::Status s = DeleteOverlay(dir, "bench"); !s.ok()) Die("DeleteOverlay", s);
    state.ResumeTiming();
  }
  state.counters["view_bytes"] = static_cast<double>(bytes);
  state.counters["virtual_GiB"] = static_cast<double>(size / kGiB);
}

// {virtual size in GiB, point}: point 1 is the older one (16 MiB of
// reverse delta); point 0 the latest (the view holds nothing).
BENCHMARK(BM_CreateView)
    ->Args({1, 1})
    ->Args({64, 1})
    ->Args({1, 0})
    ->Args({64, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace asr::replication
