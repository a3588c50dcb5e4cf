#include "asr/failover/testing/kill_rounds.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace asr::failover {

int RunKillRounds(const KillRoundsOptions& options, const std::function<void(int)>& child,
                  const std::function<bool(int, bool)>& after) {
  std::mt19937 rng(options.seed);
  int kills = 0;
  bool done = false;
  for (int round = 0; round < options.rounds && !done; ++round) {
    int ready[2];
    if (pipe(ready) != 0) {
      ADD_FAILURE() << "pipe failed";
      return kills;
    }
    const pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      return kills;
    }
    if (pid == 0) {
      close(ready[0]);
      child(ready[1]);
      _exit(99);  // `child` must not return
    }
    close(ready[1]);
    char byte;
    const bool started = read(ready[0], &byte, 1) == 1;
    close(ready[0]);
    if (started) {
      const int limit = options.base_ms + options.step_ms * round;
      absl::SleepFor(absl::Milliseconds(limit > 0 ? rng() % limit : 0));
    }
    kill(pid, SIGKILL);
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) {
      ADD_FAILURE() << "waitpid failed in round " << round;
      return kills;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
      ADD_FAILURE() << "the child exited with code " << WEXITSTATUS(status) << " in round "
                    << round;
      return kills;
    }
    const bool killed = WIFSIGNALED(status);
    done = after(round, killed);
    if (::testing::Test::HasFatalFailure()) return kills;
    if (killed && !done) ++kills;
  }
  if (!done) {
    const pid_t pid = fork();
    if (pid < 0) {
      ADD_FAILURE() << "fork failed";
      return kills;
    }
    if (pid == 0) {
      child(-1);
      _exit(99);
    }
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the last, unkilled run did not finish the work (status " << status << ")";
  }
  return kills;
}

}  // namespace asr::failover
