#include "asr/net/tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asr/common/file_util.h"
#include "asr/common/test_dir.h"
#include "asr/common/testing/status_matchers.h"
#include "asr/net/pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace asr::net {
namespace {

using ::asr::testing::StatusIs;

using ::testing::HasSubstr;
using ::testing::StartsWith;

using StreamOr = absl::StatusOr<std::unique_ptr<ByteStream>>;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// A vault CA with good, foreign and expired host certificates on disk.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(asr::testing::TestDir("tls_test"));
    absl::Time now = absl::Now();
    auto ca = CreateCertificateAuthority("vault CA", now - absl::Hours(24 * 30),
                                         now + absl::Hours(24 * 30));
    auto foreign_ca = CreateCertificateAuthority("vault CA", now - absl::Hours(24 * 30),
                                                 now + absl::Hours(24 * 30));
    ASSERT_TRUE(ca.ok() && foreign_ca.ok());
    ASSERT_OK(WritePemKeyPair(*dir_, "ca", *ca));
    ASSERT_OK(WritePemKeyPair(*dir_, "foreign-ca", *foreign_ca));
    struct Host {
      const char* file;
      const PemKeyPair* ca;
      const char* name;
      int days;
    } hosts[] = {{"primary", &*ca, "primary-host", 30},
                 {"recovery", &*ca, "recovery-host", 30},
                 {"foreign", &*foreign_ca, "intruder", 30},
                 {"expired", &*ca, "expired-host", -1}};
    for (const Host& h : hosts) {
      auto pair = IssueHostCertificate(*h.ca, HostRequest(h.name, now, h.days, {"127.0.0.1"}));
      ASSERT_OK(pair);
      ASSERT_OK(WritePemKeyPair(*dir_, h.file, *pair));
    }
  }

  static TlsConfig Config(const std::string& host) {
    TlsConfig c = VaultTlsConfig(*dir_, host);
    EXPECT_EQ(c.key_path, *dir_ + "/" + host + ".key");
    c.handshake_timeout = absl::Seconds(10);
    return c;
  }

  std::unique_ptr<TlsListener> Listen(const TlsConfig& config) {
    auto l = TlsListener::Listen("127.0.0.1", 0, config);
    EXPECT_OK(l);
    EXPECT_NE((*l)->port(), 0);
    return std::move(*l);
  }

  static std::future<StreamOr> AcceptAsync(TlsListener* l) {
    return std::async(std::launch::async, [l] { return l->Accept(); });
  }

  static StreamOr Connect(uint16_t port, const TlsConfig& config) {
    return TlsConnect("127.0.0.1", port, config, absl::Seconds(10));
  }

  // A plain TCP connection to 127.0.0.1:port.
  static int PlainConnect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return fd;
  }

  // Checks that `l` still accepts a good client and carries a byte.
  void ExpectListenerWorks(TlsListener* l) {
    auto server = AcceptAsync(l);
    StreamOr client = Connect(l->port(), Config("primary"));
    ASSERT_OK(client);
    StreamOr s = server.get();
    ASSERT_OK(s);
    char c = 'x';
    ASSERT_OK((*client)->WriteAll(&c, 1));
    char got = 0;
    ASSERT_OK((*s)->ReadExactly(&got, 1));
    EXPECT_EQ(got, 'x');
  }

  static std::string* dir_;
};

std::string* TlsTest::dir_ = nullptr;

