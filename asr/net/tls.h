// asr/net/tls.h: the replication transport — TCP with TLS 1.3 (BoringSSL)
// and mutual certificate authentication against the vault's certificate
// authority (see pki.h). Both sides present a host certificate and verify the
// peer's chain (and its validity period) against the vault CA; anything else
// is refused with a message naming the peer and saying what to do.
//
// Recovery host (ReplicaServer in asr/replication/replica_server.h does this
// with a thread per connection and limits; the handshake runs on the
// connection's thread, so a silent peer never holds up the others):
//   TlsConfig cfg = VaultTlsConfig("/pki", "recovery");  // recovery.pem/.key, ca.pem[, crl.pem]
//   ASR_ASSIGN_OR_RETURN(auto listener,
//                        TlsListener::Listen("0.0.0.0", kCertificateAuthPort, cfg));
//   for (;;) {
//     absl::StatusOr<std::unique_ptr<PendingConnection>> c = listener->AcceptConnection();
//     if (absl::IsCancelled(c.status())) break;   // listener closed
//     if (!c.ok()) continue;
//     // on a worker thread:
//     absl::StatusOr<std::unique_ptr<ByteStream>> s = listener->Handshake(**c);
//     if (!s.ok()) { LogRefusal(s.status()); continue; }  // one bad peer
//     Serve(**s);
//   }
//
// Primary host:
//   TlsConfig cfg = VaultTlsConfig("/pki", "primary");  // or set the paths one by one
//   cfg.expected_peer_name = "recovery-host";  // the receiver's certificate must name it
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<ByteStream> s,
//                        TlsConnect("10.0.0.2", kCertificateAuthPort, cfg, absl::Seconds(30)));
//   ASR_RETURN_IF_ERROR(s->WriteAll(buf.data(), buf.size()));
//
// Revocation: with crl_path set (VaultTlsConfig sets DIR/crl.pem), every
// handshake reads the list again, checks that the vault CA
// signed it and that its nextUpdate has not passed (otherwise no peer is
// accepted: fail closed), and refuses a peer whose certificate is on it
// (Unauthenticated "... was revoked by the vault CA at ...").
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

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
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
  // subjectAltName entry); otherwise Unauthenticated names the certificate's
  // subject and names and what was expected. Senders set it to the recovery
  // host's name so that no other host of the vault (a primary's certificate
  // is issued by the same CA) can pose as the receiver.
  std::string expected_peer_name;
  // The vault's certificate revocation list (crl.pem from `asrctl pki
  // revoke|crl`); empty: no revocation check.
  std::string crl_path;
  // Whether crl_path must exist. VaultTlsConfig clears it: DIR/crl.pem is
  // used from the moment the vault first revokes a certificate, without a
  // restart. A list that exists is always checked (fail closed).
  bool crl_required = true;
  // Limit for TCP connect + TLS handshake (per Handshake / TlsConnect). A
  // peer that connects and stays silent is dropped after this.
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Limit for each wait of an established stream's reads and writes
  // (DeadlineExceeded); infinite by default.
  absl::Duration io_timeout = absl::InfiniteDuration();
};

// The configuration for host files DIR/BASE.pem and DIR/BASE.key with the
// vault CA DIR/ca.pem and the revocation list DIR/crl.pem (checked whenever
// that file exists, crl_required false), as written by `asrctl pki init`
// (BASE "primary" or "recovery") and `asrctl pki issue` (BASE = the host name).
TlsConfig VaultTlsConfig(const std::string& dir, const std::string& base);

// Checks an authentication method requested by configuration or a peer:
// "certificate" (also "cert", "certificates", "x509", case-insensitive) is OK;
// "kerberos" is Unimplemented ("Kerberos authentication (port 8083) is not
// available on this platform; use certificate authentication (port 8084) with
// certificates from `asrctl pki init`"); anything else is InvalidArgument.
absl::Status CheckAuthentication(absl::string_view method);

// A TCP connection a TlsListener accepted, before its TLS handshake.
//
// Thread safety: Shutdown may be called from any thread while another runs
// TlsListener::Handshake on this connection or uses the stream made from
// it; the caller keeps this object alive (and the socket number valid) until
// no thread can call Shutdown any more, and destroys the stream first.
class PendingConnection {
 public:
  ~PendingConnection();  // closes the socket unless a stream took it over
  PendingConnection(const PendingConnection&) = delete;
  PendingConnection& operator=(const PendingConnection&) = delete;

  // "10.0.0.5:51234"
  const std::string& peer() const { return peer_; }
  // The peer's IP address without the port ("10.0.0.5", "::1"): the key for
  // per-address limits.
  std::string peer_address() const;
  // shutdown(2) of both directions: wakes a handshake or a stream read
  // waiting on this connection (it then fails promptly).
  void Shutdown();

 private:
  friend class TlsListener;
  PendingConnection(int fd, std::string peer);
  int fd_;
  bool owned_;
  std::string peer_;
};

// Accepts mutually authenticated TLS 1.3 connections.
//
// Thread safety: AcceptConnection and Accept may be called from one thread
// at a time; Handshake from any number of threads at once (one call per
// connection); Close, config and port from any thread, also while
// AcceptConnection is waiting (it then returns Cancelled).
class TlsListener {
 public:
  // Loads the certificate, key, CA and revocation list (NotFound /
  // InvalidArgument naming the file; InvalidArgument when the key does not
  // match the certificate; FailedPrecondition for a revocation list that is
  // not the CA's or out of date), then binds and listens on host:port (port
  // 0: an ephemeral port, see port()). Unavailable when the address cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<TlsListener>> Listen(const std::string& host, uint16_t port,
                                                             const TlsConfig& config);
  ~TlsListener();
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  uint16_t port() const { return port_; }
  const TlsConfig& config() const;

  // Waits for the next TCP connection; nothing is read from it. Cancelled
  // once Close() was called.
  absl::StatusOr<std::unique_ptr<PendingConnection>> AcceptConnection();

  // Completes the TLS handshake of `connection` within
  // config.handshake_timeout; on success the stream owns the socket. Errors
  // concern that one connection (which the caller then destroys):
  //   Unauthenticated   — the peer presented no certificate, one not issued by
  //                       the vault CA, an expired or revoked one, or one for
  //                       another name
  //   Unavailable       — not TLS ("did not start a TLS handshake (plain
  //                       TCP?)"), not TLS 1.3, or the connection broke off
  //   DeadlineExceeded  — the handshake did not finish in time
  //   FailedPrecondition — the revocation list is missing, not the CA's or
  //                       out of date (every peer is refused until it is
  //                       re-issued)
  absl::StatusOr<std::unique_ptr<ByteStream>> Handshake(PendingConnection& connection) const;

  // AcceptConnection and Handshake in one call (a server that handles one
  // connection at a time: a silent peer holds it up for the handshake
  // timeout). Cancelled once Close() was called.
  absl::StatusOr<std::unique_ptr<ByteStream>> Accept();

  // Stops listening; a waiting AcceptConnection returns Cancelled. Streams
  // and pending connections already accepted are not affected.
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
//                       CA, has expired, is revoked or does not name
//                       config.expected_peer_name; or the server refused this
//                       host's certificate (or its absence, or as revoked)
//   FailedPrecondition — config.crl_path is missing, not the CA's or out of
//                       date
//   DeadlineExceeded  — `timeout` passed
absl::StatusOr<std::unique_ptr<ByteStream>> TlsConnect(const std::string& host, uint16_t port,
                                                       const TlsConfig& config,
                                                       absl::Duration timeout);

}  // namespace asr::net

#endif  // ASR_NET_TLS_H_
