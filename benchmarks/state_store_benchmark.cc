// The state store's backends side by side: the embedded journal store (a
// state directory, fsync'd journal), PostgreSQL on this machine, and
// PostgreSQL with a synchronous streaming standby (a second server on this
// machine: a commit returns once the standby flushed it). The servers are
// real, started by the benchmark (store/testing/pg_server.h), fsync on.
//
//   BM_Commit/<backend>/threads:N   one control-plane write (a 600-byte job
//                                   record) per Commit, durable when it
//                                   returns; N threads share one store
//   BM_Protect10kVms/<backend>      10,000 protected items written through
//                                   the object repository, one commit each
//                                   (the state that protecting 10,000 VMs
//                                   leaves; the fabric is not involved), then
//                                   the state reopened; counters: the
//                                   reopen's time and the bytes the state
//                                   takes (directory, or table + indexes)
//
// Run: bazel run --config=opt //benchmarks:state_store_benchmark
// (directories under $ASR_BENCH_DIR, default /tmp).
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/model/protection.pb.h"
#include "asr/platform/env.h"
#include "asr/repository/object_repository.h"
#include "asr/store/open_store.h"
#include "asr/store/testing/pg_server.h"
#include "benchmark/benchmark.h"

namespace asr {
namespace {

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("ASR_BENCH_DIR");
  std::string dir = JoinPath(base != nullptr ? base : "/tmp",
                             absl::StrCat("asr-store-bench-", platform::ProcessId(), "-", name));
  return dir;
}

struct Backend {
  std::string name;
  store::testing::PgServer* server = nullptr;  // null: the journal store
  int next = 0;

  // A fresh, empty state location.
  std::string NewLocation(const std::string& what) {
    std::string n = absl::StrCat(what, next++);
    if (server == nullptr) return BenchDir(absl::StrCat(name, "-", n));
    absl::Status s = server->CreateDatabase(n);
    if (!s.ok()) std::cerr << s << "\n";
    return server->Uri(n);
  }

  // The bytes a state takes.
  int64_t Bytes(const std::string& location, const std::string& db) const {
    if (server == nullptr) {
      int64_t total = 0;
      auto names = platform::Env::Default()->ListDirectory(location);
      if (!names.ok()) return -1;
      for (const std::string& f : *names) {
        auto content = ReadFileToString(JoinPath(location, f));
        if (content.ok()) total += static_cast<int64_t>(content->size());
      }
      return total;
    }
    absl::StatusOr<std::string> out = server->Query(
        "SELECT pg_total_relation_size('asr_state') + pg_total_relation_size('asr_lease')", db);
    int64_t bytes = -1;
    if (out.ok()) (void)absl::SimpleAtoi(*out, &bytes);
    return bytes;
  }
};

void BM_Commit(benchmark::State& state, Backend* backend, store::StateStore* store) {
  const std::string value(600, 'j');
  int64_t i = state.thread_index() * 1000000;
  for (auto _ : state) {
    store::WriteBatch b;
    b.Put(absl::StrCat("obj/job/", state.thread_index(), "-", i++ % 1000), value);
    absl::Status s = store->Commit(b);
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

model::ProtectedItem Item(int i) {
  model::ProtectedItem item;
  item.set_id(absl::StrCat("pi-vm", i));
  item.set_vm_id(absl::StrCat("vm", i));
  item.set_vm_name(absl::StrCat("VM", i));
  item.set_pairing_id("pair-gold");
  item.set_policy_id("gold");
  item.set_protection_state(model::Protected);
  item.set_primary_host_id("hv-ny-01");
  item.set_replica_host_id("hv-chi-01");
  return item;
}

void BM_Protect10kVms(benchmark::State& state, Backend* backend) {
  constexpr int kVms = 10000;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string location = backend->NewLocation("vms");
    std::string db = location.substr(location.rfind('/') + 1);
    db = db.substr(0, db.find('?'));
    state.ResumeTiming();
    {
      auto repo = repository::ObjectRepository::Open(location, {});
      if (!repo.ok()) {
        state.SkipWithError(std::string(repo.status().message()).c_str());
        return;
      }
      for (int i = 1; i <= kVms; ++i) {
        absl::Status s = (*repo)->Put(Item(i));
        if (!s.ok()) {
          state.SkipWithError(std::string(s.message()).c_str());
          return;
        }
      }
      (void)(*repo)->store().Compact();
    }
    state.PauseTiming();
    absl::Time start = absl::Now();
    repository::RepositoryOptions ro;
    ro.read_only = true;
    auto again = repository::ObjectRepository::Open(location, ro);
    const double open_s = absl::ToDoubleSeconds(absl::Now() - start);
    if (!again.ok() || (*again)->store().Scan("obj/protected-item/").size() != kVms) {
      state.SkipWithError("the reopened state does not hold the 10,000 items");
      return;
    }
    state.counters["reopen_s"] = open_s;
    state.counters["state_bytes"] = static_cast<double>(backend->Bytes(location, db));
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kVms);
}

}  // namespace
}  // namespace asr

int main(int argc, char** argv) {
  using asr::store::testing::PgServer;
  benchmark::Initialize(&argc, argv);
  auto local = PgServer::StartPrimary("local");
  auto sync_primary = PgServer::StartPrimary("sync");
  if (!local.ok() || !sync_primary.ok()) {
    std::cerr << "cannot start PostgreSQL: "
              << (local.ok() ? sync_primary.status() : local.status()) << "\n";
    return 1;
  }
  auto standby = (*sync_primary)->StartStandby("sync-standby");
  absl::Status sync =
      standby.ok() ? (*sync_primary)->RequireSynchronousStandby() : standby.status();
  if (!sync.ok()) {
    std::cerr << "cannot set up the synchronous standby: " << sync << "\n";
    return 1;
  }
  asr::Backend backends[] = {{"embedded", nullptr},
                             {"postgresql-local", local->get()},
                             {"postgresql-sync-standby", sync_primary->get()}};
  std::vector<std::unique_ptr<asr::store::StateStore>> stores;
  for (asr::Backend& b : backends) {
    auto s = asr::store::OpenStateStore(b.NewLocation("commit"), {});
    if (!s.ok()) {
      std::cerr << b.name << ": " << s.status() << "\n";
      return 1;
    }
    stores.push_back(std::move(*s));
    benchmark::RegisterBenchmark(absl::StrCat("BM_Commit/", b.name).c_str(), asr::BM_Commit, &b,
                                 stores.back().get())
        ->Threads(1)
        ->Threads(4)
        ->UseRealTime();
  }
  for (asr::Backend& b : backends) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_Protect10kVms/", b.name).c_str(),
                                 asr::BM_Protect10kVms, &b)
        ->Iterations(1)
        ->Unit(benchmark::kSecond)
        ->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  stores.clear();
  standby->reset();
  return 0;
}
