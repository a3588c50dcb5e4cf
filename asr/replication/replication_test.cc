// End-to-end tests of the replicator over an in-process socket pair: every
// change-detection mode, restore of the latest and older points, pruning,
// tracker fallback, a lost acknowledgement, and refusals of bad input.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "asr/common/clock.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/model/json.h"
#include "asr/model/replication.pb.h"
#include "asr/net/stream.h"
#include "asr/replication/byte_codec.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/digest.h"
#include "asr/replication/manifest.h"
#include "asr/replication/protocol.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using disk::testing::TempPath;
using testing::CreateSourceDisk;
using testing::QemuCompare;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 24ull << 20;
constexpr uint32_t kBlock = 64 << 10;

std::string TempDir(const std::string& name) {
  std::string d = TempPath(name);
  EXPECT_OK(MakeDirectories(d));
  return d;
}

// Writes `bytes` as a raw image for qemu-img compare.
std::string RawCopy(const std::string& name, const std::vector<uint8_t>& bytes) {
  std::string p = TempPath(name);
  disk::testing::WriteFileBytes(p, std::string(bytes.begin(), bytes.end()));
  return p;
}

void ExpectRestoreEquals(const std::string& dir, uint64_t point,
                         const std::vector<uint8_t>& expected, const std::string& name) {
  std::string out = TempPath(name + ".vhdx");
  absl::Status s = RestorePoint(dir, point, out, {});
  ASSERT_OK(s);
  std::vector<uint8_t> got = ReadDisk(out);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_EQ(disk::testing::FirstDifference(got, expected), -1) << "point " << point;
  std::string raw = RawCopy(name + ".raw", expected);
  if (disk::testing::HaveQemu()) {
    std::string msg;
    int rc = disk::testing::RunCommand(
        absl::StrCat("qemu-img compare -f vhdx -F raw '", out, "' '", raw, "'"), &msg);
    EXPECT_EQ(rc, 0) << msg;
  }
}

TEST(ReplicationTest, AllModesThenRestoreEveryPoint) {
  const std::string src = TempPath("src.vhdx");
  CreateSourceDisk(src, kDiskSize);
  WritePattern(src, 0, 3 << 20, 1);
  WritePattern(src, 10 << 20, 512 << 10, 2);
  WritePattern(src, kDiskSize - 100 * 1024, 100 * 1024, 3);
  const std::string dir = TempDir("replica-modes");
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  ReplicaOptions ro = testing::WriterOptions();
  ro.additional_points = 4;
  ro.point_interval = absl::ZeroDuration();
  ro.clock = &clock;
  auto store = ReplicaStore::Open(dir, ro);
  ASSERT_OK(store);
  std::vector<std::vector<uint8_t>> expected;

  // 1: initial — a full copy that skips the unallocated middle.
  auto st = RunCycle(src, CycleMode::kInitial, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->cycle, 1u);
  EXPECT_LT(st->bytes_read, 6ull << 20);         // only allocated disk blocks were read
  EXPECT_LT(st->wire_bytes, st->changed_bytes);  // compressed
  expected.push_back(ReadDisk(src));
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), expected.back());
  EXPECT_TRUE(QemuCompare((*store)->info().replica_path, src));

  // 2: tracked — only the recorded blocks are read.
  {
    clock.Advance(absl::Minutes(5));
    auto tracker = ChangeTracker::Open(src, kDiskSize, kBlock);
    ASSERT_OK(tracker);
    EXPECT_FALSE((*tracker)->needs_scan()) << (*tracker)->needs_scan_reason();
    WritePattern(src, 5 << 20, 100000, 4, tracker->get());
    WritePattern(src, 1 << 20, 4096, 5, tracker->get());
    SendOptions so;
    so.tracker = tracker->get();
    so.app_consistent = true;
    st = RunCycle(src, CycleMode::kTracked, **store, so);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_used, CycleMode::kTracked);
    EXPECT_EQ(st->bytes_read, 3u * kBlock);  // blocks 16, 80 and 81
    EXPECT_EQ(st->blocks_sent, 3u);
    EXPECT_EQ((*tracker)->marked_blocks(), 0u);
    ASSERT_OK((*tracker)->Close());
  }
  expected.push_back(ReadDisk(src));
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), expected.back());

  // 3: scan — untracked writes, an unchanged rewrite and a zeroed range.
  clock.Advance(absl::Minutes(5));
  WritePattern(src, 7 << 20, 3 * kBlock, 6);
  {
    std::vector<uint8_t> same(expected.back().begin() + (10 << 20),
                              expected.back().begin() + (10 << 20) + kBlock);
    auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
    ASSERT_OK(d);
    ASSERT_OK((*d)->WriteAt(10 << 20, absl::MakeConstSpan(same)));  // same bytes
    std::vector<uint8_t> zeros(2 * kBlock, 0);
    ASSERT_OK((*d)->WriteAt(2 << 20, absl::MakeConstSpan(zeros)));
    ASSERT_OK((*d)->Close());
  }
  st = RunCycle(src, CycleMode::kScan, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_EQ(st->blocks_sent, 3u);
  EXPECT_EQ(st->zero_ranges, 1u);
  expected.push_back(ReadDisk(src));
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), expected.back());

  // 4: differencing — a child over the replicated disk.
  clock.Advance(absl::Minutes(5));
  const std::string child = TempPath("child.vhdx");
  {
    disk::CreateOptions co;
    co.type = disk::DiskType::kDifferencing;
    co.parent_path = src;
    co.overwrite = true;
    auto c = disk::CreateDisk(child, co);
    ASSERT_OK(c);
    ASSERT_OK((*c)->Close());
  }
  WritePattern(child, 12 << 20, 2 * kBlock + 17, 7);
  WritePattern(child, 100 * 1024, 1000, 8);  // part of a parent block
  st = RunCycle(child, CycleMode::kDifferencing, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->blocks_sent, 4u);
  expected.push_back(ReadDisk(child));
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), expected.back());

  // A further scan of the child uses the child's own manifest.
  WritePattern(child, 20 << 20, kBlock, 9);
  st = RunCycle(child, CycleMode::kScan, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->blocks_sent, 1u);
  expected.push_back(ReadDisk(child));
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), expected.back());

  std::vector<RecoveryPoint> pts = (*store)->points();
  ASSERT_EQ(pts.size(), 5u);
  EXPECT_TRUE(pts[1].app_consistent);
  EXPECT_FALSE(pts[2].app_consistent);
  for (size_t i = 0; i < pts.size(); ++i) {
    EXPECT_EQ(pts[i].id, i + 1);
    ExpectRestoreEquals(dir, pts[i].id, expected[i], absl::StrCat("restore-", i + 1));
  }
  EXPECT_TRUE(absl::IsNotFound(RestorePoint(dir, 99, TempPath("x.vhdx"), {})));
}

