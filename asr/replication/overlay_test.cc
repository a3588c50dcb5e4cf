// Views of a replica's recovery points, failover and adopting a disk, on
// real files: a view reads exactly what RestorePoint writes for its point
// (asr reads; qemu-img where it can read the file), costs what the deltas
// hold on a large sparse disk, is not changed by later cycles, and writes
// into it reach nothing else; the replica is frozen and merged back
// crash-safely (a forked child SIGKILLed at every step, then recovered);
// failover begins, changes point, cancels and commits; and an adopted
// disk takes a reverse cycle that sends only the blocks that differ.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/replication/manifest.h"
#include "asr/replication/replica_layout.h"
#include "asr/replication/replica_overlay.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using ::asr::testing::StatusIs;
using disk::testing::FirstDifference;
using disk::testing::TempPath;
using testing::CreateSourceDisk;
using ::testing::HasSubstr;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 8ull << 20;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint32_t kBlock = 64 << 10;

std::unique_ptr<ReplicaStore> OpenStore(const std::string& dir) {
  ReplicaOptions o = testing::WriterOptions();
  o.additional_points = 4;
  o.point_interval = absl::ZeroDuration();
  auto store = ReplicaStore::Open(dir, o);
  EXPECT_OK(store);
  return store.ok() ? *std::move(store) : nullptr;
}

void WriteZeros(const std::string& path, uint64_t offset, size_t n) {
  auto d = disk::OpenDisk(path, disk::OpenMode::kReadWrite);
  ASSERT_OK(d);
  std::vector<uint8_t> zeros(n, 0);
  ASSERT_OK((*d)->WriteAt(offset, absl::MakeConstSpan(zeros)));
  ASSERT_OK((*d)->Close());
}

// A replica with three points of an 8 MiB disk: 1 (initial), 2 and 3,
// each a scan cycle over changes (writes and zeroed data). `contents[i]` is
// the source at point i+1.
struct Replicated {
  std::string src, dir;
  std::unique_ptr<ReplicaStore> store;
  std::vector<std::vector<uint8_t>> contents;
};

Replicated MakeReplicated(const std::string& name, uint64_t size = kDiskSize) {
  const uint64_t unit = size / 8;  // 1 MiB for the default size
  Replicated r;
  r.src = TempPath(name + ".vhdx");
  r.dir = TempPath(name + "-replica");
  CreateSourceDisk(r.src, size);
  WritePattern(r.src, 0, unit, 1);
  WritePattern(r.src, 4 * unit + unit / 2, unit / 2, 2);
  r.store = OpenStore(r.dir);
  if (r.store == nullptr) return r;
  EXPECT_OK(RunCycle(r.src, CycleMode::kInitial, *r.store).status());
  r.contents.push_back(ReadDisk(r.src));
  WritePattern(r.src, unit / 2, 3 * kBlock, 3);
  WritePattern(r.src, 6 * unit, kBlock, 4);
  EXPECT_OK(RunCycle(r.src, CycleMode::kScan, *r.store).status());
  r.contents.push_back(ReadDisk(r.src));
  WriteZeros(r.src, 4 * unit + unit / 2, 2 * kBlock);  // data older points hold, zeroed
  WritePattern(r.src, 5 * kBlock, kBlock, 5);
  EXPECT_OK(RunCycle(r.src, CycleMode::kScan, *r.store).status());
  r.contents.push_back(ReadDisk(r.src));
  return r;
}

// Point `id` as RestorePoint writes it.
std::vector<uint8_t> Restored(const std::string& dir, uint64_t id) {
  std::string out = TempPath(absl::StrCat("restored-", id, ".vhdx"));
  EXPECT_OK(RestorePoint(dir, id, out, {}));
  return ReadDisk(out);
}

bool IsDifferencing(const std::string& path) {
  auto d = disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  EXPECT_OK(d);
  return d.ok() && (*d)->parent() != nullptr;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const char* n : {"base-", "latest-", "failover-", "merge-"}) {
    std::string text;
    disk::testing::RunCommand(absl::StrCat("ls '", dir, "' | grep '^", n, "' || true"), &text);
    if (!text.empty()) out.push_back(text);
  }
  return out;
}

