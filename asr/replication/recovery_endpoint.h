// asr/replication/recovery_endpoint.h: the recovery site's one receiver for
// every replica it holds. One TLS listener (ReplicaServer) serves the
// senders of many disks at once; each session's replica is picked by the
// disk its HELLO names (HELLO.source_disk_id, the disk image's own id) among
// the endpoint's bindings. Replica stores are opened on a disk's first HELLO
// and kept open for its next cycles, up to a bound.
//
//   RecoveryEndpointOptions o;
//   o.admit = [&](const ReplicaBinding& b) { return fabric.CheckRecoveryDisk(b.tag); };
//   o.on_commit = [&](const ReplicaBinding& b, uint64_t point, const CycleStart& c) {
//     items.NotePoint(b.tag, point, c.source_time_us);
//   };
//   ASR_ASSIGN_OR_RETURN(auto endpoint,
//                        RecoveryEndpoint::Start("0.0.0.0", 443, tls, std::move(o)));
//   ReplicaBinding b;
//   b.source_disk_id = "{6a1f...}";            // the source VHDX's virtual disk id
//   b.dir = "/replicas/vm1/disk0";
//   b.writer = "hv-nyc-01";                    // the primary host's certificate CN
//   b.options.additional_points = 4;
//   b.tag = "vm1/disk0";
//   ASR_RETURN_IF_ERROR(endpoint->Bind(b));    // again later: new point options
//   ...
//   ASR_RETURN_IF_ERROR(endpoint->Unbind(b.source_disk_id));  // then the dir may go
//   endpoint->Stop();
//
// A binding's life:
//
//   Bind ---> [Closed] --first HELLO (writer matches, admitted)--> [Open]
//               ^   |                                                |  |
//               |   |  Bind again: tag and point options updated;    |  | more than
//               |   |  an open store applies them from its next      |  | max_open_stores
//               |   |  commit (fewer points: pruned then)            |  | open: the least
//               |   +------------------------------------------------+  | recently used idle
//               +-------------------------------------------------------+ one is closed
//
//   Unbind (from either): [Unbinding] new HELLOs are refused, and so is
//     each CYCLE_START of a session already on it; waits up to unbind_grace
//     for such a session to end, then disconnects it (a cycle in the middle
//     fails: the replica keeps its last point) and waits for it to end;
//     closes the store (its directory lock released) --> gone: the caller
//     may delete the directory.
//
// Refusals. A HELLO for a disk that is not bound, or bound to be written by
// another host, gets one and the same PermissionDenied ("host certificate
// CN=<peer> is not authorized to replicate disk '<id>' to this receiver"),
// with every replica field empty: a peer learns nothing of any replica, not
// even whether the disk is bound for someone else. The rightful writer of a
// bound disk is then checked against the store's recorded writer, as a
// one-replica receiver does (receiver.h). The `admit` hook is consulted
// before each HELLO and each CYCLE_START of a bound disk; its refusal (e.g.
// ResourceExhausted: the recovery host's disk is full) is what the sender's
// cycle returns, and the session goes on (a refused HELLO ends it).
//
// Thread safety: every method may be called from any thread. `admit` runs
// on session threads, several at once; `on_commit` on session threads, one
// call at a time (with server.log).
#ifndef ASR_REPLICATION_RECOVERY_ENDPOINT_H_
#define ASR_REPLICATION_RECOVERY_ENDPOINT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asr/net/tls.h"
#include "asr/replication/protocol.h"
#include "asr/replication/replica_server.h"
#include "asr/replication/replica_store.h"

namespace asr::replication {

// One replica the endpoint serves.
struct ReplicaBinding {
  // The sender's HELLO.source_disk_id: the source disk image's own id (a
  // VHDX's virtual disk id, "{...}"); not empty.
  std::string source_disk_id;
  std::string dir;     // the replica directory (replica_store.h)
  std::string writer;  // the only host allowed to write it: its certificate's CN
  // For opening the store (options.writer is ignored: `writer` is used).
  // additional_points, point_interval and retention may change by binding
  // again; the others apply when the store is next opened.
  ReplicaOptions options;
  std::string tag;  // the caller's name for it (e.g. "vm1/disk0"), handed back
};

struct RecoveryEndpointOptions {
  // The listener's limits, timeouts, log and serve.receiver_identity;
  // serve.admit_cycle and serve.on_commit_of are set by the endpoint.
  ReplicaServerOptions server;
  // Stores kept open at once; past it the least recently used idle ones are
  // closed (reopened on their next HELLO). Busy ones are never closed.
  int max_open_stores = 64;
  // How long Unbind waits for a session on the replica to end by itself
  // before disconnecting it.
  absl::Duration unbind_grace = absl::Seconds(30);
  // Consulted before each HELLO and CYCLE_START of a bound disk: a refusal
  // goes to the sender with its status. Unset: all admitted.
  std::function<absl::Status(const ReplicaBinding& binding)> admit;
  // After each committed point of a bound disk.
  std::function<void(const ReplicaBinding& binding, uint64_t point_id, const CycleStart& start)>
      on_commit;
};

struct RecoveryEndpointStats {
  uint64_t sessions = 0;        // HELLOs served by a bound replica
  uint64_t refused = 0;         // HELLOs refused: not bound here, admit, store not opened
  uint64_t cycles_refused = 0;  // CYCLE_STARTs refused by admit or an Unbind
  uint64_t commits = 0;         // points committed
  int active_sessions = 0;      // sessions holding a replica now
  int open_stores = 0;
  int bindings = 0;
  ReplicaServerStats server;  // the listener's own counts
};

class RecoveryEndpoint {
 public:
  // Listens on host:port (0: an ephemeral port, see port()) with `tls`;
  // errors as ReplicaServer::Start, InvalidArgument for max_open_stores
  // below 1 or a negative unbind_grace.
  static absl::StatusOr<std::unique_ptr<RecoveryEndpoint>> Start(const std::string& host,
                                                                 uint16_t port, net::TlsConfig tls,
                                                                 RecoveryEndpointOptions options);
  ~RecoveryEndpoint();  // Stop()
  RecoveryEndpoint(const RecoveryEndpoint&) = delete;
  RecoveryEndpoint& operator=(const RecoveryEndpoint&) = delete;

  uint16_t port() const;

  // Serves `binding` from now on. Idempotent; binding a bound disk again
  // updates its tag and point options. InvalidArgument for an empty or
  // malformed disk id, dir or writer, or point options out of range;
  // FailedPrecondition when the disk is bound to another dir or writer, when
  // another disk is bound to this dir, or while the disk is being unbound.
  absl::Status Bind(const ReplicaBinding& binding);

  // Stops serving the disk (see the diagram) and closes its store; returns
  // once the directory is free. NotFound when it is not bound.
  absl::Status Unbind(const std::string& source_disk_id);

  // The bindings, by disk id.
  std::vector<ReplicaBinding> Bindings() const;

  RecoveryEndpointStats stats() const;

  // Closes the listener and every session (cycles in the middle fail; the
  // replicas keep their last points), then every store. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit RecoveryEndpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace asr::replication

#endif  // ASR_REPLICATION_RECOVERY_ENDPOINT_H_
