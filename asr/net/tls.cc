#include "asr/net/tls.h"

#include <openssl/base.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/mem.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/net/x509_util.h"
#include "asr/platform/error.h"
#include "asr/platform/socket.h"

namespace asr::net {
namespace {

using internal::LastSslError;

constexpr char kIssueHint[] =
    "both hosts need certificates issued by the same vault CA (asrctl pki init / "
    "asrctl pki issue) and that CA's ca.pem";

// ---------------------------------------------------------------------------
// A socket BIO that sends with MSG_NOSIGNAL: a peer that goes away must give
// an Unavailable status, never a SIGPIPE that kills the process.

// Reads go through a read-ahead buffer: BoringSSL asks for a record's 5-byte
// header and then its body, which would otherwise cost two recv calls per
// 16 KiB record.
struct SocketState {
  int fd = -1;
  absl::Status last_error;  // of the last failed send or receive
  std::vector<char> ahead = std::vector<char>(64 * 1024);
  size_t ahead_pos = 0;
  size_t ahead_end = 0;
};

int SocketBioWrite(BIO* bio, const char* in, int len) {
  auto* st = static_cast<SocketState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  st->last_error = absl::OkStatus();
  absl::StatusOr<size_t> n = platform::SocketSend(st->fd, in, static_cast<size_t>(len));
  if (n.ok()) return static_cast<int>(*n);
  st->last_error = n.status();
  if (platform::ErrorKindOf(n.status()) == platform::ErrorKind::kWouldBlock) {
    BIO_set_retry_write(bio);
  }
  return -1;
}

int SocketBioRead(BIO* bio, char* out, int len) {
  auto* st = static_cast<SocketState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  st->last_error = absl::OkStatus();
  size_t want = static_cast<size_t>(len);
  if (st->ahead_pos == st->ahead_end && want < st->ahead.size()) {
    absl::StatusOr<size_t> n = platform::SocketReceive(st->fd, st->ahead.data(), st->ahead.size());
    if (!n.ok()) {
      st->last_error = n.status();
      if (platform::ErrorKindOf(n.status()) == platform::ErrorKind::kWouldBlock) {
        BIO_set_retry_read(bio);
      }
      return -1;
    }
    if (*n == 0) return 0;
    st->ahead_pos = 0;
    st->ahead_end = *n;
  }
  if (st->ahead_pos < st->ahead_end) {
    size_t n = std::min(want, st->ahead_end - st->ahead_pos);
    memcpy(out, st->ahead.data() + st->ahead_pos, n);
    st->ahead_pos += n;
    return static_cast<int>(n);
  }
  absl::StatusOr<size_t> n = platform::SocketReceive(st->fd, out, want);
  if (n.ok()) return static_cast<int>(*n);
  st->last_error = n.status();
  if (platform::ErrorKindOf(n.status()) == platform::ErrorKind::kWouldBlock) {
    BIO_set_retry_read(bio);
  }
  return -1;
}

long SocketBioCtrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

const BIO_METHOD* SocketBioMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "asr socket (MSG_NOSIGNAL)");
    BIO_meth_set_write(m, SocketBioWrite);
    BIO_meth_set_read(m, SocketBioRead);
    BIO_meth_set_ctrl(m, SocketBioCtrl);
    return m;
  }();
  return method;
}

// ---------------------------------------------------------------------------
// Per-handshake state reached from the verify callback.

struct HandshakeState {
  std::string peer;
  long verify_error = X509_V_OK;
  std::string verify_message;
  std::string expected_name;  // TlsConfig::expected_peer_name
  X509_CRL* crl = nullptr;    // checked; the peer's certificate must not be on it
};

int HandshakeStateIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int VerifyCallback(int ok, X509_STORE_CTX* store) {
  SSL* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* st = ssl == nullptr
                 ? nullptr
                 : static_cast<HandshakeState*>(SSL_get_ex_data(ssl, HandshakeStateIndex()));
  if (ok) {
    // The chain is good up to here; the peer's own certificate must also not
    // be revoked (the vault CA issues no intermediates).
    if (st == nullptr || st->crl == nullptr || X509_STORE_CTX_get_error_depth(store) != 0) {
      return 1;
    }
    X509* leaf = X509_STORE_CTX_get_current_cert(store);
    std::string why = internal::RevocationMessage(st->crl, leaf);
    if (why.empty()) return 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REVOKED);
    if (st->verify_error == X509_V_OK) {
      st->verify_error = X509_V_ERR_CERT_REVOKED;
      st->verify_message = absl::StrCat("peer ", st->peer, " presented a ", why);
    }
    return 0;
  }
  if (st != nullptr && st->verify_error == X509_V_OK) {
    st->verify_error = X509_STORE_CTX_get_error(store);
    X509* cert = X509_STORE_CTX_get_current_cert(store);
    if ((st->verify_error == X509_V_ERR_HOSTNAME_MISMATCH ||
         st->verify_error == X509_V_ERR_IP_ADDRESS_MISMATCH) &&
        !st->expected_name.empty()) {
      std::vector<std::string> names = internal::SubjectAltNames(cert);
      st->verify_message = absl::StrCat(
          "peer ", st->peer, " presented the certificate of ", internal::SubjectString(cert),
          names.empty() ? "" : absl::StrCat(" (", absl::StrJoin(names, ", "), ")"),
          ", which does not name \"", st->expected_name,
          "\", the host this connection must reach: it is another host (possibly one "
          "impersonating it), or its certificate does not name it; expect the name its "
          "certificate was issued for (asrctl --receiver-name), or issue that host a "
          "certificate naming ",
          st->expected_name, " (asrctl pki issue --name HOST --san ", st->expected_name, ")");
      return 0;
    }
    std::string who = absl::StrCat("peer ", st->peer, " presented");
    std::string msg = internal::VerifyFailureMessage(who, st->verify_error, cert);
    st->verify_message =
        absl::StartsWith(msg, who) ? msg : absl::StrCat("peer ", st->peer, ": ", msg);
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Waiting on a non-blocking socket.

// Waits until `fd` is readable (or writable). DeadlineExceeded at `deadline`.
absl::Status WaitFd(int fd, bool for_write, absl::Time deadline, absl::string_view what) {
  return platform::WaitSocket(fd, for_write, deadline, what);
}

// After refusing a peer: send our FIN and read what the peer still sends for
// a moment (the caller closes then), so that closing does not turn into a reset that could destroy
// the alert telling the peer why it was refused.
void Linger(int fd) {
  platform::ShutdownSocket(fd, /*both=*/false);
  absl::Time until = absl::Now() + absl::Milliseconds(250);
  char buf[4096];
  while (WaitFd(fd, false, until, "").ok()) {
    absl::StatusOr<size_t> n = platform::SocketReceive(fd, buf, sizeof(buf));
    if (n.ok() ? *n == 0 : platform::ErrorKindOf(n.status()) != platform::ErrorKind::kWouldBlock) {
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// Errors.

// The status for a failed SSL operation that returned `ret`, taking the
// reason from the verify callback or the error queue.
absl::Status SslFailure(SSL* ssl, int ret, const HandshakeState& st, const SocketState& sock,
                        bool handshake) {
  int err = SSL_get_error(ssl, ret);
  if (st.verify_error != X509_V_OK) {
    ERR_clear_error();
    return absl::UnauthenticatedError(st.verify_message);
  }
  const std::string& peer = st.peer;
  if (err == SSL_ERROR_ZERO_RETURN) {
    return absl::UnavailableError(absl::StrCat("peer ", peer, " closed the connection",
                                               handshake ? " during the TLS handshake" : ""));
  }
  if (err == SSL_ERROR_SYSCALL) {
    ERR_clear_error();
    if (!sock.last_error.ok()) {
      return absl::UnavailableError(absl::StrCat("connection to peer ", peer, " broke off",
                                                 handshake ? " during the TLS handshake" : "", ": ",
                                                 sock.last_error.message()));
    }
    return absl::UnavailableError(
        absl::StrCat("peer ", peer, " closed the connection",
                     handshake ? " during the TLS handshake" : " without ending TLS cleanly"));
  }
  uint32_t packed = ERR_peek_last_error();
  int reason = ERR_GET_LIB(packed) == ERR_LIB_SSL ? ERR_GET_REASON(packed) : 0;
  std::string detail = LastSslError();
  switch (reason) {
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return absl::UnauthenticatedError(absl::StrCat(
          "peer ", peer,
          " presented no certificate; certificate authentication (port 8084) requires each "
          "host to present one: ",
          kIssueHint));
    case SSL_R_TLSV1_ALERT_CERTIFICATE_REQUIRED:
      return absl::UnauthenticatedError(absl::StrCat(
          "peer ", peer,
          " requires this host to present a certificate (certificate authentication, port "
          "8084) and none is configured: set the certificate and key; ",
          kIssueHint));
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
      return absl::UnauthenticatedError(absl::StrCat(
          "peer ", peer,
          " refused this host's certificate: it is not issued by the certificate authority "
          "that peer trusts, or does not name the host that peer expected to reach (",
          detail, "); ", kIssueHint));
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return absl::UnauthenticatedError(absl::StrCat(
          "peer ", peer,
          " refused this host's certificate as revoked by the vault CA (it is on the vault's "
          "revocation list, crl.pem); this host needs a new certificate: asrctl pki issue"));
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return absl::UnauthenticatedError(absl::StrCat(
          "peer ", peer,
          " refused this host's certificate because it has expired; issue a new one with "
          "`asrctl pki issue`"));
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return absl::UnavailableError(
          absl::StrCat("peer ", peer,
                       " does not speak TLS (plain TCP?); asr uses only TLS 1.3 with certificate "
                       "authentication (port 8084)"));
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return absl::UnavailableError(absl::StrCat(
          "peer ", peer, " does not speak TLS 1.3, the only version asr accepts (", detail, ")"));
    default:
      return absl::UnavailableError(
          absl::StrCat(handshake ? "TLS handshake with peer " : "TLS error with peer ", peer,
                       " failed: ", detail));
  }
}

// ---------------------------------------------------------------------------
// Configuration.

absl::Status LoadCaInto(SSL_CTX* ctx, const std::string& ca_path) {
  if (ca_path.empty()) {
    return absl::InvalidArgumentError(
        "no CA certificate configured: TLS needs the vault's ca.pem (from `asrctl pki init`)");
  }
  ASR_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(ca_path));
  bssl::UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  for (;;) {
    bssl::UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    if (!X509_STORE_add_cert(store, cert.get())) {
      return absl::InternalError(
          absl::StrCat("cannot use CA certificate from ", ca_path, ": ", LastSslError()));
    }
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(ca_path, " holds no PEM certificate; expected the vault's ca.pem"));
  }
  return absl::OkStatus();
}

absl::Status LoadIdentityInto(SSL_CTX* ctx, const TlsConfig& config, bool required) {
  if (config.cert_path.empty() && config.key_path.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(
        "no certificate configured: a TLS listener needs this host's certificate and key "
        "(e.g. recovery.pem and recovery.key from `asrctl pki init`)");
  }
  if (config.cert_path.empty() || config.key_path.empty()) {
    return absl::InvalidArgumentError(
        "a certificate needs its key and the key its certificate: set both paths");
  }
  ASR_ASSIGN_OR_RETURN(std::string cert_pem, ReadFileToString(config.cert_path));
  ASR_ASSIGN_OR_RETURN(std::string key_pem, ReadFileToString(config.key_path));
  bssl::UniquePtr<X509> cert = internal::ParseCertificatePem(cert_pem);
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat(config.cert_path, " holds no PEM certificate"));
  }
  bssl::UniquePtr<EVP_PKEY> key = internal::ParsePrivateKeyPem(key_pem);
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(config.key_path, " holds no PEM private key"));
  }
  if (!SSL_CTX_use_certificate(ctx, cert.get()) || !SSL_CTX_use_PrivateKey(ctx, key.get()) ||
      !SSL_CTX_check_private_key(ctx)) {
    return absl::InvalidArgumentError(absl::StrCat("the key in ", config.key_path,
                                                   " does not belong to the certificate in ",
                                                   config.cert_path, " (", LastSslError(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bssl::UniquePtr<SSL_CTX>> MakeContext(const TlsConfig& config, bool server) {
  bssl::UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_method()));
  if (!ctx)
    return absl::InternalError(absl::StrCat("cannot create a TLS context: ", LastSslError()));
  if (!SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION)) {
    return absl::InternalError("this BoringSSL does not offer TLS 1.3");
  }
  ASR_RETURN_IF_ERROR(LoadIdentityInto(ctx.get(), config, server));
  ASR_RETURN_IF_ERROR(LoadCaInto(ctx.get(), config.ca_path));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, VerifyCallback);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

// ---------------------------------------------------------------------------
// The stream.

class TlsStream final : public ByteStream {
 public:
  TlsStream(std::unique_ptr<SocketState> sock, bssl::UniquePtr<SSL> ssl, std::string peer,
            std::string identity, absl::Duration io_timeout)
      : sock_(std::move(sock)),
        ssl_(std::move(ssl)),
        identity_(std::move(identity)),
        io_timeout_(io_timeout) {
    st_.peer = std::move(peer);
  }

  ~TlsStream() override {
    ssl_.reset();
    if (sock_->fd >= 0) platform::CloseSocket(sock_->fd);
  }

  absl::Status WriteAll(const void* data, size_t size) override {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      int chunk = static_cast<int>(std::min<size_t>(size, 1 << 30));
      int n = 0;
      int err = SSL_ERROR_NONE;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return ClosedError();
        ERR_clear_error();
        n = SSL_write(ssl_.get(), p, chunk);
        if (n <= 0) {
          err = SSL_get_error(ssl_.get(), n);
          if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
            return Annotate(SslFailure(ssl_.get(), n, st_, *sock_, false),
                            absl::StrCat("cannot send to ", st_.peer));
          }
        }
      }
      if (n > 0) {
        p += n;
        size -= static_cast<size_t>(n);
        continue;
      }
      ASR_RETURN_IF_ERROR(Wait(err == SSL_ERROR_WANT_WRITE));
    }
    return absl::OkStatus();
  }

  absl::Status ReadExactly(void* out, size_t size) override {
    char* p = static_cast<char*>(out);
    size_t done = 0;
    while (done < size) {
      ASR_ASSIGN_OR_RETURN(size_t n, ReadSome(p + done, size - done));
      if (n == 0) {
        if (done == 0) return absl::OutOfRangeError(absl::StrCat(st_.peer, " closed the stream"));
        return absl::UnavailableError(
            absl::StrCat(st_.peer, " closed the stream in the middle of a message"));
      }
      done += n;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<size_t> ReadSome(void* out, size_t size) override {
    if (size == 0) return 0;
    int chunk = static_cast<int>(std::min<size_t>(size, 1 << 30));
    for (;;) {
      int n = 0;
      int err = SSL_ERROR_NONE;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closed_) return ClosedError();
        if (eof_) return 0;
        ERR_clear_error();
        n = SSL_read(ssl_.get(), out, chunk);
        if (n > 0) return static_cast<size_t>(n);
        err = SSL_get_error(ssl_.get(), n);
        if (err == SSL_ERROR_ZERO_RETURN) {
          eof_ = true;
          return 0;
        }
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
          return Annotate(SslFailure(ssl_.get(), n, st_, *sock_, false),
                          absl::StrCat("cannot receive from ", st_.peer));
        }
      }
      ASR_RETURN_IF_ERROR(Wait(err == SSL_ERROR_WANT_WRITE));
    }
  }

  absl::Status Close() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    absl::Status result = absl::OkStatus();
    // close_notify; returns 0 once sent (we do not wait for the peer's).
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    for (;;) {
      ERR_clear_error();
      int r = SSL_shutdown(ssl_.get());
      if (r >= 0) break;
      int err = SSL_get_error(ssl_.get(), r);
      if (err != SSL_ERROR_WANT_WRITE && err != SSL_ERROR_WANT_READ) {
        result = Annotate(SslFailure(ssl_.get(), r, st_, *sock_, false),
                          absl::StrCat("cannot close the stream to ", st_.peer, " cleanly"));
        break;
      }
      absl::Status w = WaitFd(sock_->fd, err == SSL_ERROR_WANT_WRITE, deadline,
                              absl::StrCat("closing the stream to ", st_.peer, " timed out"));
      if (!w.ok()) {
        result = w;
        break;
      }
    }
    ERR_clear_error();
    // Wakes a reader of this stream waiting in another thread; the descriptor
    // itself is released by the destructor, after every user is done.
    platform::ShutdownSocket(sock_->fd, /*both=*/true);
    return result;
  }

  std::string PeerDescription() const override { return st_.peer; }
  std::string PeerIdentity() const override { return identity_; }

 private:
  absl::Status ClosedError() const {
    return absl::FailedPreconditionError(
        absl::StrCat("the stream to ", st_.peer, " was closed by this host"));
  }

  absl::Status Wait(bool for_write) {
    absl::Time deadline = io_timeout_ == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                                                  : absl::Now() + io_timeout_;
    return WaitFd(sock_->fd, for_write, deadline,
                  absl::StrCat("no progress ", for_write ? "sending to " : "receiving from ",
                               st_.peer, " for ", absl::FormatDuration(io_timeout_)));
  }

  std::unique_ptr<SocketState> sock_;
  bssl::UniquePtr<SSL> ssl_;
  std::string identity_;
  absl::Duration io_timeout_;
  HandshakeState st_;  // peer name; no verify errors after the handshake
  std::mutex mu_;      // guards ssl_ calls, closed_, eof_
  bool closed_ = false;
  bool eof_ = false;
};