// Runs `op` in a forked child that is SIGKILLed at its n-th layout step;
// returns true when the child finished before reaching it.
bool RunKilledAt(int n, const std::function<absl::Status()>& op) {
  pid_t pid = fork();
  if (pid == 0) {
    int seen = 0;
    SetLayoutHookForTesting([&](const char*) {
      if (++seen == n) kill(getpid(), SIGKILL);
    });
    absl::Status s = op();
    _exit(s.ok() ? 0 : 3);
  }
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFSIGNALED(status)) {
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    return false;
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the operation failed";
  return true;
}

// After a kill at every step of each operation, recovery (by a lister, or
// by a receiver's Open) leaves a whole layout: every point restores as it
// was, the VM's disk is the replica or the failover view, and no debris.
TEST(OverlayTest, EveryStepSurvivesAKill) {
  struct Op {
    const char* name;
    // Prepares the directory (the view "keep" exists when `with_view`).
    bool with_view;
    bool failed_over;
    std::function<absl::Status(const std::string& dir)> run;
    // What the operation leaves when it completed: a view named "x", and
    // whether the replica is failed over.
    bool done_view;
    bool done_failed_over;
    bool done_committed = false;
  };
  std::vector<Op> ops = {
      {"create", false, false,
       [](const std::string& d) {
         return CreateOverlay(d, {"x", 1, ""}).status();
       },
       true, false},
      {"merge", true, false, [](const std::string& d) { return DeleteOverlay(d, "keep"); }, false,
       false},
      {"begin", false, false,
       [](const std::string& d) {
         return BeginFailover(d, 2, JoinPath(d, "replica.vhdx")).status();
       },
       false, true},
      {"cancel", false, true, [](const std::string& d) { return CancelFailover(d); }, false, false},
      {"change", false, true,
       [](const std::string& d) { return ChangeFailoverPoint(d, 1).status(); }, false, true},
      {"commit", true, true, [](const std::string& d) { return CommitFailover(d); }, true, true,
       true},
  };
  Replicated made = MakeReplicated("kill", 2 << 20);
  ASSERT_NE(made.store, nullptr);
  made.store.reset();
  int kills = 0;
  for (const Op& op : ops) {
    for (int n = 1; n < 40; ++n) {
      SCOPED_TRACE(absl::StrCat(op.name, " killed at step ", n));
      Replicated r;
      r.contents = made.contents;
      r.dir = TempPath(absl::StrCat("kill-", op.name, "-", n));
      ASSERT_EQ(disk::testing::RunCommand(absl::StrCat("cp -a '", made.dir, "' '", r.dir, "'")), 0);
      if (op.with_view) {
        ASSERT_OK(CreateOverlay(r.dir, {"keep", 2, ""}).status());
      }
      if (op.failed_over) {
        ASSERT_OK(BeginFailover(r.dir, 2, JoinPath(r.dir, "replica.vhdx")).status());
      }
      const bool finished = RunKilledAt(n, [&] { return op.run(r.dir); });
      // Recovery: a receiver's Open on odd steps, a lister's call on even.
      if (n % 2 == 1) {
        r.store = OpenStore(r.dir);
        ASSERT_NE(r.store, nullptr);
      }
      auto views = ListOverlays(r.dir);
      ASSERT_OK(views);
      auto fo = ReadFailoverInfo(r.dir);
      ASSERT_OK(fo);
      const std::string vm = JoinPath(r.dir, "replica.vhdx");
      // The oldest point reads through every delta; the latest is the
      // replica (or the held file) itself.
      if (!fo->committed) {
        EXPECT_EQ(FirstDifference(Restored(r.dir, 1), r.contents[0]), -1);
        if (fo->failed_over) {
          EXPECT_EQ(FirstDifference(Restored(r.dir, 3), r.contents[2]), -1);
        }
      }
      EXPECT_EQ(FirstDifference(ReadDisk(vm), r.contents[fo->failed_over ? fo->point_id - 1 : 2]),
                -1);
      for (const OverlayInfo& v : *views) {
        EXPECT_EQ(FirstDifference(ReadDisk(v.path), r.contents[v.point_id - 1]), -1) << v.name;
      }
      if (finished) {
        bool has_x = false;
        for (const OverlayInfo& v : *views) has_x |= v.name == "x" || v.name == "keep";
        EXPECT_EQ(has_x, op.done_view);
        EXPECT_EQ(fo->failed_over, op.done_failed_over);
        EXPECT_EQ(fo->committed, op.done_committed);
      }
      if (fo->committed) {
        // One point, the failed-over disk as it is; no delta files left.
        auto points = ListRecoveryPoints(r.dir);
        ASSERT_OK(points);
        ASSERT_EQ(points->size(), 1u);
        EXPECT_EQ(FirstDifference(Restored(r.dir, 2), r.contents[1]), -1);
        std::string deltas;
        disk::testing::RunCommand(absl::StrCat("ls '", JoinPath(r.dir, "points"), "'"), &deltas);
        EXPECT_EQ(deltas, "");
        if (finished) break;
        ++kills;
        continue;
      }
      // No view, no failover: the replica is one file again, nothing left over.
      ASSERT_OK(CancelFailover(r.dir));
      for (const OverlayInfo& v : *views) {
        if (v.name != "failover") {
          ASSERT_OK(DeleteOverlay(r.dir, v.name));
        }
      }
      EXPECT_FALSE(IsDifferencing(vm));
      std::vector<std::string> left = Names(r.dir);
      EXPECT_TRUE(left.empty()) << left[0];
      std::string overlays;
      disk::testing::RunCommand(
          absl::StrCat("(ls '", JoinPath(r.dir, "overlays"), "' 2>/dev/null; true)"), &overlays);
      EXPECT_EQ(overlays, "");
      EXPECT_EQ(FirstDifference(ReadDisk(vm), r.contents[2]), -1);
      if (finished) break;
      ++kills;
    }
  }
  EXPECT_GE(kills, 12);
  std::printf("killed at %d steps\n", kills);
}

