// Writers the change tracker was never told about: qemu-io, a second
// process writing through asr without the tracker, a file copied over the
// disk or moved into its place, a backup restored with its older times, a
// disk grown behind the tracker's back, a deleted, truncated, corrupt or
// stale change map, and a host that died with the map open. Each must turn a
// tracked cycle into a scan with a reason that names what happened (or, when
// the caller allows no fallback, refuse it), and the recovery point must
// then equal the source byte for byte, by asr's reader and by qemu-img.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/net/stream.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using disk::testing::HaveQemu;
using disk::testing::RunCommand;
using disk::testing::TempPath;
using testing::CreateSourceDisk;
using testing::QemuCompare;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 16ull << 20;
constexpr uint32_t kBlock = 64 << 10;

std::string Quote(const std::string& s) { return absl::StrCat("'", s, "'"); }

void Shell(const std::string& cmd) {
  std::string out;
  int rc = RunCommand(cmd, &out);
  ASSERT_EQ(rc, 0) << cmd << ": " << out;
}

// One source disk of the parameter's format with a replica whose tracker is
// armed and proven trusted by one tracked cycle.
class OutsideWriterTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string name =
        absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                     ::testing::UnitTest::GetInstance()->random_seed());
    std::string clean;
    for (char c : name) clean += (isalnum(static_cast<unsigned char>(c)) ? c : '_');
    src_ = TempPath(absl::StrCat(clean, ".", GetParam()));
    dir_ = TempPath(absl::StrCat(clean, "-replica"));
    ASSERT_OK(MakeDirectories(dir_));
    CreateSourceDisk(src_, kDiskSize, 1 << 20);
    WritePattern(src_, 0, 2 << 20, 1);
    WritePattern(src_, 9 << 20, 1 << 20, 2);
    ReplicaOptions ro = testing::WriterOptions();
    ro.additional_points = 4;
    ro.point_interval = absl::ZeroDuration();
    auto store = ReplicaStore::Open(dir_, ro);
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto st = RunCycle(src_, CycleMode::kInitial, *store_);
    ASSERT_OK(st);
    // A host-recorded write and a tracked cycle: the tracker is trusted.
    TrackedWrite(4 << 20, 3 * kBlock, 3);
    st = RunCycle(src_, CycleMode::kTracked, *store_);
    ASSERT_OK(st);
    ASSERT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
    ASSERT_EQ(st->blocks_sent, 3u);
  }

  std::string QemuFormat() const { return GetParam() == "vhd" ? "vpc" : GetParam(); }

  // A write through the host's tracker, as a Hyper-V host's filter reports it.
  void TrackedWrite(uint64_t offset, size_t n, uint32_t seed) {
    auto t = ChangeTracker::Open(src_, kDiskSize, kBlock);
    ASSERT_OK(t);
    WritePattern(src_, offset, n, seed, t->get());
    ASSERT_OK((*t)->Close());
  }

  // A tracked cycle that must fall back to a scan because of `expect` (a
  // part of the reason), after which the replica and its latest point are
  // the source, and the tracker is trusted again.
  void ExpectScanFallback(const std::string& expect) {
    auto st = RunCycle(src_, CycleMode::kTracked, *store_);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_requested, CycleMode::kTracked);
    EXPECT_EQ(st->mode_used, CycleMode::kScan);
    EXPECT_TRUE(absl::StrContains(st->fallback_reason, expect)) << st->fallback_reason;
    std::string json = CycleStatsToJson(*st, src_);
    EXPECT_TRUE(absl::StrContains(json, "\"modeUsed\":\"scan\"")) << json;
    EXPECT_TRUE(absl::StrContains(json, expect)) << json;
    ExpectLatestPointIsSource();
    // Re-armed: the next recorded write goes by tracked mode again.
    TrackedWrite(12 << 20, 100, 77);
    st = RunCycle(src_, CycleMode::kTracked, *store_);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
    EXPECT_EQ(st->blocks_sent, 1u);
    ExpectLatestPointIsSource();
  }

  void ExpectLatestPointIsSource() {
    std::vector<uint8_t> want = ReadDisk(src_);
    EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(store_->info().replica_path), want), -1);
    std::vector<RecoveryPoint> pts = store_->points();
    ASSERT_FALSE(pts.empty());
    std::string out = TempPath(absl::StrCat(absl::ToUnixNanos(absl::Now()), "-restored.vhdx"));
    absl::Status s = RestorePoint(dir_, pts.back().id, out, {});
    ASSERT_OK(s);
    EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), want), -1)
        << "point " << pts.back().id << " differs from the source";
    // qemu-img reads the restored point on its own; the source too, unless
    // a crashed writer left its VHDX log to be replayed (qemu-img will not
    // open such a file read-only), then against asr's reading of it.
    std::string raw = out + ".raw";
    disk::testing::WriteFileBytes(raw, std::string(want.begin(), want.end()));
    if (HaveQemu()) {
      std::string msg;
      EXPECT_EQ(
          RunCommand(absl::StrCat("qemu-img compare -f vhdx -F raw ", Quote(out), " ", Quote(raw)),
                     &msg),
          0)
          << msg;
    }
    if (!source_log_dirty_) {
      EXPECT_TRUE(QemuCompare(out, src_));
    }
  }

  std::string src_, dir_;
  std::unique_ptr<ReplicaStore> store_;
  bool source_log_dirty_ = false;
};