// The configured revocation list, read and checked now (null when none is
// configured): a list that cannot be trusted fails the handshake (closed).
absl::StatusOr<bssl::UniquePtr<X509_CRL>> LoadCrl(const TlsConfig& config,
                                                  const std::vector<bssl::UniquePtr<X509>>& cas,
                                                  const std::string& peer) {
  if (config.crl_path.empty() || (!config.crl_required && !PathExists(config.crl_path))) {
    return bssl::UniquePtr<X509_CRL>();
  }
  absl::StatusOr<bssl::UniquePtr<X509_CRL>> crl =
      [&]() -> absl::StatusOr<bssl::UniquePtr<X509_CRL>> {
    ASR_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(config.crl_path));
    return internal::ParseCheckedCrl(pem, config.crl_path, cas, absl::Now());
  }();
  if (crl.ok()) return crl;
  return absl::Status(
      absl::IsNotFound(crl.status()) || absl::IsInvalidArgument(crl.status())
          ? absl::StatusCode::kFailedPrecondition
          : crl.status().code(),
      absl::StrCat("cannot check peer ", peer,
                   " against the vault's revocation list: ", crl.status().message()));
}

// Runs the handshake on connected non-blocking `fd`, which the result owns
// on success. On failure the caller closes `fd` (after a refusal this has
// already sent its FIN and drained what the peer still sent).
absl::StatusOr<std::unique_ptr<ByteStream>> Handshake(SSL_CTX* ctx, int fd, std::string peer,
                                                      bool server, const TlsConfig& config,
                                                      const std::vector<bssl::UniquePtr<X509>>& cas,
                                                      const std::string& sni_host,
                                                      absl::Time deadline) {
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<X509_CRL> crl, LoadCrl(config, cas, peer));
  auto sock = std::make_unique<SocketState>();
  sock->fd = fd;
  HandshakeState st;
  st.peer = peer;
  st.expected_name = config.expected_peer_name;
  st.crl = crl.get();
  auto fail = [&](absl::Status s) {
    Linger(fd);
    return s;
  };
  bssl::UniquePtr<SSL> ssl(SSL_new(ctx));
  bssl::UniquePtr<BIO> bio(BIO_new(SocketBioMethod()));
  if (!ssl || !bio) {
    return absl::InternalError(absl::StrCat("cannot set up TLS: ", LastSslError()));
  }
  BIO_set_data(bio.get(), sock.get());
  BIO_set_init(bio.get(), 1);
  // With the same BIO for reading and writing, |ssl| takes one reference.
  SSL_set_bio(ssl.get(), bio.get(), bio.get());
  bio.release();
  SSL_set_ex_data(ssl.get(), HandshakeStateIndex(), &st);
  if (!config.expected_peer_name.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    const std::string& name = config.expected_peer_name;
    bool is_ip = platform::IsIpAddressLiteral(name);
    int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                   : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad expected peer name \"", name, "\" (a host name or an IP address)"));
    }
  }
  if (server) {
    SSL_set_accept_state(ssl.get());
  } else {
    SSL_set_connect_state(ssl.get());
    if (!sni_host.empty()) SSL_set_tlsext_host_name(ssl.get(), sni_host.c_str());
  }
  std::string timeout_msg =
      absl::StrCat("peer ", peer, " did not complete the TLS handshake in time",
                   server ? " (a client that connects and stays silent: plain TCP?)" : "");
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl.get());
    if (r == 1) break;
    int err = SSL_get_error(ssl.get(), r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      absl::Status w = WaitFd(fd, err == SSL_ERROR_WANT_WRITE, deadline, timeout_msg);
      if (!w.ok()) {
        ssl.reset();
        return fail(w);
      }
      continue;
    }
    absl::Status s = SslFailure(ssl.get(), r, st, *sock, true);
    ssl.reset();
    return fail(s);
  }
  if (SSL_version(ssl.get()) != TLS1_3_VERSION) {
    ssl.reset();
    return fail(absl::UnavailableError(
        absl::StrCat("peer ", peer, " negotiated a TLS version other than 1.3")));
  }
  // The ready byte: see tls.h.
  for (;;) {
    ERR_clear_error();
    uint8_t b = kTlsReadyByte;
    int r = server ? SSL_write(ssl.get(), &b, 1) : SSL_read(ssl.get(), &b, 1);
    if (r == 1) {
      if (!server && b != kTlsReadyByte) {
        ssl.reset();
        return fail(absl::UnavailableError(absl::StrCat(
            "peer ", peer, " is not an asr endpoint (unexpected first byte after the handshake)")));
      }
      break;
    }
    int err = SSL_get_error(ssl.get(), r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      absl::Status w =
          WaitFd(fd, err == SSL_ERROR_WANT_WRITE, deadline,
                 absl::StrCat("peer ", peer, " did not confirm the connection in time"));
      if (!w.ok()) {
        ssl.reset();
        return fail(w);
      }
      continue;
    }
    absl::Status s = SslFailure(ssl.get(), r, st, *sock, true);
    ssl.reset();
    return fail(s);
  }
  SSL_set_ex_data(ssl.get(), HandshakeStateIndex(), nullptr);
  bssl::UniquePtr<X509> leaf(SSL_get_peer_certificate(ssl.get()));  // a new reference
  std::string cn = internal::CommonName(leaf.get());
  std::string description = cn.empty() ? peer : absl::StrCat(peer, " (CN=", cn, ")");
  return std::unique_ptr<ByteStream>(std::make_unique<TlsStream>(
      std::move(sock), std::move(ssl), std::move(description), cn, config.io_timeout));
}

}  // namespace