TEST(OverlayTest, ViewsShowTheirPointsAndLaterCyclesLeaveThemUnchanged) {
  Replicated r = MakeReplicated("views");
  ASSERT_NE(r.store, nullptr);
  ASSERT_EQ(r.store->points().size(), 3u);
  std::vector<OverlayInfo> views;
  for (uint64_t id : {1, 2, 3}) {
    auto v = CreateOverlay(r.dir, {absl::StrCat("test-", id), id, ""});
    ASSERT_OK(v);
    EXPECT_EQ(v->point_id, id);
    EXPECT_TRUE(IsDifferencing(v->path));
    // Exactly the point, as a restore writes it and as the source was.
    EXPECT_EQ(FirstDifference(ReadDisk(v->path), Restored(r.dir, id)), -1) << id;
    EXPECT_EQ(FirstDifference(ReadDisk(v->path), r.contents[id - 1]), -1) << id;
    views.push_back(*v);
  }
  // The latest point's view over a fresh freeze holds nothing of its own.
  EXPECT_EQ(views[2].bytes_written, 0u);
  EXPECT_GT(views[0].bytes_written, 0u);
  EXPECT_TRUE(IsDifferencing(JoinPath(r.dir, "replica.vhdx")));

  // Cycles go on into the differencing replica; the views stay as they were.
  WritePattern(r.src, 0, kBlock, 6);
  WriteZeros(r.src, 6 * kMiB, kBlock);
  ASSERT_OK(RunCycle(r.src, CycleMode::kScan, *r.store).status());
  r.contents.push_back(ReadDisk(r.src));
  EXPECT_EQ(FirstDifference(ReadDisk(JoinPath(r.dir, "replica.vhdx")), r.contents[3]), -1);
  EXPECT_EQ(FirstDifference(Restored(r.dir, 4), r.contents[3]), -1);
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(FirstDifference(ReadDisk(views[id - 1].path), r.contents[id - 1]), -1) << id;
    EXPECT_EQ(FirstDifference(Restored(r.dir, id), r.contents[id - 1]), -1) << id;
  }
  // A view of point 2 made after that cycle holds the cycle's blocks too
  // (where the base differs from point 2 both ways).
  auto late = CreateOverlay(r.dir, {"late", 2, ""});
  ASSERT_OK(late);
  EXPECT_EQ(FirstDifference(ReadDisk(late->path), r.contents[1]), -1);

  // Writes into a view reach neither the replica nor its points.
  WritePattern(views[0].path, 3 * kMiB, 4 * kBlock, 7);
  WritePattern(views[0].path, 0, kBlock, 8);
  for (uint64_t id : {1, 2, 3, 4}) {
    EXPECT_EQ(FirstDifference(Restored(r.dir, id), r.contents[id - 1]), -1) << id;
  }
  EXPECT_EQ(FirstDifference(ReadDisk(views[1].path), r.contents[1]), -1);

  auto list = ListOverlays(r.dir);
  ASSERT_OK(list);
  ASSERT_EQ(list->size(), 4u);
  EXPECT_EQ((*list)[0].name, "late");
  EXPECT_EQ((*list)[1].name, "test-1");

  // The last view gone, the replica is one file again, holding the latest point.
  for (const char* n : {"test-1", "test-2", "late"}) ASSERT_OK(DeleteOverlay(r.dir, n));
  EXPECT_TRUE(IsDifferencing(JoinPath(r.dir, "replica.vhdx")));
  ASSERT_OK(DeleteOverlay(r.dir, "test-3"));
  ASSERT_OK(DeleteOverlay(r.dir, "test-3"));  // idempotent
  EXPECT_FALSE(IsDifferencing(JoinPath(r.dir, "replica.vhdx")));
  EXPECT_TRUE(Names(r.dir).empty()) << Names(r.dir)[0];
  EXPECT_FALSE(PathExists(views[0].path));
  EXPECT_EQ(FirstDifference(ReadDisk(JoinPath(r.dir, "replica.vhdx")), r.contents[3]), -1);
  EXPECT_TRUE(testing::QemuCompare(JoinPath(r.dir, "replica.vhdx"), r.src));
  for (uint64_t id : {1, 2, 3, 4}) {
    EXPECT_EQ(FirstDifference(Restored(r.dir, id), r.contents[id - 1]), -1) << id;
  }
  // And replication goes on.
  WritePattern(r.src, 7 * kMiB, kBlock, 9);
  ASSERT_OK(RunCycle(r.src, CycleMode::kScan, *r.store).status());
  EXPECT_EQ(FirstDifference(ReadDisk(JoinPath(r.dir, "replica.vhdx")), ReadDisk(r.src)), -1);
}

