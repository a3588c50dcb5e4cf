#include "asr/protection/throttle.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/status_macros.h"
#include "asr/model/fabric.pb.h"
#include "asr/net/rate_limiter.h"
#include "asr/protection/health.h"
#include "asr/protection/throttle_schedule.h"

namespace asr::protection {
namespace {

bool IsSite(absl::string_view target) { return target.empty() || target == kSiteThrottleId; }

// The stored throttle's limit at `now`; unlimited when none is stored.
ScheduledLimit StoredLimit(const repository::ObjectRepository& repo, const std::string& id,
                           absl::Time now) {
  absl::StatusOr<model::Throttle> t = repo.Get<model::Throttle>(id);
  if (!t.ok()) return ScheduledLimit();
  return LimitAt(t->schedule(), t->utc_offset_minutes(), now);
}

std::string HumanBytes(uint64_t bytes) {
  if (bytes >= 10'000'000) return absl::StrCat(bytes / 1'000'000, " MB");
  if (bytes >= 10'000) return absl::StrCat(bytes / 1'000, " kB");
  return absl::StrCat(bytes, " bytes");
}

class ThrottlingTransport final : public Transport {
 public:
  ThrottlingTransport(std::shared_ptr<Transport> inner, const repository::ObjectRepository* repo,
                      const Clock* clock)
      : inner_(std::move(inner)), repo_(repo), clock_(clock) {
    site_ = std::make_shared<net::RateLimiter>(RateOf(kSiteThrottleId));
  }

  std::string writer_identity() const override { return inner_->writer_identity(); }
  absl::Status BindReplica(const model::ProtectedItem& item, const model::ProtectedDisk& disk,
                           const ReplicaRetention& retention) override {
    return inner_->BindReplica(item, disk, retention);
  }
  absl::Status UnbindReplica(const model::ProtectedDisk& disk) override {
    return inner_->UnbindReplica(disk);
  }
  absl::StatusOr<std::unique_ptr<net::ByteStream>> Connect(const model::ProtectedItem& item,
                                                           int port) override {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<net::ByteStream> stream, inner_->Connect(item, port));
    std::shared_ptr<net::RateLimiter> vm = VmLimiter(item.vm_id());
    // A schedule set since the last stream applies from this one's first byte.
    vm->Refresh();
    site_->Refresh();
    return net::MakeThrottledStream(std::move(stream), {vm, site_});
  }
  std::string Describe(const model::ProtectedItem& item, int port) const override {
    return inner_->Describe(item, port);
  }

 private:
  // The stored schedule of throttle `id` at the site's time (the limiter
  // calls this at least every second).
  net::RateLimiter::RateFunction RateOf(std::string id) const {
    const repository::ObjectRepository* repo = repo_;
    const Clock* clock = clock_;
    return [repo, clock, id](absl::Time now) {
      const absl::Time site_now = clock->Now();
      const ScheduledLimit l = StoredLimit(*repo, id, site_now);
      net::RateLimiter::Rate r;
      r.bits_per_second = l.bits_per_second;
      // The next boundary on the limiter's clock.
      if (l.next_change != absl::InfiniteFuture()) r.valid_until = now + (l.next_change - site_now);
      return r;
    };
  }

  std::shared_ptr<net::RateLimiter> VmLimiter(const std::string& vm_id) {
    absl::MutexLock l(&mu_);
    std::shared_ptr<net::RateLimiter>& limiter = vms_[vm_id];
    if (limiter == nullptr)
      limiter = std::make_shared<net::RateLimiter>(RateOf(VmThrottleId(vm_id)));
    return limiter;
  }

