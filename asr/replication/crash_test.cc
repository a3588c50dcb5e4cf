// Crash safety of the receiver: a forked receiver process is SIGKILLed at
// many seeded moments of a cycle — at every named step of the apply, in the
// middle of the writes into the replica, and at random times — and after
// each kill a restarted store must hold exactly the previous point or the
// new one, never a mix; older points must still restore correctly.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/net/stream.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using disk::testing::TempPath;
using testing::CreateSourceDisk;
using testing::ReadDisk;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 8ull << 20;
constexpr uint32_t kBlock = 64 << 10;

ReplicaOptions Options() {
  ReplicaOptions o = testing::WriterOptions();
  o.additional_points = 2;
  o.point_interval = absl::ZeroDuration();
  return o;
}

// How the child dies: at the `count`-th call of hook `step` (empty: never),
// or by the parent's SIGKILL after `delay` (when positive).
struct KillPlan {
  std::string step;
  int count = 1;
  absl::Duration delay = absl::ZeroDuration();
};

// Runs one cycle (a scan unless told) against a forked receiver that is
// killed per `plan`. Returns whether the sender saw the cycle committed.
bool CycleWithKill(const std::string& src, const std::string& dir, const KillPlan& plan,
                   CycleMode mode = CycleMode::kScan) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ReplicaOptions o = Options();
    int calls = 0;
    if (!plan.step.empty()) {
      o.step_hook = [&](const char* step) {
        if (plan.step == step && ++calls == plan.count) ::raise(SIGKILL);
      };
    }
    auto store = ReplicaStore::Open(dir, o);
    if (!store.ok()) ::_exit(3);
    auto stream = net::MakePlainFdStream(fds[1], "socketpair", testing::kTestWriter);
    absl::Status s = ServeConnection(*stream, **store, {});
    ::_exit(s.ok() ? 0 : 4);
  }
  ::close(fds[1]);
  auto stream = net::MakePlainFdStream(fds[0]);
  std::thread killer;
  if (plan.delay > absl::ZeroDuration()) {
    killer = std::thread([&] {
      absl::SleepFor(plan.delay);
      ::kill(pid, SIGKILL);
    });
  }
  SendOptions so;
  so.use_tracker_file = false;
  absl::StatusOr<CycleStats> st = ReplicateDisk(src, mode, *stream, so);
  (void)stream->Close();
  if (killer.joinable()) killer.join();
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  if (!st.ok()) std::cout << "  sender: " << st.status() << "\n";
  return st.ok();
}

TEST(CrashTest, KilledReceiverLeavesAWholePoint) {
  const std::string src = TempPath("crash-src.vhdx");
  CreateSourceDisk(src, kDiskSize, 1 << 20);
  WritePattern(src, 0, 2 << 20, 1);
  const std::string dir = TempPath("crash-replica");
  ASSERT_OK(MakeDirectories(dir));
  std::map<uint64_t, std::vector<uint8_t>> content;  // point id -> disk bytes
  {
    auto store = ReplicaStore::Open(dir, Options());
    ASSERT_OK(store);
    auto st = testing::RunCycle(src, CycleMode::kInitial, **store);
    ASSERT_OK(st);
    content[1] = ReadDisk(src);
  }
  uint64_t current = 1;

  // Calibrate the random kill window on an unkilled cycle.
  std::mt19937 rng(20240917);
  auto mutate = [&](int round) {
    std::uniform_int_distribution<uint64_t> block(0, kDiskSize / kBlock - 1);
    for (int i = 0; i < 24; ++i) {
      WritePattern(src, block(rng) * kBlock, kBlock, 1000 * round + i);
    }
    // Zero a range now and then so ZERO_RANGE frames get applied too.
    if (round % 4 == 0) {
      auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
      std::vector<uint8_t> zeros(3 * kBlock, 0);
      EXPECT_OK((*d)->WriteAt(block(rng) / 4 * 4 * kBlock % (kDiskSize - 3 * kBlock),
                              absl::MakeConstSpan(zeros)));
      EXPECT_OK((*d)->Close());
    }
  };
  mutate(0);
  absl::Time t0 = absl::Now();
  ASSERT_TRUE(CycleWithKill(src, dir, {}));
  absl::Duration full = absl::Now() - t0;
  content[++current] = ReadDisk(src);

  const char* steps[] = {"sealed", "undo", "applying", "apply-write", "applied", "committed"};
  int kills = 0, committed = 0, rolled_back = 0;
  for (int round = 1; round <= 40; ++round) {
    mutate(round);
    std::vector<uint8_t> want_new = ReadDisk(src);
    KillPlan plan;
    if (round % 2 == 1) {
      plan.step = steps[(round / 2) % 6];
      plan.count = plan.step == "apply-write" ? 1 + round % 3 : 1;
    } else {
      std::uniform_real_distribution<double> frac(0.05, 1.2);
      plan.delay = full * frac(rng);
    }
    bool acked = CycleWithKill(src, dir, plan);
    ++kills;
    std::cout << "round " << round << ": kill at "
              << (plan.step.empty() ? absl::FormatDuration(plan.delay)
                                    : absl::StrCat(plan.step, " #", plan.count))
              << (acked ? " (acknowledged)" : "") << "\n";
    // Restart: recovery must leave a whole point.
    auto store = ReplicaStore::Open(dir, Options());
    ASSERT_OK(store);
    ReplicaInfo info = (*store)->info();
    std::vector<uint8_t> got = ReadDisk(info.replica_path);
    if (info.current_cycle == current + 1) {
      ASSERT_EQ(disk::testing::FirstDifference(got, want_new), -1)
          << "round " << round << ": replica is point " << info.current_cycle
          << " but differs from it";
      content[++current] = want_new;
      ++committed;
      std::cout << "  -> new point " << current << "\n";
    } else {
      ASSERT_EQ(info.current_cycle, current) << "round " << round;
      ASSERT_EQ(disk::testing::FirstDifference(got, content[current]), -1)
          << "round " << round << ": replica is neither the previous point nor the new one";
      EXPECT_FALSE(acked) << "round " << round << ": acknowledged but not committed";
      ++rolled_back;
    }
    // The points the store keeps restore to what they were.
    std::vector<RecoveryPoint> pts = (*store)->points();
    ASSERT_FALSE(pts.empty());
    EXPECT_EQ(pts.back().id, current);
    store->reset();
    if (round % 5 == 0 && pts.size() >= 2) {
      const RecoveryPoint& older = pts[pts.size() - 2];
      std::string out = TempPath(absl::StrCat("crash-restore-", round, ".vhdx"));
      ASSERT_OK(RestorePoint(dir, older.id, out, {}));
      EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), content[older.id]), -1)
          << "round " << round << ": point " << older.id;
    }
  }
  EXPECT_EQ(kills, 40);
  // Both outcomes must have been exercised for the test to mean anything.
  EXPECT_GT(committed, 3) << rolled_back;
  EXPECT_GT(rolled_back, 3) << committed;
  std::cout << kills << " kills: " << committed << " rolled forward to the new point, "
            << rolled_back << " stayed at the previous point\n";
}