TEST(ReplicationTest, PruningByCountAndSpacingKeepsRestorablePoints) {
  const std::string src = TempPath("prune.vhdx");
  CreateSourceDisk(src, 8 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  const std::string dir = TempDir("replica-prune");
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  ReplicaOptions ro = testing::WriterOptions();
  ro.additional_points = 2;
  ro.point_interval = absl::Hours(1);
  ro.retention = absl::Hours(24);
  ro.clock = &clock;
  auto store = ReplicaStore::Open(dir, ro);
  ASSERT_OK(store);
  std::map<uint64_t, std::vector<uint8_t>> expected;
  for (int cycle = 1; cycle <= 10; ++cycle) {
    if (cycle > 1) {
      // Overlapping writes so merged deltas must pick the right version.
      WritePattern(src, (cycle % 3) * kBlock * 5, 3 * kBlock, 100 + cycle);
      WritePattern(src, 4 << 20, kBlock, 200 + cycle);
    }
    SendOptions so;
    so.source_time = clock.Now();  // spacing and retention go by source time
    auto st = RunCycle(src, cycle == 1 ? CycleMode::kInitial : CycleMode::kScan, **store, so);
    ASSERT_OK(st);
    expected[st->point_id] = ReadDisk(src);
    clock.Advance(absl::Minutes(25));
  }
  std::vector<RecoveryPoint> pts = (*store)->points();
  ASSERT_EQ(pts.size(), 3u);  // latest + 2 additional
  EXPECT_EQ(pts.back().id, 10u);
  // The previous instant is always kept; older points are spaced.
  EXPECT_EQ(pts[1].id, 9u);
  EXPECT_LE(pts[0].id, 7u);
  for (const RecoveryPoint& p : pts) {
    ExpectRestoreEquals(dir, p.id, expected[p.id], absl::StrCat("prune-", p.id));
  }
  // Retention: a day later only the latest and the previous instant (kept
  // whatever its age) survive the next cycle.
  clock.Advance(absl::Hours(25));
  WritePattern(src, 0, kBlock, 999);
  SendOptions so;
  so.source_time = clock.Now();
  auto st = RunCycle(src, CycleMode::kScan, **store, so);
  ASSERT_OK(st);
  pts = (*store)->points();
  ASSERT_EQ(pts.size(), 2u);
  EXPECT_EQ(pts[0].id, 10u);
}

TEST(ReplicationTest, TrackerThatCannotProveItSawEveryWriteFallsBackToScan) {
  const std::string src = TempPath("fallback.vhdx");
  CreateSourceDisk(src, 8 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  const std::string dir = TempDir("replica-fallback");
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  // A "crash": the map is still marked in use when the next process opens it.
  {
    auto t1 = ChangeTracker::Open(src, 8 << 20, kBlock);
    ASSERT_OK(t1);
    WritePattern(src, 3 << 20, kBlock, 2, t1->get());
    ASSERT_OK((*t1)->Checkpoint());
    std::string crashed = *ReadFileToString(TrackerPath(src));
    ASSERT_OK((*t1)->Close());
    ASSERT_OK(WriteFileAtomically(TrackerPath(src), crashed));
  }
  WritePattern(src, 5 << 20, kBlock, 3);  // a write the tracker never saw
  auto st = RunCycle(src, CycleMode::kTracked, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_NE(st->fallback_reason.find("not shut down cleanly"), std::string::npos)
      << st->fallback_reason;
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  // The scan re-armed the tracker: tracked mode is trusted again.
  {
    auto t = ChangeTracker::Open(src, 8 << 20, kBlock);
    ASSERT_OK(t);
    EXPECT_FALSE((*t)->needs_scan()) << (*t)->needs_scan_reason();
    WritePattern(src, 6 << 20, 10, 4, t->get());
    ASSERT_OK((*t)->Close());
  }
  st = RunCycle(src, CycleMode::kTracked, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kTracked);
  EXPECT_EQ(st->bytes_read, kBlock);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
}

TEST(ChangeTrackerTest, SurvivesRestartAndDetectsUncleanShutdown) {
  const std::string disk = TempPath("tracked.raw");
  disk::testing::WriteFileBytes(disk, std::string(1 << 20, '\0'));
  {
    auto t = ChangeTracker::Open(disk, 1 << 20, kBlock);
    ASSERT_OK(t);
    EXPECT_TRUE((*t)->needs_scan());     // no map existed
    EXPECT_OK((*t)->CommitCycle(true));  // as after an initial copy
    EXPECT_OK((*t)->RecordWrite(0, 1));
    EXPECT_OK((*t)->RecordWrite(kBlock - 1, 2));  // spans two blocks
    EXPECT_TRUE(absl::IsInvalidArgument((*t)->RecordWrite(1 << 20, 1)));
    ASSERT_OK((*t)->Close());
  }
  {
    auto t = ChangeTracker::Open(disk, 1 << 20, kBlock);
    ASSERT_OK(t);
    EXPECT_FALSE((*t)->needs_scan()) << (*t)->needs_scan_reason();
    EXPECT_EQ((*t)->marked_blocks(), 2u);
    // While this one is open nobody else may open the map: a second
    // tracker (here or in another process) would record beside it.
    auto t2 = ChangeTracker::Open(disk, 1 << 20, kBlock);
    ASSERT_TRUE(absl::IsFailedPrecondition(t2.status())) << t2.status();
    EXPECT_NE(t2.status().message().find("open elsewhere"), std::string::npos);
    auto t3 = ChangeTracker::OpenForCycle(disk, 1 << 20, kBlock);
    EXPECT_TRUE(absl::IsFailedPrecondition(t3.status())) << t3.status();
  }
  // The writing process dies with the map open: the file still says "in
  // use", and the next opener must not trust it.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto t = ChangeTracker::Open(disk, 1 << 20, kBlock);
    if (!t.ok() || !(*t)->RecordWrite(3 * kBlock, 10).ok()) ::_exit(2);
    ::kill(::getpid(), SIGKILL);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << wstatus;
  {
    auto t = ChangeTracker::Open(disk, 1 << 20, kBlock);
    ASSERT_OK(t);
    EXPECT_TRUE((*t)->needs_scan());
    EXPECT_NE((*t)->needs_scan_reason().find("not shut down cleanly"), std::string::npos)
        << (*t)->needs_scan_reason();
    EXPECT_EQ((*t)->marked_blocks(), 0u);
  }
  // Corrupt map.
  std::string bytes = *ReadFileToString(TrackerPath(disk));
  bytes[bytes.size() / 2] ^= 0x40;
  ASSERT_OK(WriteFileAtomically(TrackerPath(disk), bytes));
  auto t = ChangeTracker::Open(disk, 1 << 20, kBlock);
  ASSERT_OK(t);
  EXPECT_TRUE((*t)->needs_scan());
  EXPECT_NE((*t)->needs_scan_reason().find("corrupt"), std::string::npos);
  // Another geometry.
  ASSERT_OK((*t)->Close());
  auto t3 = ChangeTracker::Open(disk, 2 << 20, kBlock);
  ASSERT_OK(t3);
  EXPECT_TRUE((*t3)->needs_scan());
}

TEST(ReplicationTest, LostAcknowledgementIsRecoveredFromThePendingManifest) {
  const std::string src = TempPath("lostack.vhdx");
  CreateSourceDisk(src, 8 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  const std::string dir = TempDir("replica-lostack");
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  std::string before = *ReadFileToString(ManifestPath(src));
  WritePattern(src, 2 << 20, kBlock, 2);
  ASSERT_OK(RunCycle(src, CycleMode::kScan, **store));
  // Make it look as if cycle 2's ACK never arrived.
  std::string after = *ReadFileToString(ManifestPath(src));
  ASSERT_OK(WriteFileAtomically(ManifestPath(src), before));
  ASSERT_OK(WriteFileAtomically(PendingManifestPath(src), after));
  // Rewrite the block back to its cycle-1 contents: only a base of point 2
  // notices this change.
  {
    auto d = disk::OpenDisk(src, disk::OpenMode::kReadWrite);
    std::vector<uint8_t> zeros(kBlock, 0);
    ASSERT_OK((*d)->WriteAt(2 << 20, absl::MakeConstSpan(zeros)));
    ASSERT_OK((*d)->Close());
  }
  auto st = RunCycle(src, CycleMode::kScan, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->base_cycle, 2u);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  // Without any matching state the sender refuses instead of guessing.
  ASSERT_OK(WriteFileAtomically(ManifestPath(src), before));
  st = RunCycle(src, CycleMode::kScan, **store);
  EXPECT_TRUE(absl::IsFailedPrecondition(st.status())) << st.status();
  EXPECT_NE(st.status().message().find("initial replication"), std::string::npos);
}

// Writes `m` as a format-1 manifest: the layout before the hash kind and
// seed were recorded, when every digest was a SHA-256.
void WriteFormat1Manifest(const std::string& path, const Manifest& m) {
  ByteWriter w;
  w.Bytes("ASRMAN01", 8);
  w.Str(m.replication_id);
  w.Str(m.source_disk_id);
  w.U64(m.virtual_size);
  w.U32(m.block_size);
  w.U64(m.cycle);
  w.U64(m.digests.size());
  w.Bytes(m.digests.data(), m.digests.size() * sizeof(Digest));
  w.U32(Crc32c(w.data().data(), w.data().size()));
  ASSERT_OK(WriteFileAtomically(path, w.data()));
}

TEST(ManifestTest, NewReplicationsUseXxh3WithTheirOwnSeed) {
  const std::string a = TempPath("seed-a.vhdx"), b = TempPath("seed-b.vhdx");
  CreateSourceDisk(a, 4 << 20);
  CreateSourceDisk(b, 4 << 20);
  WritePattern(a, 0, 1 << 20, 1);
  WritePattern(b, 0, 1 << 20, 1);  // the same content
  auto sa = ReplicaStore::Open(TempDir("replica-seed-a"), testing::WriterOptions());
  auto sb = ReplicaStore::Open(TempDir("replica-seed-b"), testing::WriterOptions());
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_OK(RunCycle(a, CycleMode::kInitial, **sa));
  ASSERT_OK(RunCycle(b, CycleMode::kInitial, **sb));
  auto ma = LoadManifest(ManifestPath(a));
  auto mb = LoadManifest(ManifestPath(b));
  ASSERT_TRUE(ma.ok() && mb.ok() && ma->has_value() && mb->has_value());
  const Manifest& x = **ma;
  const Manifest& y = **mb;
  EXPECT_EQ(x.hasher.kind, BlockHashKind::kXxh3_128);
  EXPECT_NE(x.hasher.seed, y.hasher.seed);
  // Same data, different seeds: different digests; each matches its hasher.
  EXPECT_NE(x.digests[0], y.digests[0]);
  std::vector<uint8_t> data = ReadDisk(a);
  EXPECT_EQ(x.digests[0], x.hasher(data.data(), kBlock));
  EXPECT_EQ(y.digests[0], y.hasher(data.data(), kBlock));
  EXPECT_NE(x.digests[0], kZeroDigest);
  EXPECT_EQ(x.digests[x.block_count() - 1], kZeroDigest);  // never written
  // A scan with nothing changed sends nothing: the digests are stable.
  auto st = RunCycle(a, CycleMode::kScan, **sa);
  ASSERT_OK(st);
  EXPECT_EQ(st->blocks_sent, 0u);
  auto again = LoadManifest(ManifestPath(a));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->hasher.seed, x.hasher.seed);
  EXPECT_EQ((*again)->digests, x.digests);
}

TEST(ManifestTest, Format1Sha256ManifestStillFindsExactlyTheChangedBlocks) {
  const std::string src = TempPath("legacy.vhdx");
  CreateSourceDisk(src, 8 << 20);
  WritePattern(src, 0, 2 << 20, 1);
  auto store = ReplicaStore::Open(TempDir("replica-legacy"), testing::WriterOptions());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  // Rewrite the state as an older asr left it: SHA-256 digests, format 1.
  auto m = LoadManifest(ManifestPath(src));
  ASSERT_TRUE(m.ok() && m->has_value());
  Manifest legacy = **m;
  std::vector<uint8_t> data = ReadDisk(src);
  for (uint64_t b = 0; b < legacy.block_count(); ++b) {
    legacy.digests[b] = BlockDigest(data.data() + b * kBlock, kBlock);
  }
  WriteFormat1Manifest(ManifestPath(src), legacy);
  auto loaded = LoadManifest(ManifestPath(src));
  ASSERT_OK(loaded);
  EXPECT_EQ((*loaded)->hasher.kind, BlockHashKind::kSha256);
  EXPECT_EQ((*loaded)->digests, legacy.digests);

  WritePattern(src, 3 << 20, kBlock, 9);  // one block
  auto st = RunCycle(src, CycleMode::kScan, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->blocks_sent, 1u);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  // The relationship keeps SHA-256 (digests must stay comparable) ...
  auto after = LoadManifest(ManifestPath(src));
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->hasher.kind, BlockHashKind::kSha256);
  // ... until the next initial replication chooses XXH3.
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  after = LoadManifest(ManifestPath(src));
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ((*after)->hasher.kind, BlockHashKind::kXxh3_128);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
}

TEST(ManifestTest, DamagedOrNewerManifestsAreRefusedWithAdvice) {
  const std::string src = TempPath("damaged.vhdx");
  CreateSourceDisk(src, 4 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  auto store = ReplicaStore::Open(TempDir("replica-damaged"), testing::WriterOptions());
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  std::string good = *ReadFileToString(ManifestPath(src));

  std::string newer = good;
  newer[7] = '9';  // "ASRMAN09"
  ASSERT_OK(WriteFileAtomically(ManifestPath(src), newer));
  auto m = LoadManifest(ManifestPath(src));
  EXPECT_TRUE(absl::IsFailedPrecondition(m.status())) << m.status();
  EXPECT_NE(m.status().message().find("upgrade asr"), std::string::npos) << m.status();

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  ASSERT_OK(WriteFileAtomically(ManifestPath(src), flipped));
  m = LoadManifest(ManifestPath(src));
  EXPECT_TRUE(absl::IsDataLoss(m.status())) << m.status();
  EXPECT_NE(m.status().message().find("initial replication"), std::string::npos);
  auto st = RunCycle(src, CycleMode::kScan, **store);
  EXPECT_TRUE(absl::IsDataLoss(st.status())) << st.status();
}

TEST(ReplicationTest, OlderReceiversGetTheCycleDigestOfTheirVersion) {
  for (uint32_t version : {1u, 2u, kProtocolVersion}) {
    SCOPED_TRACE(absl::StrCat("receiver version ", version));
    const std::string src = TempPath(absl::StrCat("older-", version, ".vhdx"));
    CreateSourceDisk(src, 8 << 20);
    WritePattern(src, 0, 3 << 20, version);
    auto store = ReplicaStore::Open(TempDir(absl::StrCat("replica-older-", version)),
                                    testing::WriterOptions());
    ASSERT_OK(store);
    ServeOptions serve;
    serve.max_protocol_version = version;
    auto st = RunCycle(src, CycleMode::kInitial, **store, {}, serve);
    ASSERT_OK(st);
    WritePattern(src, 5 << 20, 3 * kBlock + 100, version + 10);
    st = RunCycle(src, CycleMode::kScan, **store, {}, serve);
    ASSERT_OK(st);
    EXPECT_EQ(st->blocks_sent, 4u);
    EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
  }
}

// One cycle while no file of this process may grow beyond `limit` bytes
// (writes past it fail with EFBIG instead of raising SIGXFSZ).
absl::StatusOr<CycleStats> RunCycleWithFileSizeLimit(const std::string& src, CycleMode mode,
                                                     ReplicaStore& store, uint64_t limit) {
  struct rlimit old_limit;
  if (::getrlimit(RLIMIT_FSIZE, &old_limit) != 0) return absl::InternalError("getrlimit");
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = limit;
  if (::setrlimit(RLIMIT_FSIZE, &small) != 0) return absl::InternalError("setrlimit");
  absl::StatusOr<CycleStats> st = RunCycle(src, mode, store);
  EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &old_limit), 0);
  ::signal(SIGXFSZ, old_handler);
  return st;
}

TEST(ReplicationTest, FirstCycleWriteFailureLeavesNoReplicaAndSaysWhy) {
  // The receiver's writer thread hits "file too large" part way through the
  // new replica: the cycle is refused with that error, nothing is left
  // behind, and a retry once the cause is gone succeeds.
  const std::string src = TempPath("efbig.vhdx");
  CreateSourceDisk(src, 24 << 20);
  WritePattern(src, 0, 20 << 20, 4);
  const std::string dir = TempDir("replica-efbig");
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  auto st = RunCycleWithFileSizeLimit(src, CycleMode::kInitial, **store, 8 << 20);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("replica.vhdx.tmp"), std::string::npos) << st.status();
  EXPECT_FALSE((*store)->info().has_replica);
  EXPECT_FALSE(PathExists(JoinPath(dir, "replica.vhdx.tmp")));
  EXPECT_FALSE(PathExists(JoinPath(dir, "replica.vhdx")));
  st = RunCycle(src, CycleMode::kInitial, **store);
  ASSERT_OK(st);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
}

