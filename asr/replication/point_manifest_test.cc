// The recovery side's block digest manifest on real replicas: a clean
// replica with several points matches (each point); a bit flipped in
// replica.vhdx is found at its block; one flipped in a point's reverse delta
// is found for that point only; a replica without a manifest says so and its next
// cycle records one; a receiver killed between the manifest's write and
// the state switch reopens consistent (rolled forward, or no point at all
// for a first cycle).
#include "asr/replication/point_manifest.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/replication/block_log.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using ::asr::testing::StatusIs;
using disk::testing::TempPath;
using testing::CreateSourceDisk;
using ::testing::HasSubstr;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 24ull << 20;
constexpr uint32_t kBlock = 64 << 10;

ReplicaOptions Options() {
  ReplicaOptions o = testing::WriterOptions();
  o.additional_points = 3;
  o.point_interval = absl::ZeroDuration();
  return o;
}

std::string NewSource(const std::string& name) {
  std::string src = TempPath(name + ".vhdx");
  CreateSourceDisk(src, kDiskSize);
  WritePattern(src, 0, 3 << 20, 1);
  WritePattern(src, 17 * kBlock, kBlock, 9);
  WritePattern(src, 20 << 20, 2 << 20, 3);
  return src;
}

std::string NewDir(const std::string& name) {
  std::string dir = TempPath(name + "-replica");
  EXPECT_OK(MakeDirectories(dir));
  return dir;
}

// Flips one bit of block `block` inside the replica FILE, found by its
// unique contents.
void FlipBit(const std::string& replica, const std::vector<uint8_t>& source, uint64_t block) {
  std::string file = disk::testing::ReadFileBytes(replica);
  const size_t from = block * kBlock + kBlock / 2;
  std::string needle(reinterpret_cast<const char*>(source.data()) + from, kBlock / 4);
  size_t at = file.find(needle);
  ASSERT_NE(at, std::string::npos);
  uint8_t byte = static_cast<uint8_t>(file[at + 7]) ^ 0x01;
  disk::testing::PatchFile(replica, at + 7, &byte, 1);
}

TEST(PointManifestTest, CleanReplicaWithSeveralPointsMatchesAndOlderPointsAreRefused) {
  const std::string src = NewSource("pm-clean");
  const std::string dir = NewDir("pm-clean");
  auto store = ReplicaStore::Open(dir, Options());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store).status());
  WritePattern(src, 5 * kBlock, 3 * kBlock, 11);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  WritePattern(src, 300 * kBlock, kBlock, 12);
  {  // zeros over data: a ZERO_RANGE
    auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    std::vector<uint8_t> zeros(2 * kBlock, 0);
    ASSERT_OK((*d)->WriteAt(kBlock, absl::MakeConstSpan(zeros)));
    ASSERT_OK((*d)->Close());
  }
  auto last = RunCycle(src, CycleMode::kScan, **store);
  ASSERT_OK(last);
  ASSERT_EQ((*store)->points().size(), 3u);
  // While the receiver holds the directory.
  auto r = VerifyReplicaDir(dir, std::nullopt);
  ASSERT_OK(r);
  EXPECT_TRUE(r->manifest_recorded) << r->message;
  EXPECT_EQ(r->point, last->point_id);
  EXPECT_EQ(r->blocks, kDiskSize / kBlock);
  EXPECT_EQ(r->mismatched_blocks, 0u) << r->message;
  EXPECT_GT(r->bytes_read, 0u);
  EXPECT_THAT(LocalVerifyResultToJson(*r), HasSubstr("\"ok\":true"));
  EXPECT_OK(VerifyReplicaDir(dir, last->point_id).status());
  for (const RecoveryPoint& p : (*store)->points()) {  // the older ones through their deltas
    auto older = VerifyReplicaDir(dir, p.id);
    ASSERT_OK(older);
    EXPECT_EQ(older->point, p.id);
    EXPECT_EQ(older->mismatched_blocks, 0u) << older->message;
  }
  EXPECT_THAT(VerifyReplicaDir(dir, 99).status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(VerifyReplicaDir(TempPath("pm-none"), std::nullopt).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(PointManifestTest, FlippedBitInReplicaIsFoundAtItsBlock) {
  const std::string src = NewSource("pm-flip");
  const std::string dir = NewDir("pm-flip");
  auto store = ReplicaStore::Open(dir, Options());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store).status());
  WritePattern(src, 40 * kBlock, kBlock, 5);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  FlipBit((*store)->info().replica_path, ReadDisk(src), 17);
  auto r = VerifyReplicaDir(dir, std::nullopt);
  ASSERT_OK(r);
  EXPECT_TRUE(r->manifest_recorded);
  EXPECT_EQ(r->mismatched_blocks, 1u);
  EXPECT_EQ(r->first_mismatches, std::vector<uint64_t>{17 * kBlock});
  EXPECT_THAT(r->message, HasSubstr(absl::StrCat(17 * kBlock)));
  EXPECT_THAT(LocalVerifyResultToJson(*r), HasSubstr("\"ok\":false"));
}