TlsConfig VaultTlsConfig(const std::string& dir, const std::string& base) {
  TlsConfig c;
  c.cert_path = JoinPath(dir, base + ".pem");
  c.key_path = JoinPath(dir, base + ".key");
  c.ca_path = JoinPath(dir, "ca.pem");
  c.crl_path = JoinPath(dir, "crl.pem");
  c.crl_required = false;
  return c;
}

absl::Status CheckAuthentication(absl::string_view method) {
  std::string m = absl::AsciiStrToLower(method);
  if (m == "certificate" || m == "certificates" || m == "cert" || m == "x509") {
    return absl::OkStatus();
  }
  if (m == "kerberos" || m == "negotiate" || m == "kerberos-8083") {
    return absl::UnimplementedError(
        absl::StrCat("Kerberos authentication (port ", kKerberosAuthPort,
                     ") is not available on this platform; use certificate authentication (port ",
                     kCertificateAuthPort, ") with host certificates from `asrctl pki init`"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown authentication method \"", method,
      "\"; asr supports certificate authentication (port ", kCertificateAuthPort, ")"));
}

struct TlsListener::Impl {
  bssl::UniquePtr<SSL_CTX> ctx;
  TlsConfig config;
  std::string address;
  std::vector<bssl::UniquePtr<X509>> cas;  // for the revocation list's signature
};

// The vault CA certificates of `config` (LoadCaInto has checked the file).
absl::StatusOr<std::vector<bssl::UniquePtr<X509>>> CaCertificates(const TlsConfig& config) {
  ASR_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(config.ca_path));
  return internal::ParseCertificatesPem(pem);
}

