// asr/failover/fake_item_failover.h: a per-VM failover for recovery plan
// tests. It keeps each VM's power on both sides (source, target, test VM)
// in a small file per VM, so that the state survives a killed process, runs
// each operation as steps through the plan's StepRunner, records every call
// with its times and how many ran at once, and injects failures and delays.
//
//   FakeItemFailover fake(TestPath("fake"));
//   fake.SetStepDelay(absl::Milliseconds(20));
//   fake.FailNext("pi-vm3", "start-target", absl::UnavailableError("host down"));
//   sr->recovery_plans().SetItemFailover(&fake);
//   ... run the plan ...
//   EXPECT_FALSE(fake.EverRanOnBothSides({"pi-vm1", "pi-vm3"}));
//   EXPECT_TRUE(fake.Power("pi-vm1").target_running);
//
// Operations and their steps (each idempotent: a step that finds its work
// done does nothing, so a restarted plan continues where it stopped):
//   PlannedFailover   shutdown-source, sync, start-target
//   UnplannedFailover [shutdown-source when perform_source_side_action],
//                     source-lost (the disaster: the source is down), start-target
//   TestFailover      create-test-vm, start-test-vm
//   TestFailoverCleanup  delete-test-vm
//   Commit            commit
//   CancelFailover    stop-target, start-source
//   ReverseReplicate  reverse
//   Failback          shutdown-target, sync, start-source
// start-target refuses while the source runs (and start-source while the
// target runs): the invariant "no VM runs on both sides" is the fake's to
// keep, and EverRanOnBothSides() reports whether it ever broke.
//
// Thread safety: thread-safe.
#ifndef ASR_FAILOVER_FAKE_ITEM_FAILOVER_H_
#define ASR_FAILOVER_FAKE_ITEM_FAILOVER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "asr/failover/item_failover.h"

namespace asr::failover {

struct FakeVmPower {
  bool source_running = true;
  bool target_running = false;
  bool test_running = false;
  bool committed = false;
  bool both_seen = false;  // source and target ever ran at once
};

class FakeItemFailover : public ItemFailover {
 public:
  struct Call {
    std::string operation;
    FailoverInput input;
    absl::Time start, end;
    absl::Status result;
  };

  // `state_dir`: where each VM's power is kept ("" keeps it in memory).
  explicit FakeItemFailover(std::string state_dir = "");

  absl::Status RunItemOperation(absl::string_view operation, const FailoverInput& input,
                                const StepRunner& steps) override;

  // Every step sleeps this long.
  void SetStepDelay(absl::Duration d);
  // The next `times` runs of step `step` of `item` fail with `status`.
  void FailNext(const std::string& item, const std::string& step, absl::Status status,
                int times = 1);

  std::vector<Call> calls() const;
  int calls_of(const std::string& item) const;
  int max_concurrent() const;
  FakeVmPower Power(const std::string& item) const;
  // Whether the source and target of any of `items` ever ran at once.
  bool EverRanOnBothSides(const std::vector<std::string>& items) const;

 private:
  absl::Status Step(const StepRunner& steps, const std::string& item, absl::string_view id,
                    absl::string_view name, const std::function<absl::Status(FakeVmPower&)>& fn);
  FakeVmPower Load(const std::string& item) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Store(const std::string& item, const FakeVmPower& p)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string dir_;
  mutable absl::Mutex mu_;
  absl::Duration delay_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, FakeVmPower> memory_ ABSL_GUARDED_BY(mu_);
  struct Failure {
    absl::Status status;
    int times = 0;
  };
  std::map<std::pair<std::string, std::string>, Failure> failures_ ABSL_GUARDED_BY(mu_);
  std::vector<Call> calls_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  int max_running_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace asr::failover

#endif  // ASR_FAILOVER_FAKE_ITEM_FAILOVER_H_
