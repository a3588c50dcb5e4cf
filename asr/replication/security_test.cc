// The replica store and the receiver under attack by a host that holds a
// certificate from the vault's CA (review items 1, 2, 7 and 9 of the
// security issue): forged identifiers in HELLO, state files that name
// files outside the replica directory, writers other than the replica's
// own, cycle numbers that skip ahead or wrap, a flood of ZERO_RANGE and
// repeated BLOCK frames, and a state file that cannot be saved. Each test
// performs the attack against a real receiver (ServeConnection over a
// socket pair whose peer identity stands in for the certificate's CN) or a
// real replica directory, and shows it refused and nothing lost.
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asr/common/crc32c.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/platform/env.h"
#include "asr/replication/protocol.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_state.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using ::asr::testing::StatusIs;
using disk::testing::TempPath;
using testing::CreateSourceDisk;
using ::testing::HasSubstr;
using testing::kTestWriter;
using ::testing::Not;
using testing::ReadDisk;
using testing::RunCycle;
using testing::WritePattern;
using testing::WriterOptions;

constexpr uint64_t kDiskSize = 4 << 20;

std::string TempDir(const std::string& name) {
  std::string d = TempPath(name);
  EXPECT_OK(MakeDirectories(d));
  return d;
}

// A peer speaking the protocol frame by frame to ServeConnection on a
// thread, presenting `identity` as its certificate's CN.
class RawPeer {
 public:
  RawPeer(ReplicaStore& store, const std::string& identity, ServeOptions serve = {}) {
    auto pair = testing::MakeWriterStreamPair(identity);
    EXPECT_OK(pair);
    client_ = std::move(pair->first);
    server_end_ = std::move(pair->second);
    thread_ = std::thread([this, &store, serve] {
      served_ = ServeConnection(*server_end_, store, serve);
      (void)server_end_->Close();
    });
  }
  ~RawPeer() { (void)Finish(); }

  // Closes the client's end and returns what the receiver's session returned.
  absl::Status Finish() {
    if (thread_.joinable()) {
      (void)client_->Close();
      thread_.join();
    }
    return served_;
  }

  absl::StatusOr<HelloReply> SayHello(const Hello& h) {
    if (absl::Status s = WriteFrame(*client_, FrameType::kHello, h.Encode()); !s.ok()) return s;
    absl::StatusOr<Frame> f = ReadFrame(*client_);
    if (!f.ok()) return f.status();
    return HelloReply::Decode(*f);
  }

  absl::StatusOr<CycleReply> Start(const CycleStart& c) {
    if (absl::Status s = WriteFrame(*client_, FrameType::kCycleStart, c.Encode()); !s.ok()) {
      return s;
    }
    absl::StatusOr<Frame> f = ReadFrame(*client_);
    if (!f.ok()) return f.status();
    return CycleReply::Decode(*f);
  }

  // Sends the frames in `bytes` `times` times (stops when the receiver has
  // closed), then returns the status of the receiver's ERROR frame.
  absl::Status FloodThenReadError(const std::string& bytes, int times) {
    for (int i = 0; i < times; ++i) {
      if (!client_->WriteAll(bytes.data(), bytes.size()).ok()) break;
    }
    for (;;) {
      absl::StatusOr<Frame> f = ReadFrame(*client_);
      if (!f.ok()) return f.status();
      if (f->type == FrameType::kError) return ErrorFromFrame(*f);
    }
  }

  net::ByteStream& client() { return *client_; }

 private:
  std::unique_ptr<net::ByteStream> client_, server_end_;
  std::thread thread_;
  absl::Status served_;
};

// The HELLO a rightful sender of this replica would send.
Hello HelloFor(const ReplicaStore& store) {
  ReplicaInfo info = store.info();
  Hello h;
  h.replication_id = info.replication_id;
  h.source_disk_id = info.source_disk_id;
  h.virtual_size = info.virtual_size;
  h.block_size = info.block_size;
  h.source_name = "vm1-disk0";
  return h;
}

// A source disk and a replica at point 1 of it.
struct Replica {
  std::string src, dir;
  std::unique_ptr<ReplicaStore> store;
  std::vector<uint8_t> point1;
};

