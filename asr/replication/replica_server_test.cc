// The receiver under attack, on a real TLS listener on 127.0.0.1: idle TCP
// connections, stalled handshakes and an authenticated peer that sends
// nothing must not keep a real sender from replicating; the per-address
// limit holds; Stop() ends everything promptly. Attackers connect from
// 127.0.0.2 / 127.0.0.3 (the whole 127/8 is loopback), the sender from
// 127.0.0.1, as separate hosts would.
#include "asr/replication/replica_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
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

net::TlsConfig WriteHost(const std::string& dir, const std::string& name,
                         const net::PemKeyPair& ca) {
  auto host = net::IssueHostCertificate(ca, net::HostRequest(name, absl::Now(), 30));
  EXPECT_OK(host);
  net::TlsConfig c;
  c.cert_path = JoinPath(dir, name + ".pem");
  c.key_path = JoinPath(dir, name + ".key");
  c.ca_path = JoinPath(dir, "ca.pem");
  EXPECT_OK(WriteFileAtomically(c.cert_path, host->certificate_pem));
  EXPECT_OK(WriteFileAtomically(c.key_path, host->private_key_pem));
  EXPECT_OK(WriteFileAtomically(c.ca_path, ca.certificate_pem));
  return c;
}

// A plain TCP connection to 127.0.0.1:port from `source` (e.g. "127.0.0.2").
int ConnectFrom(const char* source, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  EXPECT_EQ(inet_pton(AF_INET, source, &local.sin_addr), 1);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0) << source;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

