// benchmarks/test_failover_benchmark.cc: what starting a test failover of a
// protected VM costs, the whole job (asr/failover/failover_service.h: check
// the item, choose the point, make a view of each disk, create the test VM
// on the replica's host, connect it, start it, record it), for a VM whose
// two disks are 64 GiB dynamic VHDX holding 1 GiB of data in all, against
// one whose disks are 1 GiB holding the same amount.
//
//   bazel run --config=opt //benchmarks:test_failover_benchmark -- [--benchmark_repetitions=5]
//   ASR_BENCH_DIR=/var/tmp/x bazel run ...   (default /var/tmp/asr-test-failover-bench)
//
// Setup, once per disk size (not timed): the New York / Chicago simulated
// fabric (protection::TestSite), VM1 written with 512 MiB per disk (32
// extents of 16 MiB spread over the disk), protected (initial replication
// over loopback TLS), 16 MiB more written and replicated (a second point).
// Timed, per iteration: the TestFailover job from LatestAvailable with no
// network, until it returns Succeeded (the test VM runs). Untimed: its
// cleanup job. The goal (issue "Failover"): the same within noise for both
// sizes, under one second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/failover/failover_service.h"
#include "asr/protection/test_site.h"

namespace asr::failover {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1ull << 30;

void Die(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

std::string BenchDir() {
  const char* d = std::getenv("ASR_BENCH_DIR");
  return d != nullptr && *d != '\0' ? d : "/var/tmp/asr-test-failover-bench";
}

struct Site {
  std::unique_ptr<protection::TestSite> site;
  std::unique_ptr<protection::SiteService> service;
};

// A protected VM1 with 1 GiB of data on disks of `disk_size`, kept for the
// process (setup once per size).
protection::TestSite& SiteOf(uint64_t disk_size) {
  static auto* sites = new std::map<uint64_t, Site>();
  auto it = sites->find(disk_size);
  if (it != sites->end()) return *it->second.site;
  const std::string root = absl::StrCat(BenchDir(), "/", disk_size / kGiB, "g");
  (void)RemoveTree(root);
  protection::TestSiteOptions o;
  o.disk_size_bytes = disk_size;
  absl::StatusOr<std::unique_ptr<protection::TestSite>> site =
      protection::TestSite::Create(root, o);
  if (!site.ok()) Die("test site", site.status());
  protection::SiteServiceOptions so;
  so.threads = false;
  absl::StatusOr<std::unique_ptr<protection::SiteService>> service = (*site)->StartService(so);
  if (!service.ok()) Die("site service", service.status());
  fabric::SimulatedFabric& fab = (*site)->fabric();
  const uint64_t extent = 16 * kMiB;
  const uint64_t stride = disk_size / 32;
  for (const char* disk : {"vm1-d0", "vm1-d1"}) {
    for (uint64_t k = 0; k < 32; ++k) {
      absl::Status s = fab.GuestWrite("vm1", disk, k * stride, extent, k + 1);
      if (!s.ok()) Die("guest write", s);
    }
  }
  protection::EnableRequest e;
  e.vm_ref = "VM1";
  absl::StatusOr<model::Job> job = (*site)->sr().protection().EnableProtection(e);
  if (!job.ok()) Die("enable protection", job.status());
  for (uint64_t k = 0; k < 16; ++k) {
    absl::Status s = fab.GuestWrite("vm1", "vm1-d0", k * stride + kMiB, kMiB, 100 + k);
    if (!s.ok()) Die("guest write", s);
  }
  absl::StatusOr<model::CycleOutcome> c = (*site)->sr().protection().ReplicateNow("VM1", {});
  if (!c.ok()) Die("cycle", c.status());
  protection::TestSite& ref = **site;
  (*sites)[disk_size] = Site{std::move(*site), std::move(*service)};
  return ref;
}

void BM_TestFailoverStart(benchmark::State& state) {
  const uint64_t disk_size = static_cast<uint64_t>(state.range(0)) * kGiB;
  protection::TestSite& site = SiteOf(disk_size);
  FailoverService& failover = site.sr().failover();
  FailoverInput in;
  in.item_ref = "VM1";
  in.direction = "PrimaryToRecovery";
  in.recovery_tag = "LatestAvailable";
  in.network_type = "None";
  for (auto _ : state) {
    absl::StatusOr<model::Job> job = failover.Start(kTestFailover, in);
    if (!job.ok() || job->state() != model::Succeeded) {
      Die("test failover",
          job.ok() ? absl::InternalError(model::JobState_Name(job->state())) : job.status());
    }
    state.PauseTiming();
    absl::StatusOr<model::Job> cleanup = failover.Start(kTestFailoverCleanup, in);
    if (!cleanup.ok()) Die("cleanup", cleanup.status());
    state.ResumeTiming();
  }
  state.counters["disk_GiB"] = static_cast<double>(state.range(0));
  state.counters["data_GiB"] = 1;
}
BENCHMARK(BM_TestFailoverStart)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace asr::failover