Replica MakeReplica(const std::string& name, ReplicaOptions o = WriterOptions()) {
  Replica r;
  r.src = TempPath(name + "-src.vhdx");
  r.dir = TempDir(name + "-replica");
  CreateSourceDisk(r.src, kDiskSize);
  WritePattern(r.src, 0, 1 << 20, 1);
  WritePattern(r.src, 3 << 20, 64 << 10, 2);
  auto store = ReplicaStore::Open(r.dir, o);
  EXPECT_OK(store);
  if (!store.ok()) return r;
  r.store = std::move(*store);
  auto st = RunCycle(r.src, CycleMode::kInitial, *r.store);
  EXPECT_OK(st);
  r.point1 = ReadDisk(r.src);
  return r;
}

// One more scan cycle by the rightful sender: the replica is usable.
void ExpectRightfulCycleWorks(Replica& r, uint64_t expected_point) {
  WritePattern(r.src, 2 << 20, 100000, static_cast<uint32_t>(40 + expected_point));
  auto st = RunCycle(r.src, CycleMode::kScan, *r.store);
  ASSERT_OK(st);
  EXPECT_EQ(st->point_id, expected_point);
  EXPECT_EQ(ReadDisk(r.store->info().replica_path), ReadDisk(r.src));
}

RestoreOptions Overwrite() {
  RestoreOptions o;
  o.overwrite = true;
  return o;
}

void ExpectNothingRevealed(const HelloReply& reply) {
  EXPECT_FALSE(reply.has_replica);
  EXPECT_EQ(reply.replication_id, "");
  EXPECT_EQ(reply.current_cycle, 0u);
  EXPECT_EQ(reply.virtual_size, 0u);
  EXPECT_EQ(reply.block_size, 0u);
}

// ---------------------------------------------------------------- item 1

TEST(ReplicaSecurity, HelloWithForgedIdentifiersIsRefused) {
  Replica r = MakeReplica("sec-ids", [] {
    ReplicaOptions o = WriterOptions();
    o.additional_points = 2;
    o.point_interval = absl::ZeroDuration();
    return o;
  }());
  ASSERT_NE(r.store, nullptr);
  const std::string real_id = r.store->info().replication_id;
  const std::string bad_ids[] = {
      real_id + "\npoint 9 0 0 0 1 ../victim\ncurrent_cycle 9",
      "r with space",
      "r/../../victim",
      std::string(129, 'a'),
      ".hidden",
      "",
  };
  for (const std::string& id : bad_ids) {
    SCOPED_TRACE(EscapeForMessage(id));
    RawPeer peer(*r.store, kTestWriter);
    Hello h = HelloFor(*r.store);
    h.replication_id = id;
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(h));
    EXPECT_THAT(reply.status,
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("refused replication_id")));
    EXPECT_THAT(std::string(reply.status.message()), HasSubstr("1..128 bytes of ASCII letters"));
    EXPECT_THAT(std::string(reply.status.message()), Not(HasSubstr("\n")));
    ExpectNothingRevealed(reply);
    EXPECT_THAT(peer.Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  {
    RawPeer peer(*r.store, kTestWriter);
    Hello h = HelloFor(*r.store);
    h.source_disk_id = "disk\n0";
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(h));
    EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("refused source_disk_id \"disk\\n0\"")));
  }
  {
    RawPeer peer(*r.store, kTestWriter);
    Hello h = HelloFor(*r.store);
    h.source_name = "vm1\x1b[2J";
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(h));
    EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("without control characters")));
    h.source_name = std::string(kMaxSourceNameBytes + 1, 'n');
    RawPeer peer2(*r.store, kTestWriter);
    ASSERT_OK_AND_ASSIGN(reply, peer2.SayHello(h));
    EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // The replica is untouched and still usable, across a restart, and both
  // points restore.
  EXPECT_EQ(r.store->info().replication_id, real_id);
  EXPECT_EQ(r.store->info().current_cycle, 1u);
  ExpectRightfulCycleWorks(r, 2);
  const std::vector<uint8_t> point2 = ReadDisk(r.src);
  r.store.reset();
  ASSERT_OK_AND_ASSIGN(r.store, ReplicaStore::Open(r.dir, WriterOptions()));
  EXPECT_EQ(r.store->info().current_cycle, 2u);
  for (uint64_t p : {1, 2}) {
    const std::string out = TempPath(absl::StrCat("sec-ids-restore-", p, ".vhdx"));
    ASSERT_OK(RestorePoint(r.dir, p, out, {}));
    EXPECT_EQ(ReadDisk(out), p == 1 ? r.point1 : point2);
  }
}

