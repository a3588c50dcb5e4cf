// Tests of replica verification (verifier.h) over an in-process socket pair
// against a real receiver: a clean replica, bit rot in the replica's data
// file, writes into the source the tracker never saw, receivers of older
// protocol versions, malformed requests, a cycle and a verification on one
// connection, and the verification schedule.
#include "asr/replication/verifier.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asr/common/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/disk/virtual_disk.h"
#include "asr/net/stream.h"
#include "asr/replication/change_tracker.h"
#include "asr/replication/digest.h"
#include "asr/replication/manifest.h"
#include "asr/replication/protocol.h"
#include "asr/replication/receiver.h"
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
using testing::RunVerify;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 24ull << 20;
constexpr uint32_t kBlock = 64 << 10;
constexpr uint64_t kBlocks = kDiskSize / kBlock;

std::string TempDir(const std::string& name) {
  std::string d = TempPath(name);
  EXPECT_OK(MakeDirectories(d));
  return d;
}

// A source disk with data, replicated once (initial) into a new store.
struct Fixture {
  std::string src;
  std::string dir;
  std::unique_ptr<ReplicaStore> store;
};

Fixture Replicated(const std::string& name) {
  Fixture f;
  f.src = TempPath(name + ".vhdx");
  CreateSourceDisk(f.src, kDiskSize);
  WritePattern(f.src, 0, 3 << 20, 1);
  WritePattern(f.src, 17 * kBlock, kBlock, 9);  // block 17: unique data
  WritePattern(f.src, 10 << 20, 512 << 10, 2);
  f.dir = TempDir(name + "-replica");
  auto store = ReplicaStore::Open(f.dir, testing::WriterOptions());
  EXPECT_OK(store);
  if (!store.ok()) return f;
  f.store = std::move(*store);
  auto st = RunCycle(f.src, CycleMode::kInitial, *f.store);
  EXPECT_OK(st);
  return f;
}

// Flips one bit inside block `block` of the replica's data FILE (not
// through the disk layer), found by its contents: the block's third quarter
// (WritePattern repeats a write's first quarter in its second, so only the
// second half of a one-block write is unique).
void FlipBitInReplicaFile(const std::string& replica, const std::vector<uint8_t>& source,
                          uint64_t block) {
  std::string file = disk::testing::ReadFileBytes(replica);
  const size_t from = block * kBlock + kBlock / 2;
  std::string needle(reinterpret_cast<const char*>(source.data()) + from, kBlock / 4);
  size_t at = file.find(needle);
  ASSERT_NE(at, std::string::npos) << "block " << block << " not found in " << replica;
  ASSERT_EQ(file.find(needle, at + 1), std::string::npos) << "block " << block << " found twice";
  uint8_t byte = static_cast<uint8_t>(file[at + 100]) ^ 0x10;
  disk::testing::PatchFile(replica, at + 100, &byte, 1);
}

void ExpectRestoredEqualsSource(const Fixture& f, const std::string& name) {
  std::string out = TempPath(name + ".vhdx");
  absl::Status s = RestorePoint(f.dir, f.store->info().current_cycle, out, {});
  ASSERT_OK(s);
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), ReadDisk(f.src)), -1);
  EXPECT_TRUE(QemuCompare(out, f.src));
}

TEST(VerifierTest, UntouchedReplicaHasNoMismatches) {
  Fixture f = Replicated("verify-clean");
  ASSERT_NE(f.store, nullptr);
  auto r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_EQ(r->point_id, 1u);
  EXPECT_EQ(r->blocks_checked, kBlocks);
  EXPECT_EQ(r->replica_mismatches, 0u);
  EXPECT_EQ(r->source_mismatches, 0u);
  EXPECT_TRUE(r->source_checked);
  EXPECT_TRUE(r->tracker_note.empty()) << r->tracker_note;
  EXPECT_FALSE(r->resync_required);
  EXPECT_NE(r->reason.find("matches"), std::string::npos) << r->reason;
  EXPECT_GE(r->bytes_read, 3u << 20);
  EXPECT_LT(r->bytes_read, kDiskSize);  // unallocated chunks are not read
  auto marker = LoadResyncMarker(f.src);
  ASSERT_OK(marker);
  EXPECT_FALSE(marker->has_value());
  EXPECT_TRUE(PathExists(VerifyStatePath(f.src)));
  std::string json = VerifyResultToJson(*r, f.src);
  EXPECT_NE(json.find("\"pointId\":\"1\","), std::string::npos) << json;
  EXPECT_NE(json.find("\"resyncRequired\":false"), std::string::npos) << json;
}

