// One recovery endpoint serving many replicas over real TLS on 127.0.0.1:
// the disks of three VMs replicating at once, refusals that reveal nothing,
// the admit hook's refusal reaching the sender, Unbind freeing a directory
// (also from an open session), point options changed on a bound replica,
// and the bound on open stores.
#include "asr/replication/recovery_endpoint.h"

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/virtual_disk.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
#include "asr/replication/protocol.h"
#include "asr/replication/replica_store.h"
#include "asr/replication/replication_test_util.h"
#include "asr/replication/sender.h"
#include "gtest/gtest.h"

namespace asr::replication {
namespace {

using testing::CreateSourceDisk;
using testing::ReadDisk;
using testing::WriteHostTls;
using testing::WritePattern;

constexpr uint64_t kDiskSize = 8 << 20;

// The id a sender puts in its HELLO: the disk image's own.
std::string DiskId(const std::string& path) {
  auto d = disk::OpenDisk(path, disk::OpenMode::kReadOnly);
  EXPECT_OK(d);
  return d.ok() ? (*d)->info().disk_id : "";
}

class RecoveryEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = asr::testing::TestDir("endpoint");
    absl::Time now = absl::Now();
    auto ca = net::CreateCertificateAuthority("vault CA", now - absl::Hours(1),
                                              now + absl::Hours(24 * 365));
    ASSERT_OK(ca);
    recovery_ = WriteHostTls(dir_, "recovery", *ca);
    for (const char* name : {"hv-1", "hv-2", "hv-3"}) {
      hosts_[name] = WriteHostTls(dir_, name, *ca);
      hosts_[name].expected_peer_name = "recovery";
    }
  }

  void TearDown() override {
    if (endpoint_) endpoint_->Stop();
  }

  void StartEndpoint(RecoveryEndpointOptions o = {}) {
    o.server.serve.receiver_identity = "recovery";
    ASSERT_OK_AND_ASSIGN(endpoint_,
                         RecoveryEndpoint::Start("127.0.0.1", 0, recovery_, std::move(o)));
  }

  // A source disk with some data, and its binding (not yet bound).
  ReplicaBinding NewDisk(const std::string& name, const std::string& writer, uint32_t seed) {
    const std::string src = JoinPath(dir_, name + ".vhdx");
    CreateSourceDisk(src, kDiskSize);
    WritePattern(src, 0, 1 << 20, seed);
    WritePattern(src, 5 << 20, 300 << 10, seed + 1);
    sources_[name] = src;
    ReplicaBinding b;
    b.source_disk_id = DiskId(src);
    b.dir = JoinPath(dir_, "replica-" + name);
    b.writer = writer;
    b.options.additional_points = 2;
    b.options.point_interval = absl::ZeroDuration();
    b.tag = name;
    return b;
  }

  // Waits until every connection has ended on the endpoint's side (a
  // sender returns once its point is acknowledged, before that).
  void WaitIdle() {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (endpoint_->stats().server.open > 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(endpoint_->stats().server.open, 0);
  }

  absl::StatusOr<std::unique_ptr<net::ByteStream>> Connect(const std::string& host) {
    return net::TlsConnect("127.0.0.1", endpoint_->port(), hosts_.at(host), absl::Seconds(20));
  }

  // One cycle of `src` from `host` over its own connection.
  absl::StatusOr<CycleStats> Replicate(const std::string& src, const std::string& host,
                                       CycleMode mode, const SendOptions& so = {}) {
    ASR_ASSIGN_OR_RETURN(auto stream, Connect(host));
    absl::StatusOr<CycleStats> st = ReplicateDisk(src, mode, *stream, so);
    (void)stream->Close();
    return st;
  }

  // The HELLO the writer of `binding`'s replica sends (its replication id,
  // size and block size, as the replica records them) on `stream`; the reply.
  static absl::StatusOr<HelloReply> SendReplicaHello(net::ByteStream& stream,
                                                     const ReplicaBinding& binding) {
    ASR_ASSIGN_OR_RETURN(ReplicaInfo info, ReadReplicaInfo(binding.dir));
    Hello h;
    h.replication_id = info.replication_id;
    h.source_disk_id = binding.source_disk_id;
    h.virtual_size = info.virtual_size;
    h.block_size = info.block_size;
    ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kHello, h.Encode()));
    ASR_ASSIGN_OR_RETURN(Frame f, ReadFrame(stream));
    return HelloReply::Decode(f);
  }

  // A HELLO for `disk_id` from `host` on `stream`; the reply.
  static absl::StatusOr<HelloReply> SendHello(net::ByteStream& stream, const std::string& disk_id) {
    Hello h;
    h.replication_id = "probe";
    h.source_disk_id = disk_id;
    h.virtual_size = kDiskSize;
    h.block_size = 64 << 10;
    ASR_RETURN_IF_ERROR(WriteFrame(stream, FrameType::kHello, h.Encode()));
    ASR_ASSIGN_OR_RETURN(Frame f, ReadFrame(stream));
    return HelloReply::Decode(f);
  }

  static void ExpectNothingRevealed(const HelloReply& r) {
    EXPECT_FALSE(r.has_replica);
    EXPECT_EQ(r.replication_id, "");
    EXPECT_EQ(r.current_cycle, 0u);
    EXPECT_EQ(r.virtual_size, 0u);
    EXPECT_EQ(r.block_size, 0u);
    EXPECT_EQ(r.version, 0u);
  }

  std::string dir_;
  net::TlsConfig recovery_;
  std::map<std::string, net::TlsConfig> hosts_;
  std::map<std::string, std::string> sources_;
  std::unique_ptr<RecoveryEndpoint> endpoint_;
};

