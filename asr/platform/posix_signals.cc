#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "absl/strings/str_cat.h"
#include "asr/platform/signals.h"

namespace asr::platform {

struct TerminationSignals::Mask {
  sigset_t set;
};

namespace {

sigset_t TerminationSet() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGINT);
  return s;
}

}  // namespace

TerminationSignals::TerminationSignals(std::unique_ptr<Mask> previous)
    : previous_(std::move(previous)) {}

absl::StatusOr<std::unique_ptr<TerminationSignals>> TerminationSignals::Block() {
  auto previous = std::make_unique<Mask>();
  sigset_t set = TerminationSet();
  int rc = pthread_sigmask(SIG_BLOCK, &set, &previous->set);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot block SIGTERM and SIGINT: ", strerror(rc)));
  }
  return std::unique_ptr<TerminationSignals>(new TerminationSignals(std::move(previous)));
}

TerminationSignals::~TerminationSignals() {
  pthread_sigmask(SIG_SETMASK, &previous_->set, nullptr);
}

std::string TerminationSignals::Wait() {
  sigset_t set = TerminationSet();
  while (!cancelled_.load()) {
    timespec poll_interval{0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&set, nullptr, &poll_interval);
    if (sig == SIGTERM) return "SIGTERM";
    if (sig == SIGINT) return "SIGINT";
  }
  return "";
}

void TerminationSignals::Cancel() { cancelled_.store(true); }

}  // namespace asr::platform