TEST(VerifierTest, BitRotInTheReplicaIsFoundAndTheNextScanRepairsIt) {
  Fixture f = Replicated("verify-rot");
  ASSERT_NE(f.store, nullptr);
  // A tracked cycle first, so that the latest point is not the first.
  {
    auto tracker = ChangeTracker::Open(f.src, kDiskSize, kBlock);
    ASSERT_OK(tracker);
    WritePattern(f.src, 5 << 20, 100000, 4, tracker->get());
    SendOptions so;
    so.tracker = tracker->get();
    auto st = RunCycle(f.src, CycleMode::kTracked, *f.store, so);
    ASSERT_OK(st);
    ASSERT_OK((*tracker)->Close());
  }
  const std::vector<uint8_t> source = ReadDisk(f.src);
  FlipBitInReplicaFile(f.store->info().replica_path, source, 17);

  auto r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_EQ(r->point_id, 2u);
  EXPECT_EQ(r->replica_mismatches, 1u);
  EXPECT_EQ(r->replica_mismatch_blocks, std::vector<uint64_t>{17});
  EXPECT_EQ(r->source_mismatches, 0u);
  EXPECT_TRUE(r->resync_required);
  EXPECT_EQ(r->reason,
            "1 block of the replica differs from what was sent (first: block 17 at offset "
            "1114112): resynchronization required");
  // Raised durably: the manifest's sentinel and the marker.
  auto m = LoadManifest(ManifestPath(f.src));
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->digests[17], kResyncDigest);
  EXPECT_NE((*m)->digests[16], kResyncDigest);
  auto marker = LoadResyncMarker(f.src);
  ASSERT_OK(marker);
  ASSERT_TRUE(marker->has_value());
  EXPECT_EQ(**marker, r->reason);

  // Until a cycle resends it, the block stays flagged.
  r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_EQ(r->replica_mismatches, 0u);
  EXPECT_EQ(r->flagged_blocks, 1u);
  EXPECT_TRUE(r->resync_required);

  // The next cycle, even one asked to be tracked (the tracker knows of no
  // change), scans because of the marker and resends exactly that block.
  auto st = RunCycle(f.src, CycleMode::kTracked, *f.store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_EQ(st->fallback_reason, "resynchronization required: " + r->reason);
  EXPECT_EQ(st->blocks_sent, 1u);
  EXPECT_EQ(st->changed_bytes, kBlock);
  r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_EQ(r->point_id, 3u);
  EXPECT_EQ(r->replica_mismatches + r->source_mismatches + r->flagged_blocks, 0u);
  EXPECT_FALSE(r->resync_required) << r->reason;
  marker = LoadResyncMarker(f.src);
  ASSERT_OK(marker);
  EXPECT_FALSE(marker->has_value());
  ExpectRestoredEqualsSource(f, "verify-rot-restored");
}