std::vector<uint8_t> Pattern(size_t size, uint32_t seed) {
  std::vector<uint8_t> v(size);
  uint32_t x = seed;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

TEST_F(TlsTest, MutualAuthRoundTripOfSeveralMiBBothWays) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  StreamOr client = Connect(listener->port(), Config("primary"));
  ASSERT_OK(client);
  StreamOr server = server_future.get();
  ASSERT_OK(server);
  EXPECT_THAT((*client)->PeerDescription(), HasSubstr("CN=recovery-host"));
  EXPECT_THAT((*server)->PeerDescription(), HasSubstr("CN=primary-host"));
  EXPECT_THAT((*client)->PeerDescription(),
              StartsWith(absl::StrCat("127.0.0.1:", listener->port())));

  const size_t kSize = 5 * 1024 * 1024 + 123;
  std::vector<uint8_t> up = Pattern(kSize, 1);
  std::vector<uint8_t> down = Pattern(kSize, 2);

  // Full duplex: each side writes from one thread while reading in another.
  auto write_up = std::async(std::launch::async, [&] {
    for (size_t off = 0; off < kSize; off += 1 << 20) {
      absl::Status s = (*client)->WriteAll(up.data() + off, std::min<size_t>(1 << 20, kSize - off));
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
  auto write_down =
      std::async(std::launch::async, [&] { return (*server)->WriteAll(down.data(), kSize); });
  std::vector<uint8_t> got_up(kSize), got_down(kSize);
  auto read_up =
      std::async(std::launch::async, [&] { return (*server)->ReadExactly(got_up.data(), kSize); });
  ASSERT_OK((*client)->ReadExactly(got_down.data(), kSize));
  ASSERT_OK(read_up.get());
  ASSERT_OK(write_up.get());
  ASSERT_OK(write_down.get());
  EXPECT_TRUE(got_up == up);
  EXPECT_TRUE(got_down == down);

  // Clean close: the reader sees end of stream (OutOfRange before any byte).
  ASSERT_OK((*client)->Close());
  char c;
  absl::Status eof = (*server)->ReadExactly(&c, 1);
  EXPECT_THAT(eof, StatusIs(absl::StatusCode::kOutOfRange)) << eof;
  auto n = (*server)->ReadSome(&c, 1);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 0u);
  EXPECT_OK((*server)->Close());
  EXPECT_THAT((*client)->WriteAll(&c, 1), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(TlsTest, BrokenOffMidMessageIsUnavailable) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  StreamOr client = Connect(listener->port(), Config("primary"));
  ASSERT_OK(client);
  StreamOr server = server_future.get();
  ASSERT_OK(server);
  ASSERT_OK((*client)->WriteAll("abc", 3));
  client->reset();  // gone without close_notify
  char buf[10];
  absl::Status s = (*server)->ReadExactly(buf, sizeof(buf));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable)) << s;
}

TEST_F(TlsTest, ClientWithForeignCertificateIsRefused) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  StreamOr client = Connect(listener->port(), Config("foreign"));
  StreamOr server = server_future.get();
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Msg(server.status()),
              HasSubstr("presented a certificate not issued by this vault's certificate "
                        "authority"));
  EXPECT_THAT(Msg(server.status()), StartsWith("peer 127.0.0.1:"));
  EXPECT_THAT(Msg(server.status()), HasSubstr("CN=intruder"));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated)) << client.status();
  EXPECT_THAT(Msg(client.status()), HasSubstr("refused this host's certificate"));
  ExpectListenerWorks(listener.get());
}

TEST_F(TlsTest, ServerWithForeignCertificateIsRefused) {
  auto listener = Listen(Config("foreign"));
  auto server_future = AcceptAsync(listener.get());
  StreamOr client = Connect(listener->port(), Config("primary"));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Msg(client.status()),
              HasSubstr(absl::StrCat("peer 127.0.0.1:", listener->port(),
                                     " presented a certificate not issued by this vault's "
                                     "certificate authority")));
  StreamOr server = server_future.get();
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kUnauthenticated)) << server.status();
  EXPECT_THAT(Msg(server.status()), HasSubstr("refused this host's certificate"));
}

TEST_F(TlsTest, ExpiredClientCertificateIsRefused) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  StreamOr client = Connect(listener->port(), Config("expired"));
  StreamOr server = server_future.get();
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Msg(server.status()), HasSubstr("certificate of CN=expired-host expired at "));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated)) << client.status();
  EXPECT_THAT(Msg(client.status()), HasSubstr("expired"));
  ExpectListenerWorks(listener.get());
}