// A revocation list configured at start must be usable then; later handshakes
// read it again (a re-issued list takes effect without a restart).
absl::Status CheckCrlAtStart(const TlsConfig& config,
                             const std::vector<bssl::UniquePtr<X509>>& cas) {
  if (config.crl_path.empty() || (!config.crl_required && !PathExists(config.crl_path))) {
    return absl::OkStatus();
  }
  ASR_ASSIGN_OR_RETURN(std::string pem, ReadFileToString(config.crl_path));
  return internal::ParseCheckedCrl(pem, config.crl_path, cas, absl::Now()).status();
}

PendingConnection::PendingConnection(int fd, std::string peer)
    : fd_(fd), owned_(true), peer_(std::move(peer)) {}

PendingConnection::~PendingConnection() {
  if (owned_) platform::CloseSocket(fd_);
}

std::string PendingConnection::peer_address() const {
  if (!peer_.empty() && peer_[0] == '[') {  // "[::1]:5555"
    size_t close = peer_.find(']');
    return close == std::string::npos ? peer_ : peer_.substr(1, close - 1);
  }
  size_t colon = peer_.rfind(':');
  return colon == std::string::npos ? peer_ : peer_.substr(0, colon);
}

void PendingConnection::Shutdown() { platform::ShutdownSocket(fd_, /*both=*/true); }