TEST(ReplicaSecurity, IdentifierRules) {
  EXPECT_OK(CheckIdentifier("replication_id", "r-0123456789abcdef0123456789abcdef"));
  EXPECT_OK(CheckIdentifier("replication_id", "vm1.disk_0:a-b"));
  EXPECT_OK(CheckIdentifier("replication_id", std::string(128, 'a')));
  EXPECT_THAT(CheckIdentifier("replication_id", std::string(129, 'a')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("(129 bytes)")));
  EXPECT_THAT(CheckIdentifier("replication_id", std::string(1000, '\n')),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\\n\\n...")));
  EXPECT_OK(CheckSourceDiskId("{0a1b2c3d-0000-1111-2222-333344445555}"));
  EXPECT_OK(CheckSourceDiskId(""));
  EXPECT_THAT(CheckSourceDiskId("../x"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(CheckDisplayName("source_name", "Serveur d'été", 256));
  EXPECT_THAT(CheckDisplayName("source_name", "a\xc0\xaf", 256),
              StatusIs(absl::StatusCode::kInvalidArgument));  // overlong '/'
  EXPECT_THAT(CheckDisplayName("source_name", std::string("a\0b", 3), 256),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// A state file naming `bad` as a delta or journal: every reader refuses it
// and `victim`, outside the replica directory, survives.
class ForgedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = absl::StrCat(
        "sec-forged-", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    base_ = TempDir(name);
    victim_ = JoinPath(base_, "victim");
    ASSERT_OK(WriteFileAtomically(victim_, "another VM's replica"));
    ReplicaOptions o = WriterOptions();
    o.additional_points = 2;
    o.point_interval = absl::ZeroDuration();
    r_ = MakeReplica(name, o);
    ASSERT_NE(r_.store, nullptr);
    ExpectRightfulCycleWorks(r_, 2);
    r_.dir = r_.store->dir();
    r_.store.reset();
    // The replica directory sits beside the victim: ../victim reaches it.
    dir_ = JoinPath(base_, "replica");
    ASSERT_OK(platform::Env::Default()->Rename(r_.dir, dir_));
    ASSERT_OK_AND_ASSIGN(LoadedState loaded, LoadReplicaState(dir_));
    good_ = loaded.state;
    ASSERT_EQ(good_.points.size(), 2u);
  }

  void ExpectRefused(const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_THAT(ReplicaStore::Open(dir_, WriterOptions()),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("replica.state")));
    EXPECT_THAT(ReplicaStore::Open(dir_, WriterOptions()).status().message(), HasSubstr(what));
    EXPECT_THAT(ListRecoveryPoints(dir_), StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(ReadReplicaInfo(dir_), StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(RestorePoint(dir_, 1, TempPath("sec-forged-out.vhdx"), Overwrite()),
                StatusIs(absl::StatusCode::kDataLoss));
    ASSERT_OK_AND_ASSIGN(std::string v, ReadFileToString(victim_));
    EXPECT_EQ(v, "another VM's replica");
  }

  std::string base_, victim_, dir_;
  Replica r_;
  ReplicaStore::State good_;
};

TEST_F(ForgedStateTest, DeltaOutsideTheDirectory) {
  for (const std::string bad :
       {"../victim", "points/../../victim", "/tmp/victim", "victim", "points/", "points/.hidden"}) {
    ReplicaStore::State s = good_;
    s.points[0].delta_file = bad;
    ASSERT_OK(SaveReplicaState(dir_, s));
    ExpectRefused(absl::StrCat("point 1's delta_file \"", bad, "\""));
  }
  ReplicaStore::State s = good_;
  s.replica_file = "../victim";
  ASSERT_OK(SaveReplicaState(dir_, s));
  ExpectRefused("replica_file \"../victim\"");
  // With the good state back, the replica is whole.
  ASSERT_OK(SaveReplicaState(dir_, good_));
  ASSERT_OK_AND_ASSIGN(auto store, ReplicaStore::Open(dir_, WriterOptions()));
  EXPECT_EQ(store->info().current_cycle, 2u);
  store.reset();
  const std::string out = TempPath("sec-forged-good.vhdx");
  ASSERT_OK(RestorePoint(dir_, 1, out, Overwrite()));
  EXPECT_EQ(ReadDisk(out), r_.point1);
}

TEST_F(ForgedStateTest, JournalAndUndoOutsideTheDirectory) {
  ReplicaStore::State s = good_;
  s.applying = true;
  s.apply_start.cycle = 3;
  s.apply_start.base_cycle = 2;
  s.apply_journal = "../victim";
  ASSERT_OK(SaveReplicaState(dir_, s));
  ExpectRefused("the apply's journal \"../victim\"");
  s.apply_journal = "journal/cycle-3.blog";
  s.apply_undo = "points/../../victim";
  ASSERT_OK(SaveReplicaState(dir_, s));
  ExpectRefused("the apply's undo");
}

TEST_F(ForgedStateTest, LegacyTextFormat) {
  // The older format, as the injection wrote it: a fake point line.
  auto legacy = [&](const std::string& point1_delta, const std::string& applying) {
    std::string body = absl::StrCat(
        "asr-replica-state 1\nhas_replica 1\nreplication_id ", good_.replication_id,
        "\nsource_disk_id -\nvirtual_size ", good_.virtual_size, "\nblock_size ", good_.block_size,
        "\nreplica_file replica.vhdx\ncurrent_cycle 2\ngeneration 5\n",
        "policy 2 0 86400\npoint 1 1700000000000000 1700000000000000 0 1 ", point1_delta,
        "\npoint 2 1700000001000000 1700000001000000 0 3 -\n", applying);
    return absl::StrCat(body, "crc ", Crc32c(body), "\n");
  };
  const std::string state = JoinPath(dir_, kReplicaStateFile);
  ASSERT_OK(WriteFileAtomically(state, legacy("../victim", "")));
  ExpectRefused("point 1's delta_file \"../victim\"");
  ASSERT_OK(WriteFileAtomically(
      state, legacy(good_.points[0].delta_file, "applying 3 2 3 0 0 0 ../victim -\n")));
  ExpectRefused("the apply's journal \"../victim\"");
  // A well-formed legacy file is still read (and rewritten on Open).
  ASSERT_OK(WriteFileAtomically(state, legacy(good_.points[0].delta_file, "")));
  ASSERT_OK_AND_ASSIGN(auto store, ReplicaStore::Open(dir_, WriterOptions()));
  EXPECT_EQ(store->points().size(), 2u);
}

// ---------------------------------------------------------------- item 2

TEST(ReplicaSecurity, OnlyTheWriterMayWriteAndRefusalsRevealNothing) {
  Replica r = MakeReplica("sec-writer");
  ASSERT_NE(r.store, nullptr);
  const std::string real_id = r.store->info().replication_id;
  ServeOptions serve;
  serve.receiver_identity = "recovery-host";
  struct Attempt {
    std::string identity;
    std::string expect;
  } attempts[] = {
      {"recovery-host",
       "host certificate CN=recovery-host is not authorized to replicate to "
       "this receiver"},
      {"hv-other", "host certificate CN=hv-other is not authorized to replicate to this receiver"},
      {"", "without a host certificate name is not authorized"},
      {"primary-host\n", "CN=primary-host\\n is not authorized"},
  };
  for (const Attempt& a : attempts) {
    SCOPED_TRACE(a.identity);
    RawPeer peer(*r.store, a.identity, serve);
    // Even a HELLO that names the replica exactly is answered with nothing.
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(HelloFor(*r.store)));
    EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr(a.expect)));
    EXPECT_THAT(std::string(reply.status.message()), Not(HasSubstr(real_id)));
    EXPECT_THAT(std::string(reply.status.message()),
                Not(HasSubstr(kTestWriter + std::string(" "))));
    ExpectNothingRevealed(reply);
    // The session is over: a CYCLE_START or VERIFY_REQUEST gets no answer.
    (void)WriteFrame(peer.client(), FrameType::kCycleStart, CycleStart{2, 1}.Encode());
    EXPECT_FALSE(ReadFrame(peer.client()).ok());
    EXPECT_THAT(peer.Finish(), StatusIs(absl::StatusCode::kPermissionDenied));
  }
  // A real sender presenting another identity is refused too, cleanly.
  {
    auto pair = testing::MakeWriterStreamPair("hv-other");
    ASSERT_OK(pair);
    std::thread t([&] { (void)ServeConnection(*pair->second, *r.store, serve); });
    auto st = ReplicateDisk(r.src, CycleMode::kScan, *pair->first, {});
    (void)pair->first->Close();
    t.join();
    EXPECT_THAT(st, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("CN=hv-other")));
  }
  // The receiver's own identity is refused even when configured as writer.
  {
    ServeOptions self;
    self.receiver_identity = kTestWriter;
    RawPeer peer(*r.store, kTestWriter, self);
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(HelloFor(*r.store)));
    EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kPermissionDenied,
                                       HasSubstr("it is the receiver's own")));
    ExpectNothingRevealed(reply);
  }
  EXPECT_EQ(r.store->info().current_cycle, 1u);
  ExpectRightfulCycleWorks(r, 2);
  auto verified = testing::RunVerify(r.src, *r.store);
  ASSERT_OK(verified);
  EXPECT_EQ(verified->replica_mismatches, 0u);
}

