// asr/store/pg_store.h: the state store on a PostgreSQL server, for a
// control plane whose state must outlive the machine it runs on (a primary
// server at the primary site, a streaming-replication standby at the
// recovery site).
//
// Chosen by a URI where a state directory is accepted:
//   postgresql://asr@db1.example:5432/asr
//   postgresql:///asr?host=/run/postgresql        (a Unix socket)
// Everything libpq accepts in a URI works (sslmode, options, passfile, ...);
// errors name the URI with any password replaced by "***".
//
// Tables, in the connection's schema (choose one with
// `?options=-csearch_path%3Dsite1` to keep several states in one database):
//   asr_state(key bytea primary key, value bytea)   the key-value map
//   asr_lease(id = 1, epoch, holder, session, expires_at, schema_version)
//   asr_commit(...)                                 one commit, one round trip
// bytea keys compare byte by byte, so Scan's order is the journal store's
// order whatever the database's collation.
//
// One writer at a time, across processes and machines: the writer holds the
// lease row. Opening for writing takes the lease when it is free, expired,
// or held by a session that no longer exists on this server (its process
// died, the server restarted, or this server is a promoted standby), and
// bumps the lease's epoch, the fencing token. Every commit runs in one
// transaction that first renews the lease only if its epoch is still the
// writer's: a writer that was paused or cut off while another took over
// gets Aborted ("another writer took the lease ... at epoch N") and writes
// nothing. A background thread renews the lease every third of its
// duration while the store is open; closing the store releases it.
//
// Reads are served from memory: an open loads the whole map (in one
// repeatable-read transaction) and the writer applies its own commits, like
// the journal store. A read-only open holds no lease and no connection after
// loading, and works on a hot standby too.
//
// Commit is durable when it returns as the server's commit is: fsync'd WAL
// on the primary and, with synchronous_standby_names, on a synchronous
// standby as well. When the connection breaks during a commit its outcome is
// unknown; the store then refuses further commits (Unavailable) and must be
// reopened, which reloads the state.
//
//   PgStoreOptions options;
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<PgStateStore> store,
//                        OpenPgStore("postgresql://asr@db1/asr", options));
#ifndef ASR_STORE_PG_STORE_H_
#define ASR_STORE_PG_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/store/state_store.h"

namespace asr::store {

struct PgStoreOptions {
  // Open without the writer lease; Commit fails.
  bool read_only = false;
  // Create the tables when the database has none (writable opens only).
  bool create_if_missing = true;
  // How long a writer's lease lasts without renewal: a writer that stops
  // (paused, cut off) is taken over this long after its last renewal.
  absl::Duration lease_duration = absl::Seconds(15);
  // Who this writer is, shown to the writers it keeps out. Empty: "asr
  // process PID".
  std::string holder;
  // Give up connecting after this long.
  absl::Duration connect_timeout = absl::Seconds(10);
};

class PgStateStore : public StateStore {
 public:
  // The lease epoch this writer holds (0 for a read-only store).
  virtual uint64_t lease_epoch() const = 0;
  // The URI with any password replaced by "***".
  virtual const std::string& display_uri() const = 0;
};

// Whether `location` names a PostgreSQL database ("postgresql://" or
// "postgres://") rather than a state directory.
bool IsPostgresUri(absl::string_view location);

// `uri` with the password (in the authority or a password= parameter)
// replaced by "***".
std::string RedactPostgresUri(absl::string_view uri);

// Connects, takes the writer lease unless read-only, and loads the state.
// Errors: Unavailable when the server cannot be reached (naming the URI and
// libpq's reason); FailedPrecondition "... is in use by HOLDER" while another
// writer's lease is live, or when a writable open reaches a standby (promote
// it or connect to the primary), or for a newer schema version; NotFound
// when the database holds no asr state and the open is read-only or
// create_if_missing is false; FailedPrecondition when libpq is not installed.
absl::StatusOr<std::unique_ptr<PgStateStore>> OpenPgStore(const std::string& uri,
                                                          const PgStoreOptions& options);

// What a PostgreSQL state's server says about itself, for operators.
struct PgStateStatus {
  std::string display_uri;
  bool standby = false;    // the server is in recovery (a standby)
  bool has_state = false;  // the asr tables exist
  uint64_t lease_epoch = 0;
  std::string lease_holder;       // empty when never taken
  bool lease_live = false;        // not expired
  double lease_expires_in_s = 0;  // negative once expired
  struct Standby {
    std::string name;        // application_name
    std::string sync_state;  // "sync", "async", "potential", "quorum"
    int64_t replay_lag_bytes = 0;
  };
  std::vector<Standby> standbys;  // streaming from this server (a primary)
};

absl::StatusOr<PgStateStatus> InspectPgState(const std::string& uri);

// Promotes the standby at `uri` (SELECT pg_promote()) and waits up to
// `wait` for it to accept writes. FailedPrecondition when the server is not
// a standby; PermissionDenied when the role may not promote (grant EXECUTE
// ON FUNCTION pg_promote, or run pg_ctl promote on the server).
absl::Status PromotePgStandby(const std::string& uri, absl::Duration wait);

}  // namespace asr::store

#endif  // ASR_STORE_PG_STORE_H_
