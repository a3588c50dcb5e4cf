// Resume of interrupted cycles (protocol 5) over real sockets: a TCP relay
// between the sender and the receiver (mutual TLS 1.3 on 127.0.0.1) cuts or
// stalls the stream at random byte counts; every cycle, initial and tracked,
// must end with a replica identical to the source, and each interruption
// may cost at most one block group of data received twice.
//
// "Received twice" is measured on the receiver: the raw bytes of blocks it
// had received after its last checkpoint when the connection broke, which it
// drops and receives again (ResumeCounters::dropped_bytes). The sender writes
// a CYCLE_CHECKPOINT after each work item of at most read_chunk_bytes (1 MiB)
// of raw blocks, so the bound is that: one block group. The relay's own byte
// count checks the same from outside.
#include "asr/replication/resume.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
#include "asr/platform/env.h"
#include "asr/replication/change_tracker.h"
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
using testing::ReadDisk;
using testing::WriteHostTls;
using testing::WritePattern;

constexpr uint64_t kChunk = 1 << 20;  // SendOptions::read_chunk_bytes: one block group
// A stalled stream is given up after these (the receiver's first, so that
// it has kept its part when the sender comes back); the relay holds a stall
// longer than both.
constexpr absl::Duration kSenderIoTimeout = absl::Seconds(3);
constexpr absl::Duration kReceiverIoTimeout = absl::Seconds(2);
constexpr absl::Duration kStallHold = absl::Milliseconds(3500);
// What an interruption the relay did not make (a sender giving up on a
// receiver busy syncing on a loaded machine) may waste: the socket buffers.
constexpr uint64_t kBuffered = 8 << 20;
// A block group's frame beyond its raw bytes: the frame and group headers
// (12 bytes per block) and an item's zero ranges, generously.
constexpr uint64_t kFrameSlack = 4096;

// A TCP relay on 127.0.0.1 in front of the receiver. Each accepted
// connection takes the next plan: pass everything, or cut (close both
// sides) or stall (forward nothing more, either way, for kStallHold, then
// close) once `at` bytes went from the sender to the receiver.
class Relay {
 public:
  struct Plan {
    enum Kind { kPass, kCut, kStall } kind = kPass;
    uint64_t at = 0;
  };

  explicit Relay(uint16_t target) : target_(target) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~Relay() {
    stop_ = true;
    acceptor_.join();
    for (std::thread& t : conns_) t.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  void SetPlans(std::vector<Plan> plans) {
    absl::MutexLock l(&mu_);
    plans_ = std::move(plans);
  }
  // Sender-to-receiver bytes forwarded, over all connections so far.
  uint64_t forwarded() const { return forwarded_; }
  // Connections that were cut or stalled.
  int interrupted() const { return interrupted_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      Plan plan;
      {
        absl::MutexLock l(&mu_);
        if (!plans_.empty()) {
          plan = plans_.front();
          plans_.erase(plans_.begin());
        }
      }
      conns_.emplace_back([this, c, plan] { Forward(c, plan); });
    }
  }