TEST(VerifierTest, UntrackedSourceWritesAreSourceMismatchesTrackedOnesAreNot) {
  Fixture f = Replicated("verify-source");
  ASSERT_NE(f.store, nullptr);
  // A host whose filter missed a write: it recorded block 100 but not the
  // write to block 5 it made while holding the tracker, so the tracker
  // vouches for a disk it did not fully see. Only a verification finds this.
  {
    auto tracker = ChangeTracker::Open(f.src, kDiskSize, kBlock);
    ASSERT_OK(tracker);
    ASSERT_FALSE((*tracker)->needs_scan()) << (*tracker)->needs_scan_reason();
    WritePattern(f.src, 100 * kBlock, 4096, 5, tracker->get());
    WritePattern(f.src, 5 * kBlock + 512, 512, 6);  // never reported
    ASSERT_OK((*tracker)->Close());
  }
  auto r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_EQ(r->replica_mismatches, 0u);
  EXPECT_EQ(r->source_mismatch_blocks, std::vector<uint64_t>{5});
  EXPECT_EQ(r->tracked_blocks_skipped, 1u);  // block 100
  EXPECT_TRUE(r->resync_required);
  EXPECT_TRUE(absl::StrContains(r->reason, "without the change tracker knowing (first: block 5 "))
      << r->reason;
  // The tracker file was only read.
  {
    auto tracker = ChangeTracker::OpenForCycle(f.src, kDiskSize, kBlock);
    ASSERT_OK(tracker);
    EXPECT_EQ((*tracker)->marked_blocks(), 1u);
  }
  // The next cycle scans (the marker says so) and resends the flagged and
  // the changed blocks; then all is clean.
  auto st = RunCycle(f.src, CycleMode::kTracked, *f.store);
  ASSERT_OK(st);
  EXPECT_EQ(st->mode_used, CycleMode::kScan);
  EXPECT_EQ(st->blocks_sent, 2u);
  r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_FALSE(r->resync_required) << r->reason;
  ExpectRestoredEqualsSource(f, "verify-source-restored");

  // Another program writes the disk: the tracker's fingerprint no longer
  // matches, so every block is compared, and the write is found.
  if (disk::testing::HaveQemu()) {
    std::string out;
    ASSERT_EQ(disk::testing::RunCommand(
                  absl::StrCat("qemu-io -f vhdx -c 'write -P 0x42 1M 64k' '", f.src, "'"), &out),
              0)
        << out;
    r = RunVerify(f.src, *f.store);
    ASSERT_OK(r);
    EXPECT_EQ(r->source_mismatch_blocks, std::vector<uint64_t>{16});
    EXPECT_TRUE(absl::StrContains(r->tracker_note, "DataWriteGuid")) << r->tracker_note;
    st = RunCycle(f.src, CycleMode::kTracked, *f.store);
    ASSERT_OK(st);
    EXPECT_EQ(st->mode_used, CycleMode::kScan);
    ExpectRestoredEqualsSource(f, "verify-source-restored-2");
  }
}

TEST(VerifierTest, WithoutAUsableTrackerEveryBlockIsComparedAndItSaysSo) {
  Fixture f = Replicated("verify-notracker");
  ASSERT_NE(f.store, nullptr);
  ASSERT_EQ(::unlink(TrackerPath(f.src).c_str()), 0);
  WritePattern(f.src, 7 * kBlock, 4096, 7);
  auto r = RunVerify(f.src, *f.store);
  ASSERT_OK(r);
  EXPECT_EQ(r->source_mismatch_blocks, std::vector<uint64_t>{7});
  EXPECT_TRUE(absl::StrContains(r->tracker_note, "every block was compared")) << r->tracker_note;
  EXPECT_TRUE(absl::StrContains(r->reason, r->tracker_note)) << r->reason;

  VerifyOptions source_off;
  source_off.check_source = false;
  r = RunVerify(f.src, *f.store, source_off);
  ASSERT_OK(r);
  EXPECT_FALSE(r->source_checked);
  EXPECT_EQ(r->bytes_read, 0u);
  EXPECT_EQ(r->flagged_blocks, 1u);  // block 7, from the first verification
}

TEST(VerifierTest, ReceiverPinnedToProtocol3RefusesClearlyAndStillRunsCycles) {
  Fixture f = Replicated("verify-v3");
  ASSERT_NE(f.store, nullptr);
  ServeOptions v3;
  v3.max_protocol_version = 3;
  auto r = RunVerify(f.src, *f.store, {}, v3);
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "protocol version 3")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "needs version 4")) << r.status();
  WritePattern(f.src, 0, 4096, 11);
  auto st = RunCycle(f.src, CycleMode::kScan, *f.store, {}, v3);
  ASSERT_OK(st);
  EXPECT_EQ(st->protocol_version, 3u);
  EXPECT_EQ(st->blocks_sent, 1u);
}

TEST(VerifierTest, NoManifestOrAnotherPointIsAClearFailedPrecondition) {
  const std::string src = TempPath("verify-none.vhdx");
  CreateSourceDisk(src, kDiskSize);
  auto store = ReplicaStore::Open(TempDir("verify-none-replica"), testing::WriterOptions());
  ASSERT_OK(store);
  auto r = RunVerify(src, **store);
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "run an initial replication first"));

  Fixture f = Replicated("verify-otherpoint");
  ASSERT_NE(f.store, nullptr);
  auto m = LoadManifest(ManifestPath(f.src));
  ASSERT_TRUE(m.ok() && m->has_value());
  (*m)->cycle = 7;
  ASSERT_OK(SaveManifest(ManifestPath(f.src), **m));
  r = RunVerify(f.src, *f.store);
  ASSERT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "the replica is at point 1 but"))
      << r.status();
}