// The first cycle is written straight into a new replica file: a kill at
// any moment must leave either no replica at all or the whole new point.
TEST(CrashTest, KilledFirstCycleLeavesNoReplicaOrAWholeOne) {
  const std::string src = TempPath("crash-first-src.vhdx");
  CreateSourceDisk(src, kDiskSize, 1 << 20);
  WritePattern(src, 0, 3 << 20, 7);
  WritePattern(src, 5 << 20, 2 << 20, 8);
  const std::vector<uint8_t> want = ReadDisk(src);

  // Calibrate the random kill window on an unkilled first cycle.
  const std::string calib = TempPath("crash-first-calib");
  ASSERT_OK(MakeDirectories(calib));
  absl::Time t0 = absl::Now();
  ASSERT_TRUE(CycleWithKill(src, calib, {}, CycleMode::kInitial));
  absl::Duration full = absl::Now() - t0;

  std::mt19937 rng(20240918);
  const char* steps[] = {"direct-write", "direct-flushed", "direct-renamed", "committed"};
  int none = 0, whole = 0;
  for (int round = 0; round < 16; ++round) {
    const std::string dir = TempPath(absl::StrCat("crash-first-", round));
    ASSERT_OK(MakeDirectories(dir));
    KillPlan plan;
    if (round % 2 == 0) {
      plan.step = steps[(round / 2) % 4];
      plan.count = plan.step == "direct-write" ? 1 + round % 5 : 1;
    } else {
      std::uniform_real_distribution<double> frac(0.05, 1.5);
      plan.delay = full * frac(rng);
    }
    bool acked = CycleWithKill(src, dir, plan, CycleMode::kInitial);
    std::cout << "first cycle, round " << round << ": kill at "
              << (plan.step.empty() ? absl::FormatDuration(plan.delay)
                                    : absl::StrCat(plan.step, " #", plan.count))
              << (acked ? " (acknowledged)" : "") << "\n";
    auto store = ReplicaStore::Open(dir, Options());
    ASSERT_OK(store);
    ReplicaInfo info = (*store)->info();
    if (info.has_replica) {
      ASSERT_EQ(info.current_cycle, 1u) << "round " << round;
      ASSERT_EQ(disk::testing::FirstDifference(ReadDisk(info.replica_path), want), -1)
          << "round " << round << ": the first point is torn";
      ++whole;
    } else {
      EXPECT_FALSE(acked) << "round " << round << ": acknowledged but no replica";
      EXPECT_TRUE((*store)->points().empty());
      // No file that could be taken for a replica is left behind.
      EXPECT_FALSE(PathExists(JoinPath(dir, "replica.vhdx"))) << "round " << round;
      EXPECT_FALSE(PathExists(JoinPath(dir, "replica.vhdx.tmp"))) << "round " << round;
      ++none;
      // The sender simply starts over.
      if (round % 4 == 1) {
        auto st = testing::RunCycle(src, CycleMode::kInitial, **store);
        ASSERT_OK(st);
        EXPECT_EQ(disk::testing::FirstDifference(ReadDisk((*store)->info().replica_path), want),
                  -1);
      }
    }
  }
  // Kills at "committed" always leave the point; most others none.
  EXPECT_GT(none, 2) << whole;
  EXPECT_GE(whole, 2) << none;
  std::cout << "first cycle: " << none << " kills left no replica, " << whole
            << " left the whole point\n";
}

}  // namespace
}  // namespace asr::replication