  void Forward(int client, Plan plan) {
    int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(target_);
    if (connect(server, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      close(client);
      close(server);
      return;
    }
    uint64_t up = 0;  // client -> server
    std::vector<char> buf(64 << 10);
    bool stalled = false;
    while (!stop_ && !stalled) {
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (poll(p, 2, 50) <= 0) continue;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const int from = i == 0 ? client : server;
        const int to = i == 0 ? server : client;
        size_t want = buf.size();
        if (i == 0 && plan.kind != Plan::kPass) want = std::min<uint64_t>(want, plan.at - up);
        ssize_t n = want == 0 ? 0 : read(from, buf.data(), want);
        if (want > 0 && n <= 0) {
          done = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = write(to, buf.data() + off, n - off);
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
        if (i == 0) {
          up += n;
          forwarded_ += n;
        }
        if (i == 0 && plan.kind != Plan::kPass && up >= plan.at) {
          ++interrupted_;
          if (plan.kind == Plan::kCut) {
            done = true;
          } else {
            stalled = true;
          }
        }
      }
      if (done) break;
    }
    if (stalled) {  // nothing moves either way until the hold is over
      absl::Time end = absl::Now() + kStallHold;
      while (!stop_ && absl::Now() < end) absl::SleepFor(absl::Milliseconds(20));
    }
    shutdown(client, SHUT_RDWR);
    shutdown(server, SHUT_RDWR);
    close(client);
    close(server);
  }

  const uint16_t target_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // the acceptor's own
  absl::Mutex mu_;
  std::vector<Plan> plans_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<int> interrupted_{0};
};

class ResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempPath(
        absl::StrCat("resume-", ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_OK(RemoveTree(dir_));
    ASSERT_OK(MakeDirectories(dir_));
    absl::Time now = absl::Now();
    auto ca = net::CreateCertificateAuthority("vault CA", now - absl::Hours(1),
                                              now + absl::Hours(24 * 365));
    ASSERT_OK(ca);
    recovery_ = WriteHostTls(dir_, "recovery", *ca);
    primary_ = WriteHostTls(dir_, "primary", *ca);
    recovery_.io_timeout = kReceiverIoTimeout;
    primary_.io_timeout = kSenderIoTimeout;
    recovery_.handshake_timeout = primary_.handshake_timeout = absl::Seconds(5);
    replica_dir_ = JoinPath(dir_, "replica");
    src_ = JoinPath(dir_, "src.vhdx");
  }
  void TearDown() override { StopReceiver(); }

  ReplicaOptions StoreOptions() const {
    ReplicaOptions o;
    o.writer = "primary";
    o.additional_points = 2;
    o.point_interval = absl::ZeroDuration();
    o.resume_sync_bytes = 4 << 20;
    return o;
  }

  // The recovery host: the store and a TLS listener, each connection served
  // on its own thread (one cycle at a time: the store refuses a second).
  void StartReceiver(uint32_t max_version = kProtocolVersion) {
    auto store = ReplicaStore::Open(replica_dir_, StoreOptions());
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto listener = net::TlsListener::Listen("127.0.0.1", 0, recovery_);
    ASSERT_OK(listener);
    listener_ = std::move(*listener);
    server_ = std::thread([this, max_version] {
      std::vector<std::thread> sessions;
      for (;;) {
        auto conn = listener_->Accept();
        if (absl::IsCancelled(conn.status())) break;
        if (!conn.ok()) continue;
        sessions.emplace_back(
            [this, max_version, c = std::shared_ptr<net::ByteStream>(std::move(*conn))] {
              ServeOptions serve;
              serve.receiver_identity = "recovery";
              serve.max_protocol_version = max_version;
              (void)ServeConnection(*c, *store_, serve);
              absl::MutexLock l(&mu_);
              ++sessions_done_;
            });
      }
      for (std::thread& t : sessions) t.join();
    });
  }
  void StopReceiver() {
    if (!listener_) return;
    listener_->Close();
    server_.join();
    listener_.reset();
    store_.reset();
  }
  // Waits until `n` sessions have ended on the receiver.
  void AwaitSessions(int n) {
    absl::MutexLock l(&mu_);
    struct Arg {
      int* done;
      int n;
    } arg{&sessions_done_, n};
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](Arg* a) { return *a->done >= a->n; }, &arg),
                         absl::Seconds(20));
  }

  ResumeOptions Retries() const {
    ResumeOptions r;
    r.max_attempts = 12;
    r.first_delay = absl::Milliseconds(100);
    r.max_delay = absl::Milliseconds(800);
    return r;
  }
  StreamConnector Via(uint16_t port) {
    return
        [this, port]() { return net::TlsConnect("127.0.0.1", port, primary_, absl::Seconds(5)); };
  }

  // The replica's latest point equals the source, byte for byte.
  void ExpectReplicaEqualsSource() {
    ReplicaInfo info = store_->info();
    ASSERT_TRUE(info.has_replica);
    std::vector<uint8_t> want = ReadDisk(src_);
    EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(info.replica_path), want), -1);
  }

  std::string dir_, replica_dir_, src_;
  net::TlsConfig recovery_, primary_;
  std::unique_ptr<ReplicaStore> store_;
  std::unique_ptr<net::TlsListener> listener_;
  std::thread server_;
  absl::Mutex mu_;
  int sessions_done_ ABSL_GUARDED_BY(mu_) = 0;
};