// Whether the server closed `fd` (EOF or reset) within `timeout`.
bool ClosedByServer(int fd, absl::Duration timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(timeout));
  tv.tv_usec = static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1000000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char b[256];
  for (;;) {
    ssize_t n = ::recv(fd, b, sizeof(b), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

class ReplicaServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    dir_ = TempPath("replica-server-" + test);
    ASSERT_OK(MakeDirectories(dir_));
    absl::Time now = absl::Now();
    auto ca = net::CreateCertificateAuthority("vault CA", now - absl::Hours(1),
                                              now + absl::Hours(24 * 365));
    ASSERT_OK(ca);
    recovery_ = WriteHost(dir_, "recovery", *ca);
    primary_ = WriteHost(dir_, "primary", *ca);
    primary_.expected_peer_name = "recovery";
    ReplicaOptions ro;
    ro.point_interval = absl::ZeroDuration();
    ro.writer = "primary";  // the CN of primary_'s certificate
    ASSERT_OK_AND_ASSIGN(store_,
                         ReplicaStore::Open(TempPath("replica-server-replica-" + test), ro));
    src_ = TempPath("replica-server-src-" + test + ".vhdx");
    CreateSourceDisk(src_, 8 << 20);
    WritePattern(src_, 0, 1 << 20, 1);
  }

  void TearDown() override {
    if (server_) server_->Stop();
    for (int fd : fds_) ::close(fd);
  }

  void StartServer(ReplicaServerOptions o) {
    o.log = [this](absl::string_view line) {
      absl::MutexLock l(&mu_);
      log_.emplace_back(line);
    };
    ASSERT_OK_AND_ASSIGN(server_,
                         ReplicaServer::Start("127.0.0.1", 0, recovery_, *store_, std::move(o)));
  }

  // A real cycle of the source disk from 127.0.0.1; returns how long it took.
  absl::Duration ReplicateOnce(CycleMode mode) {
    absl::Time start = absl::Now();
    auto stream = net::TlsConnect("127.0.0.1", server_->port(), primary_, absl::Seconds(20));
    EXPECT_OK(stream);
    if (!stream.ok()) return absl::InfiniteDuration();
    auto st = ReplicateDisk(src_, mode, **stream, {});
    EXPECT_OK(st);
    EXPECT_OK((*stream)->Close());
    return absl::Now() - start;
  }

  bool LogHas(absl::string_view text) {
    absl::MutexLock l(&mu_);
    for (const std::string& line : log_) {
      if (absl::StrContains(line, text)) return true;
    }
    return false;
  }

  std::string LogText() {
    absl::MutexLock l(&mu_);
    std::string out;
    for (const std::string& line : log_) out += line + "\n";
    return out;
  }

  std::string dir_, src_;
  net::TlsConfig recovery_, primary_;
  std::unique_ptr<ReplicaStore> store_;
  std::unique_ptr<ReplicaServer> server_;
  std::vector<int> fds_;
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

TEST_F(ReplicaServerTest, IdleConnectionsAndStalledHandshakesDoNotBlockARealReplication) {
  ReplicaServerOptions o;
  o.handshake_timeout = absl::Seconds(60);  // the attack is never timed out during the test
  StartServer(o);
  // 10 idle TCP connections and 2 that start a ClientHello and stall, from
  // one attacking host.
  for (int i = 0; i < 10; ++i) fds_.push_back(ConnectFrom("127.0.0.2", server_->port()));
  const unsigned char partial_hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
  for (int i = 0; i < 2; ++i) {
    int fd = ConnectFrom("127.0.0.2", server_->port());
    ASSERT_EQ(::send(fd, partial_hello, sizeof(partial_hello), 0),
              static_cast<ssize_t>(sizeof(partial_hello)));
    fds_.push_back(fd);
  }
  ASSERT_TRUE(server_->AwaitStats([](const ReplicaServerStats& s) { return s.accepted == 12; },
                                  absl::Seconds(10)));
  // The per-address limit (8) closed the excess at once.
  ReplicaServerStats s = server_->stats();
  EXPECT_EQ(s.refused_by_limit, 4u);
  EXPECT_EQ(s.open, 8);
  EXPECT_TRUE(LogHas("refused a connection from 127.0.0.2")) << LogText();

  absl::Duration took = ReplicateOnce(CycleMode::kInitial);
  EXPECT_LT(took, absl::Seconds(10));
  EXPECT_EQ(store_->info().current_cycle, 1u);
  EXPECT_EQ(ReadDisk(store_->info().replica_path), ReadDisk(src_));
  // The attackers' connections are still open (nothing timed out).
  EXPECT_GE(server_->stats().open, 8);
}

TEST_F(ReplicaServerTest, AuthenticatedPeerThatSendsNothingIsDroppedAfterTheIdleTimeout) {
  ReplicaServerOptions o;
  o.idle_timeout = absl::Seconds(1);
  StartServer(o);
  // A host with a certificate from the vault CA connects and stays silent.
  auto idle = net::TlsConnect("127.0.0.1", server_->port(), primary_, absl::Seconds(10));
  ASSERT_OK(idle);
  absl::Time start = absl::Now();
  // A real replication in parallel succeeds.
  std::thread sender([this] { ReplicateOnce(CycleMode::kInitial); });
  sender.join();
  EXPECT_EQ(store_->info().current_cycle, 1u);
  // The silent session ends on its own (on the server's side), and its
  // peer sees the connection closed.
  ASSERT_TRUE(server_->AwaitStats(
      [](const ReplicaServerStats& s) { return s.sessions_failed == 1 && s.sessions_ok == 1; },
      absl::Seconds(10)))
      << LogText();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_TRUE(LogHas("no progress receiving from")) << LogText();
  char b;
  absl::StatusOr<size_t> n = (*idle)->ReadSome(&b, 1);
  EXPECT_TRUE(!n.ok() || *n == 0);
  EXPECT_EQ(server_->stats().open, 0);
}

TEST_F(ReplicaServerTest, PerAddressLimitRefusesTheConnectionOverIt) {
  ReplicaServerOptions o;
  o.max_connections_per_address = 3;
  StartServer(o);
  for (int i = 0; i < 3; ++i) fds_.push_back(ConnectFrom("127.0.0.3", server_->port()));
  ASSERT_TRUE(server_->AwaitStats([](const ReplicaServerStats& s) { return s.open == 3; },
                                  absl::Seconds(10)));
  int fourth = ConnectFrom("127.0.0.3", server_->port());
  fds_.push_back(fourth);
  EXPECT_TRUE(ClosedByServer(fourth, absl::Seconds(5)));
  EXPECT_EQ(server_->stats().refused_by_limit, 1u);
  EXPECT_TRUE(LogHas("3 connections from 127.0.0.3 are open")) << LogText();
  // Another address is not affected: a real replication works.
  EXPECT_LT(ReplicateOnce(CycleMode::kInitial), absl::Seconds(10));
  // Once one of the three goes, the address may connect again.
  ::close(fds_[0]);
  fds_.erase(fds_.begin());
  // The server notices the close when the handshake fails (EOF).
  ASSERT_TRUE(server_->AwaitStats([](const ReplicaServerStats& s) { return s.open == 2; },
                                  absl::Seconds(10)));
  fds_.push_back(ConnectFrom("127.0.0.3", server_->port()));
  ASSERT_TRUE(server_->AwaitStats([](const ReplicaServerStats& s) { return s.open == 3; },
                                  absl::Seconds(10)));
  EXPECT_EQ(server_->stats().refused_by_limit, 1u);
}

TEST_F(ReplicaServerTest, TotalLimitRefusesTheConnectionOverIt) {
  ReplicaServerOptions o;
  o.max_connections = 2;
  StartServer(o);
  fds_.push_back(ConnectFrom("127.0.0.2", server_->port()));
  fds_.push_back(ConnectFrom("127.0.0.3", server_->port()));
  ASSERT_TRUE(server_->AwaitStats([](const ReplicaServerStats& s) { return s.open == 2; },
                                  absl::Seconds(10)));
  int third = ConnectFrom("127.0.0.4", server_->port());
  fds_.push_back(third);
  EXPECT_TRUE(ClosedByServer(third, absl::Seconds(5)));
  EXPECT_TRUE(LogHas("the receiver's limit")) << LogText();
}

TEST_F(ReplicaServerTest, StopReturnsPromptlyWithIdleSessionsOpen) {
  ReplicaServerOptions o;
  o.handshake_timeout = absl::Seconds(60);
  o.idle_timeout = absl::Seconds(60);
  StartServer(o);
  std::vector<std::unique_ptr<net::ByteStream>> idle;
  for (int i = 0; i < 3; ++i) {
    auto s = net::TlsConnect("127.0.0.1", server_->port(), primary_, absl::Seconds(10));
    ASSERT_OK(s);
    idle.push_back(std::move(*s));
  }
  for (int i = 0; i < 2; ++i) fds_.push_back(ConnectFrom("127.0.0.2", server_->port()));
  ASSERT_TRUE(server_->AwaitStats(
      [](const ReplicaServerStats& s) { return s.open == 5 && s.in_session == 3; },
      absl::Seconds(10)));
  absl::Time start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(server_->stats().open, 0);
  for (int fd : fds_) EXPECT_TRUE(ClosedByServer(fd, absl::Seconds(2)));
  // The listener is closed: nobody can connect any more.
  auto late = net::TlsConnect("127.0.0.1", server_->port(), primary_, absl::Seconds(2));
  EXPECT_FALSE(late.ok());
  EXPECT_OK(server_->Wait());
}

TEST_F(ReplicaServerTest, OnceServesOneSessionAndReportsItsOutcome) {
  ReplicaServerOptions o;
  o.once = true;
  StartServer(o);
  ReplicateOnce(CycleMode::kInitial);
  EXPECT_OK(server_->Wait());
  EXPECT_EQ(server_->stats().sessions_ok, 1u);
  auto late = net::TlsConnect("127.0.0.1", server_->port(), primary_, absl::Seconds(2));
  EXPECT_FALSE(late.ok());
}

TEST_F(ReplicaServerTest, RefusedHandshakeIsLoggedAndOnceFails) {
  ReplicaServerOptions o;
  o.once = true;
  StartServer(o);
  int fd = ConnectFrom("127.0.0.2", server_->port());
  fds_.push_back(fd);
  const char plain[] = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_GT(::send(fd, plain, sizeof(plain), 0), 0);
  absl::Status s = server_->Wait();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_TRUE(LogHas("plain TCP")) << LogText();
}

}  // namespace
}  // namespace asr::replication