TEST(OverlayTest, QemuReadsWhatItCan) {
  // qemu-img 7.2 does not open a differencing VHDX ("Operation not
  // supported"), so views are compared with asr's reads (and RestorePoint's
  // output) above; here the view's contents, copied into a standalone VHDX
  // by asr, are compared with qemu-img against the restore of its point,
  // and the view itself too should qemu-img read it.
  Replicated r = MakeReplicated("qemu");
  ASSERT_NE(r.store, nullptr);
  auto v = CreateOverlay(r.dir, {"q", 1, ""});
  ASSERT_OK(v);
  std::string restored = TempPath("qemu-restored.vhdx");
  ASSERT_OK(RestorePoint(r.dir, 1, restored, {}));
  std::string flat = TempPath("qemu-flat.vhdx");
  disk::CreateOptions co;
  co.virtual_size = kDiskSize;
  {
    auto out = disk::CreateDisk(flat, co);
    ASSERT_OK(out);
    std::vector<uint8_t> data = ReadDisk(v->path);
    ASSERT_OK((*out)->WriteAt(0, absl::MakeConstSpan(data)));
    ASSERT_OK((*out)->Close());
  }
  EXPECT_TRUE(testing::QemuCompare(flat, restored));
  if (disk::testing::HaveQemu() &&
      disk::testing::RunCommand(absl::StrCat("qemu-img info '", v->path, "'")) == 0) {
    EXPECT_TRUE(testing::QemuCompare(v->path, restored));
  }
}