TEST_P(OutsideWriterTest, QemuIoWrite) {
  if (!HaveQemu()) GTEST_SKIP() << "qemu-io is not installed";
  Shell(absl::StrCat("qemu-io -f ", QemuFormat(), " -c 'write -P 0x42 1M 64k' ", Quote(src_)));
  ExpectScanFallback(GetParam() == "vhdx" ? "DataWriteGuid" : "outside the change tracker");
}

TEST_P(OutsideWriterTest, SecondAsrProcessWritingWithoutTheTracker) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto d = disk::OpenDisk(src_, disk::OpenMode::kReadWrite);
    if (!d.ok()) ::_exit(2);
    std::vector<uint8_t> data(5000, 0x5a);
    if (!(*d)->WriteAt(7 << 20, absl::MakeConstSpan(data)).ok()) ::_exit(3);
    ::_exit((*d)->Close().ok() ? 0 : 4);
  }
  int ws = 0;
  ASSERT_EQ(::waitpid(pid, &ws, 0), pid);
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
  ExpectScanFallback("outside the change tracker");
}

TEST_P(OutsideWriterTest, FileCopiedOverTheDisk) {
  // Another copy of the disk with other data, copied over it in place (the
  // inode stays; cp truncates and rewrites).
  const std::string other = src_ + ".other";
  Shell(absl::StrCat("cp ", Quote(src_), " ", Quote(other)));
  WritePattern(other, 6 << 20, 2 * kBlock, 9);
  struct stat before, after;
  ASSERT_EQ(::stat(src_.c_str(), &before), 0);
  Shell(absl::StrCat("cp ", Quote(other), " ", Quote(src_)));
  ASSERT_EQ(::stat(src_.c_str(), &after), 0);
  ASSERT_EQ(before.st_ino, after.st_ino);
  ExpectScanFallback(GetParam() == "vhdx" ? "DataWriteGuid" : "outside the change tracker");
}

TEST_P(OutsideWriterTest, FileMovedIntoTheDisksPlace) {
  const std::string other = src_ + ".new";
  Shell(absl::StrCat("cp ", Quote(src_), " ", Quote(other)));
  WritePattern(other, 3 << 20, kBlock, 10);
  ASSERT_EQ(::rename(other.c_str(), src_.c_str()), 0);
  ExpectScanFallback("was replaced by another file");
}

