// asr/protection/tls_transport.h: the Transport of a real site: mutual TLS
// 1.3 with the vault's certificates (`asrctl pki init`) to the recovery
// endpoint, which may run in this process (the embedded default) or on the
// recovery host (`asrctl site run --serve-only` there).
//
//   TransportOptions o;
//   o.pki_dir = "pki";                     // ca.pem, primary.pem, primary.key[, crl.pem]
//   o.address = "127.0.0.1:40123";         // every replica is behind this endpoint
//   ASR_ASSIGN_OR_RETURN(std::shared_ptr<Transport> t, MakeTlsTransport(o));
//
// Thread safety: thread-safe.
#ifndef ASR_PROTECTION_TLS_TRANSPORT_H_
#define ASR_PROTECTION_TLS_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/protection/transport.h"

namespace asr::replication {
class RecoveryEndpoint;
}

namespace asr::protection {

struct TransportOptions {
  // The vault PKI directory: ca.pem, crl.pem (when the vault revoked
  // anything), SENDER.pem / SENDER.key, and RECEIVER.pem / .key for an
  // endpoint in this process.
  std::string pki_dir;
  std::string sender_certificate = "primary";
  std::string receiver_certificate = "recovery";
  // "host[:port]" every sender connects to; empty: the replica host's name
  // and the policy's replication port.
  std::string address;
  // The name the receiver's certificate must carry; empty: the receiver
  // certificate's own name when the endpoint is in this process, else the
  // replica host's name.
  std::string receiver_name;
  // Spacing of kept recovery points; zero: hourly, as Hyper-V Replica
  // (drills and tests shorten it).
  absl::Duration point_interval = absl::ZeroDuration();
  absl::Duration connect_timeout = absl::Seconds(30);
  // A cycle's stream that moves nothing for this long (as the receiver's idle
  // timeout; the ACK of a large cycle may take a while) fails (DeadlineExceeded)
  // instead of hanging; the cycle's retries then resume it on a new
  // connection (asr/replication/resume.h).
  absl::Duration io_timeout = absl::Minutes(10);
  // An endpoint in this process: BindReplica binds replicas there. Null:
  // the endpoint is elsewhere and learns replicas from the state.
  replication::RecoveryEndpoint* endpoint = nullptr;
};

absl::StatusOr<std::shared_ptr<Transport>> MakeTlsTransport(const TransportOptions& options);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_TLS_TRANSPORT_H_