TEST(ReplicaSecurity, WriterIsRecordedAndEnforcedOnOpen) {
  Replica r = MakeReplica("sec-record");
  ASSERT_NE(r.store, nullptr);
  r.store.reset();
  ASSERT_OK_AND_ASSIGN(LoadedState loaded, LoadReplicaState(r.dir));
  EXPECT_EQ(loaded.state.writer, kTestWriter);

  ReplicaOptions other = WriterOptions();
  other.writer = "hv-other";
  EXPECT_THAT(ReplicaStore::Open(r.dir, other),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::AllOf(HasSubstr("'primary-host'"), HasSubstr("'hv-other'"))));
  // No --writer: the recorded one applies.
  ASSERT_OK_AND_ASSIGN(r.store, ReplicaStore::Open(r.dir, ReplicaOptions()));
  EXPECT_EQ(r.store->info().writer, kTestWriter);
  ExpectRightfulCycleWorks(r, 2);
  r.store.reset();

  // A replica from before writers were recorded takes the configured one.
  ASSERT_OK_AND_ASSIGN(loaded, LoadReplicaState(r.dir));
  loaded.state.writer.clear();
  ASSERT_OK(SaveReplicaState(r.dir, loaded.state));
  ASSERT_OK_AND_ASSIGN(r.store, ReplicaStore::Open(r.dir, other));
  EXPECT_EQ(r.store->info().writer, "hv-other");
  r.store.reset();
  ASSERT_OK_AND_ASSIGN(loaded, LoadReplicaState(r.dir));
  EXPECT_EQ(loaded.state.writer, "hv-other");

  // A new replica and no writer anywhere: every writer is refused.
  ASSERT_OK_AND_ASSIGN(auto none, ReplicaStore::Open(TempDir("sec-nowriter"), ReplicaOptions()));
  EXPECT_THAT(none->AuthorizeWriter(kTestWriter),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("asrctl replica serve --writer HOST")));
  RawPeer peer(*none, kTestWriter);
  Hello h;
  h.replication_id = "r-new";
  h.virtual_size = kDiskSize;
  h.block_size = 64 << 10;
  ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(h));
  EXPECT_THAT(reply.status, StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ReplicaSecurity, OnlyTheNextCycleNumberIsAccepted) {
  Replica r = MakeReplica("sec-cycles");
  ASSERT_NE(r.store, nullptr);
  {
    RawPeer peer(*r.store, kTestWriter);
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(HelloFor(*r.store)));
    ASSERT_OK(reply.status);
    EXPECT_EQ(reply.current_cycle, 1u);
    for (CycleStart c : {CycleStart{UINT64_MAX, 1, CycleMode::kScan, 0, 0},
                         CycleStart{UINT64_MAX, 0, CycleMode::kInitial, kCycleFull, 0},
                         CycleStart{3, 1, CycleMode::kScan, 0, 0},
                         CycleStart{1, 0, CycleMode::kInitial, kCycleFull, 0}}) {
      SCOPED_TRACE(c.cycle);
      ASSERT_OK_AND_ASSIGN(CycleReply ready, peer.Start(c));
      EXPECT_THAT(ready.status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                         HasSubstr("the next cycle must be number 2")));
    }
    EXPECT_OK(peer.Finish());
  }
  EXPECT_EQ(r.store->info().current_cycle, 1u);
  ExpectRightfulCycleWorks(r, 2);
  ExpectRightfulCycleWorks(r, 3);
}