TEST_F(RecoveryEndpointTest, SixDisksOfThreeVmsReplicateConcurrentlyThroughOneEndpoint) {
  absl::Mutex mu;
  std::map<std::string, std::vector<uint64_t>> committed;  // tag -> points
  RecoveryEndpointOptions o;
  o.on_commit = [&](const ReplicaBinding& b, uint64_t point, const CycleStart&) {
    absl::MutexLock l(&mu);
    committed[b.tag].push_back(point);
  };
  StartEndpoint(std::move(o));
  struct Disk {
    ReplicaBinding binding;
    std::string host;
  };
  std::vector<Disk> disks;
  for (int vm = 1; vm <= 3; ++vm) {
    const std::string host = absl::StrCat("hv-", vm);
    for (int d = 0; d < 2; ++d) {
      disks.push_back({NewDisk(absl::StrCat("vm", vm, "-disk", d), host, vm * 10 + d), host});
      ASSERT_OK(endpoint_->Bind(disks.back().binding));
    }
  }
  ASSERT_EQ(endpoint_->Bindings().size(), 6u);

  for (int round = 0; round < 3; ++round) {
    if (round > 0) {
      for (size_t i = 0; i < disks.size(); ++i) {
        WritePattern(sources_[disks[i].binding.tag], (round * 2 + i % 3) << 20, 200 << 10,
                     100 * round + static_cast<uint32_t>(i));
      }
    }
    // Every disk at once, each from its VM's host.
    std::vector<absl::Status> results(disks.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < disks.size(); ++i) {
      threads.emplace_back([&, i] {
        auto st = Replicate(sources_[disks[i].binding.tag], disks[i].host,
                            round == 0 ? CycleMode::kInitial : CycleMode::kScan);
        results[i] = st.status();
      });
    }
    for (std::thread& t : threads) t.join();
    for (size_t i = 0; i < disks.size(); ++i) {
      ASSERT_OK(results[i]) << disks[i].binding.tag << " in round " << round;
    }
    WaitIdle();
    for (const Disk& d : disks) {
      ASSERT_OK_AND_ASSIGN(ReplicaInfo info, ReadReplicaInfo(d.binding.dir));
      EXPECT_EQ(info.current_cycle, static_cast<uint64_t>(round + 1));
      EXPECT_EQ(ReadDisk(info.replica_path), ReadDisk(sources_[d.binding.tag]))
          << d.binding.tag << " in round " << round;
    }
  }
  WaitIdle();
  RecoveryEndpointStats s = endpoint_->stats();
  EXPECT_EQ(s.sessions, 18u);
  EXPECT_EQ(s.commits, 18u);
  EXPECT_EQ(s.refused, 0u);
  EXPECT_EQ(s.open_stores, 6);
  EXPECT_EQ(s.bindings, 6);
  EXPECT_EQ(s.active_sessions, 0);
  EXPECT_EQ(s.server.sessions_ok, 18u);
  absl::MutexLock l(&mu);
  for (const Disk& d : disks) {
    EXPECT_EQ(committed[d.binding.tag], (std::vector<uint64_t>{1, 2, 3})) << d.binding.tag;
  }
}