TEST_F(TlsTest, ExpiredServerCertificateIsRefused) {
  auto listener = Listen(Config("expired"));
  auto server_future = AcceptAsync(listener.get());
  StreamOr client = Connect(listener->port(), Config("primary"));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Msg(client.status()), HasSubstr("certificate of CN=expired-host expired at "));
  EXPECT_FALSE(server_future.get().ok());
}

TEST_F(TlsTest, PlainTcpClientIsRefusedAndListenerKeepsWorking) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  int fd = PlainConnect(listener->port());
  const char hello[] = "HELLO replica\r\n";
  ASSERT_EQ(send(fd, hello, sizeof(hello) - 1, MSG_NOSIGNAL),
            static_cast<ssize_t>(sizeof(hello) - 1));
  StreamOr server = server_future.get();
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(Msg(server.status()), StartsWith("peer 127.0.0.1:"));
  EXPECT_THAT(Msg(server.status()), HasSubstr("did not start a TLS handshake (plain TCP?)"));
  close(fd);
  ExpectListenerWorks(listener.get());
}

TEST_F(TlsTest, SilentClientTimesOutAndListenerKeepsWorking) {
  TlsConfig config = Config("recovery");
  config.handshake_timeout = absl::Milliseconds(300);
  auto listener = Listen(config);
  auto server_future = AcceptAsync(listener.get());
  int fd = PlainConnect(listener->port());
  absl::Time start = absl::Now();
  StreamOr server = server_future.get();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_THAT(Msg(server.status()), HasSubstr("did not start a TLS handshake"));
  EXPECT_THAT(Msg(server.status()), HasSubstr("plain TCP?"));
  close(fd);
  ExpectListenerWorks(listener.get());
}

TEST_F(TlsTest, ClientWithoutCertificateIsRefused) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  TlsConfig anonymous;
  anonymous.ca_path = *dir_ + "/ca.pem";
  StreamOr client = Connect(listener->port(), anonymous);
  StreamOr server = server_future.get();
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Msg(server.status()), HasSubstr("presented no certificate"));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated)) << client.status();
  EXPECT_THAT(Msg(client.status()), HasSubstr("requires this host to present a certificate"));
}

TEST_F(TlsTest, ClientChecksExpectedPeerName) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  TlsConfig config = Config("primary");
  config.expected_peer_name = "some-other-host";
  StreamOr client = Connect(listener->port(), config);
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(Msg(client.status()), HasSubstr("does not name \"some-other-host\""));
  EXPECT_FALSE(server_future.get().ok());

  server_future = AcceptAsync(listener.get());
  config.expected_peer_name = "recovery-host";
  client = Connect(listener->port(), config);
  EXPECT_OK(client);
  EXPECT_OK(server_future.get());
}

TEST_F(TlsTest, KerberosIsRefused) {
  absl::Status s = CheckAuthentication("Kerberos");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(Msg(s), HasSubstr("Kerberos authentication (port 8083) is not available on this "
                                "platform"));
  EXPECT_THAT(Msg(s), HasSubstr("certificate authentication (port 8084)"));
  EXPECT_OK(CheckAuthentication("certificate"));
  EXPECT_THAT(CheckAuthentication("ntlm"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(kCertificateAuthPort, 8084);
}

TEST_F(TlsTest, CloseWakesAccept) {
  auto listener = Listen(Config("recovery"));
  auto server_future = AcceptAsync(listener.get());
  absl::SleepFor(absl::Milliseconds(50));
  listener->Close();
  StreamOr server = server_future.get();
  EXPECT_THAT(server.status(), StatusIs(absl::StatusCode::kCancelled)) << server.status();
}

TEST_F(TlsTest, ConfigurationErrorsNameTheFile) {
  TlsConfig missing = Config("recovery");
  missing.cert_path = *dir_ + "/nope.pem";
  auto l = TlsListener::Listen("127.0.0.1", 0, missing);
  EXPECT_FALSE(l.ok());
  EXPECT_THAT(Msg(l.status()), HasSubstr("nope.pem"));

  TlsConfig mismatched = Config("recovery");
  mismatched.key_path = *dir_ + "/primary.key";
  l = TlsListener::Listen("127.0.0.1", 0, mismatched);
  EXPECT_THAT(l.status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Msg(l.status()), HasSubstr("does not belong to the certificate"));

  TlsConfig no_ca = Config("recovery");
  no_ca.ca_path = "";
  EXPECT_THAT(TlsListener::Listen("127.0.0.1", 0, no_ca).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));

  TlsConfig no_cert;
  no_cert.ca_path = *dir_ + "/ca.pem";
  EXPECT_THAT(TlsListener::Listen("127.0.0.1", 0, no_cert).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(TlsTest, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    auto listener = Listen(Config("recovery"));
    port = listener->port();
  }
  StreamOr client = Connect(port, Config("primary"));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnavailable)) << client.status();
  EXPECT_THAT(Msg(client.status()), HasSubstr("cannot connect to 127.0.0.1:"));
}