TEST(ReplicationTest, ApplyThatFailedAfterItsAckIsCompletedWhenTheNextSenderConnects) {
  // A delta passes its commit point (the sender has its ACK), then writing
  // it into the replica fails: the file may not grow. Once the cause is gone
  // the next sender's connection completes that point first, without a
  // restart of the receiver, and replication goes on from it.
  const std::string src = TempPath("late-apply.vhdx");
  CreateSourceDisk(src, 48 << 20);
  WritePattern(src, 0, 16 << 20, 1);
  const std::string dir = TempDir("replica-late-apply");
  ReplicaOptions ro = testing::WriterOptions();
  ro.additional_points = 2;
  ro.point_interval = absl::ZeroDuration();
  auto store = ReplicaStore::Open(dir, ro);
  ASSERT_OK(store);
  ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
  const std::string replica = (*store)->info().replica_path;
  struct stat rs;
  ASSERT_EQ(::stat(replica.c_str(), &rs), 0);
  const uint64_t replica_size = static_cast<uint64_t>(rs.st_size);

  WritePattern(src, 32 << 20, 4 << 20, 2);  // new allocation in the replica
  const std::vector<uint8_t> point2 = ReadDisk(src);
  auto st = RunCycleWithFileSizeLimit(src, CycleMode::kScan, **store, replica_size + (2 << 20));
  ASSERT_FALSE(st.ok()) << "the apply was expected to fail";
  EXPECT_NE(st.status().message().find("File too large"), std::string::npos) << st.status();

  // Meanwhile nobody may start a cycle on the half-written replica.
  Hello hello;
  hello.virtual_size = 48 << 20;
  hello.block_size = kBlock;
  hello.replication_id = (*store)->info().replication_id;
  CycleStart start;
  start.cycle = 3;
  start.base_cycle = 2;
  start.mode = CycleMode::kScan;
  auto refused = (*store)->BeginCycle(hello, start);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();

  WritePattern(src, 40 << 20, kBlock, 3);
  st = RunCycle(src, CycleMode::kScan, **store);
  ASSERT_OK(st);
  EXPECT_EQ(st->base_cycle, 2u);
  EXPECT_EQ(st->blocks_sent, 1u);
  EXPECT_EQ(ReadDisk(replica), ReadDisk(src));
  // Point 2 itself was completed whole: restore it.
  bool found = false;
  for (const RecoveryPoint& p : (*store)->points()) {
    if (p.id != 2) continue;
    found = true;
    ExpectRestoreEquals(dir, p.id, point2, "late-apply-point2");
  }
  EXPECT_TRUE(found) << "point 2 is not among the kept points";
}

