// Replication over loopback TLS 1.3 with mutual certificates: a full
// sequence of cycles and restores, and the refusals a recovery host must
// make — a certificate from another vault's CA, an expired certificate, a
// plain TCP client, and Kerberos authentication.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/disk/test_util.h"
#include "asr/net/pki.h"
#include "asr/net/tls.h"
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
using testing::WritePattern;

net::TlsConfig WriteHost(const std::string& dir, const std::string& name, const net::PemKeyPair& ca,
                         int days) {
  auto host = net::IssueHostCertificate(ca, net::HostRequest(name, absl::Now(), days));
  EXPECT_OK(host);
  net::TlsConfig c;
  c.cert_path = JoinPath(dir, name + ".pem");
  c.key_path = JoinPath(dir, name + ".key");
  c.ca_path = JoinPath(dir, name + "-ca.pem");
  EXPECT_OK(WriteFileAtomically(c.cert_path, host->certificate_pem));
  EXPECT_OK(WriteFileAtomically(c.key_path, host->private_key_pem));
  EXPECT_OK(WriteFileAtomically(c.ca_path, ca.certificate_pem));
  c.handshake_timeout = absl::Seconds(5);
  return c;
}

class TlsReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempPath("tls");
    ASSERT_OK(MakeDirectories(dir_));
    absl::Time now = absl::Now();
    auto ca = net::CreateCertificateAuthority("vault CA", now - absl::Hours(1),
                                              now + absl::Hours(24 * 365));
    auto other = net::CreateCertificateAuthority("another vault", now - absl::Hours(1),
                                                 now + absl::Hours(24 * 365));
    ASSERT_TRUE(ca.ok() && other.ok());
    ca_ = *ca;
    recovery_ = WriteHost(dir_, "recovery", *ca, 30);
    primary_ = WriteHost(dir_, "primary", *ca, 30);
    expired_ = WriteHost(dir_, "expired", *ca, -2);
    foreign_ = WriteHost(dir_, "foreign", *other, 30);
    foreign_.ca_path = primary_.ca_path;  // it trusts our CA, but we do not trust it

    replica_dir_ = TempPath(absl::StrCat(
        "tls-replica-", ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ReplicaOptions ro;
    ro.writer = "primary";  // the CN of primary_
    ro.additional_points = 3;
    ro.point_interval = absl::ZeroDuration();
    auto store = ReplicaStore::Open(replica_dir_, ro);
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto listener = net::TlsListener::Listen("127.0.0.1", 0, recovery_);
    ASSERT_OK(listener);
    listener_ = std::move(*listener);
    server_ = std::thread([this] {
      ServeOptions serve;
      serve.receiver_identity = "recovery";  // the CN of recovery_
      for (;;) {
        auto conn = listener_->Accept();
        if (absl::IsCancelled(conn.status())) return;
        absl::Status s = conn.ok() ? ServeConnection(**conn, *store_, serve) : conn.status();
        absl::MutexLock l(&mu_);
        outcomes_.push_back(s);
      }
    });
  }
  void TearDown() override {
    listener_->Close();
    server_.join();
  }
  absl::StatusOr<std::unique_ptr<net::ByteStream>> Connect(const net::TlsConfig& c) {
    return net::TlsConnect("127.0.0.1", listener_->port(), c, absl::Seconds(10));
  }
  // The server's view of the most recent connection.
  absl::Status LastOutcome() {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
                             +[](std::vector<absl::Status>* v) { return !v->empty(); }, &outcomes_),
                         absl::Seconds(10));
    if (outcomes_.empty()) return absl::DeadlineExceededError("no outcome");
    absl::Status s = outcomes_.back();
    outcomes_.clear();
    return s;
  }

  net::PemKeyPair ca_;
  std::string dir_, replica_dir_;
  net::TlsConfig recovery_, primary_, expired_, foreign_;
  std::unique_ptr<ReplicaStore> store_;
  std::unique_ptr<net::TlsListener> listener_;
  std::thread server_;
  absl::Mutex mu_;
  std::vector<absl::Status> outcomes_ ABSL_GUARDED_BY(mu_);
};

TEST_F(TlsReplicationTest, CyclesAndRestoresOverMutualTls) {
  const std::string src = TempPath("tls-src.vhdx");
  CreateSourceDisk(src, 16 << 20);
  WritePattern(src, 0, 2 << 20, 1);
  std::vector<std::vector<uint8_t>> expected;
  for (int cycle = 1; cycle <= 3; ++cycle) {
    if (cycle > 1) WritePattern(src, cycle * (3 << 20), 200000, cycle);
    auto stream = Connect(primary_);
    ASSERT_OK(stream);
    auto st = ReplicateDisk(src, cycle == 1 ? CycleMode::kInitial : CycleMode::kScan, **stream, {});
    ASSERT_OK(st);
    ASSERT_OK((*stream)->Close());
    EXPECT_OK(LastOutcome());
    EXPECT_EQ(st->point_id, static_cast<uint64_t>(cycle));
    expected.push_back(ReadDisk(src));
  }
  for (uint64_t p : {1, 3}) {
    std::string out = TempPath(absl::StrCat("tls-restore-", p, ".vhdx"));
    ASSERT_OK(RestorePoint(replica_dir_, p, out, {}));
    EXPECT_EQ(disk::testing::FirstDifference(ReadDisk(out), expected[p - 1]), -1);
    if (p == 3) {
      EXPECT_TRUE(testing::QemuCompare(out, src));
    }
  }
}