TEST(OverlayTest, ViewOfALargeSparseDiskCostsWhatTheDeltasHold) {
  constexpr uint64_t kLarge = 64ull << 30;
  std::string src = TempPath("sparse.vhdx");
  std::string dir = TempPath("sparse-replica");
  CreateSourceDisk(src, kLarge, 32 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  WritePattern(src, 40ull << 30, 1 << 20, 2);
  auto store = OpenStore(dir);
  ASSERT_NE(store, nullptr);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, *store).status());
  WritePattern(src, 40ull << 30, 2 * kBlock, 3);
  WritePattern(src, 63ull << 30, kBlock, 4);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, *store).status());
  auto v = CreateOverlay(dir, {"sparse", 1, ""});
  ASSERT_OK(v);
  // Point 1 differs from the latest in 3 blocks: that is what the view holds.
  EXPECT_LE(v->bytes_written, 3 * kBlock);
  EXPECT_GT(v->bytes_written, 0u);
  EXPECT_LT(disk::testing::FileSize(v->path), 64ull << 20);
  auto view = disk::OpenDisk(v->path, disk::OpenMode::kReadOnly);
  ASSERT_OK(view);
  std::string restored = TempPath("sparse-restored.vhdx");
  ASSERT_OK(RestorePoint(dir, 1, restored, {}));
  auto want = disk::OpenDisk(restored, disk::OpenMode::kReadOnly);
  ASSERT_OK(want);
  for (uint64_t off : {0ull, 40ull << 30, 63ull << 30, 20ull << 30}) {
    std::vector<uint8_t> a(2 << 20), b(2 << 20);
    ASSERT_OK((*view)->ReadAt(off, absl::MakeSpan(a)));
    ASSERT_OK((*want)->ReadAt(off, absl::MakeSpan(b)));
    EXPECT_EQ(FirstDifference(a, b), -1) << off;
  }
  // Cycles after the freeze write into the differencing replica only: a
  // second view of the latest point holds just them.
  WritePattern(src, 10ull << 30, kBlock, 5);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, *store).status());
  auto latest = CreateOverlay(dir, {"latest", 0, ""});
  ASSERT_OK(latest);
  EXPECT_EQ(latest->point_id, 3u);
  EXPECT_LE(latest->bytes_written, kBlock);
  ASSERT_OK(DeleteOverlay(dir, "sparse"));
  ASSERT_OK(DeleteOverlay(dir, "latest"));
  EXPECT_FALSE(IsDifferencing(JoinPath(dir, "replica.vhdx")));
}

TEST(OverlayTest, VhdReplicasHaveVhdViews) {
  const std::string src = TempPath("vhd-src.vhdx");
  const std::string dir = TempPath("vhd-replica");
  CreateSourceDisk(src, 4 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  ReplicaOptions o = testing::WriterOptions();
  o.additional_points = 2;
  o.point_interval = absl::ZeroDuration();
  o.format = disk::DiskFormat::kVhd;
  auto store = ReplicaStore::Open(dir, o);
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store).status());
  const std::vector<uint8_t> one = ReadDisk(src);
  WritePattern(src, 2 * kBlock, kBlock, 2);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  auto v = CreateOverlay(dir, {"vhd", 1, ""});
  ASSERT_OK(v);
  EXPECT_TRUE(absl::EndsWith(v->path, ".vhd")) << v->path;
  EXPECT_TRUE(IsDifferencing(v->path));
  EXPECT_TRUE(IsDifferencing(JoinPath(dir, "replica.vhd")));
  EXPECT_EQ(FirstDifference(ReadDisk(v->path), one), -1);
  WritePattern(src, 3 * kBlock, kBlock, 3);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  EXPECT_EQ(FirstDifference(ReadDisk(v->path), one), -1);
  ASSERT_OK(DeleteOverlay(dir, "vhd"));
  EXPECT_FALSE(IsDifferencing(JoinPath(dir, "replica.vhd")));
  EXPECT_EQ(FirstDifference(ReadDisk(JoinPath(dir, "replica.vhd")), ReadDisk(src)), -1);
  EXPECT_EQ(FirstDifference(Restored(dir, 1), one), -1);
}