TEST(ReplicationTest, CompressionOffSendsRawBlocks) {
  const std::string src = TempPath("raw.vhdx");
  CreateSourceDisk(src, 4 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  const std::string dir = TempDir("replica-raw");
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  SendOptions so;
  so.compression_level = 0;
  auto st = RunCycle(src, CycleMode::kInitial, **store, so);
  ASSERT_OK(st);
  EXPECT_GT(st->wire_bytes, st->changed_bytes);
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));
}

// ---- refusals of bad peers and bad data -----------------------------------

class ProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One directory per test: some commit a replica.
    dir_ = TempDir(absl::StrCat("replica-proto-",
                                ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    auto store = ReplicaStore::Open(dir_, testing::WriterOptions());
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto pair = testing::MakeWriterStreamPair();
    ASSERT_OK(pair);
    client_ = std::move(pair->first);
    server_ = std::move(pair->second);
    thread_ = std::thread([this] {
      served_ = ServeConnection(*server_, *store_, {});
      (void)server_->Close();
    });
  }
  void TearDown() override {
    (void)client_->Close();
    thread_.join();
  }
  Frame Read() {
    auto f = ReadFrame(*client_);
    EXPECT_OK(f);
    return f.ok() ? *f : Frame{};
  }
  Hello MakeHello() {
    Hello h;
    h.replication_id = "r-test";
    h.virtual_size = 1 << 20;
    h.block_size = kBlock;
    return h;
  }
  void StartCycle(uint32_t max_version = kProtocolVersion) {
    Hello hello = MakeHello();
    hello.max_version = max_version;
    ASSERT_OK(WriteFrame(*client_, FrameType::kHello, hello.Encode()));
    auto reply = HelloReply::Decode(Read());
    ASSERT_TRUE(reply.ok() && reply->status.ok());
    CycleStart c;
    c.cycle = 1;
    c.flags = kCycleFull;
    ASSERT_OK(WriteFrame(*client_, FrameType::kCycleStart, c.Encode()));
    auto ready = CycleReply::Decode(Read());
    ASSERT_TRUE(ready.ok() && ready->status.ok());
  }
  // Sends a raw (codec 0) BLOCK of `fill` bytes at `offset`; returns its CRC.
  uint32_t SendBlock(uint64_t offset, char fill) {
    std::string data(kBlock, fill);
    BlockHeader h;
    h.offset = offset;
    h.length = kBlock;
    h.codec = 0;
    h.raw_crc = Crc32c(data);
    std::string payload(kBlockHeaderSize, '\0');
    EncodeBlockHeader(h, reinterpret_cast<uint8_t*>(payload.data()));
    payload += data;
    EXPECT_OK(WriteFrame(*client_, FrameType::kBlock, payload));
    return h.raw_crc;
  }
  // Ends the cycle with `blocks` blocks and `digest`; returns the ACK.
  CycleReply EndCycle(uint64_t blocks, const Digest& digest) {
    CycleEnd e;
    e.blocks = blocks;
    e.raw_bytes = blocks * kBlock;
    e.digest = digest;
    EXPECT_OK(WriteFrame(*client_, FrameType::kCycleEnd, e.Encode()));
    auto ack = CycleReply::Decode(Read());
    EXPECT_OK(ack);
    return ack.ok() ? *ack : CycleReply{};
  }
  std::string dir_;
  std::unique_ptr<ReplicaStore> store_;
  std::unique_ptr<net::ByteStream> client_, server_;
  std::thread thread_;
  absl::Status served_;
};

