// asr/failover/testing/kill_rounds.h: the loop of the kill -9 tests. Each round
// forks a child that works on a state directory, waits until it says its
// work started, lets it run a random while, kills it with SIGKILL and
// reaps it; then the test checks what the child left and says whether the
// work is done. A child that exits by itself must exit 0. When the rounds
// end before the work is done, one child that is not killed finishes it.
//
//   KillRoundsOptions o;
//   o.rounds = 90;
//   int kills = RunKillRounds(o,
//       [&](int ready) { Child(root, ready); },   // writes a byte to `ready`, then _exit
//       [&](int round, bool killed) { ... return done; });
//   EXPECT_GE(kills, 20);
//
// Thread safety: forks; call from a test's main thread.
#ifndef ASR_FAILOVER_TESTING_KILL_ROUNDS_H_
#define ASR_FAILOVER_TESTING_KILL_ROUNDS_H_

#include <cstdint>
#include <functional>

namespace asr::failover {

struct KillRoundsOptions {
  int rounds = 60;
  // After the child's byte, a random wait below base_ms + step_ms * round:
  // a growing wait lets later runs get further into the work.
  int base_ms = 40;
  int step_ms = 0;
  uint32_t seed = 20261130;
};

// `child(ready_fd)` runs in the forked process and must not return (it ends
// with _exit; ready_fd is -1 in the last, unkilled run). `after(round,
// killed)` runs in this process after each round and returns whether the
// work is done (then the rounds stop). Returns how many rounds killed a
// child before the work was done; test failures are reported through
// gtest, and a fatal one in `after` stops the rounds.
int RunKillRounds(const KillRoundsOptions& options, const std::function<void(int)>& child,
                  const std::function<bool(int, bool)>& after);

}  // namespace asr::failover

#endif  // ASR_FAILOVER_TESTING_KILL_ROUNDS_H_