// Certificates from this vault's CA that are not the replica's writer: the
// recovery host's own and another primary-like host's. Each is refused
// before anything else, learns nothing of the replica, and the rightful
// writer replicates afterwards.
TEST_F(TlsReplicationTest, OnlyTheWriterCertificateMayReplicate) {
  const std::string src = TempPath("tls-writer-src.vhdx");
  CreateSourceDisk(src, 8 << 20);
  WritePattern(src, 0, 1 << 20, 1);
  {
    auto stream = Connect(primary_);
    ASSERT_OK(stream);
    ASSERT_OK(ReplicateDisk(src, CycleMode::kInitial, **stream, {}));
    ASSERT_OK((*stream)->Close());
    EXPECT_OK(LastOutcome());
  }
  const std::string real_id = store_->info().replication_id;
  net::TlsConfig other = WriteHost(dir_, "hv-other", ca_, 30);
  for (const net::TlsConfig* cert : {&recovery_, &other}) {
    const std::string cn = cert == &recovery_ ? "recovery" : "hv-other";
    SCOPED_TRACE(cn);
    // A HELLO naming the replica exactly, frame by frame.
    auto stream = Connect(*cert);
    ASSERT_OK(stream);
    Hello h;
    h.replication_id = real_id;
    h.virtual_size = 8 << 20;
    h.block_size = 64 << 10;
    ASSERT_OK(WriteFrame(**stream, FrameType::kHello, h.Encode()));
    auto frame = ReadFrame(**stream);
    ASSERT_OK(frame);
    auto reply = HelloReply::Decode(*frame);
    ASSERT_OK(reply);
    EXPECT_TRUE(absl::IsPermissionDenied(reply->status)) << reply->status;
    EXPECT_NE(reply->status.message().find(absl::StrCat(
                  "host certificate CN=", cn, " is not authorized to replicate to this receiver")),
              std::string::npos)
        << reply->status;
    EXPECT_EQ(reply->status.message().find(real_id), std::string::npos) << reply->status;
    EXPECT_FALSE(reply->has_replica);
    EXPECT_EQ(reply->replication_id, "");
    EXPECT_EQ(reply->current_cycle, 0u);
    EXPECT_EQ(reply->virtual_size, 0u);
    EXPECT_EQ(reply->block_size, 0u);
    (void)(*stream)->Close();
    EXPECT_TRUE(absl::IsPermissionDenied(LastOutcome()));
    // A real sender with that certificate.
    stream = Connect(*cert);
    ASSERT_OK(stream);
    WritePattern(src, 2 << 20, 4096, 9);
    auto st = ReplicateDisk(src, CycleMode::kScan, **stream, {});
    EXPECT_TRUE(absl::IsPermissionDenied(st.status())) << st.status();
    (void)(*stream)->Close();
    EXPECT_TRUE(absl::IsPermissionDenied(LastOutcome()));
  }
  EXPECT_EQ(store_->info().current_cycle, 1u);
  auto stream = Connect(primary_);
  ASSERT_OK(stream);
  auto st = ReplicateDisk(src, CycleMode::kScan, **stream, {});
  ASSERT_OK(st);
  EXPECT_EQ(st->point_id, 2u);
  ASSERT_OK((*stream)->Close());
  EXPECT_OK(LastOutcome());
  EXPECT_EQ(ReadDisk(store_->info().replica_path), ReadDisk(src));
}

TEST_F(TlsReplicationTest, CertificateFromAnotherVaultIsRefused) {
  auto stream = Connect(foreign_);
  EXPECT_TRUE(absl::IsUnauthenticated(stream.status())) << stream.status();
  absl::Status server = LastOutcome();
  EXPECT_TRUE(absl::IsUnauthenticated(server)) << server;
  EXPECT_NE(server.message().find("not issued by"), std::string::npos) << server;
}

TEST_F(TlsReplicationTest, ExpiredCertificateIsRefused) {
  auto stream = Connect(expired_);
  EXPECT_TRUE(absl::IsUnauthenticated(stream.status())) << stream.status();
  EXPECT_NE(stream.status().message().find("expired"), std::string::npos) << stream.status();
  absl::Status server = LastOutcome();
  EXPECT_TRUE(absl::IsUnauthenticated(server)) << server;
  EXPECT_NE(server.message().find("expired"), std::string::npos) << server;
}

TEST_F(TlsReplicationTest, PlainTcpClientIsRefused) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(listener_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  const char hello[] = "ASRF plain hello, no TLS here\r\n\r\n";
  ASSERT_GT(::write(fd, hello, sizeof(hello)), 0);
  absl::Status server = LastOutcome();
  ::close(fd);
  EXPECT_TRUE(absl::IsUnavailable(server)) << server;
  EXPECT_NE(server.message().find("plain TCP"), std::string::npos) << server;
}

TEST_F(TlsReplicationTest, KerberosIsRefusedWithAClearMessage) {
  absl::Status s = net::CheckAuthentication("Kerberos");
  EXPECT_TRUE(absl::IsUnimplemented(s)) << s;
  EXPECT_NE(s.message().find("8084"), std::string::npos) << s;
}

}  // namespace
}  // namespace asr::replication