// Seeded runs: an initial replication and tracked cycles, each cut or
// stalled at random byte counts; every cycle ends with the replica equal to
// the source, and no interruption drops more than one block group.
TEST_F(ResumeTest, CutsAndStallsAtRandomByteCountsResumeToAnIdenticalReplica) {
  constexpr uint64_t kDisk = 20 << 20;
  int interruptions = 0;
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    StopReceiver();
    ASSERT_OK(RemoveTree(replica_dir_));
    ASSERT_OK(RemoveTree(src_));
    ASSERT_OK(RemoveTree(TrackerPath(src_)));
    CreateSourceDisk(src_, kDisk);
    WritePattern(src_, 0, 10 << 20, seed);
    WritePattern(src_, 14 << 20, 6 << 20, seed + 100);  // 10..14 MiB stay zero
    StartReceiver();
    Relay relay(listener_->port());
    std::mt19937_64 rng(seed);
    auto at = [&](uint64_t max) { return std::uniform_int_distribution<uint64_t>(1, max)(rng); };

    // Initial: two cuts (and in one run a stall) somewhere in the ~16 MiB on
    // the wire.
    std::vector<Relay::Plan> plans = {{Relay::Plan::kCut, at(8 << 20)},
                                      {Relay::Plan::kCut, at(5 << 20)}};
    if (seed == 2) plans.insert(plans.begin() + 1, {Relay::Plan::kStall, at(4 << 20)});
    relay.SetPlans(plans);
    SendOptions opts;
    opts.read_chunk_bytes = kChunk;
    int before = relay.interrupted();
    uint64_t forwarded_before = relay.forwarded();
    auto st = ReplicateDiskResuming(src_, CycleMode::kInitial, Via(relay.port()), opts, Retries());
    ASSERT_OK(st);
    int cuts = relay.interrupted() - before;
    interruptions += cuts;
    EXPECT_EQ(st->cycle, 1u);
    EXPECT_GE(st->attempts, static_cast<uint32_t>(cuts + 1));
    uint64_t others = st->attempts - 1 - cuts;
    ExpectReplicaEqualsSource();
    EXPECT_TRUE(testing::QemuCompare(store_->info().replica_path, src_));
    std::printf(
        "seed %u initial: %d cut(s), %u attempts, %llu raw bytes, %llu resumed, %llu "
        "resent, relay forwarded %llu\n",
        seed, cuts, st->attempts, static_cast<unsigned long long>(st->changed_bytes),
        static_cast<unsigned long long>(st->resumed_bytes),
        static_cast<unsigned long long>(st->resent_bytes),
        static_cast<unsigned long long>(relay.forwarded() - forwarded_before));
    // From outside: everything the receiver got over all connections is the
    // cycle once, plus at most a block group and the handshakes per cut.
    EXPECT_LE(relay.forwarded() - forwarded_before,
              st->changed_bytes + (64 << 10) + cuts * (kChunk + (64 << 10)) + others * kBuffered);

    // Tracked cycles, each cut twice at random.
    auto tracker = ChangeTracker::Open(src_, kDisk, 64 << 10);
    ASSERT_OK(tracker);
    for (int cycle = 2; cycle <= 3; ++cycle) {
      SCOPED_TRACE(absl::StrCat("cycle ", cycle));
      for (int w = 0; w < 3; ++w) {
        WritePattern(src_, at(kDisk / (64 << 10) - 24) * (64 << 10), 1 << 20,
                     seed * 1000 + cycle * 10 + w, tracker->get());
      }
      relay.SetPlans({{Relay::Plan::kCut, at(2 << 20)}, {Relay::Plan::kCut, at(1 << 20)}});
      SendOptions t = opts;
      t.tracker = tracker->get();
      before = relay.interrupted();
      forwarded_before = relay.forwarded();
      auto ts = ReplicateDiskResuming(src_, CycleMode::kTracked, Via(relay.port()), t, Retries());
      ASSERT_OK(ts);
      cuts = relay.interrupted() - before;
      interruptions += cuts;
      EXPECT_EQ(ts->mode_used, CycleMode::kTracked);
      EXPECT_EQ(ts->cycle, static_cast<uint64_t>(cycle));
      EXPECT_GE(ts->attempts, static_cast<uint32_t>(cuts + 1));
      others = ts->attempts - 1 - cuts;
      ExpectReplicaEqualsSource();
      EXPECT_LE(relay.forwarded() - forwarded_before,
                ts->changed_bytes + (64 << 10) + cuts * (kChunk + (64 << 10)) + others * kBuffered);
    }
    ASSERT_OK((*tracker)->Close());
    ResumeCounters rc = store_->resume_counters();
    std::printf(
        "seed %u receiver: %llu resumed cycles, %llu bytes resumed, %llu interruptions, "
        "%llu dropped (at most %llu in one; in the stream %llu, at most %llu), %llu syncs\n",
        seed, static_cast<unsigned long long>(rc.resumed_cycles),
        static_cast<unsigned long long>(rc.resumed_bytes),
        static_cast<unsigned long long>(rc.interruptions),
        static_cast<unsigned long long>(rc.dropped_bytes),
        static_cast<unsigned long long>(rc.max_dropped_bytes),
        static_cast<unsigned long long>(rc.dropped_stream_bytes),
        static_cast<unsigned long long>(rc.max_dropped_stream_bytes),
        static_cast<unsigned long long>(rc.syncs));
    EXPECT_LE(rc.max_dropped_bytes, kChunk) << "an interruption dropped more than a block group";
    // Counted in the stream (a frame cut short included): one group's frame,
    // its header and the item's zero ranges at most.
    EXPECT_LE(rc.max_dropped_stream_bytes, kChunk + kFrameSlack)
        << "an interruption re-sent more than a block group";
    EXPECT_GT(rc.dropped_stream_bytes, 0u);
    EXPECT_GT(rc.resumed_cycles, 0u);
    EXPECT_GT(rc.resumed_bytes, 0u);
    EXPECT_GT(rc.syncs, 0u);
    // Points: whole cycles only, the latest restorable and equal to the source.
    std::vector<RecoveryPoint> points = store_->points();
    ASSERT_FALSE(points.empty());
    EXPECT_EQ(points.back().id, 3u);
    std::string restored = JoinPath(dir_, absl::StrCat("restored-", seed, ".vhdx"));
    ASSERT_OK(RestorePoint(replica_dir_, 3, restored, {}));
    EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(restored), ReadDisk(src_)), -1);
  }
  EXPECT_GE(interruptions, 8);  // the cuts did happen (most plans cut)
}