TEST_F(RecoveryEndpointTest, UnknownDiskAndWrongWriterAreRefusedAlikeAndLearnNothing) {
  StartEndpoint();
  ReplicaBinding a = NewDisk("a", "hv-1", 1);
  ASSERT_OK(endpoint_->Bind(a));
  ASSERT_OK(Replicate(sources_["a"], "hv-1", CycleMode::kInitial));

  // hv-2 asks for hv-1's disk.
  ASSERT_OK_AND_ASSIGN(auto s1, Connect("hv-2"));
  ASSERT_OK_AND_ASSIGN(HelloReply wrong_writer, SendHello(*s1, a.source_disk_id));
  EXPECT_EQ(wrong_writer.status.code(), absl::StatusCode::kPermissionDenied) << wrong_writer.status;
  ExpectNothingRevealed(wrong_writer);
  // hv-1 asks for a disk bound to nobody.
  const std::string unknown = "{00000000-0000-0000-0000-000000000042}";
  ASSERT_OK_AND_ASSIGN(auto s2, Connect("hv-1"));
  ASSERT_OK_AND_ASSIGN(HelloReply not_bound, SendHello(*s2, unknown));
  EXPECT_EQ(not_bound.status.code(), absl::StatusCode::kPermissionDenied) << not_bound.status;
  ExpectNothingRevealed(not_bound);
  // The same words but for the peer's own name and the disk it asked for.
  EXPECT_EQ(absl::StrReplaceAll(wrong_writer.status.message(),
                                {{"hv-2", "PEER"}, {a.source_disk_id, "DISK"}}),
            absl::StrReplaceAll(not_bound.status.message(), {{"hv-1", "PEER"}, {unknown, "DISK"}}));
  EXPECT_EQ(wrong_writer.status.message().find(a.dir), absl::string_view::npos);

  // A real sender from the wrong host is refused with that status too.
  const std::string copy = JoinPath(dir_, "a-copy.vhdx");
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(sources_["a"]));
  ASSERT_OK(WriteFileAtomically(copy, bytes));  // same disk id, no replication state
  auto st = Replicate(copy, "hv-2", CycleMode::kInitial);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kPermissionDenied) << st.status();
  EXPECT_EQ(endpoint_->stats().refused, 3u);
  // The replica is untouched.
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, ReadReplicaInfo(a.dir));
  EXPECT_EQ(info.current_cycle, 1u);
}

TEST_F(RecoveryEndpointTest, AdmitRefusalReachesTheSenderAsItsStatus) {
  absl::Mutex mu;
  bool disk_full = false;
  RecoveryEndpointOptions o;
  o.admit = [&](const ReplicaBinding& b) {
    absl::MutexLock l(&mu);
    if (disk_full && b.tag == "a") {
      return absl::ResourceExhaustedError("disk full on the recovery host hv-rec-01");
    }
    return absl::OkStatus();
  };
  StartEndpoint(std::move(o));
  ReplicaBinding a = NewDisk("a", "hv-1", 1);
  ReplicaBinding b = NewDisk("b", "hv-1", 2);
  ASSERT_OK(endpoint_->Bind(a));
  ASSERT_OK(endpoint_->Bind(b));
  {
    absl::MutexLock l(&mu);
    disk_full = true;
  }
  auto st = Replicate(sources_["a"], "hv-1", CycleMode::kInitial);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kResourceExhausted) << st.status();
  EXPECT_NE(st.status().message().find("disk full on the recovery host hv-rec-01"),
            absl::string_view::npos)
      << st.status();
  ASSERT_OK(Replicate(sources_["b"], "hv-1", CycleMode::kInitial));  // another disk goes on
  EXPECT_EQ(endpoint_->stats().refused, 1u);
  {
    absl::MutexLock l(&mu);
    disk_full = false;
  }
  ASSERT_OK(Replicate(sources_["a"], "hv-1", CycleMode::kInitial));
  WaitIdle();

  // Before each cycle too: a session admitted at its HELLO is refused its
  // next CYCLE_START in CYCLE_READY once the disk is full.
  ASSERT_OK_AND_ASSIGN(auto stream, Connect("hv-1"));
  ASSERT_OK_AND_ASSIGN(HelloReply reply, SendReplicaHello(*stream, a));
  ASSERT_OK(reply.status);
  EXPECT_EQ(reply.current_cycle, 1u);
  {
    absl::MutexLock l(&mu);
    disk_full = true;
  }
  CycleStart c;
  c.cycle = 2;
  c.base_cycle = 1;
  c.mode = CycleMode::kScan;
  ASSERT_OK(WriteFrame(*stream, FrameType::kCycleStart, c.Encode()));
  ASSERT_OK_AND_ASSIGN(Frame f, ReadFrame(*stream));
  ASSERT_EQ(f.type, FrameType::kCycleReady);
  ASSERT_OK_AND_ASSIGN(CycleReply ready, CycleReply::Decode(f));
  EXPECT_EQ(ready.status.code(), absl::StatusCode::kResourceExhausted) << ready.status;
  EXPECT_EQ(endpoint_->stats().cycles_refused, 1u);
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, ReadReplicaInfo(a.dir));
  EXPECT_EQ(info.current_cycle, 1u);
}

