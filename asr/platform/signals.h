// asr/platform/signals.h: termination requests (SIGTERM, SIGINT) received as
// events instead of killing the process, so that a server can stop cleanly.
//
//   ASR_ASSIGN_OR_RETURN(auto signals, TerminationSignals::Block());  // before any thread starts
//   ... start the server's threads (they inherit the blocked mask) ...
//   std::thread stopper([&] { if (!signals->Wait().empty()) server->Stop(); });
//   server->Wait();
//   signals->Cancel();
//   stopper.join();
//
// Thread safety: Wait in one thread at a time; Cancel from any thread.
#ifndef ASR_PLATFORM_SIGNALS_H_
#define ASR_PLATFORM_SIGNALS_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace asr::platform {

class TerminationSignals {
 public:
  // Blocks SIGTERM and SIGINT in the calling thread and in the threads it
  // starts from now on, so that only Wait receives them.
  static absl::StatusOr<std::unique_ptr<TerminationSignals>> Block();
  // Restores the calling thread's previous signal mask (call it from the
  // thread that called Block).
  ~TerminationSignals();
  TerminationSignals(const TerminationSignals&) = delete;
  TerminationSignals& operator=(const TerminationSignals&) = delete;

  // Waits for SIGTERM or SIGINT and returns its name ("SIGTERM"), or "" once
  // Cancel was called (within 100 ms).
  std::string Wait();
  void Cancel();

  struct Mask;

 private:
  explicit TerminationSignals(std::unique_ptr<Mask> previous);
  std::unique_ptr<Mask> previous_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace asr::platform

#endif  // ASR_PLATFORM_SIGNALS_H_