TEST(VerifierTest, CycleAndVerificationShareOneConnection) {
  Fixture f = Replicated("verify-shared");
  ASSERT_NE(f.store, nullptr);
  WritePattern(f.src, 2 << 20, 8192, 12);
  auto pair = testing::MakeWriterStreamPair();
  ASSERT_OK(pair);
  absl::Status served;
  std::thread receiver([&] {
    served = ServeConnection(*pair->second, *f.store, {});
    (void)pair->second->Close();
  });
  auto st = ReplicateDisk(f.src, CycleMode::kScan, *pair->first, {});
  ASSERT_OK(st);
  EXPECT_EQ(st->protocol_version, kProtocolVersion);
  VerifyOptions o;
  o.session = VerifyOptions::Session{st->protocol_version, st->point_id};
  auto r = VerifyReplica(f.src, *pair->first, o);
  ASSERT_OK(r);
  EXPECT_EQ(r->point_id, 2u);
  EXPECT_FALSE(r->resync_required) << r->reason;
  // And another cycle after it, still on the same connection.
  WritePattern(f.src, 3 << 20, 8192, 13);
  st = ReplicateDisk(f.src, CycleMode::kScan, *pair->first, {});
  // ReplicateDisk always starts with HELLO, which Idle does not accept.
  EXPECT_FALSE(st.ok());
  (void)pair->first->Close();
  receiver.join();
}

TEST(VerifierTest, ScheduleByCyclesAndByTime) {
  Fixture f = Replicated("verify-schedule");
  ASSERT_NE(f.store, nullptr);
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  FakeClock clock(t0);
  VerifySchedule never;
  VerifySchedule every3{3, absl::ZeroDuration()};
  VerifySchedule hourly{0, absl::Hours(1)};
  EXPECT_FALSE(VerificationDue(f.src, never, 1, t0));
  EXPECT_TRUE(VerificationDue(f.src, every3, 1, t0));  // never verified
  EXPECT_TRUE(VerificationDue(f.src, hourly, 1, t0));
  VerifyOptions o;
  o.clock = &clock;
  auto r = RunVerify(f.src, *f.store, o);
  ASSERT_OK(r);
  EXPECT_FALSE(VerificationDue(f.src, every3, 1, t0));
  EXPECT_FALSE(VerificationDue(f.src, every3, 3, t0));
  EXPECT_TRUE(VerificationDue(f.src, every3, 4, t0));
  EXPECT_FALSE(VerificationDue(f.src, hourly, 9, t0 + absl::Minutes(59)));
  EXPECT_TRUE(VerificationDue(f.src, hourly, 1, t0 + absl::Hours(1)));
  VerifySchedule both{3, absl::Hours(1)};
  EXPECT_TRUE(VerificationDue(f.src, both, 2, t0 + absl::Hours(2)));
  EXPECT_TRUE(VerificationDue(f.src, both, 4, t0));
  EXPECT_FALSE(VerificationDue(f.src, both, 2, t0 + absl::Minutes(1)));
  // An unreadable state file makes it due.
  disk::testing::WriteFileBytes(VerifyStatePath(f.src), "garbage");
  EXPECT_TRUE(VerificationDue(f.src, every3, 1, t0));
}