TEST_F(TlsTest, PlainTcpServerIsRefused) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lfd, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread plain([lfd] {
    int fd = accept(lfd, nullptr, nullptr);
    const char banner[] = "220 plain text service ready\r\n";
    send(fd, banner, sizeof(banner) - 1, MSG_NOSIGNAL);
    char buf[4096];
    while (recv(fd, buf, sizeof(buf), 0) > 0) {
    }
    close(fd);
  });
  StreamOr client = Connect(ntohs(addr.sin_port), Config("primary"));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnavailable)) << client.status();
  EXPECT_THAT(Msg(client.status()), HasSubstr("plain TCP?"));
  client = absl::UnavailableError("done");
  plain.join();
  close(lfd);
}

// Revocation and who the receiver is, with a vault directory of their own
// (its crl.pem must not reach the other tests).
class TlsRevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = asr::testing::TestDir(absl::StrCat(
        "tls_revocation_", ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_OK(InitVaultPki(dir_, {}));
    ASSERT_OK(IssueVaultHostCertificate(dir_, "hv-02", 30, {}));
  }
  TlsConfig Config(const std::string& base) {
    TlsConfig c = VaultTlsConfig(dir_, base);
    c.handshake_timeout = absl::Seconds(10);
    return c;
  }
  // Connects `client` to a listener with `server`; returns both outcomes.
  std::pair<StreamOr, StreamOr> Handshake(const TlsConfig& server, const TlsConfig& client) {
    auto l = TlsListener::Listen("127.0.0.1", 0, server);
    EXPECT_OK(l);
    if (!l.ok()) return {l.status(), l.status()};
    TlsListener* raw = l->get();
    auto accepted = std::async(std::launch::async, [raw] { return raw->Accept(); });
    StreamOr c = TlsConnect("127.0.0.1", raw->port(), client, absl::Seconds(10));
    StreamOr s = accepted.get();
    return {std::move(s), std::move(c)};
  }
  std::string dir_;
};

TEST_F(TlsRevocationTest, RevokedClientIsRefusedWhileAnotherHostWorks) {
  RevokeRequest r;
  r.name = "primary";
  r.reason = "keyCompromise";
  ASSERT_OK_AND_ASSIGN(CrlInfo crl, RevokeVaultCertificate(dir_, r));
  ASSERT_EQ(crl.revoked.size(), 1u);
  EXPECT_EQ(crl.revoked[0].reason, "keyCompromise");
  EXPECT_GT(crl.next_update, absl::Now() + absl::Hours(24 * 29));
  auto [server, client] = Handshake(Config("recovery"), Config("primary"));
  EXPECT_THAT(server.status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("CN=primary-host (serial ")));
  EXPECT_THAT(Msg(server.status()), HasSubstr("revoked by the vault CA at"));
  EXPECT_THAT(Msg(server.status()), HasSubstr("keyCompromise"));
  EXPECT_THAT(client.status(), StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("revoked")));
  // The other host of the vault is not affected.
  auto [server2, client2] = Handshake(Config("recovery"), Config("hv-02"));
  EXPECT_OK(server2);
  EXPECT_OK(client2);
}