  const std::shared_ptr<Transport> inner_;
  const repository::ObjectRepository* repo_;
  const Clock* clock_;
  std::shared_ptr<net::RateLimiter> site_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<net::RateLimiter>> vms_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::string VmThrottleId(absl::string_view vm_id) { return absl::StrCat("vm-", vm_id); }

ThrottleService::ThrottleService(repository::ObjectRepository* repo, const Clock* clock)
    : repo_(repo), clock_(clock) {}

absl::StatusOr<std::string> ThrottleService::ThrottleIdOf(absl::string_view target,
                                                          model::Throttle* t) const {
  if (IsSite(target)) return std::string(kSiteThrottleId);
  absl::StatusOr<model::VirtualMachine> vm = repo_->Get<model::VirtualMachine>(target);
  if (!vm.ok()) {
    ASR_ASSIGN_OR_RETURN(std::vector<model::VirtualMachine> vms,
                         repo_->List<model::VirtualMachine>());
    int found = 0;
    for (const auto& v : vms) {
      if (v.name() == target) {
        vm = v;
        ++found;
      }
    }
    if (found > 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the VM name '", target, "' is not unique; give the VM's id (`asrctl vm list`)"));
    }
    if (found == 0) {
      // A protected item's id names its VM too.
      absl::StatusOr<model::ProtectedItem> item = repo_->Get<model::ProtectedItem>(target);
      if (item.ok()) {
        vm = model::VirtualMachine();
        vm->set_id(item->vm_id());
        vm->set_name(item->vm_name());
      } else {
        return absl::NotFoundError(absl::StrCat(
            "no VM '", target,
            "' (neither a VM's id or name nor a protected item); `asrctl item list` lists the "
            "protected VMs, `asrctl inventory sync` brings the VMM inventory"));
      }
    }
  }
  if (t != nullptr) {
    t->set_vm_id(vm->id());
    t->set_vm_name(vm->name());
  }
  return VmThrottleId(vm->id());
}

absl::StatusOr<model::Throttle> ThrottleService::Set(const model::ThrottleSetRequest& request) {
  model::Throttle t;
  ASR_ASSIGN_OR_RETURN(std::string id, ThrottleIdOf(request.vm(), &t));
  t.set_id(id);
  const bool human = !request.limits().empty() || !request.default_limit().empty();
  if (human && (request.has_schedule())) {
    return absl::InvalidArgumentError(
        "give the schedule either as limits and a default (the human form) or as a schedule, "
        "not both");
  }
  if (human) {
    std::vector<std::string> rules(request.limits().begin(), request.limits().end());
    ASR_ASSIGN_OR_RETURN(*t.mutable_schedule(), ParseSchedule(rules, request.default_limit()));
  } else {
    ASR_RETURN_IF_ERROR(ValidateSchedule(request.schedule()));
    *t.mutable_schedule() = request.schedule();
  }
  if (t.schedule().windows().empty() && t.schedule().default_bits_per_second() == 0) {
    return absl::InvalidArgumentError(
        "the schedule limits nothing (no rule and an unlimited default); give a limit, e.g. "
        "--limit \"Mon-Fri 08:00-18:00 50Mbit/s\" or --default 100Mbit/s, or clear the "
        "throttle");
  }
  ASR_ASSIGN_OR_RETURN(int offset, ParseUtcOffset(request.utc_offset()));
  t.set_utc_offset_minutes(offset);
  t.set_updated_time_unix(absl::ToUnixSeconds(clock_->Now()));
  ASR_RETURN_IF_ERROR(repo_->Put(t));
  return t;
}

absl::StatusOr<model::Throttle> ThrottleService::Get(absl::string_view target) const {
  ASR_ASSIGN_OR_RETURN(std::string id, ThrottleIdOf(target, nullptr));
  absl::StatusOr<model::Throttle> t = repo_->Get<model::Throttle>(id);
  if (absl::IsNotFound(t.status())) {
    return absl::NotFoundError(absl::StrCat(
        IsSite(target) ? std::string("the site") : absl::StrCat("VM '", target, "'"),
        " has no throttle (its replication is unlimited); set one with `asrctl throttle set`"));
  }
  return t;
}

absl::StatusOr<std::vector<model::Throttle>> ThrottleService::List() const {
  ASR_ASSIGN_OR_RETURN(std::vector<model::Throttle> all, repo_->List<model::Throttle>());
  std::stable_partition(all.begin(), all.end(),
                        [](const model::Throttle& t) { return t.id() == kSiteThrottleId; });
  return all;
}

absl::Status ThrottleService::Clear(absl::string_view target) {
  ASR_RETURN_IF_ERROR(Get(target).status());
  ASR_ASSIGN_OR_RETURN(std::string id, ThrottleIdOf(target, nullptr));
  return repo_->DeleteObject("throttle", id);
}

model::ThrottleInForce ThrottleInForceFor(const repository::ObjectRepository& repo,
                                          const model::ProtectedItem& item, absl::Time now) {
  const ScheduledLimit site = StoredLimit(repo, kSiteThrottleId, now);
  const ScheduledLimit vm = StoredLimit(repo, VmThrottleId(item.vm_id()), now);
  model::ThrottleInForce f;
  const ScheduledLimit* in_force = nullptr;
  const char* source = "";
  if (vm.bits_per_second != 0 &&
      (site.bits_per_second == 0 || vm.bits_per_second <= site.bits_per_second)) {
    in_force = &vm;
    source = "vm";
  } else if (site.bits_per_second != 0) {
    in_force = &site;
    source = "site";
  }
  if (in_force != nullptr) {
    f.set_bits_per_second(in_force->bits_per_second);
    f.set_source(source);
    f.set_rule(in_force->rule);
  } else {
    f.set_rule("unlimited");
  }
  const absl::Time next = std::min(site.next_change, vm.next_change);
  if (next != absl::InfiniteFuture()) f.set_next_change_unix(absl::ToUnixSeconds(next));
  return f;
}

void DecorateThrottle(const repository::ObjectRepository& repo,
                      const model::ReplicationPolicy* policy, absl::Time now,
                      model::ProtectedItem* item) {
  *item->mutable_throttle_in_force() = ThrottleInForceFor(repo, *item, now);
  item->set_expected_rpo_seconds(0);
  if (policy == nullptr) return;
  const int64_t f = CopyFrequencySeconds(*policy);
  const model::CycleOutcome* last = nullptr;
  for (int i = item->recent_cycles_size() - 1; i >= 0 && last == nullptr; --i) {
    if (item->recent_cycles(i).ok()) last = &item->recent_cycles(i);
  }
  if (item->protection_state() != model::Protected || last == nullptr) return;
  const uint64_t limit = item->throttle_in_force().bits_per_second();
  double send_seconds = last->seconds();
  if (limit > 0) {
    send_seconds = std::max(
        send_seconds, static_cast<double>(last->bytes_sent()) * 8.0 / static_cast<double>(limit));
  }
  const int64_t expected = f + static_cast<int64_t>(send_seconds + 0.999);
  item->set_expected_rpo_seconds(expected);
  if (limit == 0 || expected <= 2 * f) return;
  if (item->replication_health() != model::Critical) item->set_replication_health(model::Warning);
  model::HealthError* e = item->add_health_errors();
  e->set_code("ThrottleLimitsRpo");
  e->set_severity("Warning");
  e->set_message(absl::StrFormat(
      "the %s throttle (%s) sends the last cycle's %s in %s: expected RPO %s exceeds 2x the %d s "
      "copy frequency",
      item->throttle_in_force().source(), item->throttle_in_force().rule(),
      HumanBytes(last->bytes_sent()), HumanDuration(static_cast<int64_t>(send_seconds + 0.999)),
      HumanDuration(expected), f));
  e->set_recommended_action(
      "raise the limit (asrctl throttle set) or widen its window, or choose a longer copy "
      "frequency in the policy");
}

std::shared_ptr<Transport> MakeThrottlingTransport(std::shared_ptr<Transport> inner,
                                                   const repository::ObjectRepository* repo,
                                                   const Clock* clock) {
  return std::make_shared<ThrottlingTransport>(std::move(inner), repo, clock);
}

}  // namespace asr::protection