TEST_F(ProtocolTest, CorruptBlockIsDataLossAndNothingIsApplied) {
  StartCycle();
  std::string data(kBlock, 'x');
  BlockHeader h;
  h.offset = 0;
  h.length = kBlock;
  h.codec = 0;
  h.raw_crc = 12345;  // wrong
  std::string payload(kBlockHeaderSize, '\0');
  EncodeBlockHeader(h, reinterpret_cast<uint8_t*>(payload.data()));
  payload += data;
  ASSERT_OK(WriteFrame(*client_, FrameType::kBlock, payload));
  CycleEnd e;
  e.blocks = 1;
  e.raw_bytes = kBlock;
  ASSERT_OK(WriteFrame(*client_, FrameType::kCycleEnd, e.Encode()));
  auto ack = CycleReply::Decode(Read());
  ASSERT_OK(ack);
  EXPECT_TRUE(absl::IsDataLoss(ack->status)) << ack->status;
  EXPECT_FALSE(store_->info().has_replica);
}

TEST_F(ProtocolTest, DigestMismatchIsRefused) {
  StartCycle();
  ZeroRange z{0, kBlock};
  ASSERT_OK(WriteFrame(*client_, FrameType::kZeroRange, z.Encode()));
  CycleEnd e;
  e.zero_ranges = 1;  // digest left all-zero: wrong
  ASSERT_OK(WriteFrame(*client_, FrameType::kCycleEnd, e.Encode()));
  auto ack = CycleReply::Decode(Read());
  ASSERT_OK(ack);
  EXPECT_TRUE(absl::IsDataLoss(ack->status)) << ack->status;
  EXPECT_NE(ack->status.message().find("digest mismatch"), std::string::npos);
}