TEST_P(OutsideWriterTest, BackupRestoredWithItsOlderModificationTime) {
  // A backup taken now, with its times kept...
  const std::string backup = src_ + ".bak";
  Shell(absl::StrCat("cp -p ", Quote(src_), " ", Quote(backup)));
  absl::SleepFor(absl::Milliseconds(20));
  // ... then the host writes on, and the replica follows ...
  TrackedWrite(2 << 20, 2 * kBlock, 11);
  auto st = RunCycle(src_, CycleMode::kTracked, *store_);
  ASSERT_OK(st);
  ASSERT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
  // ... and the backup is put back over the disk, times and all: the source
  // now lacks the last write, and the replica must lose it too.
  Shell(absl::StrCat("cp -p ", Quote(backup), " ", Quote(src_)));
  ExpectScanFallback("modification time went back");
}

TEST_P(OutsideWriterTest, DiskFileGrewBehindTheTracker) {
  if (GetParam() != "vhdx") GTEST_SKIP() << "a VHD's footer must stay at its end";
  // Bytes appended to a VHDX file (no header change, no data change).
  std::string tail(1 << 20, '\x7f');
  int fd = ::open(src_.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, tail.data(), tail.size()), static_cast<ssize_t>(tail.size()));
  ::close(fd);
  ExpectScanFallback("grew from");
}

TEST_P(OutsideWriterTest, DeletedTrackerFile) {
  WritePattern(src_, 5 << 20, 10, 12);  // nobody recorded this
  ASSERT_EQ(::unlink(TrackerPath(src_).c_str()), 0);
  ExpectScanFallback("no change map");
}

TEST_P(OutsideWriterTest, TruncatedTrackerFile) {
  TrackedWrite(5 << 20, 10, 13);
  std::string bytes = *ReadFileToString(TrackerPath(src_));
  ASSERT_OK(WriteFileAtomically(TrackerPath(src_), bytes.substr(0, 30)));
  ExpectScanFallback("the change map is");
}

TEST_P(OutsideWriterTest, CorruptTrackerFile) {
  TrackedWrite(5 << 20, 10, 14);
  std::string bytes = *ReadFileToString(TrackerPath(src_));
  bytes[bytes.size() - 20] ^= 0x01;  // one changed-block bit
  ASSERT_OK(WriteFileAtomically(TrackerPath(src_), bytes));
  ExpectScanFallback("corrupt");
}

TEST_P(OutsideWriterTest, TrackerFileOlderThanTheDisksLastChange) {
  // A copy of the map from before the last recorded writes is put back:
  // it does not know them.
  std::string old_map = *ReadFileToString(TrackerPath(src_));
  TrackedWrite(6 << 20, kBlock, 15);
  ASSERT_OK(WriteFileAtomically(TrackerPath(src_), old_map));
  ExpectScanFallback("outside the change tracker");
}

TEST_P(OutsideWriterTest, HostDiedWithTheTrackerOpen) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto t = ChangeTracker::Open(src_, kDiskSize, kBlock);
    if (!t.ok()) ::_exit(2);
    auto d = disk::OpenDisk(src_, disk::OpenMode::kReadWrite);
    if (!d.ok()) ::_exit(3);
    std::vector<uint8_t> data(3 * kBlock, 0x33);
    // Record one block, write three (the rest were in flight at the crash).
    if (!(*t)->RecordWrite(8 << 20, kBlock).ok() || !(*t)->Checkpoint().ok() ||
        !(*d)->WriteAt(8 << 20, absl::MakeConstSpan(data)).ok() || !(*d)->Flush().ok()) {
      ::_exit(4);
    }
    ::kill(::getpid(), SIGKILL);
  }
  int ws = 0;
  ASSERT_EQ(::waitpid(pid, &ws, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(ws)) << ws;
  source_log_dirty_ = GetParam() == "vhdx";
  ExpectScanFallback("not shut down cleanly");
}

