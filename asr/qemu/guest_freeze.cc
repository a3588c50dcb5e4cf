#include "asr/qemu/guest_freeze.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace asr::qemu {

absl::StatusOr<std::unique_ptr<GuestFreeze>> GuestFreeze::Freeze(
    std::vector<FreezeTarget> guests, const GuestFreezeOptions& options,
    std::vector<std::string>* still_frozen) {
  std::unique_ptr<GuestFreeze> f(new GuestFreeze({}, options));
  f->started_ = absl::Now();
  for (FreezeTarget& g : guests) {
    GuestAgentClient agent(g.socket_path, g.vm_id, options.agent);
    bool sent = false;
    absl::StatusOr<google::protobuf::Value> r =
        agent.Execute("guest-fsfreeze-freeze", "", options.agent.freeze_timeout, &sent);
    // A freeze that reached the guest is thawed whatever its answer.
    if (sent) f->guests_.push_back(g);
    if (!r.ok()) {
      const std::string vm = g.vm_id;
      absl::Status thawed = f->ThawFirst(f->guests_.size());
      f->thawed_ = true;
      if (still_frozen != nullptr) *still_frozen = f->stuck_;
      std::string why;
      if (!sent) {
        why = absl::StrCat("its guest agent did not answer (", r.status().message(), ")");
      } else if (absl::IsDeadlineExceeded(r.status())) {
        why = absl::StrCat("the guest agent did not finish freezing its file systems within ",
                           absl::FormatDuration(options.agent.freeze_timeout), " (",
                           r.status().message(), ")");
      } else {
        why = absl::StrCat("the guest's file system freeze failed: ", r.status().message());
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "VM '", vm, "' cannot be quiesced for an application-consistent point: ", why,
          thawed.ok() ? "" : absl::StrCat("; ", thawed.message()),
          "; the guest needs qemu-guest-agent running (its fsfreeze commands enabled), or take a "
          "crash-consistent point instead"));
    }
    f->counts_.push_back(static_cast<int>(r->number_value()));
  }
  f->frozen_at_ = absl::Now();
  return f;
}

GuestFreeze::~GuestFreeze() {
  if (!thawed_) (void)Thaw();
}

absl::Status GuestFreeze::Thaw() {
  if (thawed_) return absl::OkStatus();
  thawed_ = true;
  return ThawFirst(guests_.size());
}

absl::Status GuestFreeze::ThawFirst(size_t n) {
  std::vector<std::string> stuck;
  std::string last_error;
  for (size_t i = 0; i < n; ++i) {
    GuestAgentClient agent(guests_[i].socket_path, guests_[i].vm_id, options_.agent);
    absl::Status s;
    for (int attempt = 0; attempt < std::max(1, options_.thaw_attempts); ++attempt) {
      if (attempt > 0) absl::SleepFor(options_.thaw_retry_delay);
      s = agent.Thaw().status();
      if (s.ok()) break;
    }
    if (!s.ok()) {
      stuck.push_back(guests_[i].vm_id);
      last_error = std::string(s.message());
    }
  }
  thawed_at_ = absl::Now();
  stuck_ = stuck;
  if (stuck.empty()) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("the file systems of VM '", absl::StrJoin(stuck, "', '"),
                   "' may still be frozen: ", options_.thaw_attempts, " thaw attempts failed (",
                   last_error, "); thaw them with the guest agent's guest-fsfreeze-thaw"));
}

absl::Duration GuestFreeze::held() const {
  return (thawed_at_ == absl::InfiniteFuture() ? absl::Now() : thawed_at_) - started_;
}

}  // namespace asr::qemu
