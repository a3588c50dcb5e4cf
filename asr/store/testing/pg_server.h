// asr/store/testing/pg_server.h: real PostgreSQL servers for tests and
// benchmarks: a primary made with initdb and started with pg_ctl on a free
// port of 127.0.0.1, streaming-replication standbys made with
// pg_basebackup -R, synchronous replication, promotion and a hard kill.
//
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<PgServer> primary, PgServer::StartPrimary("p"));
//   ASR_ASSIGN_OR_RETURN(std::unique_ptr<PgServer> standby, primary->StartStandby("s"));
//   ASR_RETURN_IF_ERROR(primary->RequireSynchronousStandby());
//   ... OpenPgStore(primary->Uri(), ...) ...
//   ASR_RETURN_IF_ERROR(primary->Kill());       // SIGKILL, no shutdown
//   ASR_RETURN_IF_ERROR(standby->Promote());
//
// PostgreSQL refuses to run as root. Run as root (as CI does), the servers
// run as the user "asrpg", created (useradd --system) when missing, through
// runuser; otherwise as the current user. Binaries come from $ASR_PG_BINDIR,
// else the newest /usr/lib/postgresql/*/bin (Debian's postgresql package).
// Each server lives in a fresh directory under /tmp, removed when the object
// goes; the servers are stopped (immediately) then.
//
// Thread safety: one thread at a time per object.
#ifndef ASR_STORE_TESTING_PG_SERVER_H_
#define ASR_STORE_TESTING_PG_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace asr::store::testing {

class PgServer {
 public:
  // initdb, configure (trust authentication on 127.0.0.1, replication
  // allowed), pg_ctl start, and create the database "asr".
  static absl::StatusOr<std::unique_ptr<PgServer>> StartPrimary(const std::string& name);

  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // A standby of this server: pg_basebackup -R -X stream, started, and
  // streaming before this returns.
  absl::StatusOr<std::unique_ptr<PgServer>> StartStandby(const std::string& name);

  // synchronous_standby_names = '*' on this primary; waits until a standby
  // reports sync_state 'sync'. From then on a commit returns only once a
  // standby has flushed it.
  absl::Status RequireSynchronousStandby();

  // Cuts this standby off its primary (primary_conninfo = '' and a reload)
  // and waits until the primary sees no standby streaming: a standby left
  // behind, as by a network partition, while it keeps running.
  absl::Status DisconnectFrom(const PgServer& primary);

  // The primary's current WAL position has been replayed by a standby.
  absl::Status WaitForReplay(absl::Duration timeout);

  // pg_ctl promote -w: this standby becomes a primary.
  absl::Status Promote();

  // SIGKILL to the postmaster and all its processes at once: a crash, no
  // shutdown checkpoint, connections cut.
  absl::Status Kill();

  // pg_ctl stop -m fast.
  absl::Status Stop();

  // "postgresql://asrpg@127.0.0.1:PORT/DB?sslmode=disable".
  std::string Uri(const std::string& db = "asr") const;

  // Runs `sql` with psql and returns its unaligned output (trimmed).
  absl::StatusOr<std::string> Query(const std::string& sql, const std::string& db = "asr") const;

  // CREATE DATABASE `db` (a plain identifier).
  absl::Status CreateDatabase(const std::string& db) const;

  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& log_path() const { return log_path_; }
  // The end of the server's log, for failure messages.
  std::string LogTail() const;

 private:
  PgServer() = default;
  absl::Status Configure(bool standby);
  absl::Status Start();
  absl::StatusOr<std::string> RunAsServerUser(const std::string& program,
                                              const std::vector<std::string>& args) const;
  absl::StatusOr<std::string> RunClient(const std::string& program,
                                        const std::vector<std::string>& args) const;
  int PostmasterPid() const;

  std::string bin_dir_;
  std::string root_;  // removed in the destructor when owns_root_
  bool owns_root_ = false;
  std::string data_dir_;
  std::string log_path_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace asr::store::testing

#endif  // ASR_STORE_TESTING_PG_SERVER_H_