// The receiver closes mid-cycle (its store is closed and opened again, as a
// restart does): the kept data survives, the replica stays on its last whole
// point meanwhile, and the next connection resumes, initial and tracked.
TEST_F(ResumeTest, ReceiverRestartMidCycleResumes) {
  constexpr uint64_t kDisk = 24 << 20;
  CreateSourceDisk(src_, kDisk);
  WritePattern(src_, 0, kDisk, 7);
  StartReceiver();
  {
    Relay relay(listener_->port());
    relay.SetPlans({{Relay::Plan::kCut, 10 << 20}});
    auto stream = net::TlsConnect("127.0.0.1", relay.port(), primary_, absl::Seconds(5));
    ASSERT_OK(stream);
    auto st = ReplicateDisk(src_, CycleMode::kInitial, **stream, {});
    EXPECT_TRUE(IsResumableFailure(st.status())) << st.status();
    AwaitSessions(1);
  }
  StopReceiver();  // the receiver goes away mid-cycle
  // A partial first cycle is no point: the directory holds no replica yet.
  auto info = ReadReplicaInfo(replica_dir_);
  EXPECT_TRUE(!info.ok() || !info->has_replica);
  auto points = ListRecoveryPoints(replica_dir_);
  EXPECT_TRUE(!points.ok() || points->empty());
  EXPECT_FALSE(PathExists(JoinPath(replica_dir_, "replica.vhdx")));
  EXPECT_TRUE(PathExists(JoinPath(replica_dir_, "replica.vhdx.tmp")));

  StartReceiver();
  auto stream = net::TlsConnect("127.0.0.1", listener_->port(), primary_, absl::Seconds(5));
  ASSERT_OK(stream);
  auto st = ReplicateDisk(src_, CycleMode::kInitial, **stream, {});
  ASSERT_OK(st);
  (void)(*stream)->Close();
  EXPECT_GT(st->resumed_bytes, 4u << 20);  // most of the 10 MiB that went through
  EXPECT_LT(st->wire_bytes, st->changed_bytes);
  ExpectReplicaEqualsSource();
  EXPECT_EQ(store_->resume_counters().resumed_cycles, 1u);
  const std::vector<uint8_t> point1 = ReadDisk(src_);

  // A tracked cycle: cut, the receiver restarts, point 1 is untouched.
  auto tracker = ChangeTracker::Open(src_, kDisk, 64 << 10);
  ASSERT_OK(tracker);
  WritePattern(src_, 2 << 20, 12 << 20, 8, tracker->get());
  SendOptions t;
  t.tracker = tracker->get();
  {
    Relay relay(listener_->port());
    relay.SetPlans({{Relay::Plan::kCut, 6 << 20}});
    auto s2 = net::TlsConnect("127.0.0.1", relay.port(), primary_, absl::Seconds(5));
    ASSERT_OK(s2);
    auto failed = ReplicateDisk(src_, CycleMode::kTracked, **s2, t);
    EXPECT_TRUE(IsResumableFailure(failed.status())) << failed.status();
    AwaitSessions(3);
  }
  StopReceiver();
  points = ListRecoveryPoints(replica_dir_);
  ASSERT_OK(points);
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ(points->back().id, 1u);
  std::string restored = JoinPath(dir_, "restored-1.vhdx");
  ASSERT_OK(RestorePoint(replica_dir_, 1, restored, {}));
  EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(restored), point1), -1);

  StartReceiver();
  auto s3 = net::TlsConnect("127.0.0.1", listener_->port(), primary_, absl::Seconds(5));
  ASSERT_OK(s3);
  auto resumed = ReplicateDisk(src_, CycleMode::kTracked, **s3, t);
  ASSERT_OK(resumed);
  (void)(*s3)->Close();
  EXPECT_EQ(resumed->cycle, 2u);
  EXPECT_GT(resumed->resumed_bytes, 2u << 20);
  ExpectReplicaEqualsSource();
  ASSERT_OK((*tracker)->Close());
}

