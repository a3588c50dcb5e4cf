// Virtual-disk read speed: sequential reads of a dynamic VHDX (the
// replicator's initial copy) and the allocation map of a sparse 64 GiB VHDX.
//
//   bazel run -c opt //benchmarks:disk_read_benchmark
#include <cstdlib>
#include <string>
#include <vector>

#include "asr/disk/virtual_disk.h"
#include "benchmark/benchmark.h"

namespace {

using asr::disk::CreateDisk;
using asr::disk::CreateOptions;
using asr::disk::DiskFormat;
using asr::disk::OpenDisk;
using asr::disk::OpenMode;

std::string Dir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t ? t : "/tmp";
}

// A 256 MiB dynamic VHDX, every block written (created once).
const std::string& FilledVhdx() {
  static const std::string* path = [] {
    auto* p = new std::string(Dir() + "/asr_bench_filled.vhdx");
    CreateOptions o;
    o.format = DiskFormat::kVhdx;
    o.virtual_size = 256u << 20;
    o.block_size = 32u << 20;
    o.overwrite = true;
    auto d = CreateDisk(*p, o);
    if (!d.ok()) std::abort();
    std::vector<uint8_t> buf(8u << 20);
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 7 + 1);
    for (uint64_t off = 0; off < o.virtual_size; off += buf.size()) {
      if (!(*d)->WriteAt(off, buf).ok()) std::abort();
    }
    if (!(*d)->Close().ok()) std::abort();
    return p;
  }();
  return *path;
}

void BM_SequentialRead(benchmark::State& state) {
  auto d = OpenDisk(FilledVhdx(), OpenMode::kReadOnly);
  if (!d.ok()) std::abort();
  std::vector<uint8_t> buf(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    for (uint64_t off = 0; off < (*d)->virtual_size(); off += buf.size()) {
      if (!(*d)->ReadAt(off, absl::MakeSpan(buf)).ok()) std::abort();
    }
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (*d)->virtual_size()));
}
BENCHMARK(BM_SequentialRead)->Arg(1 << 20)->Arg(8 << 20)->Arg(32 << 20);

void BM_AllocationMapSparse64G(benchmark::State& state) {
  std::string path = Dir() + "/asr_bench_sparse.vhdx";
  CreateOptions o;
  o.format = DiskFormat::kVhdx;
  o.virtual_size = 64ull << 30;
  o.block_size = static_cast<uint32_t>(state.range(0));
  o.overwrite = true;
  {
    auto d = CreateDisk(path, o);
    if (!d.ok()) std::abort();
    std::vector<uint8_t> buf(4096, 0x5A);
    for (uint64_t off = 0; off < o.virtual_size; off += 1ull << 30) {
      if (!(*d)->WriteAt(off, buf).ok()) std::abort();
    }
  }
  auto d = OpenDisk(path, OpenMode::kReadOnly);
  if (!d.ok()) std::abort();
  for (auto _ : state) {
    auto map = (*d)->GetAllocationMap(0, (*d)->virtual_size());
    if (!map.ok()) std::abort();
    benchmark::DoNotOptimize(map->size());
  }
}
BENCHMARK(BM_AllocationMapSparse64G)->Arg(1 << 20)->Arg(32 << 20)->Unit(benchmark::kMicrosecond);

}  // namespace