TEST_F(ProtocolTest, CrcDigestOfTheSentOrderIsAccepted) {
  StartCycle();
  Sha256Stream d;
  DigestBlockPlace(d, kBlock, kBlock);
  DigestFrameCrc(d, SendBlock(kBlock, 'a'));
  DigestBlockPlace(d, 0, kBlock);
  DigestFrameCrc(d, SendBlock(0, 'b'));
  CycleReply ack = EndCycle(2, d.Finish());
  EXPECT_OK(ack.status);
  EXPECT_TRUE(store_->info().has_replica);
}

TEST_F(ProtocolTest, ReorderedBlocksAreRefused) {
  // The sender's digest says block 0 then block 1; they arrive the other way.
  StartCycle();
  Sha256Stream d;
  DigestBlockPlace(d, 0, kBlock);
  DigestFrameCrc(d, Crc32c(std::string(kBlock, 'b')));
  DigestBlockPlace(d, kBlock, kBlock);
  DigestFrameCrc(d, Crc32c(std::string(kBlock, 'a')));
  SendBlock(kBlock, 'a');
  SendBlock(0, 'b');
  CycleReply ack = EndCycle(2, d.Finish());
  EXPECT_TRUE(absl::IsDataLoss(ack.status)) << ack.status;
  EXPECT_NE(ack.status.message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store_->info().has_replica);
}

