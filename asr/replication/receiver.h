// asr/replication/receiver.h: the recovery host's side of the protocol:
// serves one sender connection against a ReplicaStore, cycle after cycle.
// The store is either given (one replica per receiver) or chosen by a
// resolver once the sender's HELLO says which disk it replicates (one
// receiver for many replicas, recovery_endpoint.h).
//
//   ASR_ASSIGN_OR_RETURN(auto store, ReplicaStore::Open(dir, options));
//   ASR_ASSIGN_OR_RETURN(auto listener, net::TlsListener::Listen("127.0.0.1", 8084, tls));
//   for (;;) {
//     ASR_ASSIGN_OR_RETURN(auto conn, listener->Accept());
//     absl::Status s = ServeConnection(*conn, *store, {});   // logs, next
//   }
//
//   // Many replicas: the resolver maps a HELLO to its replica.
//   ReplicaResolver resolve = [&](const Hello& h, absl::string_view peer)
//       -> absl::StatusOr<std::shared_ptr<ReplicaStore>> { return stores.Find(h, peer); };
//   absl::Status s = ServeConnection(*conn, resolve, {});
//
// Session states (protocol.h has the frames):
//
//                                 VERIFY_DIGESTS..., VERIFY_END
//                                +----------------------------+
//                                v                            |
//   [AwaitHello] --HELLO ok--> [Idle] --VERIFY_REQUEST--> [Verifying]
//        |                      ^  |\                     (version 4+)
//        |                      |  | \--clean close--> done (OK)
//        | refused: HELLO_REPLY |  | CYCLE_START ok
//        v  with the error      |  v
//      done                     | [Receiving] <-- BLOCK / ZERO_RANGE
//                               |      | CYCLE_END
//                               +--- apply <-- CYCLE_ACK
//                                     (the ACK once the point is durable)
//
//   Authorization comes first. One store: with the HELLO frame read but not yet
//   decoded, the stream's PeerIdentity() (the certificate's CN) must be the
//   replica's writer (ReplicaStore::AuthorizeWriter) and not
//   ServeOptions::receiver_identity. Anyone else gets HELLO_REPLY
//   PermissionDenied "host certificate CN=<its own name> is not authorized
//   to replicate to this receiver" with every replica field empty (no id,
//   point, size or block size), and the session ends; only the writer may
//   send cycles or VERIFY_REQUEST. With a resolver: the HELLO is decoded
//   (a malformed one is refused as protocol.h says), the resolver picks the
//   store from it and the peer's identity (its refusal is the reply, e.g.
//   for a disk it does not know), then that store's writer is checked as
//   above. Any refused HELLO reveals nothing of any replica (every replica
//   field of the reply empty); HELLO's identifiers are checked as
//   protocol.h says. ServeOptions::admit_cycle may refuse a CYCLE_START in
//   its CYCLE_READY (the session goes on).
//   A CYCLE_START must carry the replica's point + 1; a second session's
//   while a cycle is open is refused (Unavailable) in CYCLE_READY. A peer
//   past a cycle's bounds (replica_store.h) gets an ERROR
//   (ResourceExhausted) and the session ends, the cycle discarded.
//   Anything else in a state is a protocol violation: ERROR frame, close
//   (so is VERIFY_REQUEST when the session negotiated a version before 4).
//   Verifying digests the latest point (ReplicaStore::DigestLatestPoint);
//   a request it cannot serve is answered with an error VERIFY_END, and the
//   session returns to Idle either way.
//   A failed cycle (bad checksum, digest mismatch) is answered with an
//   error ACK and discarded; the replica stays at its previous point.
//
// Thread safety: connections may be served against one ReplicaStore on
// several threads; the store admits one open cycle at a time (a second
// session's CYCLE_START is refused with Unavailable until it ends).
#ifndef ASR_REPLICATION_RECEIVER_H_
#define ASR_REPLICATION_RECEIVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "asr/net/stream.h"
#include "asr/replication/protocol.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {

struct ServeOptions {
  // Called after each committed point (on the serving thread).
  std::function<void(uint64_t point_id, const CycleStart& start)> on_commit;
  // The newest protocol version offered to senders (at most
  // kProtocolVersion): pins a receiver to an older version, as a receiver
  // of that version would behave (tests of older peers use it).
  uint32_t max_protocol_version = kProtocolVersion;
  // This receiver's own identity (its certificate's CN): never accepted as
  // a writer, whatever the replica records.
  std::string receiver_identity;
  // Consulted before each CYCLE_START is begun, with the session's HELLO
  // (on the serving thread); a refusal is sent in CYCLE_READY with its
  // status (e.g. ResourceExhausted: the recovery host's disk is full) and
  // the session goes on. Unset: every cycle is admitted.
  std::function<absl::Status(const Hello& hello, const CycleStart& start)> admit_cycle;
  // As on_commit, with the session's HELLO (which names the disk); called
  // after on_commit.
  std::function<void(const Hello& hello, uint64_t point_id, const CycleStart& start)> on_commit_of;
};

// Picks the replica a sender's HELLO is for, given the peer's identity (its
// certificate's CN): the store, or the refusal sent in HELLO_REPLY. The
// refusal's message must say nothing of other replicas (not whether a disk
// is known to anyone else). The session holds the returned pointer until it
// ends. Called on the serving thread, once per connection.
using ReplicaResolver = std::function<absl::StatusOr<std::shared_ptr<ReplicaStore>>(
    const Hello& hello, absl::string_view peer_identity)>;

// Serves `stream` until the sender closes it (OK) or a failure (its status).
absl::Status ServeConnection(net::ByteStream& stream, ReplicaStore& store,
                             const ServeOptions& options);

// As above, against the store `resolve` picks once the HELLO is read.
absl::Status ServeConnection(net::ByteStream& stream, const ReplicaResolver& resolve,
                             const ServeOptions& options);

}  // namespace asr::replication

#endif  // ASR_REPLICATION_RECEIVER_H_
