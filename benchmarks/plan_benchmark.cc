// A 100-VM recovery plan's planned failover: three Boot groups (34, 33 and
// 33 VMs), an end script action per group (a real process on the simulated
// fabric's hosts), the per-VM failover a fake whose steps take `step_ms`
// each (0: the orchestration alone). The state is a real state directory
// (snapshot + fsync'd journal). Where the wall time goes:
//   persist_s   time inside the store's Commit (every task's start and end
//               is one durable write of the job)
//   actions_s   time inside the host's RunScript
//   vm_ops_s    what the fake's steps slept, per group the longest VM
//               (the VMs of a group run in parallel)
//   other_s     the rest: threads, job bookkeeping, reading items
// Run: bazel run --config=opt //benchmarks:plan_benchmark (state under
// $ASR_BENCH_DIR, default /tmp, removed first).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/common/file_util.h"
#include "asr/failover/fake_item_failover.h"
#include "asr/failover/plan_test_site.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/repository/object_repository.h"
#include "asr/store/journal_store.h"
#include "benchmark/benchmark.h"

namespace asr {
namespace {

constexpr int kVms = 100;

// Times every Commit of the store below.
class TimingStore : public store::StateStore {
 public:
  explicit TimingStore(std::unique_ptr<store::StateStore> s) : s_(std::move(s)) {}
  absl::StatusOr<std::string> Get(absl::string_view key) const override { return s_->Get(key); }
  std::vector<std::pair<std::string, std::string>> Scan(absl::string_view prefix) const override {
    return s_->Scan(prefix);
  }
  absl::Status Commit(const store::WriteBatch& batch) override {
    absl::Time start = absl::Now();
    absl::Status st = s_->Commit(batch);
    nanos += absl::ToInt64Nanoseconds(absl::Now() - start);
    ++commits;
    return st;
  }
  absl::Status Compact() override { return s_->Compact(); }
  bool read_only() const override { return s_->read_only(); }

  std::atomic<int64_t> nanos{0};
  std::atomic<int64_t> commits{0};

 private:
  std::unique_ptr<store::StateStore> s_;
};

// The fabric's host side, timing RunScript.
class TimingHost : public fabric::HostCallbacks {
 public:
  explicit TimingHost(fabric::SimulatedFabric* f) : f_(f) {}
  absl::StatusOr<model::Inventory> GetInventory(const model::VmmServer& s) override {
    return f_->GetInventory(s);
  }
  absl::Status ConfigureHost(const model::HyperVHost& h, const model::ReplicationPolicy& p,
                             fabric::HostRole r) override {
    return f_->ConfigureHost(h, p, r);
  }
  absl::Status TestProxy(const model::VmmServer& s, absl::string_view pw) override {
    return f_->TestProxy(s, pw);
  }
  absl::StatusOr<model::ScriptResult> RunScript(const model::ScriptRequest& r) override {
    absl::Time start = absl::Now();
    auto result = f_->RunScript(r);
    nanos += absl::ToInt64Nanoseconds(absl::Now() - start);
    return result;
  }
  std::atomic<int64_t> nanos{0};

 private:
  fabric::SimulatedFabric* f_;
};

void Check(const absl::Status& s) {
  if (!s.ok()) {
    fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    abort();
  }
}

void BM_PlanPlannedFailover(benchmark::State& state) {
  const int step_ms = static_cast<int>(state.range(0));
  const bool actions = state.range(1) != 0;
  double wall = 0, persist = 0, scripts = 0, commits = 0, tasks = 0;
  int runs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const char* base = std::getenv("ASR_BENCH_DIR");
    const std::string root =
        JoinPath(base != nullptr ? base : "/tmp", absl::StrCat("asr-plan-bench-", runs));
    Check(RemoveTree(root));
    auto site = failover::PlanTestSite::Create(root, kVms);
    Check(site.status());
    model::RecoveryPlanCreateRequest c;
    c.set_name("bench");
    c.set_boot_groups(3);
    for (int i = 1; i <= kVms; ++i) c.add_items(failover::PlanTestSite::VmName(i));
    Check((*site)->sr().recovery_plans().Create(c).status());
    const std::string script = JoinPath(root, "action.sh");
    Check(WriteFileAtomically(script, "#!/bin/sh\nexit 0\n", 0755));
    for (int g = 1; g <= 3; ++g) {
      if (g > 1) {
        model::RecoveryPlanEdit move;
        move.set_operation("MoveProtectedItems");
        move.set_to_group(absl::StrCat(g));
        for (int i = (g - 1) * kVms / 3 + 2; i <= g * kVms / 3 + 1 && i <= kVms; ++i) {
          move.add_items(failover::PlanTestSite::VmName(i));
        }
        Check((*site)->sr().recovery_plans().Edit("bench", move).status());
      }
      if (!actions) continue;
      model::RecoveryPlanEdit e;
      e.set_operation("AddAction");
      e.set_group(absl::StrCat(g));
      e.set_placement("End");
      model::RecoveryPlanAction* a = e.mutable_action();
      a->set_action_name(absl::StrCat("after-", g));
      a->add_failover_types("PlannedFailover");
      a->add_failover_directions("PrimaryToRecovery");
      a->mutable_script()->set_path(script);
      a->mutable_script()->set_fabric_location(model::Recovery);
      Check((*site)->sr().recovery_plans().Edit("bench", e).status());
    }
    (*site)->Close();
    store::JournalStoreOptions so;
    so.create_if_missing = false;
    auto js = store::OpenJournalStore((*site)->state_dir(), so);
    Check(js.status());
    auto timing = std::make_unique<TimingStore>(*std::move(js));
    TimingStore* store = timing.get();
    TimingHost host(&(*site)->fabric());
    SiteRecoveryOptions o;
    o.host = &host;
    auto sr = SiteRecovery::Create(
        std::make_unique<repository::ObjectRepository>(std::move(timing), (*site)->state_dir()), o);
    Check(sr.status());
    failover::FakeItemFailover fake;
    fake.SetStepDelay(absl::Milliseconds(step_ms));
    (*sr)->recovery_plans().SetItemFailover(&fake);
    model::RecoveryPlanRunRequest r;
    r.set_operation("PlannedFailover");
    r.set_max_parallel(64);
    const int64_t persist0 = store->nanos, commits0 = store->commits;
    state.ResumeTiming();

    absl::Time start = absl::Now();
    absl::StatusOr<model::Job> job = (*sr)->recovery_plans().Run("bench", r);
    wall += absl::ToDoubleSeconds(absl::Now() - start);

    state.PauseTiming();
    Check(job.status());
    if (job->state() != model::Succeeded) Check(absl::InternalError("the plan did not succeed"));
    persist += (store->nanos - persist0) / 1e9;
    commits += static_cast<double>(store->commits - commits0);
    scripts += host.nanos / 1e9;
    tasks += job->tasks_size();
    ++runs;
    sr->reset();
    state.ResumeTiming();
  }
  const double vm_ops = 3 /*groups*/ * 3 /*steps*/ * step_ms / 1e3;
  state.counters["wall_s"] = wall / runs;
  state.counters["persist_s"] = persist / runs;
  state.counters["actions_s"] = scripts / runs;
  state.counters["vm_ops_s"] = vm_ops;
  state.counters["other_s"] = (wall - persist - scripts) / runs - vm_ops;
  state.counters["commits"] = commits / runs;
  state.counters["tasks"] = tasks / runs;
}

BENCHMARK(BM_PlanPlannedFailover)
    ->ArgNames({"step_ms", "actions"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({100, 1})
    ->Iterations(2)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace asr