TEST_P(OutsideWriterTest, TrackedOnlyRefusesInsteadOfScanning) {
  WritePattern(src_, 5 << 20, 10, 16);  // not recorded
  SendOptions so;
  so.tracked_only = true;
  auto st = RunCycle(src_, CycleMode::kTracked, *store_, so);
  ASSERT_TRUE(absl::IsFailedPrecondition(st.status())) << st.status();
  EXPECT_TRUE(absl::StrContains(st.status().message(), "outside the change tracker"))
      << st.status();
  // Nothing was committed; the fallback is still owed.
  ExpectScanFallback("outside the change tracker");
}

TEST_P(OutsideWriterTest, TrackerHeldByAHostMeanwhile) {
  auto host = ChangeTracker::Open(src_, kDiskSize, kBlock);
  ASSERT_OK(host);
  WritePattern(src_, 5 << 20, 10, 17, host->get());
  // A sender in another process (here: without the host's tracker) must not
  // take the host's bits: it scans.
  auto st = RunCycle(src_, CycleMode::kTracked, *store_);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_TRUE(absl::StrContains(st->fallback_reason, "open elsewhere")) << st->fallback_reason;
  ExpectLatestPointIsSource();
  // The host's bits are intact: it still resends its write (harmless).
  EXPECT_EQ((*host)->marked_blocks(), 1u);
  ASSERT_OK((*host)->Close());
}