TEST(ReplicaSecurity, OneCycleAtATime) {
  Replica r = MakeReplica("sec-one");
  ASSERT_NE(r.store, nullptr);
  const Hello h = HelloFor(*r.store);
  const CycleStart c{2, 1, CycleMode::kScan, 0, 0};
  ASSERT_OK_AND_ASSIGN(auto first, r.store->BeginCycle(h, c));
  EXPECT_THAT(r.store->BeginCycle(h, c),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("another cycle of this replica is being received; retry when "
                                 "it ends")));
  first.reset();  // discarded: the next may begin
  ASSERT_OK_AND_ASSIGN(auto second, r.store->BeginCycle(h, c));
  second.reset();
  ExpectRightfulCycleWorks(r, 2);
}

// ---------------------------------------------------------------- item 7

TEST(ReplicaSecurity, ZeroRangeFloodIsBounded) {
  Replica r = MakeReplica("sec-zero");
  ASSERT_NE(r.store, nullptr);
  const ReplicaInfo info = r.store->info();
  const uint64_t disk_blocks = (info.virtual_size + info.block_size - 1) / info.block_size;
  RawPeer peer(*r.store, kTestWriter);
  ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(HelloFor(*r.store)));
  ASSERT_OK(reply.status);
  ASSERT_OK_AND_ASSIGN(CycleReply ready, peer.Start({2, 1, CycleMode::kScan, 0, 0}));
  ASSERT_OK(ready.status);
  // A million ZERO_RANGE frames over the same block, a thousand per write.
  std::string batch;
  const ZeroRange z{0, info.block_size};
  for (int i = 0; i < 1000; ++i) AppendFrame(&batch, FrameType::kZeroRange, z.Encode(), {});
  absl::Status err = peer.FloodThenReadError(batch, 1000);
  EXPECT_THAT(err, StatusIs(absl::StatusCode::kResourceExhausted,
                            HasSubstr(absl::StrCat("more than ", disk_blocks, " blocks"))));
  EXPECT_THAT(peer.Finish(), StatusIs(absl::StatusCode::kResourceExhausted));
  // The store's own accounting: no more than the disk's blocks' entries.
  EXPECT_LE(r.store->peak_cycle_memory(), disk_blocks * 64);
  EXPECT_EQ(r.store->info().current_cycle, 1u);
  EXPECT_EQ(r.store->points().size(), 1u);
  EXPECT_EQ(ReadDisk(info.replica_path), r.point1);
  ExpectRightfulCycleWorks(r, 2);
}

