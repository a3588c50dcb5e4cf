#include "asr/failover/fake_item_failover.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"

namespace asr::failover {

FakeItemFailover::FakeItemFailover(std::string state_dir)
    : dir_(std::move(state_dir)), delay_(absl::ZeroDuration()) {}

void FakeItemFailover::SetStepDelay(absl::Duration d) {
  absl::MutexLock l(&mu_);
  delay_ = d;
}

void FakeItemFailover::FailNext(const std::string& item, const std::string& step,
                                absl::Status status, int times) {
  absl::MutexLock l(&mu_);
  failures_[{item, step}] = Failure{std::move(status), times};
}

std::vector<FakeItemFailover::Call> FakeItemFailover::calls() const {
  absl::MutexLock l(&mu_);
  return calls_;
}

int FakeItemFailover::calls_of(const std::string& item) const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(std::count_if(calls_.begin(), calls_.end(),
                                        [&](const Call& c) { return c.input.item_ref == item; }));
}

int FakeItemFailover::max_concurrent() const {
  absl::MutexLock l(&mu_);
  return max_running_;
}

FakeVmPower FakeItemFailover::Power(const std::string& item) const {
  absl::MutexLock l(&mu_);
  return Load(item);
}

bool FakeItemFailover::EverRanOnBothSides(const std::vector<std::string>& items) const {
  absl::MutexLock l(&mu_);
  for (const std::string& item : items) {
    if (Load(item).both_seen) return true;
  }
  return false;
}

FakeVmPower FakeItemFailover::Load(const std::string& item) const {
  if (dir_.empty()) {
    auto it = memory_.find(item);
    return it == memory_.end() ? FakeVmPower{} : it->second;
  }
  FakeVmPower p;
  absl::StatusOr<std::string> text = ReadFileToString(JoinPath(dir_, item + ".power"));
  if (!text.ok()) return p;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, '=');
    bool v = kv.second == "1";
    if (kv.first == "source") p.source_running = v;
    if (kv.first == "target") p.target_running = v;
    if (kv.first == "test") p.test_running = v;
    if (kv.first == "committed") p.committed = v;
    if (kv.first == "both") p.both_seen = v;
  }
  return p;
}

absl::Status FakeItemFailover::Store(const std::string& item, const FakeVmPower& p) {
  if (dir_.empty()) {
    memory_[item] = p;
    return absl::OkStatus();
  }
  ASR_RETURN_IF_ERROR(MakeDirectories(dir_));
  return WriteFileAtomically(
      JoinPath(dir_, item + ".power"),
      absl::StrCat("source=", p.source_running ? 1 : 0, "\ntarget=", p.target_running ? 1 : 0,
                   "\ntest=", p.test_running ? 1 : 0, "\ncommitted=", p.committed ? 1 : 0,
                   "\nboth=", p.both_seen ? 1 : 0, "\n"));
}

absl::Status FakeItemFailover::Step(const StepRunner& steps, const std::string& item,
                                    absl::string_view id, absl::string_view name,
                                    const std::function<absl::Status(FakeVmPower&)>& fn) {
  auto body = [&]() -> absl::Status {
    absl::Duration delay;
    {
      absl::MutexLock l(&mu_);
      delay = delay_;
      auto f = failures_.find({item, std::string(id)});
      if (f != failures_.end() && f->second.times > 0) {
        --f->second.times;
        return f->second.status;
      }
    }
    if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
    absl::MutexLock l(&mu_);
    FakeVmPower p = Load(item);
    ASR_RETURN_IF_ERROR(fn(p));
    if (p.source_running && p.target_running) p.both_seen = true;
    return Store(item, p);
  };
  if (steps) return steps(id, name, body);
  return body();
}

absl::Status FakeItemFailover::RunItemOperation(absl::string_view operation,
                                                const FailoverInput& input,
                                                const StepRunner& steps) {
  const std::string item = input.item_ref;
  size_t index;
  {
    absl::MutexLock l(&mu_);
    index = calls_.size();
    calls_.push_back(
        Call{std::string(operation), input, absl::Now(), absl::InfinitePast(), absl::OkStatus()});
    max_running_ = std::max(max_running_, ++running_);
  }
  auto start_target = [&](FakeVmPower& p) -> absl::Status {
    if (p.source_running) {
      return absl::FailedPreconditionError(
          absl::StrCat(item, ": the source still runs; shut it down before starting the target"));
    }
    p.target_running = true;
    return absl::OkStatus();
  };
  auto start_source = [&](FakeVmPower& p) -> absl::Status {
    if (p.target_running) {
      return absl::FailedPreconditionError(
          absl::StrCat(item, ": the target still runs; shut it down before starting the source"));
    }
    p.source_running = true;
    return absl::OkStatus();
  };
  auto stop_source = [](FakeVmPower& p) {
    p.source_running = false;
    return absl::OkStatus();
  };
  auto stop_target = [](FakeVmPower& p) {
    p.target_running = false;
    return absl::OkStatus();
  };
  auto nothing = [](FakeVmPower&) { return absl::OkStatus(); };
  absl::Status s = [&]() -> absl::Status {
    if (operation == kPlannedFailover) {
      ASR_RETURN_IF_ERROR(
          Step(steps, item, "shutdown-source", "Shut down the source VM", stop_source));
      ASR_RETURN_IF_ERROR(Step(steps, item, "sync", "Send the last changes", nothing));
      return Step(steps, item, "start-target", "Start the replica VM", start_target);
    }
    if (operation == kUnplannedFailover) {
      if (input.perform_source_side_action) {
        ASR_RETURN_IF_ERROR(
            Step(steps, item, "shutdown-source", "Shut down the source VM", stop_source));
      }
      ASR_RETURN_IF_ERROR(Step(steps, item, "source-lost", "The source site is down", stop_source));
      return Step(steps, item, "start-target", "Start the replica VM", start_target);
    }
    if (operation == kTestFailover) {
      ASR_RETURN_IF_ERROR(Step(steps, item, "create-test-vm", "Create the test VM", nothing));
      return Step(steps, item, "start-test-vm", "Start the test VM", [](FakeVmPower& p) {
        p.test_running = true;
        return absl::OkStatus();
      });
    }
    if (operation == kTestFailoverCleanup) {
      return Step(steps, item, "delete-test-vm", "Delete the test VM", [](FakeVmPower& p) {
        p.test_running = false;
        return absl::OkStatus();
      });
    }
    if (operation == kCommit) {
      return Step(steps, item, "commit", "Commit the failover", [](FakeVmPower& p) {
        p.committed = true;
        return absl::OkStatus();
      });
    }
    if (operation == kCancelFailover) {
      ASR_RETURN_IF_ERROR(Step(steps, item, "stop-target", "Stop the replica VM", stop_target));
      return Step(steps, item, "start-source", "Start the source VM", start_source);
    }
    if (operation == kReverseReplicate) {
      return Step(steps, item, "reverse", "Reverse the replication", nothing);
    }
    if (operation == kFailback) {
      ASR_RETURN_IF_ERROR(
          Step(steps, item, "shutdown-target", "Shut down the replica VM", stop_target));
      ASR_RETURN_IF_ERROR(Step(steps, item, "sync", "Send the last changes back", nothing));
      return Step(steps, item, "start-source", "Start the source VM", start_source);
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown operation '", operation, "'"));
  }();
  absl::MutexLock l(&mu_);
  --running_;
  calls_[index].end = absl::Now();
  calls_[index].result = s;
  return s;
}

}  // namespace asr::failover