TEST_F(RecoveryEndpointTest, UnbindWhileIdleClosesTheStoreAndTheDirectoryMayGo) {
  StartEndpoint();
  ReplicaBinding a = NewDisk("a", "hv-1", 1);
  ASSERT_OK(endpoint_->Bind(a));
  ASSERT_OK(Replicate(sources_["a"], "hv-1", CycleMode::kInitial));
  EXPECT_EQ(endpoint_->stats().open_stores, 1);
  ReplicaOptions ro;
  ro.writer = "hv-1";
  // The endpoint holds the directory: no other receiver may open it.
  EXPECT_EQ(ReplicaStore::Open(a.dir, ro).status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_OK(endpoint_->Unbind(a.source_disk_id));
  EXPECT_EQ(endpoint_->stats().open_stores, 0);
  EXPECT_EQ(endpoint_->stats().bindings, 0);
  EXPECT_TRUE(endpoint_->Bindings().empty());
  ASSERT_OK(ReplicaStore::Open(a.dir, ro).status());  // the lock is free (and freed again)
  std::error_code ec;
  std::filesystem::remove_all(a.dir, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_FALSE(PathExists(a.dir));
  // Unbound: refused as any unknown disk; unbinding again: NotFound.
  auto st = Replicate(sources_["a"], "hv-1", CycleMode::kInitial);
  EXPECT_EQ(st.status().code(), absl::StatusCode::kPermissionDenied) << st.status();
  EXPECT_EQ(endpoint_->Unbind(a.source_disk_id).code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(PathExists(a.dir));  // nothing re-created it
}

TEST_F(RecoveryEndpointTest, UnbindDisconnectsASessionThatStaysPastTheGrace) {
  RecoveryEndpointOptions o;
  o.unbind_grace = absl::Milliseconds(200);
  StartEndpoint(std::move(o));
  ReplicaBinding a = NewDisk("a", "hv-1", 1);
  ASSERT_OK(endpoint_->Bind(a));
  ASSERT_OK(Replicate(sources_["a"], "hv-1", CycleMode::kInitial));
  // A session that says HELLO and then sits there.
  ASSERT_OK_AND_ASSIGN(auto stream, Connect("hv-1"));
  ASSERT_OK_AND_ASSIGN(HelloReply reply, SendReplicaHello(*stream, a));
  ASSERT_OK(reply.status);
  EXPECT_EQ(endpoint_->stats().active_sessions, 1);

  absl::Time start = absl::Now();
  ASSERT_OK(endpoint_->Unbind(a.source_disk_id));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(endpoint_->stats().active_sessions, 0);
  EXPECT_FALSE(ReadFrame(*stream).ok());  // the session was ended
  ReplicaOptions ro;
  ro.writer = "hv-1";
  ASSERT_OK_AND_ASSIGN(auto store, ReplicaStore::Open(a.dir, ro));
  EXPECT_EQ(store->info().current_cycle, 1u);  // the replica keeps its point
}

TEST_F(RecoveryEndpointTest, BindingAgainWithFewerPointsPrunesAtTheNextCommit) {
  absl::Mutex mu;
  std::vector<std::string> tags;
  RecoveryEndpointOptions o;
  o.on_commit = [&](const ReplicaBinding& b, uint64_t, const CycleStart&) {
    absl::MutexLock l(&mu);
    tags.push_back(b.tag);
  };
  StartEndpoint(std::move(o));
  ReplicaBinding a = NewDisk("a", "hv-1", 1);
  a.options.additional_points = 4;
  ASSERT_OK(endpoint_->Bind(a));
  ASSERT_OK(endpoint_->Bind(a));  // idempotent
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  for (int i = 0; i < 5; ++i) {
    if (i > 0) WritePattern(sources_["a"], i << 20, 100 << 10, 50 + i);
    SendOptions so;
    so.source_time = t0 + absl::Minutes(5 * i);
    ASSERT_OK(
        Replicate(sources_["a"], "hv-1", i == 0 ? CycleMode::kInitial : CycleMode::kScan, so));
    // The receiver finishes the apply after its ACK: until then a next
    // cycle of the disk is refused (Unavailable), and a scheduler retries.
    WaitIdle();
  }
  ASSERT_OK_AND_ASSIGN(auto points, ListRecoveryPoints(a.dir));
  EXPECT_EQ(points.size(), 5u);

  // Another dir or writer for a bound disk is refused; the options change.
  ReplicaBinding moved = a;
  moved.dir = JoinPath(dir_, "elsewhere");
  EXPECT_EQ(endpoint_->Bind(moved).code(), absl::StatusCode::kFailedPrecondition);
  ReplicaBinding other_writer = a;
  other_writer.writer = "hv-2";
  EXPECT_EQ(endpoint_->Bind(other_writer).code(), absl::StatusCode::kFailedPrecondition);
  ReplicaBinding bad = a;
  bad.options.additional_points = 25;
  EXPECT_EQ(endpoint_->Bind(bad).code(), absl::StatusCode::kInvalidArgument);

  a.options.additional_points = 1;
  a.tag = "a-renamed";
  ASSERT_OK(endpoint_->Bind(a));
  ASSERT_OK_AND_ASSIGN(points, ListRecoveryPoints(a.dir));
  EXPECT_EQ(points.size(), 5u);  // nothing pruned before the next commit
  ASSERT_EQ(endpoint_->Bindings().size(), 1u);
  EXPECT_EQ(endpoint_->Bindings()[0].tag, "a-renamed");
  EXPECT_EQ(endpoint_->Bindings()[0].options.additional_points, 1);

  WritePattern(sources_["a"], 0, 64 << 10, 99);
  SendOptions so;
  so.source_time = t0 + absl::Minutes(25);
  ASSERT_OK(Replicate(sources_["a"], "hv-1", CycleMode::kScan, so));
  ASSERT_OK_AND_ASSIGN(points, ListRecoveryPoints(a.dir));
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].id, 5u);
  EXPECT_EQ(points[0].source_time, t0 + absl::Minutes(20));
  EXPECT_EQ(points[1].id, 6u);
  EXPECT_EQ(points[1].source_time, t0 + absl::Minutes(25));
  const std::string restored = JoinPath(dir_, "restored.vhdx");
  ASSERT_OK(RestorePoint(a.dir, 6, restored, {}));
  EXPECT_EQ(ReadDisk(restored), ReadDisk(sources_["a"]));
  WaitIdle();
  absl::MutexLock l(&mu);
  ASSERT_EQ(tags.size(), 6u);
  EXPECT_EQ(tags.front(), "a");
  EXPECT_EQ(tags.back(), "a-renamed");
}

TEST_F(RecoveryEndpointTest, OpenStoresAreBoundedAndReopenedOnTheirNextHello) {
  RecoveryEndpointOptions o;
  o.max_open_stores = 2;
  StartEndpoint(std::move(o));
  std::vector<ReplicaBinding> disks;
  for (int i = 0; i < 3; ++i) {
    disks.push_back(NewDisk(absl::StrCat("d", i), "hv-2", 7 * i + 1));
    ASSERT_OK(endpoint_->Bind(disks.back()));
  }
  for (const ReplicaBinding& d : disks) {
    ASSERT_OK(Replicate(sources_[d.tag], "hv-2", CycleMode::kInitial));
    WaitIdle();
    EXPECT_LE(endpoint_->stats().open_stores, 2);
  }
  // d0, the least recently used, was closed: its directory is free.
  {
    ReplicaOptions ro;
    ro.writer = "hv-2";
    ASSERT_OK(ReplicaStore::Open(disks[0].dir, ro).status());
  }
  WritePattern(sources_["d0"], 2 << 20, 64 << 10, 77);
  ASSERT_OK(Replicate(sources_["d0"], "hv-2", CycleMode::kScan));
  WaitIdle();
  EXPECT_EQ(endpoint_->stats().open_stores, 2);
  ASSERT_OK_AND_ASSIGN(ReplicaInfo info, ReadReplicaInfo(disks[0].dir));
  EXPECT_EQ(info.current_cycle, 2u);
  EXPECT_EQ(ReadDisk(info.replica_path), ReadDisk(sources_["d0"]));
}

}  // namespace
}  // namespace asr::replication
