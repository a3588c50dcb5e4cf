// asr/qemu/guest_freeze.h: the file systems of several guests frozen
// through their guest agents (guest_agent_client.h) around the instant of
// an application-consistent point, and thawed again on every path.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<GuestFreeze> frozen,
//                        GuestFreeze::Freeze({{"vm1", vm1_dir + "/qga.sock"}}, {}));
//   ... the instant (QMP transaction) ...
//   ASR_RETURN_IF_ERROR(frozen->Thaw());   // also done by the destructor
//
// Freeze asks each guest in turn (the guest's fsfreeze hook quiesces its
// applications, then its agent freezes every file system and answers).
// When one fails or does not answer in time, every guest already asked is
// thawed (the failing one too when its command reached it: a late freeze
// must not stay) and Freeze returns FailedPrecondition naming the VM, what
// the agent said or that no agent answers, and that a crash-consistent
// point can be taken instead.
//
// Thaw thaws every guest asked, each up to `thaw_attempts` times (a guest
// still running its freeze hook answers the thaw once the freeze ends);
// an error names the guests that may still be frozen. The destructor thaws
// if Thaw was not called, so no error path leaves a guest frozen.
//
// Thread safety: one GuestFreeze is used by one thread.
#ifndef ASR_QEMU_GUEST_FREEZE_H_
#define ASR_QEMU_GUEST_FREEZE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/qemu/guest_agent_client.h"

namespace asr::qemu {

struct FreezeTarget {
  std::string vm_id;
  std::string socket_path;  // QEMU's end of the VM's org.qemu.guest_agent.0 port
};

struct GuestFreezeOptions {
  GuestAgentOptions agent;
  int thaw_attempts = 3;
  absl::Duration thaw_retry_delay = absl::Milliseconds(500);
};

class GuestFreeze {
 public:
  // On an error, `still_frozen` (when given) receives the ids of the guests
  // that may still be frozen (their thaw failed too).
  static absl::StatusOr<std::unique_ptr<GuestFreeze>> Freeze(
      std::vector<FreezeTarget> guests, const GuestFreezeOptions& options,
      std::vector<std::string>* still_frozen = nullptr);
  ~GuestFreeze();
  GuestFreeze(const GuestFreeze&) = delete;
  GuestFreeze& operator=(const GuestFreeze&) = delete;

  // Thaws every guest (again: OK at once).
  absl::Status Thaw();
  // After a Thaw that failed: the guests that may still be frozen.
  const std::vector<std::string>& still_frozen() const { return stuck_; }
  // The file systems each guest's agent froze, in the guests' order.
  const std::vector<int>& frozen_file_systems() const { return counts_; }
  // From the first freeze request to the end of the last thaw (or to now
  // while frozen): the time the guests' writes were held.
  absl::Duration held() const;
  // The time the freeze requests took (the guests' hooks and freezes).
  absl::Duration freeze_time() const { return frozen_at_ - started_; }

 private:
  GuestFreeze(std::vector<FreezeTarget> guests, const GuestFreezeOptions& options)
      : guests_(std::move(guests)), options_(options) {}
  // Thaws guests_[0, n) with retries; the error names those not thawed.
  absl::Status ThawFirst(size_t n);

  std::vector<FreezeTarget> guests_;  // the guests asked to freeze
  const GuestFreezeOptions options_;
  std::vector<int> counts_;
  std::vector<std::string> stuck_;  // not thawed by the last ThawFirst
  absl::Time started_;
  absl::Time frozen_at_;
  absl::Time thawed_at_ = absl::InfiniteFuture();
  bool thawed_ = false;
};

}  // namespace asr::qemu

#endif  // ASR_QEMU_GUEST_FREEZE_H_