// Copies the regular files of `from` (and of its journal/ and points/) into
// `to`: what a crash right now would leave, the page cache written back.
void CopyReplicaDir(const std::string& from, const std::string& to) {
  for (const char* sub : {"", "journal", "points"}) {
    const std::string src = JoinPath(from, sub), dst = JoinPath(to, sub);
    ASSERT_OK(MakeDirectories(dst));
    auto names = platform::Env::Default()->ListDirectory(src);
    ASSERT_OK(names);
    for (const std::string& n : *names) {
      if (n == "journal" || n == "points" || absl::EndsWith(n, ".lock")) continue;
      auto data = ReadFileToString(JoinPath(src, n));
      ASSERT_OK(data);
      ASSERT_OK(WriteFileAtomically(JoinPath(dst, n), *data));
    }
  }
}

// A crash (no orderly close) keeps what the last periodic sync made
// durable: the directory as it was right after a sync, with a torn record
// appended to a journal, resumes from that sync, initial and tracked.
TEST_F(ResumeTest, CrashAfterAPeriodicSyncResumesFromIt) {
  constexpr uint64_t kDisk = 24 << 20;
  CreateSourceDisk(src_, kDisk);
  WritePattern(src_, 0, kDisk, 21);
  const std::string crashed = JoinPath(dir_, "crashed");
  for (int cycle = 1; cycle <= 2; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle));
    std::unique_ptr<ChangeTracker> tracker;
    SendOptions t;
    if (cycle == 2) {
      auto opened = ChangeTracker::Open(src_, kDisk, 64 << 10);
      ASSERT_OK(opened);
      tracker = *std::move(opened);
      WritePattern(src_, 1 << 20, 16 << 20, 22, tracker.get());
      t.tracker = tracker.get();
    }
    // The receiver, snapshotting its directory at its second sync (4 MiB
    // apart), then cut off further on.
    ReplicaOptions o = StoreOptions();
    int syncs = 0;
    o.step_hook = [&](const char* step) {
      if (absl::string_view(step) == "resume-synced" && ++syncs == 2) {
        ASSERT_OK(RemoveTree(crashed));
        CopyReplicaDir(replica_dir_, crashed);
      }
    };
    {
      auto store = ReplicaStore::Open(replica_dir_, o);
      ASSERT_OK(store);
      auto pair = testing::MakeWriterStreamPair("primary");
      ASSERT_OK(pair);
      std::thread receiver([&] { (void)ServeConnection(*pair->second, **store, {}); });
      SendOptions cut = t;
      cut.progress = [&](const CycleProgress& p) {
        if (p.raw_position >= (14u << 20)) (void)pair->first->Close();
      };
      EXPECT_FALSE(ReplicateDisk(src_, cycle == 1 ? CycleMode::kInitial : CycleMode::kTracked,
                                 *pair->first, cut)
                       .ok());
      receiver.join();
    }
    ASSERT_EQ(syncs >= 2, true);
    // The crash: the directory as of the second sync, plus a torn record.
    if (cycle == 2) {
      const std::string journal = JoinPath(crashed, "journal/cycle-2.blog.tmp");
      auto data = ReadFileToString(journal);
      ASSERT_OK(data);
      ASSERT_OK(WriteFileAtomically(journal, *data + std::string(1000, '\x5a')));
    }
    ASSERT_OK(RemoveTree(replica_dir_));
    CopyReplicaDir(crashed, replica_dir_);
    StartReceiver();
    auto stream = net::TlsConnect("127.0.0.1", listener_->port(), primary_, absl::Seconds(5));
    ASSERT_OK(stream);
    auto st =
        ReplicateDisk(src_, cycle == 1 ? CycleMode::kInitial : CycleMode::kTracked, **stream, t);
    ASSERT_OK(st);
    (void)(*stream)->Close();
    EXPECT_EQ(st->cycle, static_cast<uint64_t>(cycle));
    EXPECT_GE(st->resumed_bytes, 8u << 20);  // two syncs, 4 MiB apart
    ExpectReplicaEqualsSource();
    StopReceiver();
    if (tracker) {
      ASSERT_OK(tracker->Close());
    }
  }
}