TEST(PointManifestTest, FlippedBitInADeltaIsFoundForThatPointOnly) {
  const std::string src = NewSource("pm-delta");
  const std::string dir = NewDir("pm-delta");
  auto store = ReplicaStore::Open(dir, Options());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store).status());
  WritePattern(src, 5 * kBlock, 3 * kBlock, 11);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  WritePattern(src, 40 * kBlock, kBlock, 12);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  const std::vector<RecoveryPoint> points = (*store)->points();
  ASSERT_EQ(points.size(), 3u);
  // A byte inside a stored block of point 1's reverse delta (blocks 5..7).
  const std::string delta = JoinPath(dir, points[0].delta_file);
  uint64_t offset = 0, pos = 0;
  {
    auto log = BlockLogReader::Open(delta);
    ASSERT_OK(log);
    for (const BlockLogRecord& rec : (*log)->records()) {
      if (rec.type == RecordType::kBlock && pos == 0) {
        offset = rec.offset;
        pos = rec.payload_pos + rec.payload_len / 2;
      }
    }
  }
  ASSERT_GT(pos, 0u);
  std::string bytes = disk::testing::ReadFileBytes(delta);
  uint8_t byte = static_cast<uint8_t>(bytes[pos]) ^ 0x04;
  disk::testing::PatchFile(delta, pos, &byte, 1);
  auto r = VerifyReplicaDir(dir, points[0].id);
  ASSERT_OK(r);
  EXPECT_EQ(r->mismatched_blocks, 1u) << r->message;
  EXPECT_EQ(r->first_mismatches, std::vector<uint64_t>{offset});
  EXPECT_THAT(r->message, HasSubstr("reverse deltas"));
  for (size_t i = 1; i < points.size(); ++i) {  // later points do not read it
    r = VerifyReplicaDir(dir, points[i].id);
    ASSERT_OK(r);
    EXPECT_EQ(r->mismatched_blocks, 0u) << "point " << points[i].id << ": " << r->message;
  }
}

TEST(PointManifestTest, ReplicaWithoutManifestSaysSoAndTheNextCycleRecordsIt) {
  const std::string src = NewSource("pm-old");
  const std::string dir = NewDir("pm-old");
  auto store = ReplicaStore::Open(dir, Options());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store).status());
  // As a replica from before manifests.
  ASSERT_EQ(::unlink(JoinPath(dir, kPointManifestFile).c_str()), 0);
  auto r = VerifyReplicaDir(dir, std::nullopt);
  ASSERT_OK(r);
  EXPECT_FALSE(r->manifest_recorded);
  EXPECT_THAT(r->message, HasSubstr("no manifest recorded for point 1"));
  EXPECT_EQ(r->blocks, 0u);
  WritePattern(src, 2 * kBlock, kBlock, 7);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  r = VerifyReplicaDir(dir, std::nullopt);
  ASSERT_OK(r);
  EXPECT_TRUE(r->manifest_recorded) << r->message;
  EXPECT_EQ(r->point, 2u);
  EXPECT_EQ(r->mismatched_blocks, 0u);
  // A damaged manifest is reported, not trusted, and rewritten by a commit.
  disk::testing::PatchFile(JoinPath(dir, kPointManifestFile), 60,
                           reinterpret_cast<const uint8_t*>("x"), 1);
  EXPECT_THAT(VerifyReplicaDir(dir, std::nullopt).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("damaged")));
  WritePattern(src, 3 * kBlock, kBlock, 8);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store).status());
  r = VerifyReplicaDir(dir, std::nullopt);
  ASSERT_OK(r);
  EXPECT_TRUE(r->manifest_recorded);
  EXPECT_EQ(r->mismatched_blocks, 0u);
}

// Runs a cycle in a forked receiver killed at its `count`th "manifest" step
// (after the manifest is written, before the state switch).
void CycleKilledAtManifest(const std::string& src, const std::string& dir, CycleMode mode) {
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ReplicaOptions o = Options();
    o.step_hook = [](const char* step) {
      if (std::string(step) == "manifest") ::raise(SIGKILL);
    };
    auto store = ReplicaStore::Open(dir, o);
    if (!store.ok()) ::_exit(3);
    (void)RunCycle(src, mode, **store);
    ::_exit(4);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the receiver was not stopped at the manifest step";
}

TEST(PointManifestTest, CrashBetweenManifestAndStateSwitchReopensConsistent) {
  const std::string src = NewSource("pm-crash");
  const std::string dir = NewDir("pm-crash");
  // A first cycle killed there: no point, no replica to verify.
  CycleKilledAtManifest(src, dir, CycleMode::kInitial);
  {
    auto store = ReplicaStore::Open(dir, Options());
    ASSERT_OK(store);
    EXPECT_TRUE((*store)->points().empty());
    EXPECT_THAT(VerifyReplicaDir(dir, std::nullopt).status(),
                StatusIs(absl::StatusCode::kNotFound, HasSubstr("not a replica directory")));
    ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store).status());
  }
  // A later cycle killed there: past its commit point, rolled forward on
  // reopening, its manifest matching.
  WritePattern(src, 9 * kBlock, 2 * kBlock, 21);
  CycleKilledAtManifest(src, dir, CycleMode::kScan);
  auto store = ReplicaStore::Open(dir, Options());
  ASSERT_OK(store);
  ASSERT_EQ((*store)->info().current_cycle, 2u);
  auto r = VerifyReplicaDir(dir, std::nullopt);
  ASSERT_OK(r);
  EXPECT_TRUE(r->manifest_recorded) << r->message;
  EXPECT_EQ(r->point, 2u);
  EXPECT_EQ(r->mismatched_blocks, 0u);
  std::string out = TempPath("pm-crash-restored.vhdx");
  ASSERT_OK(RestorePoint(dir, 2, out, {}));
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), ReadDisk(src)), -1);
}

}  // namespace
}  // namespace asr::replication