TEST(OverlayTest, FailoverBeginsChangesCancelsAndCommits) {
  Replicated r = MakeReplicated("failover");
  ASSERT_NE(r.store, nullptr);
  const std::string vm = JoinPath(r.dir, "replica.vhdx");
  auto test_view = CreateOverlay(r.dir, {"test-run", 2, ""});
  ASSERT_OK(test_view);

  auto f = BeginFailover(r.dir, 1, vm);
  ASSERT_OK(f);
  EXPECT_EQ(f->path, vm);
  EXPECT_EQ(f->point_id, 1u);
  EXPECT_EQ(FirstDifference(ReadDisk(vm), r.contents[0]), -1);
  auto info = ReadFailoverInfo(r.dir);
  ASSERT_OK(info);
  EXPECT_TRUE(info->failed_over);
  EXPECT_FALSE(info->committed);
  EXPECT_EQ(info->point_id, 1u);
  EXPECT_EQ(info->vm_disk_path, vm);
  // Cycles are refused, saying why and what to do; points still restore.
  WritePattern(r.src, 2 * kMiB, kBlock, 10);
  auto refused = RunCycle(r.src, CycleMode::kScan, *r.store);
  EXPECT_THAT(refused.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("the replica is failed over; ")));
  EXPECT_THAT(refused.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CancelFailover")));
  for (uint64_t id : {1, 2, 3}) {
    EXPECT_EQ(FirstDifference(Restored(r.dir, id), r.contents[id - 1]), -1) << id;
  }
  EXPECT_EQ(FirstDifference(ReadDisk(test_view->path), r.contents[1]), -1);
  EXPECT_THAT(BeginFailover(r.dir, 2, vm).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already failed over")));
  EXPECT_THAT(DeleteOverlay(r.dir, "failover"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("CancelFailover")));

  // The VM writes; another point is chosen: what it wrote is discarded.
  WritePattern(vm, 4 * kMiB, kBlock, 11);
  ASSERT_OK(ChangeFailoverPoint(r.dir, 2).status());
  EXPECT_EQ(FirstDifference(ReadDisk(vm), r.contents[1]), -1);
  EXPECT_EQ(FirstDifference(ReadDisk(test_view->path), r.contents[1]), -1);
  auto listed = ListOverlays(r.dir);
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "failover");
  EXPECT_EQ((*listed)[0].point_id, 2u);

  // Cancel: the replica at its latest point again; cycles are taken.
  WritePattern(vm, 4 * kMiB, kBlock, 12);
  ASSERT_OK(CancelFailover(r.dir));
  EXPECT_EQ(FirstDifference(ReadDisk(vm), r.contents[2]), -1);
  ASSERT_OK(RunCycle(r.src, CycleMode::kScan, *r.store).status());
  r.contents.push_back(ReadDisk(r.src));
  EXPECT_EQ(FirstDifference(ReadDisk(vm), r.contents[3]), -1);
  EXPECT_EQ(FirstDifference(ReadDisk(test_view->path), r.contents[1]), -1);
  ASSERT_OK(DeleteOverlay(r.dir, "test-run"));
  EXPECT_FALSE(IsDifferencing(vm));

  // Failover again, the VM writes, commit: the points are gone, the disk
  // keeps the point and the VM's writes; cycles stay refused.
  ASSERT_OK(BeginFailover(r.dir, 3, vm).status());
  std::vector<uint8_t> want = r.contents[2];
  std::vector<uint8_t> wrote = WritePattern(vm, 5 * kMiB, kBlock, 13);
  std::copy(wrote.begin(), wrote.end(), want.begin() + 5 * kMiB);
  ASSERT_OK(CommitFailover(r.dir));
  ASSERT_OK(CommitFailover(r.dir));  // idempotent
  EXPECT_EQ(FirstDifference(ReadDisk(vm), want), -1);
  auto points = ListRecoveryPoints(r.dir);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].id, 3u);
  std::string deltas;
  disk::testing::RunCommand(absl::StrCat("ls '", JoinPath(r.dir, "points"), "'"), &deltas);
  EXPECT_EQ(deltas, "");
  EXPECT_EQ(FirstDifference(Restored(r.dir, 3), want), -1);
  info = ReadFailoverInfo(r.dir);
  ASSERT_OK(info);
  EXPECT_TRUE(info->committed);
  EXPECT_THAT(CancelFailover(r.dir), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(RunCycle(r.src, CycleMode::kScan, *r.store).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("failed over")));
  // A receiver opened now refuses too.
  r.store.reset();
  auto again = OpenStore(r.dir);
  ASSERT_NE(again, nullptr);
  EXPECT_THAT(RunCycle(r.src, CycleMode::kScan, *again).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("failed over")));
}