TEST_F(ProtocolTest, DuplicatedBlockIsRefused) {
  StartCycle();
  Sha256Stream d;
  DigestBlockPlace(d, 0, kBlock);
  DigestFrameCrc(d, SendBlock(0, 'a'));
  SendBlock(0, 'a');  // not in the sender's digest nor its count
  CycleReply ack = EndCycle(1, d.Finish());
  EXPECT_TRUE(absl::IsDataLoss(ack.status)) << ack.status;
  EXPECT_FALSE(store_->info().has_replica);
}

TEST_F(ProtocolTest, Version2SenderGetsTheSha256Digest) {
  StartCycle(/*max_version=*/2);
  SendBlock(0, 'a');
  Sha256Stream crc_digest;
  DigestBlockPlace(crc_digest, 0, kBlock);
  DigestFrameCrc(crc_digest, Crc32c(std::string(kBlock, 'a')));
  CycleReply ack = EndCycle(1, crc_digest.Finish());  // not what version 2 means
  EXPECT_TRUE(absl::IsDataLoss(ack.status)) << ack.status;

  CycleStart c;
  c.cycle = 1;
  c.flags = kCycleFull;
  ASSERT_OK(WriteFrame(*client_, FrameType::kCycleStart, c.Encode()));
  auto ready = CycleReply::Decode(Read());
  ASSERT_TRUE(ready.ok() && ready->status.ok());
  SendBlock(0, 'a');
  Sha256Stream d;
  std::string data(kBlock, 'a');
  DigestBlock(d, 0, kBlock, Sha256(data.data(), data.size()));
  ack = EndCycle(1, d.Finish());
  EXPECT_OK(ack.status);
}

TEST_F(ProtocolTest, MisalignedRangeIsAProtocolViolation) {
  StartCycle();
  ZeroRange z{100, kBlock};
  ASSERT_OK(WriteFrame(*client_, FrameType::kZeroRange, z.Encode()));
  Frame f = Read();
  ASSERT_EQ(f.type, FrameType::kError);
  EXPECT_NE(ErrorFromFrame(f).message().find("protocol violation"), std::string::npos);
}

TEST_F(ProtocolTest, DeltaWithoutReplicaIsRefused) {
  ASSERT_OK(WriteFrame(*client_, FrameType::kHello, MakeHello().Encode()));
  ASSERT_OK(HelloReply::Decode(Read()));
  CycleStart c;
  c.cycle = 2;
  c.base_cycle = 1;
  ASSERT_OK(WriteFrame(*client_, FrameType::kCycleStart, c.Encode()));
  auto ready = CycleReply::Decode(Read());
  ASSERT_OK(ready);
  EXPECT_TRUE(absl::IsFailedPrecondition(ready->status)) << ready->status;
}

TEST_F(ProtocolTest, VersionMismatchIsRefused) {
  Hello h = MakeHello();
  h.min_version = 7;
  h.max_version = 9;
  ASSERT_OK(WriteFrame(*client_, FrameType::kHello, h.Encode()));
  auto reply = HelloReply::Decode(Read());
  ASSERT_OK(reply);
  EXPECT_TRUE(absl::IsFailedPrecondition(reply->status));
  EXPECT_NE(reply->status.message().find("protocol version"), std::string::npos);
}

TEST_F(ProtocolTest, GarbageIsNotAFrame) {
  std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_OK(client_->WriteAll(junk.data(), junk.size()));
  Frame f = Read();
  EXPECT_EQ(f.type, FrameType::kError);
  EXPECT_NE(ErrorFromFrame(f).message().find("not an asr replication frame"), std::string::npos);
}

TEST(ReplicaStoreTest, SecondReceiverOnTheSameDirectoryIsRefused) {
  const std::string dir = TempDir("replica-lock");
  auto a = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(a);
  auto b = ReplicaStore::Open(dir, testing::WriterOptions());
  EXPECT_TRUE(absl::IsFailedPrecondition(b.status())) << b.status();
  EXPECT_NE(b.status().message().find("another receiver is serving this replica directory"),
            std::string::npos)
      << b.status();
}

// The state file's older hand-written text format, as replicas written
// before the state became a message have it.
std::string LegacyStateText(const model::ReplicaState& m) {
  auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
  std::string out = "asr-replica-state 1\n";
  absl::StrAppend(&out, "has_replica ", m.has_replica() ? 1 : 0, "\n");
  absl::StrAppend(&out, "replication_id ", dash(m.replication_id()), "\n");
  absl::StrAppend(&out, "source_disk_id ", dash(m.source_disk_id()), "\n");
  absl::StrAppend(&out, "virtual_size ", m.virtual_size(), "\n");
  absl::StrAppend(&out, "block_size ", m.block_size(), "\n");
  absl::StrAppend(&out, "replica_file ", m.replica_file(), "\n");
  absl::StrAppend(&out, "current_cycle ", m.current_cycle(), "\n");
  absl::StrAppend(&out, "generation ", m.generation(), "\n");
  absl::StrAppend(&out, "policy ", m.additional_points(), " ", m.interval_seconds(), " ",
                  m.retention_seconds(), "\n");
  for (const model::ReplicaStatePoint& p : m.points()) {
    absl::StrAppend(&out, "point ", p.id(), " ", p.time_us(), " ", p.source_time_us(), " ",
                    p.app_consistent() ? 1 : 0, " ", p.mode(), " ", dash(p.delta_file()), "\n");
  }
  absl::StrAppend(&out, "crc ", Crc32c(out), "\n");
  return out;
}

