// Resynchronization on real files: a replica with flipped bits and a
// truncated replica are found by verification and repaired by the next
// cycle, which sends only the blocks that differ (the byte counts are
// asserted); and a recovery host whose file system fills up ends the cycle
// with the device's error, keeps the previous point whole and readable, and
// takes the next cycle once space returns (a real small tmpfs).
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/replication/digest.h"
#include "asr/replication/manifest.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "asr/replication/verifier.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using ::asr::testing::StatusIs;
using disk::testing::TempPath;
using testing::CreateSourceDisk;
using ::testing::HasSubstr;
using testing::QemuCompare;
using testing::ReadDisk;
using testing::RunCycle;
using testing::RunVerify;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 24ull << 20;
constexpr uint32_t kBlock = 64 << 10;

struct Fixture {
  std::string src;
  std::string dir;
  std::unique_ptr<ReplicaStore> store;
};

Fixture Replicated(const std::string& name, const std::string& parent = "") {
  Fixture f;
  f.src = TempPath(name + ".vhdx");
  CreateSourceDisk(f.src, kDiskSize);
  WritePattern(f.src, 0, 3 << 20, 1);
  WritePattern(f.src, 17 * kBlock, kBlock, 9);
  WritePattern(f.src, 10 << 20, 512 << 10, 2);
  WritePattern(f.src, 20 << 20, 2 << 20, 3);  // data near the end of the replica file
  f.dir = parent.empty() ? TempPath(name + "-replica") : JoinPath(parent, name + "-replica");
  EXPECT_OK(MakeDirectories(f.dir));
  ReplicaOptions o = testing::WriterOptions();
  o.additional_points = 2;
  o.point_interval = absl::ZeroDuration();
  auto store = ReplicaStore::Open(f.dir, o);
  EXPECT_OK(store);
  if (!store.ok()) return f;
  f.store = std::move(*store);
  EXPECT_OK(RunCycle(f.src, CycleMode::kInitial, *f.store).status());
  return f;
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path << ": " << std::strerror(errno);
  return static_cast<uint64_t>(st.st_size);
}

void ExpectPointEquals(const Fixture& f, uint64_t point, const std::vector<uint8_t>& want,
                       const std::string& name) {
  std::string out = TempPath(name + ".vhdx");
  ASSERT_OK(RestorePoint(f.dir, point, out, {}));
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), want), -1) << "point " << point;
}

// Flips one bit of block `block`'s data inside the replica FILE, found by
// its unique contents (the second half of a one-block pattern write).
void FlipBit(const std::string& replica, const std::vector<uint8_t>& source, uint64_t block) {
  std::string file = disk::testing::ReadFileBytes(replica);
  const size_t from = block * kBlock + kBlock / 2;
  std::string needle(reinterpret_cast<const char*>(source.data()) + from, kBlock / 4);
  size_t at = file.find(needle);
  ASSERT_NE(at, std::string::npos);
  uint8_t byte = static_cast<uint8_t>(file[at + 7]) ^ 0x01;
  disk::testing::PatchFile(replica, at + 7, &byte, 1);
}