INSTANTIATE_TEST_SUITE_P(Formats, OutsideWriterTest, ::testing::Values("vhdx", "vhd"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// Differencing mode sends only the child's own blocks and trusts that the
// parents' blocks reached the replica when the parents were replicated.
// A parent written after that (before the child was made, or, for VHD, at
// any time) must make the cycle compare the child's whole view instead.
class DifferencingParentTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DifferencingParentTest, ParentWrittenAfterItWasReplicated) {
  const std::string ext = GetParam();
  const std::string parent = TempPath("diffpar-parent." + ext);
  const std::string child = TempPath("diffpar-child." + ext);
  const std::string dir = TempPath("diffpar-replica-" + ext);
  ASSERT_OK(MakeDirectories(dir));
  CreateSourceDisk(parent, kDiskSize, 1 << 20);
  WritePattern(parent, 0, 2 << 20, 1);
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(parent, CycleMode::kInitial, **store));
  // The parent changes after its last cycle (here: qemu-io, or asr without
  // replicating), then the child is made over it.
  WritePattern(parent, 6 << 20, 2 * kBlock, 2);
  disk::CreateOptions co;
  co.format = ext == "vhd" ? disk::DiskFormat::kVhd : disk::DiskFormat::kVhdx;
  co.type = disk::DiskType::kDifferencing;
  co.parent_path = parent;
  co.overwrite = true;
  {
    auto c = disk::CreateDisk(child, co);
    ASSERT_OK(c);
    ASSERT_OK((*c)->Close());
  }
  WritePattern(child, 10 << 20, kBlock, 3);
  auto st = RunCycle(child, CycleMode::kDifferencing, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_TRUE(absl::StrContains(st->fallback_reason, "parent " + parent)) << st->fallback_reason;
  EXPECT_EQ(
      disk::testing::FirstDifference(ReadDisk((*store)->info().replica_path), ReadDisk(child)), -1);
  // With nothing changed in the parent, the next cycle is differencing.
  WritePattern(child, 11 << 20, kBlock, 4);
  st = RunCycle(child, CycleMode::kDifferencing, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kDifferencing) << st->fallback_reason;
  EXPECT_EQ(
      disk::testing::FirstDifference(ReadDisk((*store)->info().replica_path), ReadDisk(child)), -1);
  if (ext == "vhd") {
    // A VHD child does not notice its parent changing under it: the
    // replication state does.
    WritePattern(parent, 13 << 20, kBlock, 5);
    st = RunCycle(child, CycleMode::kDifferencing, **store);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_used, CycleMode::kScan);
    EXPECT_TRUE(absl::StrContains(st->fallback_reason, "parent")) << st->fallback_reason;
    EXPECT_EQ(
        disk::testing::FirstDifference(ReadDisk((*store)->info().replica_path), ReadDisk(child)),
        -1);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, DifferencingParentTest, ::testing::Values("vhdx", "vhd"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// The first cycle writes a new replica file and skips zero ranges, since a
// new dynamic disk reads as zeros: a leftover file of an earlier, failed
// first cycle (full of data) must not leak through those ranges.
TEST(FirstCycleZeroRanges, LeftoverReplicaFileDoesNotLeakThrough) {
  const std::string src = TempPath("zeroskip-src.vhdx");
  CreateSourceDisk(src, kDiskSize, 1 << 20);
  WritePattern(src, 0, kBlock, 1);  // the rest reads as zeros
  const std::string dir = TempPath("zeroskip-replica");
  ASSERT_OK(MakeDirectories(dir));
  // A full disk where the new replica will be made.
  const std::string leftover = JoinPath(dir, "replica.vhdx.tmp");
  CreateSourceDisk(leftover, kDiskSize, 1 << 20);
  WritePattern(leftover, 0, kDiskSize, 9);
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  auto st = RunCycle(src, CycleMode::kInitial, **store);
  ASSERT_OK(st);
  EXPECT_GT(st->zero_ranges, 0u);
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk((*store)->info().replica_path), ReadDisk(src)),
            -1);
  EXPECT_TRUE(QemuCompare((*store)->info().replica_path, src));
}

// The fingerprint alone, on a raw file: what a VHD or raw disk can rely on.
TEST(ChangeTrackerFingerprint, RawFileOutsideWritesAreSeen) {
  const std::string raw = TempPath("fp-disk.raw");
  disk::testing::WriteFileBytes(raw, std::string(1 << 20, '\0'));
  {
    auto t = ChangeTracker::Open(raw, 1 << 20, kBlock);
    ASSERT_OK(t);
    ASSERT_OK((*t)->CommitCycle(true));
    ASSERT_OK((*t)->Close());
  }
  {
    auto t = ChangeTracker::Open(raw, 1 << 20, kBlock);
    ASSERT_OK(t);
    EXPECT_FALSE((*t)->needs_scan()) << (*t)->needs_scan_reason();
  }
  // Immediately after the tracker vouched: still seen (same clock tick).
  disk::testing::PatchFile(raw, 4096, "x", 1);
  auto t = ChangeTracker::OpenForCycle(raw, 1 << 20, kBlock);
  ASSERT_OK(t);
  EXPECT_TRUE((*t)->needs_scan());
  EXPECT_TRUE(absl::StrContains((*t)->needs_scan_reason(), "outside the change tracker"))
      << (*t)->needs_scan_reason();
}

// Many cycles with outside writes between them (qemu-io when installed,
// else a second process through asr), host-recorded writes too, and the
// sender or the receiver SIGKILLed at random moments: after every round's
// completed cycle the latest recovery point is the source, byte for byte.
TEST(OutsideWriterCrashLoop, EveryLatestPointEqualsTheSource) {
  const std::string src = TempPath("loop-src.vhdx");
  const std::string dir = TempPath("loop-replica");
  ASSERT_OK(MakeDirectories(dir));
  CreateSourceDisk(src, kDiskSize, 1 << 20);
  WritePattern(src, 0, 4 << 20, 1);
  ReplicaOptions ro = testing::WriterOptions();
  ro.additional_points = 3;
  ro.point_interval = absl::ZeroDuration();
  {
    auto store = ReplicaStore::Open(dir, ro);
    ASSERT_OK(store);
    ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  }
  std::mt19937 rng(20261130);
  std::uniform_int_distribution<uint64_t> block(0, kDiskSize / kBlock - 1);
  int fallbacks = 0, sender_kills = 0, receiver_kills = 0;
  const int kRounds = 15;
  for (int round = 1; round <= kRounds; ++round) {
    // Writes the host recorded...
    {
      auto t = ChangeTracker::Open(src, kDiskSize, kBlock);
      ASSERT_OK(t);
      for (int i = 0; i < 6; ++i) {
        WritePattern(src, block(rng) * kBlock, kBlock, 100 * round + i, t->get());
      }
      ASSERT_OK((*t)->Close());
    }
    // ... and, in most rounds, one it never heard of.
    if (round % 3 != 0) {
      uint64_t off = block(rng) * kBlock + 512 * (round % 7);
      if (HaveQemu()) {
        Shell(absl::StrCat("qemu-io -f vhdx -c 'write -P ", 0x40 + round, " ", off, " 4k' ",
                           Quote(src)));
      } else {
        std::vector<uint8_t> data(4096, static_cast<uint8_t>(0x40 + round));
        auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
        ASSERT_OK(d);
        ASSERT_OK((*d)->WriteAt(off, absl::MakeConstSpan(data)));
        ASSERT_OK((*d)->Close());
      }
    }
    // A tracked cycle between two forked processes, one of them killed at
    // a random moment (or neither, now and then).
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    pid_t receiver = ::fork();
    ASSERT_GE(receiver, 0);
    if (receiver == 0) {
      ::close(fds[0]);
      auto store = ReplicaStore::Open(dir, ro);
      if (!store.ok()) ::_exit(3);
      auto stream = net::MakePlainFdStream(fds[1], "socketpair", testing::kTestWriter);
      ::_exit(ServeConnection(*stream, **store, {}).ok() ? 0 : 4);
    }
    pid_t sender = ::fork();
    ASSERT_GE(sender, 0);
    if (sender == 0) {
      ::close(fds[1]);
      auto stream = net::MakePlainFdStream(fds[0]);
      auto st = ReplicateDisk(src, CycleMode::kTracked, *stream, {});
      ::_exit(st.ok() ? 0 : 5);
    }
    ::close(fds[0]);
    ::close(fds[1]);
    const int victim = round % 4;  // 0: none, 1-2: sender, 3: receiver
    std::uniform_int_distribution<int> delay_ms(0, 120);
    absl::SleepFor(absl::Milliseconds(delay_ms(rng)));
    if (victim == 1 || victim == 2) {
      ::kill(sender, SIGKILL);
      ++sender_kills;
    } else if (victim == 3) {
      ::kill(receiver, SIGKILL);
      ++receiver_kills;
    }
    int ws = 0;
    ::waitpid(sender, &ws, 0);
    ::waitpid(receiver, &ws, 0);
    // The next, undisturbed cycle brings the replica to the source.
    auto store = ReplicaStore::Open(dir, ro);
    ASSERT_OK(store);
    auto st = RunCycle(src, CycleMode::kTracked, **store);
    ASSERT_OK(st) << "round " << round << ": " << st.status();
    if (st->mode_used == CycleMode::kScan) ++fallbacks;
    std::vector<uint8_t> want = ReadDisk(src);
    std::vector<RecoveryPoint> pts = (*store)->points();
    ASSERT_FALSE(pts.empty());
    std::string out = TempPath(absl::StrCat("loop-restore-", round, ".vhdx"));
    ASSERT_OK(RestorePoint(dir, pts.back().id, out, {}));
    ASSERT_EQ(disk::testing::FirstDifference(ReadDisk(out), want), -1)
        << "round " << round << ": the latest point differs from the source (mode "
        << CycleModeName(st->mode_used) << ", reason '" << st->fallback_reason << "')";
    if (round % 5 == 0) {
      EXPECT_TRUE(QemuCompare(out, src)) << "round " << round;
    }
  }
  // Every round with an outside write scanned at least once before this
  // cycle or in it; rounds without one may go tracked.
  EXPECT_GE(fallbacks, 1);
  EXPECT_GE(sender_kills, 5);
  EXPECT_GE(receiver_kills, 3);
  std::cout << kRounds << " rounds: " << sender_kills << " senders and " << receiver_kills
            << " receivers killed, " << fallbacks << " closing cycles scanned\n";
}

}  // namespace
}  // namespace asr::replication