TlsListener::TlsListener(int fd, uint16_t port, std::unique_ptr<Impl> impl)
    : fd_(fd), port_(port), impl_(std::move(impl)) {}

TlsListener::~TlsListener() {
  Close();
  platform::CloseSocket(fd_);
}

void TlsListener::Close() {
  if (closed_.exchange(true)) return;
  platform::ShutdownSocket(fd_, /*both=*/true);  // wakes a waiting accept()
}

const TlsConfig& TlsListener::config() const { return impl_->config; }

absl::StatusOr<std::unique_ptr<TlsListener>> TlsListener::Listen(const std::string& host,
                                                                 uint16_t port,
                                                                 const TlsConfig& config) {
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<SSL_CTX> ctx, MakeContext(config, /*server=*/true));
  ASR_ASSIGN_OR_RETURN(std::vector<bssl::UniquePtr<X509>> cas, CaCertificates(config));
  ASR_RETURN_IF_ERROR(CheckCrlAtStart(config, cas));
  ASR_ASSIGN_OR_RETURN(platform::ListeningSocket l, platform::ListenTcp(host, port));
  auto impl = std::make_unique<Impl>();
  impl->ctx = std::move(ctx);
  impl->config = config;
  impl->address = l.address;
  impl->cas = std::move(cas);
  return std::unique_ptr<TlsListener>(new TlsListener(l.handle, l.port, std::move(impl)));
}

