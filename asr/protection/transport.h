// asr/protection/transport.h: how protection reaches the recovery side of a
// protected VM's replicas: the recovery endpoint that holds them (one per
// site, serving every replica; replication/recovery_endpoint.h) and the TLS
// identity replicas accept as their writer.
//
//   TransportOptions o;
//   o.pki_dir = "/etc/asr/pki";                 // ca.pem, primary.pem/.key, crl.pem
//   o.endpoint = local_endpoint.get();           // this process also receives
//   ASR_ASSIGN_OR_RETURN(std::shared_ptr<Transport> t, MakeTlsTransport(o));
//   sr->protection().SetTransport(t);
//
// Thread safety: implementations are thread-safe.
#ifndef ASR_PROTECTION_TRANSPORT_H_
#define ASR_PROTECTION_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/model/protection.pb.h"
#include "asr/net/stream.h"

namespace asr::protection {

// What a protected disk's replica keeps, from the policy.
struct ReplicaRetention {
  int additional_points = 0;                       // besides the latest
  absl::Duration point_interval = absl::Hours(1);  // hourly points, as Hyper-V Replica
  absl::Duration retention = absl::Hours(24);
};

class Transport {
 public:
  virtual ~Transport() = default;
  // The certificate name (CN) of the sending side: every replica of this
  // site is bound to it as its one writer.
  virtual std::string writer_identity() const = 0;
  // Makes the recovery side ready to receive `disk` of `item` into
  // disk.replica_dir() with `retention` (again with other values: the new
  // retention applies from the next point). A recovery endpoint in another
  // process learns the replicas from the state instead; then this only
  // checks what it can.
  virtual absl::Status BindReplica(const model::ProtectedItem& item,
                                   const model::ProtectedDisk& disk,
                                   const ReplicaRetention& retention) = 0;
  // The recovery side forgets the replica (closes it), so that its files may
  // be deleted.
  virtual absl::Status UnbindReplica(const model::ProtectedDisk& disk) = 0;
  // A mutually authenticated connection to the endpoint holding `item`'s
  // replicas; `port` is the policy's replication port (an endpoint address
  // given in the options overrides it).
  virtual absl::StatusOr<std::unique_ptr<net::ByteStream>> Connect(const model::ProtectedItem& item,
                                                                   int port) = 0;
  // Where the endpoint is, for messages ("127.0.0.1:40123", "hv-chi-01:8084").
  virtual std::string Describe(const model::ProtectedItem& item, int port) const = 0;
};

}  // namespace asr::protection

#endif  // ASR_PROTECTION_TRANSPORT_H_