// Raw frames against the receiver: a request that does not match the
// replica's geometry is refused in VERIFY_END and the session goes on.
TEST(VerifierTest, RequestOutsideTheReplicaIsRefusedAndTheSessionContinues) {
  Fixture f = Replicated("verify-raw");
  ASSERT_NE(f.store, nullptr);
  auto m = LoadManifest(ManifestPath(f.src));
  ASSERT_TRUE(m.ok() && m->has_value());
  auto pair = testing::MakeWriterStreamPair();
  ASSERT_OK(pair);
  net::ByteStream& c = *pair->first;
  absl::Status served;
  std::thread receiver([&] {
    served = ServeConnection(*pair->second, *f.store, {});
    (void)pair->second->Close();
  });
  Hello h;
  h.replication_id = (*m)->replication_id;
  h.virtual_size = kDiskSize;
  h.block_size = kBlock;
  ASSERT_OK(WriteFrame(c, FrameType::kHello, h.Encode()));
  auto f1 = ReadFrame(c);
  ASSERT_OK(f1);
  auto reply = HelloReply::Decode(*f1);
  ASSERT_TRUE(reply.ok() && reply->status.ok());
  EXPECT_EQ(reply->version, kProtocolVersion);

  VerifyRequest req;
  req.hasher = (*m)->hasher;
  req.block_size = kBlock;
  req.block_count = 1ull << 40;  // far more than the replica holds
  ASSERT_OK(WriteFrame(c, FrameType::kVerifyRequest, req.Encode()));
  auto f2 = ReadFrame(c);
  ASSERT_OK(f2);
  auto end = VerifyEnd::Decode(*f2);
  ASSERT_OK(end);
  EXPECT_TRUE(absl::IsInvalidArgument(end->status)) << end->status;
  EXPECT_TRUE(absl::StrContains(end->status.message(), "does not match the replica"));
  EXPECT_EQ(end->blocks, 0u);

  // The last 10 blocks: one VERIFY_DIGESTS, then VERIFY_END.
  req.first_block = kBlocks - 10;
  req.block_count = 10;
  ASSERT_OK(WriteFrame(c, FrameType::kVerifyRequest, req.Encode()));
  auto f3 = ReadFrame(c);
  ASSERT_OK(f3);
  VerifyDigests d;
  ASSERT_OK(VerifyDigests::DecodeInto(*f3, &d));
  EXPECT_EQ(d.first_block, kBlocks - 10);
  ASSERT_EQ(d.digests.size(), 10u);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(d.digests[i], (*m)->digests[kBlocks - 10 + i]);
  auto f4 = ReadFrame(c);
  ASSERT_OK(f4);
  end = VerifyEnd::Decode(*f4);
  ASSERT_TRUE(end.ok() && end->status.ok()) << end.status();
  EXPECT_EQ(end->point_id, 1u);
  EXPECT_EQ(end->blocks, 10u);

  // An unknown hash kind is a protocol violation.
  std::string bad = req.Encode();
  bad[0] = 9;
  ASSERT_OK(WriteFrame(c, FrameType::kVerifyRequest, bad));
  auto f5 = ReadFrame(c);
  ASSERT_OK(f5);
  EXPECT_EQ(f5->type, FrameType::kError);
  (void)c.Close();
  receiver.join();
  EXPECT_TRUE(absl::IsInvalidArgument(served)) << served;
}

TEST(VerifierTest, PinnedReceiverTreatsVerifyRequestAsAViolation) {
  Fixture f = Replicated("verify-raw-v3");
  ASSERT_NE(f.store, nullptr);
  auto m = LoadManifest(ManifestPath(f.src));
  ASSERT_TRUE(m.ok() && m->has_value());
  auto pair = testing::MakeWriterStreamPair();
  ASSERT_OK(pair);
  absl::Status served;
  ServeOptions v3;
  v3.max_protocol_version = 3;
  std::thread receiver([&] {
    served = ServeConnection(*pair->second, *f.store, v3);
    (void)pair->second->Close();
  });
  Hello h;
  h.replication_id = (*m)->replication_id;
  h.virtual_size = kDiskSize;
  h.block_size = kBlock;
  ASSERT_OK(WriteFrame(*pair->first, FrameType::kHello, h.Encode()));
  auto reply = ReadFrame(*pair->first);
  ASSERT_OK(reply);
  EXPECT_EQ(HelloReply::Decode(*reply)->version, 3u);
  VerifyRequest req;
  req.hasher = (*m)->hasher;
  req.block_size = kBlock;
  req.block_count = kBlocks;
  ASSERT_OK(WriteFrame(*pair->first, FrameType::kVerifyRequest, req.Encode()));
  auto err = ReadFrame(*pair->first);
  ASSERT_OK(err);
  EXPECT_EQ(err->type, FrameType::kError);
  (void)pair->first->Close();
  receiver.join();
  EXPECT_TRUE(absl::IsFailedPrecondition(served)) << served;
}

}  // namespace
}  // namespace asr::replication