// A plan that cannot be reproduced (the source was written between the
// attempts) starts the cycle afresh: nothing kept is reused, and the
// replica still ends equal to the source.
TEST_F(ResumeTest, ChangedPlanRestartsTheCycleCleanly) {
  constexpr uint64_t kDisk = 16 << 20;
  CreateSourceDisk(src_, kDisk);
  WritePattern(src_, 0, kDisk, 3);
  StartReceiver();
  auto s1 = net::TlsConnect("127.0.0.1", listener_->port(), primary_, absl::Seconds(5));
  ASSERT_OK(s1);
  ASSERT_OK(ReplicateDisk(src_, CycleMode::kInitial, **s1, {}));
  (void)(*s1)->Close();
  auto tracker = ChangeTracker::Open(src_, kDisk, 64 << 10);
  ASSERT_OK(tracker);
  WritePattern(src_, 1 << 20, 10 << 20, 4, tracker->get());
  SendOptions t;
  t.tracker = tracker->get();
  {
    Relay relay(listener_->port());
    relay.SetPlans({{Relay::Plan::kCut, 5 << 20}});
    auto s2 = net::TlsConnect("127.0.0.1", relay.port(), primary_, absl::Seconds(5));
    ASSERT_OK(s2);
    EXPECT_FALSE(ReplicateDisk(src_, CycleMode::kTracked, **s2, t).ok());
    AwaitSessions(2);
  }
  EXPECT_EQ(store_->resume_counters().kept_cycles, 1u);
  WritePattern(src_, 13 << 20, 1 << 20, 5, tracker->get());  // a new write: a new plan
  auto s3 = net::TlsConnect("127.0.0.1", listener_->port(), primary_, absl::Seconds(5));
  ASSERT_OK(s3);
  auto st = ReplicateDisk(src_, CycleMode::kTracked, **s3, t);
  ASSERT_OK(st);
  (void)(*s3)->Close();
  EXPECT_EQ(st->resumed_bytes, 0u);
  EXPECT_EQ(store_->resume_counters().resumed_cycles, 0u);
  ExpectReplicaEqualsSource();
  ASSERT_OK((*tracker)->Close());
}

// A receiver of protocol 4 gets no checkpoints and resumes nothing: an
// interrupted cycle is sent again whole, as before, and still completes.
TEST_F(ResumeTest, OlderReceiverRestartsInterruptedCycles) {
  constexpr uint64_t kDisk = 16 << 20;
  CreateSourceDisk(src_, kDisk);
  WritePattern(src_, 0, kDisk, 9);
  StartReceiver(/*max_version=*/4);
  Relay relay(listener_->port());
  relay.SetPlans({{Relay::Plan::kCut, 6 << 20}});
  auto st = ReplicateDiskResuming(src_, CycleMode::kInitial, Via(relay.port()), {}, Retries());
  ASSERT_OK(st);
  EXPECT_EQ(st->protocol_version, 4u);
  EXPECT_EQ(st->attempts, 2u);
  EXPECT_EQ(st->resumed_bytes, 0u);
  EXPECT_GT(st->resent_bytes, 0u);
  ExpectReplicaEqualsSource();
  EXPECT_EQ(store_->resume_counters().resumed_cycles, 0u);
}

}  // namespace
}  // namespace asr::replication