TEST(ReplicaStateTest, OldFormatStateFileStillOpensAndIsMigratedOnce) {
  const std::string dir = TempDir("replica-old-state");
  const std::string src = TempPath("old-state-src.vhdx");
  CreateSourceDisk(src, kDiskSize);
  WritePattern(src, 0, 3 << 20, 1);
  ReplicaOptions ro = testing::WriterOptions();
  ro.additional_points = 2;
  ro.point_interval = absl::ZeroDuration();
  std::vector<uint8_t> p1, p2;
  {
    auto store = ReplicaStore::Open(dir, ro);
    ASSERT_OK(store);
    ASSERT_OK(RunCycle(src, CycleMode::kInitial, **store));
    p1 = ReadDisk(src);
    WritePattern(src, 5 << 20, 100 << 10, 2);
    ASSERT_OK(RunCycle(src, CycleMode::kScan, **store));
    p2 = ReadDisk(src);
  }
  // Rewrite the state in the older format, as an older receiver left it.
  const std::string path = JoinPath(dir, kReplicaStateFile);
  auto text = ReadFileToString(path);
  ASSERT_OK(text);
  ASSERT_EQ(text->front(), '{') << *text;
  model::ReplicaState m;
  ASSERT_OK(model::FromJson(text->substr(0, text->rfind("crc ")), &m)) << *text;
  ASSERT_EQ(m.points_size(), 2);
  ASSERT_OK(WriteFileAtomically(path, LegacyStateText(m)));

  // Readers see it as it was.
  auto points = ListRecoveryPoints(dir);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 2u);
  EXPECT_EQ((*points)[0].id, 1u);
  EXPECT_TRUE((*points)[1].latest);
  ExpectRestoreEquals(dir, 1, p1, "old-state-p1");
  auto legacy = ReadFileToString(path);
  ASSERT_OK(legacy);
  EXPECT_EQ(legacy->rfind("asr-replica-state 1", 0), 0u) << "a reader must not rewrite it";

  // The receiver opens it and rewrites it as the message, once.
  {
    auto store = ReplicaStore::Open(dir, ro);
    ASSERT_OK(store);
    auto migrated = ReadFileToString(path);
    ASSERT_OK(migrated);
    EXPECT_EQ(migrated->front(), '{') << *migrated;
    bool was_legacy = true;
    auto state = ParseReplicaState(path, *migrated, &was_legacy);
    ASSERT_OK(state);
    EXPECT_FALSE(was_legacy);
    EXPECT_EQ(state->points.size(), 2u);
    WritePattern(src, 9 << 20, 64 << 10, 3);
    auto st = RunCycle(src, CycleMode::kScan, **store);
    ASSERT_OK(st);
    EXPECT_EQ(st->point_id, 3u);
  }
  ExpectRestoreEquals(dir, 2, p2, "old-state-p2");
  ExpectRestoreEquals(dir, 3, ReadDisk(src), "old-state-p3");
}

TEST(ReplicaStateTest, DamagedStateFileIsDataLoss) {
  const std::string dir = TempDir("replica-bad-state");
  ASSERT_OK(
      WriteFileAtomically(JoinPath(dir, kReplicaStateFile), "{\"hasReplica\":true}\ncrc 1\n"));
  EXPECT_TRUE(absl::IsDataLoss(ListRecoveryPoints(dir).status()));
}

// A host that knows the changed extents (a hypervisor's dirty bitmap): a
// tracked cycle sends exactly those blocks when the replica is at the
// point they are relative to, and scans (losing nothing) when it is not.
TEST(ReplicationTest, HostReportedChangesAreSentOnlyOnTheirBasePoint) {
  const std::string src = TempPath("host-changes.vhdx");
  CreateSourceDisk(src, kDiskSize);
  WritePattern(src, 0, 2 << 20, 1);
  const std::string dir = TempDir("replica-host-changes");
  auto store = ReplicaStore::Open(dir, testing::WriterOptions());
  ASSERT_OK(store);
  auto st = RunCycle(src, CycleMode::kInitial, **store);
  ASSERT_OK(st);
  const uint64_t base = st->cycle;

  // Two writes; the host reports both (one 64 KiB-aligned, one straddling).
  WritePattern(src, 4 << 20, 4096, 7);
  WritePattern(src, (8 << 20) - 4096, 8192, 8);
  SendOptions o;
  o.use_tracker_file = false;
  o.host_changes.emplace();
  o.host_changes->base_cycle = base;
  o.host_changes->extents = {{4 << 20, 4096}, {(8 << 20) - 4096, 8192}};
  st = RunCycle(src, CycleMode::kTracked, **store, o);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kTracked) << st->fallback_reason;
  EXPECT_EQ(st->bytes_read, 3u * kBlock);  // blocks 64, 127 and 128
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));

  // Relative to a point the replica is not at: a scan, and still equal.
  WritePattern(src, 12 << 20, 4096, 9);
  o.host_changes->base_cycle = base;  // the replica moved on to base + 1
  o.host_changes->extents = {};       // would miss the write
  st = RunCycle(src, CycleMode::kTracked, **store, o);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_NE(st->fallback_reason.find("relative to replica point"), std::string::npos)
      << st->fallback_reason;
  EXPECT_EQ(ReadDisk((*store)->info().replica_path), ReadDisk(src));

  // An extent past the end of the disk is not believed.
  o.host_changes->base_cycle = st->cycle;
  o.host_changes->extents = {{kDiskSize - 4096, 8192}};
  st = RunCycle(src, CycleMode::kTracked, **store, o);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_NE(st->fallback_reason.find("past the end"), std::string::npos) << st->fallback_reason;

  // tracked_only refuses instead of scanning.
  o.tracked_only = true;
  o.host_changes->base_cycle = st->cycle + 5;
  EXPECT_EQ(RunCycle(src, CycleMode::kTracked, **store, o).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace asr::replication
