// asr/net/tls.h: the replication transport — TCP with TLS 1.3 (BoringSSL)
// and mutual certificate authentication against the vault's certificate
// authority (see pki.h). Both sides present a host certificate and verify the
// peer's chain (and its validity period) against the vault CA; anything else
// is refused with a message naming the peer and saying what to do.
//
// Recovery host:
//   TlsConfig cfg = VaultTlsConfig("/pki", "recovery");  // recovery.pem/.key, ca.pem
//   ASR_ASSIGN_OR_RETURN(auto listener,
//                        TlsListener::Listen("0.0.0.0", kCertificateAuthPort, cfg));
//   for (;;) {
//     absl::StatusOr<std::unique_ptr<ByteStream>> s = listener->Accept();
//     if (absl::IsCancelled(s.status())) break;   // listener closed
//     if (!s.ok()) { LogRefusal(s.status()); continue; }  // one bad peer
//     Serve(**s);
//   }
//
// Primary host:
//   TlsConfig cfg;  // or set the three paths one by one:
//   cfg.cert_path = "/pki/primary.pem";
//   cfg.key_path = "/pki/primary.key";
//   cfg.ca_path = "/pki/ca.pem";
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> s,
//                        TlsConnect("recovery-host", kCertificateAuthPort, cfg,
//                                   absl::Seconds(30)));
//   ASR_RETURN_IF_ERROR(s->WriteAll(buf.data(), buf.size()));
//
// Wire detail: right after the handshake the accepting side sends one
// application byte (kTlsReadyByte) and TlsConnect waits for it. In TLS 1.3 the
// client finishes its handshake before the server has judged the client's
// certificate; waiting for that byte means a refused client learns it from
// TlsConnect (with the server's reason) instead of from its first read.
#ifndef ASR_NET_TLS_H_
#define ASR_NET_TLS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/net/stream.h"

namespace asr::net {

// Site Recovery's ports: 8084 for certificate authentication (what asr
// uses); 8083 is Kerberos, which is not available on this platform.
inline constexpr uint16_t kCertificateAuthPort = 8084;
inline constexpr uint16_t kKerberosAuthPort = 8083;

inline constexpr uint8_t kTlsReadyByte = 0x01;

struct TlsConfig {
  // This host's certificate and private key (PEM, e.g. from `asrctl pki
  // init`). A client may leave both empty; servers refuse such clients.
  std::string cert_path;
  std::string key_path;
  // The vault CA certificate (ca.pem) that the peer's certificate must chain to.
  std::string ca_path;
  // When set, the peer's certificate must also name this host (a DNS or IP
  // subjectAltName entry, or the CN).
  std::string expected_peer_name;
  // Limit for TCP connect + TLS handshake (per Accept / TlsConnect). A peer
  // that connects and stays silent is dropped after this.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Limit for each wait of an established stream's reads and writes
  // (DeadlineExceeded); infinite by default.
  absl::Duration io_timeout = absl::InfiniteDuration();
};

// The configuration for host files DIR/BASE.pem and DIR/BASE.key with the
// vault CA DIR/ca.pem, as written by `asrctl pki init` (BASE "primary" or
// "recovery") and `asrctl pki issue` (BASE = the host name).
TlsConfig VaultTlsConfig(const std::string& dir, const std::string& base);

// Checks an authentication method requested by configuration or a peer:
// "certificate" (also "cert", "certificates", "x509", case-insensitive) is OK;
// "kerberos" is Unimplemented ("Kerberos authentication (port 8083) is not
// available on this platform; use certificate authentication (port 8084) with
// certificates from `asrctl pki init`"); anything else is InvalidArgument.
absl::Status CheckAuthentication(absl::string_view method);

// Accepts mutually authenticated TLS 1.3 connections.
//
// Thread safety: Accept may be called from one thread at a time; Close and
// port may be called from any thread, also while Accept is waiting (Accept
// then returns Cancelled).
class TlsListener {
 public:
  // Loads the certificate, key and CA (NotFound / InvalidArgument naming the
  // file; InvalidArgument when the key does not match the certificate), then
  // binds and listens on host:port (port 0: an ephemeral port, see port()).
  // Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<TlsListener>> Listen(const std::string& host,
                                                             uint16_t port,
                                                             const TlsConfig& config);
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  uint16_t port() const { return port_; }

  // Waits for the next connection and completes its handshake within
  // config.handshake_timeout. Errors concern that one connection; the
  // listener keeps working:
  //   Unauthenticated   — the peer presented no certificate, one not issued by
  //                       the vault CA, an expired one, or one for another name
  //   Unavailable       — not TLS ("did not start a TLS handshake (plain
  //                       TCP?)"), not TLS 1.3, or the connection broke off
  //   DeadlineExceeded  — the handshake did not finish in time
  // Cancelled once Close() was called.
  absl::StatusOr<std::unique_ptr<ByteStream>> Accept();

  // Stops listening; a waiting Accept returns Cancelled. Streams already
  // accepted are not affected.
  void Close();

  struct Impl;

 private:
  TlsListener(int fd, uint16_t port, std::unique_ptr<Impl> impl);

  int fd_;
  uint16_t port_;
  std::atomic<bool> closed_{false};
  std::unique_ptr<Impl> impl_;
};

// Connects to host:port and completes a mutually authenticated TLS 1.3
// handshake within `timeout`. Errors:
//   NotFound / InvalidArgument — a configured file is missing or unusable
//   Unavailable       — cannot resolve or connect, peer is not TLS 1.3, or the
//                       connection broke off
//   Unauthenticated   — the server's certificate is not issued by the vault
//                       CA, has expired or names another host; or the server
//                       refused this host's certificate (or its absence)
//   DeadlineExceeded  — `timeout` passed
absl::StatusOr<std::unique_ptr<ByteStream>> TlsConnect(const std::string& host, uint16_t port,
                                                       const TlsConfig& config,
                                                       absl::Duration timeout);

}  // namespace asr::net

#endif  // ASR_NET_TLS_H_