TEST(ResyncTest, FlippedBitsAreFoundAndOnlyTheirBlocksAreResent) {
  Fixture f = Replicated("resync-bits");
  ASSERT_NE(f.store, nullptr);
  const std::vector<uint8_t> source = ReadDisk(f.src);
  FlipBit(f.store->info().replica_path, source, 17);
  auto r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_TRUE(r->resync_required);
  EXPECT_EQ(r->replica_mismatch_blocks, std::vector<uint64_t>{17});
  // The resynchronization: one cycle, one block of data.
  auto st = RunCycle(f.src, CycleMode::kTracked, *f.store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_EQ(st->blocks_sent, 1u);
  EXPECT_EQ(st->changed_bytes, kBlock);
  EXPECT_LT(st->wire_bytes, 2 * kBlock);
  r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_FALSE(r->resync_required) << r->reason;
  ExpectPointEquals(f, st->point_id, source, "resync-bits-restored");
}

TEST(ResyncTest, TruncatedReplicaIsReportedAndOnlyItsLostBlocksAreResent) {
  Fixture f = Replicated("resync-cut");
  ASSERT_NE(f.store, nullptr);
  const std::vector<uint8_t> source = ReadDisk(f.src);
  const std::string replica = f.store->info().replica_path;
  const uint64_t size = FileSize(replica);
  // Cut off the last 2 MiB payload block (the source's last data).
  ASSERT_EQ(truncate(replica.c_str(), static_cast<off_t>(size - (2 << 20))), 0);
  // Before anything repairs it, the replica does not open.
  EXPECT_THAT(RestorePoint(f.dir, 1, TempPath("resync-cut-broken.vhdx"), {}),
              StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("past the end of the file")));

  auto r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_TRUE(r->resync_required);
  // What was lost: the blocks of the last 2 MiB of data (32 blocks of 64 KiB).
  EXPECT_EQ(r->replica_mismatches, 32u);
  ASSERT_FALSE(r->replica_mismatch_blocks.empty());
  EXPECT_EQ(r->replica_mismatch_blocks[0], (20u << 20) / kBlock);
  EXPECT_GE(FileSize(replica), size);  // extended, sparse

  auto st = RunCycle(f.src, CycleMode::kTracked, *f.store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_EQ(st->blocks_sent, 32u);
  EXPECT_EQ(st->changed_bytes, 32u * kBlock);
  r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_FALSE(r->resync_required) << r->reason;
  ExpectPointEquals(f, st->point_id, source, "resync-cut-restored");
  EXPECT_TRUE(QemuCompare(f.store->info().replica_path, f.src));
}

TEST(ResyncTest, ReplicaWithItsStartCutOffIsUnusableAndSaysHowToRepair) {
  Fixture f = Replicated("resync-head");
  ASSERT_NE(f.store, nullptr);
  const std::string replica = f.store->info().replica_path;
  ASSERT_EQ(truncate(replica.c_str(), 4096), 0);
  auto r = RunVerify(f.src, *f.store);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr(replica));
}

// A tmpfs of `mib` MiB mounted at `dir` for the test's life; empty when
// mounting is not permitted (the test then skips, saying why).
class SmallFileSystem {
 public:
  SmallFileSystem(const std::string& dir, int mib) : dir_(dir) {
    EXPECT_OK(MakeDirectories(dir));
    const std::string opts = absl::StrCat("size=", mib, "m");
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = absl::StrCat("mount -t tmpfs -o ", opts, " ", dir, ": ", std::strerror(errno));
    }
  }
  ~SmallFileSystem() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string why_;
};

// Fills the file system at `dir` to the last few KiB with one file.
void Fill(const std::string& path) {
  std::string chunk(1 << 20, 'x');
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  while (fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
  }
  chunk.resize(4096);
  while (fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
  }
  fclose(f);
}

TEST(ResyncTest, FullRecoveryFileSystemEndsTheCycleCleanlyAndTheNextOneSucceeds) {
  const std::string mnt = TempPath("resync-full-fs");
  SmallFileSystem fs(mnt, 48);
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a small file system: " << fs.why();
  Fixture f = Replicated("resync-full", mnt);
  ASSERT_NE(f.store, nullptr);
  const std::vector<uint8_t> point1 = ReadDisk(f.src);
  // New data the recovery side cannot hold: 12 MiB of changes.
  auto tracker = ChangeTracker::Open(f.src, kDiskSize, kBlock);
  ASSERT_OK(tracker);
  WritePattern(f.src, 4 << 20, 12 << 20, 11, tracker->get());
  const std::vector<uint8_t> point2 = ReadDisk(f.src);
  const std::string filler = JoinPath(mnt, "filler");
  Fill(filler);

  SendOptions so;
  so.tracker = tracker->get();
  auto st = RunCycle(f.src, CycleMode::kTracked, *f.store, so);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.status().message(), HasSubstr("No space left on device")) << st.status();
  // The previous point is whole and readable; nothing of the failed cycle stays.
  EXPECT_EQ(f.store->info().current_cycle, 1u);
  {
    std::string out = TempPath("resync-full-point1.vhdx");
    ASSERT_OK(RestorePoint(f.dir, 1, out, {}));
    EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), point1), -1);
  }
  auto points = ListRecoveryPoints(f.dir);
  ASSERT_OK(points);
  EXPECT_EQ(points->size(), 1u);

  // Space returns: the next cycle (the tracker kept its blocks) succeeds.
  ASSERT_EQ(unlink(filler.c_str()), 0);
  st = RunCycle(f.src, CycleMode::kTracked, *f.store, so);
  ASSERT_OK(st);
  EXPECT_EQ(st->point_id, 2u);
  ExpectPointEquals(f, 2, point2, "resync-full-point2");
  ExpectPointEquals(f, 1, point1, "resync-full-point1-again");
  ASSERT_OK((*tracker)->Close());
  f.store.reset();
}

}  // namespace
}  // namespace asr::replication