TEST(ReplicaSecurity, RepeatedBlockIsBounded) {
  Replica r = MakeReplica("sec-block");
  ASSERT_NE(r.store, nullptr);
  const ReplicaInfo info = r.store->info();
  const uint64_t disk_blocks = (info.virtual_size + info.block_size - 1) / info.block_size;
  RawPeer peer(*r.store, kTestWriter);
  ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(HelloFor(*r.store)));
  ASSERT_OK(reply.status);
  ASSERT_OK_AND_ASSIGN(CycleReply ready, peer.Start({2, 1, CycleMode::kScan, 0, 0}));
  ASSERT_OK(ready.status);
  // The same block, again and again: each one valid on its own.
  std::vector<uint8_t> data = disk::testing::Pattern(info.block_size, 7);
  BlockHeader bh;
  bh.offset = 0;
  bh.length = info.block_size;
  bh.codec = static_cast<uint8_t>(BlockCodec::kRaw);
  bh.raw_crc = Crc32c(data.data(), data.size());
  uint8_t head[kBlockHeaderSize];
  EncodeBlockHeader(bh, head);
  std::string frame;
  AppendFrame(&frame, FrameType::kBlock,
              absl::string_view(reinterpret_cast<const char*>(head), sizeof(head)),
              absl::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
  absl::Status err = peer.FloodThenReadError(frame, static_cast<int>(disk_blocks) + 100);
  EXPECT_THAT(err, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("refused")));
  EXPECT_THAT(peer.Finish(), StatusIs(absl::StatusCode::kResourceExhausted));
  // Decoded blocks kept: at most the disk's size and their entries (the
  // buffer's capacity may be up to twice what it holds).
  EXPECT_LE(r.store->peak_cycle_memory(), 2 * (info.virtual_size + disk_blocks * 64));
  EXPECT_EQ(r.store->info().current_cycle, 1u);
  EXPECT_EQ(ReadDisk(info.replica_path), r.point1);
  ExpectRightfulCycleWorks(r, 2);
}

