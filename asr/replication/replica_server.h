// asr/replication/replica_server.h: the recovery host's receiver as a
// server: it accepts connections on a TLS listener and serves each sender on
// its own thread, so that no peer, authenticated or not, can keep another
// from replicating.
//
//   ReplicaServerOptions o;
//   o.log = [](absl::string_view line) { std::cerr << line << "\n"; };
//   ASR_ASSIGN_OR_RETURN(auto store, ReplicaStore::Open(dir, {}));
//   ASR_ASSIGN_OR_RETURN(auto server,
//                        ReplicaServer::Start("0.0.0.0", net::kCertificateAuthPort,
//                                             net::VaultTlsConfig("/pki", "recovery"), *store, o));
//   ...                      // e.g. until SIGTERM
//   server->Stop();          // closes the listener and every session, joins the threads
//
// How a connection is handled:
//
//   accept thread: AcceptConnection (TCP only, never blocks on a peer)
//        |  over max_connections in total, or over
//        |  max_connections_per_address from the peer's IP address:
//        |  closed at once, logged ("refused a connection from ...")
//        v
//   session thread: TLS handshake (handshake_timeout)
//        |  refused (certificate, not TLS, too slow): logged
//        v
//   ServeConnection (receiver.h) with idle_timeout on every read and write:
//        a peer that stops sending is dropped after it; the outcome is logged
//
// One server may serve one replica (Start with a ReplicaStore) or many:
// Start with a ReplicaResolver (receiver.h) picks each session's replica
// from its HELLO (recovery_endpoint.h builds on it).
//
// Limits are per connection, so a peer that opens many connections only
// uses up its own address's share; the handshake and idle timeouts free
// the slots of silent peers.
//
// Thread safety: Stop, Wait, port and stats may be called from any thread.
// Sessions run concurrently on the same ReplicaStore (its methods are
// serialized; it admits one open cycle at a time). `log`, `serve.on_commit`
// and `serve.on_commit_of` are called from session threads, one call at a
// time; `serve.admit_cycle` and a resolver from session threads, at once.
#ifndef ASR_REPLICATION_REPLICA_SERVER_H_
#define ASR_REPLICATION_REPLICA_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/net/tls.h"
#include "asr/replication/receiver.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {

struct ReplicaServerOptions {
  // Connections open at once (handshaking or in session), in total and from
  // one IP address. A connection over either limit is closed at once.
  int max_connections = 64;
  int max_connections_per_address = 8;
  // Limit for the TLS handshake of each connection (overrides the TLS
  // configuration's).
  absl::Duration handshake_timeout = absl::Seconds(10);
  // An established session that makes no progress reading or writing for
  // this long is dropped (the TLS configuration's io_timeout is set to it).
  // A scan cycle of a large disk with few changes sends little while it
  // reads: keep this above the time a sender needs to read its largest disk
  // between two changed blocks.
  absl::Duration idle_timeout = absl::Minutes(10);
  // Serve one connection, then stop: Wait returns its outcome.
  bool once = false;
  // Passed to ServeConnection; on_commit and on_commit_of are called from
  // session threads (one call at a time).
  ServeOptions serve;
  // One line per refused connection and per finished session (without a
  // trailing newline), e.g. "refused a connection: peer 127.0.0.1:5000 ...".
  std::function<void(absl::string_view line)> log;
};

// What the server has done so far (for tests and status output).
struct ReplicaServerStats {
  uint64_t accepted = 0;           // TCP connections accepted
  uint64_t refused_by_limit = 0;   // closed at once: over a connection limit
  uint64_t handshakes_failed = 0;  // refused during the TLS handshake
  uint64_t sessions_ok = 0;        // served until the sender closed
  uint64_t sessions_failed = 0;    // ended by an error (idle timeout, protocol, ...)
  int open = 0;                    // connections open now
  int in_session = 0;              // of which past their handshake
};

class ReplicaServer {
 public:
  // Listens on host:port (0: an ephemeral port, see port()) with `tls`
  // (errors as net::TlsListener::Listen; InvalidArgument for limits below 1
  // or timeouts that are not positive) and starts accepting.
  static absl::StatusOr<std::unique_ptr<ReplicaServer>> Start(const std::string& host,
                                                              uint16_t port, net::TlsConfig tls,
                                                              ReplicaStore& store,
                                                              ReplicaServerOptions options);
  // As above, serving many replicas: each session's store is the one
  // `resolve` picks for its HELLO (InvalidArgument when `resolve` is empty).
  static absl::StatusOr<std::unique_ptr<ReplicaServer>> Start(const std::string& host,
                                                              uint16_t port, net::TlsConfig tls,
                                                              ReplicaResolver resolve,
                                                              ReplicaServerOptions options);
  ~ReplicaServer();  // Stop()
  ReplicaServer(const ReplicaServer&) = delete;
  ReplicaServer& operator=(const ReplicaServer&) = delete;

  uint16_t port() const;

  // Closes the listener, shuts down every connection (sessions in the
  // middle of a cycle fail; the replica keeps its last committed point) and
  // joins every thread. Returns once all is done; idempotent.
  void Stop();

  // Waits until the server has stopped: Stop was called, or (once) its one
  // connection ended, or accepting failed for good. Returns that
  // connection's outcome (once), the accept error, or OK.
  absl::Status Wait();

  // Shuts down the connections of the sessions serving `store` (resolved
  // sessions only): a cycle in the middle fails, the replica keeps its last
  // committed point, the sender sees a broken connection. Returns how many;
  // their threads end on their own.
  int Disconnect(const ReplicaStore* store);

  ReplicaServerStats stats() const;

  // Waits until `condition` holds for stats() or `timeout` passes; returns
  // whether it holds (tests wait for a state instead of sleeping).
  bool AwaitStats(const std::function<bool(const ReplicaServerStats&)>& condition,
                  absl::Duration timeout) const;

  struct Impl;

 private:
  explicit ReplicaServer(std::unique_ptr<Impl> impl);
  static absl::StatusOr<std::unique_ptr<ReplicaServer>> StartServing(
      const std::string& host, uint16_t port, net::TlsConfig tls, ReplicaStore* store,
      ReplicaResolver resolve, ReplicaServerOptions options);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_REPLICA_SERVER_H_