absl::StatusOr<std::unique_ptr<PendingConnection>> TlsListener::AcceptConnection() {
  for (;;) {
    if (closed_.load()) {
      return absl::CancelledError(absl::StrCat("listener on ", impl_->address, " was closed"));
    }
    absl::StatusOr<platform::AcceptedSocket> accepted = platform::AcceptSocket(fd_);
    if (!accepted.ok()) {
      if (closed_.load()) continue;
      if (platform::ErrorKindOf(accepted.status()) == platform::ErrorKind::kConnectionAborted) {
        continue;
      }
      return platform::AddContext(accepted.status(),
                                  absl::StrCat("cannot accept on ", impl_->address));
    }
    platform::ConfigureStreamSocket(accepted->handle);
    return std::unique_ptr<PendingConnection>(
        new PendingConnection(accepted->handle, std::move(accepted->peer)));
  }
}

absl::StatusOr<std::unique_ptr<ByteStream>> TlsListener::Handshake(PendingConnection& c) const {
  if (!c.owned_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the connection from ", c.peer_, " was already handed to a stream"));
  }
  const int fd = c.fd_;
  const std::string& peer = c.peer_;
  absl::Time deadline = absl::Now() + impl_->config.handshake_timeout;
  // A TLS connection starts with a handshake record (content type 22).
  absl::Status w =
      WaitFd(fd, false, deadline,
             absl::StrCat("peer ", peer, " connected but did not start a TLS handshake within ",
                          absl::FormatDuration(impl_->config.handshake_timeout), " (plain TCP?)"));
  if (!w.ok()) {
    Linger(fd);
    return w;
  }
  uint8_t first = 0;
  absl::StatusOr<size_t> n = platform::SocketReceive(fd, &first, 1, /*peek=*/true);
  if (n.ok() && *n == 0) {
    return absl::UnavailableError(
        absl::StrCat("peer ", peer, " closed the connection before a TLS handshake"));
  }
  if (!n.ok()) {
    return platform::AddContext(n.status(), absl::StrCat("cannot receive from peer ", peer));
  }
  if (first != 22) {
    Linger(fd);
    return absl::UnavailableError(
        absl::StrCat("peer ", peer,
                     " did not start a TLS handshake (plain TCP?); asr accepts only TLS 1.3 with "
                     "certificate authentication (port ",
                     kCertificateAuthPort, ")"));
  }
  absl::StatusOr<std::unique_ptr<ByteStream>> stream = net::Handshake(
      impl_->ctx.get(), fd, peer, /*server=*/true, impl_->config, impl_->cas, "", deadline);
  if (stream.ok()) c.owned_ = false;  // the stream closes the socket now
  return stream;
}