TEST(OverlayTest, BadRequestsAreRefusedClearly) {
  std::string empty = TempPath("no-replica");
  EXPECT_THAT(CreateOverlay(empty, {"a", 0, ""}).status(), StatusIs(absl::StatusCode::kNotFound));
  {
    auto store = OpenStore(empty);  // a directory without a point yet
    ASSERT_NE(store, nullptr);
  }
  EXPECT_THAT(CreateOverlay(empty, {"a", 0, ""}).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not a replica directory")));
  Replicated r = MakeReplicated("bad");
  ASSERT_NE(r.store, nullptr);
  EXPECT_THAT(CreateOverlay(r.dir, {"Bad/Name", 0, ""}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("a-z")));
  EXPECT_THAT(CreateOverlay(r.dir, {"failover", 0, ""}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reserved")));
  EXPECT_THAT(CreateOverlay(r.dir, {"a", 77, ""}).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("kept: 1, 2, 3")));
  ASSERT_OK(CreateOverlay(r.dir, {"a", 0, ""}).status());
  EXPECT_THAT(CreateOverlay(r.dir, {"a", 1, ""}).status(),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(CreateOverlay(r.dir, {"b", 1, r.src}).status(),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("exists")));
  // A view at a path of the caller's choosing.
  std::string own = TempPath("own-view.vhdx");
  auto v = CreateOverlay(r.dir, {"b", 2, own});
  ASSERT_OK(v);
  EXPECT_EQ(v->path, own);
  EXPECT_EQ(FirstDifference(ReadDisk(own), r.contents[1]), -1);
  EXPECT_THAT(BeginFailover(r.dir, 0, r.src).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not the replica VM's disk")));
  EXPECT_THAT(CommitFailover(r.dir), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(CancelFailover(r.dir));
  EXPECT_THAT(ChangeFailoverPoint(r.dir, 1).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A state file whose layout step names a file outside the directory is
  // refused and nothing is renamed through it.
  {
    auto loaded = LoadReplicaState(r.dir);
    ASSERT_OK(loaded);
    ReplicaStore::State forged = loaded->state;
    const std::string victim = TempPath("victim");
    disk::testing::WriteFileBytes(victim, "x");
    model::ReplicaOverlayStep* st = forged.overlay.add_pending();
    st->set_kind(model::ReplicaOverlayStep::RENAME);
    st->set_from(victim);
    st->set_to("replica.vhdx");
    const std::string state_path = JoinPath(r.dir, kReplicaStateFile);
    const std::string saved = disk::testing::ReadFileBytes(state_path);
    disk::testing::WriteFileBytes(state_path, SerializeReplicaState(forged));
    EXPECT_THAT(ListOverlays(r.dir).status(),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("pending layout step")));
    EXPECT_THAT(RestorePoint(r.dir, 1, TempPath("forged.vhdx"), {}),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_TRUE(PathExists(victim));
    disk::testing::WriteFileBytes(state_path, saved);
  }
  ASSERT_OK(DeleteOverlay(r.dir, "a"));
  ASSERT_OK(DeleteOverlay(r.dir, "b"));
  EXPECT_FALSE(PathExists(own));
  EXPECT_FALSE(IsDifferencing(JoinPath(r.dir, "replica.vhdx")));
}

// Reverse replication: the old primary's surviving disk is adopted as the
// replica of the failed-over VM's disk; a cycle then sends only the blocks
// in which they differ, and the replica equals the source afterwards.
TEST(OverlayTest, AdoptedDiskTakesAReverseCycleOfOnlyTheDifferences) {
  Replicated r = MakeReplicated("forward");
  ASSERT_NE(r.store, nullptr);
  const std::string vm = JoinPath(r.dir, "replica.vhdx");
  // The old primary's disk as the failover found it (the source at point 3),
  // and the failover: the replica VM runs on point 3 and writes K blocks.
  ASSERT_OK(BeginFailover(r.dir, 3, vm).status());
  ASSERT_OK(CommitFailover(r.dir));
  r.store.reset();
  constexpr int kChanged = 5;
  for (int k = 0; k < kChanged; ++k)
    WritePattern(vm, (3 + 17 * k) * uint64_t{kBlock}, kBlock, 20 + k);
  ASSERT_TRUE(IsDifferencing(vm));  // a chain over the frozen base: fine as a source

  // On the old primary: its disk becomes the replica of the reversed replication.
  const std::string back = TempPath("reverse-replica");
  AdoptOptions adopt;
  adopt.replication_id = NewReplicationId();
  adopt.source_disk_id = "{vm-disk-after-failover}";
  adopt.writer = testing::kTestWriter;
  adopt.block_size = kBlock;
  ASSERT_OK(AdoptDiskAsReplica(back, r.src, adopt));
  struct stat a, b;
  ASSERT_EQ(stat(r.src.c_str(), &a), 0);
  ASSERT_EQ(stat(JoinPath(back, "replica.vhdx").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // a hard link: the old VM keeps its path
  EXPECT_THAT(AdoptDiskAsReplica(back, r.src, adopt),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already holds")));
  auto points = ListRecoveryPoints(back);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].id, 1u);

  // The sender's state for the new source, from the replica's digests.
  ASSERT_OK(WriteAdoptedSourceManifest(back, vm));
  auto store = OpenStore(back);
  ASSERT_NE(store, nullptr);
  auto st = RunCycle(vm, CycleMode::kTracked, *store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_EQ(st->blocks_sent, static_cast<uint64_t>(kChanged));
  EXPECT_EQ(st->changed_bytes, kChanged * uint64_t{kBlock});
  EXPECT_LT(st->wire_bytes, (kChanged + 2) * uint64_t{kBlock});
  EXPECT_EQ(FirstDifference(ReadDisk(JoinPath(back, "replica.vhdx")), ReadDisk(vm)), -1);
  // The old VM's path shows the replica (the same file).
  EXPECT_EQ(FirstDifference(ReadDisk(r.src), ReadDisk(vm)), -1);
  // And it goes on as any replication: a later write, a later cycle.
  WritePattern(vm, 7 * kMiB, kBlock, 30);
  st = RunCycle(vm, CycleMode::kScan, *store);
  ASSERT_OK(st);
  EXPECT_EQ(st->blocks_sent, 1u);
  EXPECT_EQ(FirstDifference(ReadDisk(r.src), ReadDisk(vm)), -1);

  // Failover of the adopted replica keeps the old VM's path its disk.
  store.reset();
  ASSERT_OK(CreateOverlay(back, {"t", 0, ""}).status());
  ASSERT_EQ(stat(r.src.c_str(), &a), 0);
  ASSERT_EQ(stat(JoinPath(back, "replica.vhdx").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  ASSERT_OK(BeginFailover(back, 2, r.src).status());
  ASSERT_EQ(stat(r.src.c_str(), &a), 0);
  ASSERT_EQ(stat(JoinPath(back, "replica.vhdx").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(FirstDifference(ReadDisk(r.src), Restored(back, 2)), -1);
  ASSERT_OK(CancelFailover(back));
  ASSERT_OK(DeleteOverlay(back, "t"));
  ASSERT_EQ(stat(r.src.c_str(), &a), 0);
  ASSERT_EQ(stat(JoinPath(back, "replica.vhdx").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_FALSE(IsDifferencing(r.src));
  EXPECT_EQ(FirstDifference(ReadDisk(r.src), ReadDisk(vm)), -1);
}

TEST(OverlayTest, AdoptRefusesBadInput) {
  AdoptOptions adopt;
  adopt.replication_id = NewReplicationId();
  adopt.source_disk_id = "{d}";
  const std::string src = TempPath("adopt-bad.vhdx");
  CreateSourceDisk(src, kDiskSize);
  EXPECT_THAT(AdoptDiskAsReplica(TempPath("adopt-none"), TempPath("missing.vhdx"), adopt),
              StatusIs(absl::StatusCode::kNotFound));
  AdoptOptions bad = adopt;
  bad.block_size = 3000;
  EXPECT_THAT(AdoptDiskAsReplica(TempPath("adopt-bs"), src, bad),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("power of two")));
  bad = adopt;
  bad.replication_id = "";
  EXPECT_THAT(AdoptDiskAsReplica(TempPath("adopt-id"), src, bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A directory on another file system cannot hold a hard link.
  if (PathExists("/dev/shm")) {
    std::string shm = absl::StrCat("/dev/shm/asr-adopt-", getpid());
    absl::Status s = AdoptDiskAsReplica(shm, src, adopt);
    struct stat a, b;
    if (stat("/dev/shm", &a) == 0 && stat(DirName(src).c_str(), &b) == 0 && a.st_dev != b.st_dev) {
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("file systems")));
    }
    (void)RemoveTree(shm);
  }
  // A differencing chain is merged into one file first.
  const std::string child = TempPath("adopt-child.vhdx");
  WritePattern(src, 0, kBlock, 1);
  disk::CreateOptions co;
  co.type = disk::DiskType::kDifferencing;
  co.parent_path = src;
  {
    auto d = disk::CreateDisk(child, co);
    ASSERT_OK(d);
    ASSERT_OK((*d)->Close());
  }
  WritePattern(child, kBlock, kBlock, 2);
  std::vector<uint8_t> want = ReadDisk(child);
  const std::string dir = TempPath("adopt-chain");
  ASSERT_OK(AdoptDiskAsReplica(dir, child, adopt));
  EXPECT_FALSE(IsDifferencing(child));
  EXPECT_EQ(FirstDifference(ReadDisk(child), want), -1);
  EXPECT_EQ(FirstDifference(Restored(dir, 1), want), -1);
}

}  // namespace
}  // namespace asr::replication