TEST_F(TlsRevocationTest, RevokedReceiverIsRefusedBySender) {
  RevokeRequest r;
  r.certificate_path = dir_ + "/recovery.pem";
  ASSERT_OK(RevokeVaultCertificate(dir_, r));
  TlsConfig server = Config("recovery");
  server.crl_path.clear();  // the receiver itself does not check
  TlsConfig client = Config("primary");
  client.expected_peer_name = "recovery-host";
  auto [s, c] = Handshake(server, client);
  EXPECT_THAT(c.status(),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("CN=recovery-host (serial ")));
  EXPECT_THAT(Msg(c.status()), HasSubstr("revoked by the vault CA at"));
  EXPECT_FALSE(s.ok());
}

TEST_F(TlsRevocationTest, CrlNotSignedByTheVaultCaIsRefused) {
  // A list under the same CA name, signed by another key: a forgery that
  // would un-revoke (or revoke) at will.
  absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(
      PemKeyPair forger,
      CreateCertificateAuthority("asr vault CA", now - absl::Hours(1), now + absl::Hours(24)));
  ASSERT_OK_AND_ASSIGN(std::string forged, CreateCrl(forger, {}, now, now + absl::Hours(24)));
  ASSERT_OK(WriteFileAtomically(dir_ + "/crl.pem", forged));
  auto l = TlsListener::Listen("127.0.0.1", 0, Config("recovery"));
  EXPECT_THAT(l.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr("not signed by this vault's certificate authority")));
  TlsConfig server = Config("recovery");
  server.crl_path.clear();
  auto [s, c] = Handshake(server, Config("primary"));
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kFailedPrecondition,
                                   HasSubstr("not signed by this vault's certificate authority")));
}

TEST_F(TlsRevocationTest, CrlPastItsNextUpdateIsRefusedEvenByARunningListener) {
  TlsConfig server = Config("recovery");
  ASSERT_OK(IssueVaultCrl(dir_, 30));
  auto l = TlsListener::Listen("127.0.0.1", 0, server);
  ASSERT_OK(l);
  // The vault's list is replaced by one whose nextUpdate has passed.
  ASSERT_OK_AND_ASSIGN(PemKeyPair ca, ReadPemKeyPair(dir_ + "/ca.pem", dir_ + "/ca.key"));
  absl::Time now = absl::Now();
  ASSERT_OK_AND_ASSIGN(std::string stale,
                       CreateCrl(ca, {}, now - absl::Hours(48), now - absl::Hours(1)));
  ASSERT_OK(WriteFileAtomically(dir_ + "/crl.pem", stale));
  TlsConfig client = Config("hv-02");
  client.crl_path.clear();  // only the listener reads the stale list
  TlsListener* raw = l->get();
  auto accepted = std::async(std::launch::async, [raw] { return raw->Accept(); });
  StreamOr c = TlsConnect("127.0.0.1", raw->port(), client, absl::Seconds(10));
  StreamOr s = accepted.get();
  EXPECT_THAT(s.status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is out of date")));
  EXPECT_THAT(Msg(s.status()), HasSubstr("asrctl pki crl"));
  EXPECT_FALSE(c.ok());
  // Re-issued, it is accepted again without a restart.
  ASSERT_OK(IssueVaultCrl(dir_, 30));
  accepted = std::async(std::launch::async, [raw] { return raw->Accept(); });
  c = TlsConnect("127.0.0.1", raw->port(), client, absl::Seconds(10));
  EXPECT_OK(accepted.get());
  EXPECT_OK(c);
}

TEST_F(TlsRevocationTest, PrimaryPosingAsTheReceiverIsRefused) {
  // A compromised primary host serves with its own certificate, which the
  // vault CA did issue.
  TlsConfig client = Config("hv-02");
  client.expected_peer_name = "recovery-host";
  auto [s, c] = Handshake(Config("primary"), client);
  EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kUnauthenticated,
                                   HasSubstr("certificate of CN=primary-host (DNS:primary-host)")));
  EXPECT_THAT(Msg(c.status()), HasSubstr("does not name \"recovery-host\""));
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace asr::net