absl::StatusOr<std::unique_ptr<ByteStream>> TlsListener::Accept() {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<PendingConnection> c, AcceptConnection());
  return Handshake(*c);
}

absl::StatusOr<std::unique_ptr<ByteStream>> TlsConnect(const std::string& host, uint16_t port,
                                                       const TlsConfig& config,
                                                       absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  ASR_ASSIGN_OR_RETURN(bssl::UniquePtr<SSL_CTX> ctx, MakeContext(config, /*server=*/false));
  ASR_ASSIGN_OR_RETURN(std::vector<bssl::UniquePtr<X509>> cas, CaCertificates(config));
  ASR_ASSIGN_OR_RETURN(
      platform::ConnectedSocket c,
      platform::ConnectTcp(host, port, deadline,
                           absl::StrCat("connecting to ", host, ":", port, " timed out after ",
                                        absl::FormatDuration(timeout))));
  const int fd = c.handle;
  const std::string peer = c.peer;
  bool host_is_ip = platform::IsIpAddressLiteral(host);
  absl::StatusOr<std::unique_ptr<ByteStream>> stream = net::Handshake(
      ctx.get(), fd, peer, /*server=*/false, config, cas, host_is_ip ? "" : host, deadline);
  if (!stream.ok()) platform::CloseSocket(fd);
  return stream;
}

}  // namespace asr::net