// ---------------------------------------------------------------- item 9

// Makes the state file's next save fail: its temporary name is taken by a
// directory (WriteFileAtomically cannot remove it).
struct SaveBreaker {
  std::string dir;
  const char* step = "";
  bool armed = false;
  std::string blocker() const {
    return JoinPath(dir, absl::StrCat(kReplicaStateFile, ".tmp.", platform::ProcessId()));
  }
  void operator()(const char* s) {
    if (armed && std::string(s) == step) {
      armed = false;
      EXPECT_OK(MakeDirectories(JoinPath(blocker(), "x")));
    }
  }
  void Clear() const {
    ::rmdir(JoinPath(blocker(), "x").c_str());
    ::rmdir(blocker().c_str());
  }
};

TEST(ReplicaSecurity, AFailedStateSaveLeavesNoPoint) {
  auto breaker = std::make_shared<SaveBreaker>();
  ReplicaOptions o = WriterOptions();
  o.additional_points = 2;
  o.point_interval = absl::ZeroDuration();
  o.step_hook = [breaker](const char* s) { (*breaker)(s); };
  const std::string dir = TempDir("sec-save-replica");
  breaker->dir = dir;
  const std::string src = TempPath("sec-save-src.vhdx");
  CreateSourceDisk(src, kDiskSize);
  WritePattern(src, 0, 1 << 20, 1);
  ASSERT_OK_AND_ASSIGN(auto store, ReplicaStore::Open(dir, o));

  // A first cycle whose state cannot be saved: no replica.
  breaker->step = "save-first";
  breaker->armed = true;
  EXPECT_THAT(RunCycle(src, CycleMode::kInitial, *store), Not(::asr::testing::IsOk()));
  breaker->Clear();
  EXPECT_FALSE(store->info().has_replica);
  ASSERT_OK_AND_ASSIGN(auto st, RunCycle(src, CycleMode::kInitial, *store));
  EXPECT_EQ(st.point_id, 1u);
  const std::vector<uint8_t> point1 = ReadDisk(src);

  // A later cycle: the sender is told it failed, and it did.
  WritePattern(src, 2 << 20, 300000, 2);
  breaker->step = "save-applying";
  breaker->armed = true;
  auto failed = RunCycle(src, CycleMode::kScan, *store);
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(std::string(failed.status().message()),
              HasSubstr("receiver did not commit the cycle"));
  breaker->Clear();
  EXPECT_EQ(store->info().current_cycle, 1u);
  EXPECT_EQ(store->points().size(), 1u);
  {
    RawPeer peer(*store, kTestWriter);
    Hello h;
    h.replication_id = store->info().replication_id;
    h.source_disk_id = store->info().source_disk_id;
    h.virtual_size = store->info().virtual_size;
    h.block_size = store->info().block_size;
    ASSERT_OK_AND_ASSIGN(HelloReply reply, peer.SayHello(h));
    ASSERT_OK(reply.status);  // also completes any "interrupted" apply: none
    EXPECT_EQ(reply.current_cycle, 1u);
  }
  EXPECT_EQ(store->info().current_cycle, 1u);
  EXPECT_EQ(ReadDisk(store->info().replica_path), point1);
  // A restart agrees.
  store.reset();
  ASSERT_OK_AND_ASSIGN(auto points, ListRecoveryPoints(dir));
  ASSERT_EQ(points.size(), 1u);
  EXPECT_EQ(points[0].id, 1u);
  ASSERT_OK_AND_ASSIGN(store, ReplicaStore::Open(dir, o));
  EXPECT_EQ(store->info().current_cycle, 1u);
  EXPECT_EQ(ReadDisk(store->info().replica_path), point1);

  // The sender's retry commits it as point 2, and point 1 stays restorable.
  ASSERT_OK_AND_ASSIGN(st, RunCycle(src, CycleMode::kScan, *store));
  EXPECT_EQ(st.point_id, 2u);
  EXPECT_EQ(ReadDisk(store->info().replica_path), ReadDisk(src));
  const std::string out = TempPath("sec-save-point1.vhdx");
  ASSERT_OK(RestorePoint(dir, 1, out, Overwrite()));
  EXPECT_EQ(ReadDisk(out), point1);
}

}  // namespace
}  // namespace asr::replication
