#include "asr/store/pg_store.h"

#include <libpq-fe.h>

#include <cstring>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/status_macros.h"
#include "asr/platform/dynamic_library.h"
#include "asr/platform/env.h"
#include "asr/store/journal_store.h"
#include "asr/store/state_map.h"

namespace asr::store {
namespace {

// The OIDs of the parameter types sent in binary.
constexpr Oid kInt8Oid = 20;
constexpr Oid kByteaOid = 17;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kTextOid = 25;

// libpq, loaded at run time with its OpenSSL kept apart from asr's
// BoringSSL (platform/dynamic_library.h). Only the calls used here.
struct Pq {
  decltype(&PQconnectdbParams) connectdbParams;
  decltype(&PQstatus) status;
  decltype(&PQerrorMessage) errorMessage;
  decltype(&PQfinish) finish;
  decltype(&PQexec) exec;
  decltype(&PQexecParams) execParams;
  decltype(&PQresultStatus) resultStatus;
  decltype(&PQresultErrorMessage) resultErrorMessage;
  decltype(&PQresultErrorField) resultErrorField;
  decltype(&PQclear) clear;
  decltype(&PQntuples) ntuples;
  decltype(&PQgetvalue) getvalue;
  decltype(&PQgetlength) getlength;
  decltype(&PQgetisnull) getisnull;
  decltype(&PQsetNoticeProcessor) setNoticeProcessor;
  decltype(&PQtransactionStatus) transactionStatus;
  decltype(&PQnfields) nfields;
};

template <typename F>
absl::Status Bind(const platform::DynamicLibrary& lib, const char* name, F* out) {
  ASR_ASSIGN_OR_RETURN(void* address, lib.Symbol(name));
  *out = reinterpret_cast<F>(address);
  return absl::OkStatus();
}

// `keep` holds the library for the life of the process.
absl::StatusOr<Pq> LoadPqOnce(std::unique_ptr<platform::DynamicLibrary>* keep) {
  absl::StatusOr<std::unique_ptr<platform::DynamicLibrary>> lib =
      platform::DynamicLibrary::OpenIsolated("libpq.so.5");
  if (!lib.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("a postgresql:// state needs libpq (", lib.status().message(),
                     "): install it (Debian: apt-get install libpq5)"));
  }
  Pq pq;
  const platform::DynamicLibrary& l = **lib;
  ASR_RETURN_IF_ERROR(Bind(l, "PQconnectdbParams", &pq.connectdbParams));
  ASR_RETURN_IF_ERROR(Bind(l, "PQstatus", &pq.status));
  ASR_RETURN_IF_ERROR(Bind(l, "PQerrorMessage", &pq.errorMessage));
  ASR_RETURN_IF_ERROR(Bind(l, "PQfinish", &pq.finish));
  ASR_RETURN_IF_ERROR(Bind(l, "PQexec", &pq.exec));
  ASR_RETURN_IF_ERROR(Bind(l, "PQexecParams", &pq.execParams));
  ASR_RETURN_IF_ERROR(Bind(l, "PQresultStatus", &pq.resultStatus));
  ASR_RETURN_IF_ERROR(Bind(l, "PQresultErrorMessage", &pq.resultErrorMessage));
  ASR_RETURN_IF_ERROR(Bind(l, "PQresultErrorField", &pq.resultErrorField));
  ASR_RETURN_IF_ERROR(Bind(l, "PQclear", &pq.clear));
  ASR_RETURN_IF_ERROR(Bind(l, "PQntuples", &pq.ntuples));
  ASR_RETURN_IF_ERROR(Bind(l, "PQgetvalue", &pq.getvalue));
  ASR_RETURN_IF_ERROR(Bind(l, "PQgetlength", &pq.getlength));
  ASR_RETURN_IF_ERROR(Bind(l, "PQgetisnull", &pq.getisnull));
  ASR_RETURN_IF_ERROR(Bind(l, "PQsetNoticeProcessor", &pq.setNoticeProcessor));
  ASR_RETURN_IF_ERROR(Bind(l, "PQtransactionStatus", &pq.transactionStatus));
  ASR_RETURN_IF_ERROR(Bind(l, "PQnfields", &pq.nfields));
  *keep = std::move(*lib);
  return pq;
}

absl::StatusOr<const Pq*> LoadPq() {
  struct Loaded {
    std::unique_ptr<platform::DynamicLibrary> library;  // never unloaded
    absl::StatusOr<Pq> pq;
  };
  static Loaded* const loaded = [] {
    auto* l = new Loaded();
    l->pq = LoadPqOnce(&l->library);
    return l;
  }();
  if (!loaded->pq.ok()) return loaded->pq.status();
  return &*loaded->pq;
}

void IgnoreNotice(void*, const char*) {}

std::string FirstLine(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  size_t nl = s.find('\n');
  return std::string(nl == absl::string_view::npos ? s : s.substr(0, nl));
}

void PutBe32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string Be64(uint64_t v) {
  std::string out;
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  return out;
}

// A one-dimensional bytea[] in PostgreSQL's binary array format.
std::string ByteaArray(const std::vector<const std::string*>& items) {
  std::string out;
  PutBe32(&out, items.empty() ? 0 : 1);  // dimensions
  PutBe32(&out, 0);                      // no NULLs
  PutBe32(&out, kByteaOid);
  if (!items.empty()) {
    PutBe32(&out, static_cast<uint32_t>(items.size()));
    PutBe32(&out, 1);  // lower bound
  }
  for (const std::string* s : items) {
    PutBe32(&out, static_cast<uint32_t>(s->size()));
    out.append(*s);
  }
  return out;
}

// The result of one statement, cleared when it goes.
class Result {
 public:
  Result(const Pq* pq, PGresult* r) : pq_(pq), r_(r) {}
  Result(Result&& o) noexcept : pq_(o.pq_), r_(o.r_) { o.r_ = nullptr; }
  Result& operator=(Result&&) = delete;
  ~Result() {
    if (r_ != nullptr) pq_->clear(r_);
  }
  int rows() const { return pq_->ntuples(r_); }
  absl::string_view Value(int row, int col) const {
    return absl::string_view(pq_->getvalue(r_, row, col),
                             static_cast<size_t>(pq_->getlength(r_, row, col)));
  }
  bool IsNull(int row, int col) const { return pq_->getisnull(r_, row, col) != 0; }

 private:
  const Pq* pq_;
  PGresult* r_;
};

// SQL run once per writable open (idempotent), under a transaction-scoped
// advisory lock so that two first opens do not race on CREATE.
constexpr char kCreateSchema[] = R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(7310594371262742130);
CREATE TABLE IF NOT EXISTS asr_state (key bytea PRIMARY KEY, value bytea NOT NULL);
CREATE TABLE IF NOT EXISTS asr_lease (
  id int PRIMARY KEY CHECK (id = 1),
  epoch bigint NOT NULL,
  holder text NOT NULL,
  session text NOT NULL,
  expires_at timestamptz NOT NULL,
  schema_version int NOT NULL);
INSERT INTO asr_lease VALUES (1, 0, '', '', 'epoch', 1) ON CONFLICT (id) DO NOTHING;
CREATE OR REPLACE FUNCTION asr_commit(mine bigint, lease_ms bigint, dels bytea[],
                                      put_keys bytea[], put_values bytea[])
RETURNS bigint LANGUAGE plpgsql AS $f$
DECLARE
  current_epoch bigint;
BEGIN
  UPDATE asr_lease SET expires_at = now() + lease_ms * interval '1 millisecond'
    WHERE id = 1 AND epoch = mine;
  IF NOT FOUND THEN
    SELECT epoch INTO current_epoch FROM asr_lease WHERE id = 1;
    RETURN current_epoch;
  END IF;
  IF cardinality(dels) > 0 THEN
    DELETE FROM asr_state WHERE key = ANY (dels);
  END IF;
  IF cardinality(put_keys) > 0 THEN
    INSERT INTO asr_state (key, value)
      SELECT k, v FROM unnest(put_keys, put_values) AS t (k, v)
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
  END IF;
  RETURN mine;
END
$f$;
COMMIT;
)sql";

// This backend's session, as other sessions on the same server can find it
// in pg_stat_activity: "PID@POSTMASTER-START". After a server restart or on
// a promoted standby no session matches it.
constexpr char kSessionExpr[] =
    "pg_backend_pid()::text || '@' || extract(epoch from pg_postmaster_start_time())::text";

class PgStore final : public PgStateStore {
 public:
  PgStore(const Pq* pq, std::string uri, PgStoreOptions options)
      : pq_(pq),
        uri_(std::move(uri)),
        display_(RedactPostgresUri(uri_)),
        options_(std::move(options)) {
    if (options_.holder.empty()) {
      options_.holder = absl::StrCat("asr process ", platform::ProcessId());
    }
  }

  ~PgStore() override {
    if (renewer_.joinable()) {
      {
        absl::MutexLock l(&stop_mu_);
        stop_ = true;
      }
      renewer_.join();
    }
    absl::MutexLock l(&conn_mu_);
    if (conn_ != nullptr) {
      if (!options_.read_only && healthy_.ok() && epoch_ > 0) {
        // Hand the lease back so that the next writer need not wait.
        (void)ExecLocked(
            "UPDATE asr_lease SET expires_at = 'epoch', session = '' "
            "WHERE id = 1 AND epoch = $1::bigint",
            {Be64(epoch_)}, {kInt8Oid}, 0, "release the writer lease");
      }
      pq_->finish(conn_);
      conn_ = nullptr;
    }
  }

  absl::Status Open() {
    absl::MutexLock l(&conn_mu_);
    ASR_RETURN_IF_ERROR(ConnectLocked());
    if (options_.read_only) {
      ASR_RETURN_IF_ERROR(LoadReadOnlyLocked());
      pq_->finish(conn_);
      conn_ = nullptr;
      return absl::OkStatus();
    }
    ASR_ASSIGN_OR_RETURN(Result rec, ExecLocked("SELECT pg_is_in_recovery()::text", {}, {}, 0,
                                                "ask whether the server is a standby"));
    if (rec.rows() == 1 && rec.Value(0, 0) == "true") {
      return absl::FailedPreconditionError(absl::StrCat(
          display_,
          " is a standby server in recovery (read-only): promote it first (pg_ctl promote, or "
          "SELECT pg_promote()) to write there, or open the state read-only"));
    }
    ASR_ASSIGN_OR_RETURN(bool exists, SchemaExistsLocked());
    if (!exists && !options_.create_if_missing) {
      return absl::NotFoundError(absl::StrCat(
          display_, " holds no asr state (no asr_lease table in the connection's schema)"));
    }
    ASR_RETURN_IF_ERROR(ExecScriptLocked(kCreateSchema, "create the asr tables"));
    ASR_RETURN_IF_ERROR(TakeLeaseLocked());
    renewer_ = std::thread([this] { RenewLoop(); });
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    absl::MutexLock l(&mu_);
    return GetFromStateMap(data_, key);
  }

  std::vector<std::pair<std::string, std::string>> Scan(absl::string_view prefix) const override {
    absl::MutexLock l(&mu_);
    return ScanStateMap(data_, prefix);
  }

  absl::Status Commit(const WriteBatch& batch) override {
    if (options_.read_only) {
      return absl::FailedPreconditionError(absl::StrCat("state ", display_, " is open read-only"));
    }
    if (batch.empty()) return absl::OkStatus();
    absl::MutexLock l(&conn_mu_);
    if (!healthy_.ok()) return healthy_;
    // The batch's net effect per key: its ops apply in order, so the last
    // one on a key wins.
    std::map<std::string, const WriteBatch::Op*> last;
    for (const WriteBatch::Op& op : batch.ops()) last[op.key] = &op;
    std::vector<const std::string*> dels, keys, values;
    for (const auto& [key, op] : last) {
      if (op->is_delete) {
        dels.push_back(&op->key);
      } else {
        keys.push_back(&op->key);
        values.push_back(&op->value);
      }
    }
    absl::StatusOr<Result> r = ExecLocked(
        "SELECT asr_commit($1::bigint, $2::bigint, $3::bytea[], $4::bytea[], $5::bytea[])::text",
        {Be64(epoch_), Be64(LeaseMillis()), ByteaArray(dels), ByteaArray(keys), ByteaArray(values)},
        {kInt8Oid, kInt8Oid, kByteaArrayOid, kByteaArrayOid, kByteaArrayOid}, 0, "commit");
    if (!r.ok()) {
      if (pq_->status(conn_) != CONNECTION_OK) {
        healthy_ = absl::UnavailableError(absl::StrCat(
            "lost the connection to ", display_, " during a commit, whose outcome is unknown (",
            r.status().message(), "): reopen the state to continue"));
        return healthy_;
      }
      return r.status();
    }
    uint64_t current = 0;
    if (r->rows() != 1 || !absl::SimpleAtoi(r->Value(0, 0), &current)) {
      return absl::InternalError(absl::StrCat(display_, ": asr_commit returned no epoch"));
    }
    if (current != epoch_) {
      healthy_ = Fenced(current);
      return healthy_;
    }
    absl::MutexLock d(&mu_);
    for (const WriteBatch::Op& op : batch.ops()) {
      if (op.is_delete) {
        data_.erase(op.key);
      } else {
        data_[op.key] = op.value;
      }
    }
    return absl::OkStatus();
  }

  // PostgreSQL's autovacuum reclaims the space of old row versions.
  absl::Status Compact() override {
    if (options_.read_only) {
      return absl::FailedPreconditionError(absl::StrCat("state ", display_, " is open read-only"));
    }
    return absl::OkStatus();
  }

  bool read_only() const override { return options_.read_only; }

  uint64_t lease_epoch() const override {
    absl::MutexLock l(&conn_mu_);
    return epoch_;
  }

  const std::string& display_uri() const override { return display_; }

 private:
  int64_t LeaseMillis() const { return absl::ToInt64Milliseconds(options_.lease_duration); }

  absl::Status Fenced(uint64_t current) const {
    return absl::AbortedError(absl::StrCat(
        "another writer took the lease of ", display_, " at epoch ", current,
        " (this writer held epoch ", epoch_,
        "): nothing was written; stop writing here and reopen the state to become the writer "
        "again"));
  }

  absl::Status ConnectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    const std::string timeout =
        absl::StrCat(std::max<int64_t>(2, absl::ToInt64Seconds(options_.connect_timeout)));
    // Earlier keywords are overridden by what the URI itself says. TCP
    // keepalives and a user timeout turn a silent partition into an error
    // within about 30 s instead of the system's two hours.
    const char* keywords[] = {
        "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "dbname",          nullptr};
    const char* values[] = {timeout.c_str(), "asr", "10", "5", "3", "30000", uri_.c_str(), nullptr};
    conn_ = pq_->connectdbParams(keywords, values, /*expand_dbname=*/1);
    if (conn_ == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot connect to ", display_, ": out of memory"));
    }
    if (pq_->status(conn_) != CONNECTION_OK) {
      std::string why = FirstLine(pq_->errorMessage(conn_));
      pq_->finish(conn_);
      conn_ = nullptr;
      return absl::UnavailableError(absl::StrCat(
          "cannot connect to the state database ", display_, ": ", why,
          " (check that the server runs and the URI's host, port, user and database)"));
    }
    pq_->setNoticeProcessor(conn_, IgnoreNotice, nullptr);
    return absl::OkStatus();
  }

  absl::Status ErrorOf(PGresult* r, absl::string_view what) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    std::string message = r != nullptr ? FirstLine(pq_->resultErrorMessage(r)) : "";
    if (message.empty()) message = FirstLine(pq_->errorMessage(conn_));
    const char* state = r != nullptr ? pq_->resultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string sqlstate = state != nullptr ? state : "";
    std::string text = absl::StrCat("cannot ", what, " on ", display_, ": ", message);
    if (sqlstate == "25006") {
      return absl::FailedPreconditionError(absl::StrCat(
          text, " (the server is read-only: a standby; promote it or connect to the primary)"));
    }
    if (pq_->status(conn_) != CONNECTION_OK || absl::StartsWith(sqlstate, "08") ||
        absl::StartsWith(sqlstate, "57P")) {
      return absl::UnavailableError(text);
    }
    if (sqlstate == "42P01" || sqlstate == "42883") {
      return absl::NotFoundError(absl::StrCat(text, " (the database holds no asr state)"));
    }
    if (absl::StartsWith(sqlstate, "42501")) return absl::PermissionDeniedError(text);
    return absl::InternalError(text);
  }

  // One statement with binary parameters; rows in text (result_format 0) or
  // binary (1).
  absl::StatusOr<Result> ExecLocked(const char* sql, const std::vector<std::string>& params,
                                    const std::vector<Oid>& types, int result_format,
                                    absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    for (const std::string& p : params) {
      values.push_back(p.data());
      lengths.push_back(static_cast<int>(p.size()));
      formats.push_back(1);
    }
    PGresult* r = pq_->execParams(conn_, sql, static_cast<int>(params.size()),
                                  types.empty() ? nullptr : types.data(), values.data(),
                                  lengths.data(), formats.data(), result_format);
    ExecStatusType st = r != nullptr ? pq_->resultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      absl::Status s = ErrorOf(r, what);
      if (r != nullptr) pq_->clear(r);
      return s;
    }
    return Result(pq_, r);
  }

  // Several statements (simple protocol); rolls back an open transaction on
  // failure.
  absl::Status ExecScriptLocked(const char* sql, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    PGresult* r = pq_->exec(conn_, sql);
    ExecStatusType st = r != nullptr ? pq_->resultStatus(r) : PGRES_FATAL_ERROR;
    absl::Status s;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) s = ErrorOf(r, what);
    if (r != nullptr) pq_->clear(r);
    if (!s.ok() && pq_->status(conn_) == CONNECTION_OK &&
        pq_->transactionStatus(conn_) != PQTRANS_IDLE) {
      PGresult* rb = pq_->exec(conn_, "ROLLBACK");
      if (rb != nullptr) pq_->clear(rb);
    }
    return s;
  }

  absl::StatusOr<bool> SchemaExistsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    ASR_ASSIGN_OR_RETURN(Result r, ExecLocked("SELECT (to_regclass('asr_lease') IS NOT NULL AND "
                                              "to_regclass('asr_state') IS NOT NULL)::text",
                                              {}, {}, 0, "look for the asr tables"));
    return r.rows() == 1 && r.Value(0, 0) == "true";
  }

  absl::Status CheckSchemaVersion(absl::string_view text) const {
    uint32_t version = 0;
    if (!absl::SimpleAtoi(text, &version)) {
      return absl::DataLossError(
          absl::StrCat(display_, ": asr_lease.schema_version is not a number"));
    }
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat(display_, " was written by a newer asr (state schema version ", version,
                       "); this build reads schema versions up to ", kSchemaVersion,
                       ": upgrade asr to open this state"));
    }
    return absl::OkStatus();
  }

  // The whole map, read inside the caller's transaction.
  absl::Status LoadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    ASR_ASSIGN_OR_RETURN(
        Result r, ExecLocked("SELECT key, value FROM asr_state", {}, {}, 1, "read the state"));
    StateMap data;
    for (int i = 0; i < r.rows(); ++i) {
      data.emplace(std::string(r.Value(i, 0)), std::string(r.Value(i, 1)));
    }
    absl::MutexLock l(&mu_);
    data_ = std::move(data);
    return absl::OkStatus();
  }

  absl::Status LoadReadOnlyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    ASR_RETURN_IF_ERROR(ExecScriptLocked("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                                         "start a read-only transaction"));
    absl::Status s = [&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(bool exists, SchemaExistsLocked());
      if (!exists) {
        return absl::NotFoundError(absl::StrCat(
            display_, " holds no asr state (no asr_lease table in the connection's schema)"));
      }
      ASR_ASSIGN_OR_RETURN(Result v, ExecLocked("SELECT schema_version::text FROM asr_lease", {},
                                                {}, 0, "read the schema version"));
      if (v.rows() == 1) ASR_RETURN_IF_ERROR(CheckSchemaVersion(v.Value(0, 0)));
      return LoadLocked();
    }();
    ASR_RETURN_IF_ERROR(ExecScriptLocked(s.ok() ? "COMMIT" : "ROLLBACK", "end the transaction"));
    return s;
  }

  // Takes the lease (epoch + 1) and loads the state in one transaction: the
  // lease row stays locked until it commits, so no other writer's commit
  // lands in between.
  absl::Status TakeLeaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(conn_mu_) {
    ASR_RETURN_IF_ERROR(ExecScriptLocked("BEGIN", "start a transaction"));
    absl::Status s = [&]() -> absl::Status {
      ASR_ASSIGN_OR_RETURN(
          Result r,
          ExecLocked("SELECT l.epoch::text, l.holder, l.schema_version::text, "
                     "(l.expires_at > now())::text, "
                     "round(extract(epoch from (l.expires_at - now()))::numeric, 1)::text, "
                     "EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid::text || '@' || "
                     "extract(epoch from pg_postmaster_start_time())::text = l.session)::text "
                     "FROM asr_lease l WHERE l.id = 1 FOR UPDATE",
                     {}, {}, 0, "read the writer lease"));
      if (r.rows() != 1) {
        return absl::DataLossError(absl::StrCat(display_, ": the asr_lease row is missing"));
      }
      ASR_RETURN_IF_ERROR(CheckSchemaVersion(r.Value(0, 2)));
      const bool live = r.Value(0, 3) == "true";
      const bool holder_connected = r.Value(0, 5) == "true";
      if (live && holder_connected) {
        return absl::FailedPreconditionError(absl::StrCat(
            "state ", display_, " is in use by ", r.Value(0, 1), " (writer lease epoch ",
            r.Value(0, 0), ", renewed, expires in ", r.Value(0, 4),
            " s): only one writer at a time; stop that writer, or wait for its lease to expire "
            "if it is stuck, or open the state read-only"));
      }
      ASR_ASSIGN_OR_RETURN(
          Result taken,
          ExecLocked(absl::StrCat("UPDATE asr_lease SET epoch = epoch + 1, holder = $1::text, "
                                  "session = ",
                                  kSessionExpr,
                                  ", expires_at = now() + $2::bigint * interval '1 "
                                  "millisecond' WHERE id = 1 RETURNING epoch::text")
                         .c_str(),
                     {options_.holder, Be64(LeaseMillis())}, {kTextOid, kInt8Oid}, 0,
                     "take the writer lease"));
      if (taken.rows() != 1 || !absl::SimpleAtoi(taken.Value(0, 0), &epoch_)) {
        return absl::InternalError(absl::StrCat(display_, ": taking the lease returned no epoch"));
      }
      return LoadLocked();
    }();
    if (!s.ok()) {
      (void)ExecScriptLocked("ROLLBACK", "end the transaction");
      epoch_ = 0;
      return s;
    }
    return ExecScriptLocked("COMMIT", "take the writer lease");
  }

  void RenewLoop() {
    const absl::Duration every = options_.lease_duration / 3;
    while (true) {
      {
        absl::MutexLock l(&stop_mu_);
        if (stop_mu_.AwaitWithTimeout(absl::Condition(&stop_), every)) return;
      }
      absl::MutexLock l(&conn_mu_);
      if (!healthy_.ok()) continue;
      absl::StatusOr<Result> r = ExecLocked(
          "UPDATE asr_lease SET expires_at = now() + $2::bigint * interval '1 millisecond' "
          "WHERE id = 1 AND epoch = $1::bigint RETURNING epoch::text",
          {Be64(epoch_), Be64(LeaseMillis())}, {kInt8Oid, kInt8Oid}, 0, "renew the writer lease");
      if (!r.ok()) {
        if (pq_->status(conn_) != CONNECTION_OK) {
          healthy_ = absl::UnavailableError(absl::StrCat("lost the connection to ", display_, " (",
                                                         r.status().message(),
                                                         "): reopen the state to continue"));
        }
        continue;
      }
      if (r->rows() == 0) {
        absl::StatusOr<Result> now = ExecLocked("SELECT epoch::text FROM asr_lease WHERE id = 1",
                                                {}, {}, 0, "read the writer lease");
        uint64_t current = 0;
        if (now.ok() && now->rows() == 1) (void)absl::SimpleAtoi(now->Value(0, 0), &current);
        healthy_ = Fenced(current);
      }
    }
  }

  const Pq* const pq_;
  const std::string uri_;
  const std::string display_;
  PgStoreOptions options_;

  mutable absl::Mutex conn_mu_;  // the connection and the lease; taken before mu_
  PGconn* conn_ ABSL_GUARDED_BY(conn_mu_) = nullptr;
  uint64_t epoch_ ABSL_GUARDED_BY(conn_mu_) = 0;
  absl::Status healthy_ ABSL_GUARDED_BY(conn_mu_);

  mutable absl::Mutex mu_;
  StateMap data_ ABSL_GUARDED_BY(mu_);

  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread renewer_;
};

// A connection for one operator query, closed when it goes.
class OneShot {
 public:
  OneShot(const Pq* pq, std::string display) : pq_(pq), display_(std::move(display)) {}
  ~OneShot() {
    if (conn_ != nullptr) pq_->finish(conn_);
  }
  absl::Status Connect(const std::string& uri) {
    const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "asr", uri.c_str(), nullptr};
    conn_ = pq_->connectdbParams(keywords, values, 1);
    if (conn_ == nullptr || pq_->status(conn_) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to the state database ", display_, ": ",
                       conn_ != nullptr ? FirstLine(pq_->errorMessage(conn_)) : "out of memory",
                       " (check that the server runs and the URI's host, port, user and "
                       "database)"));
    }
    pq_->setNoticeProcessor(conn_, IgnoreNotice, nullptr);
    return absl::OkStatus();
  }
  // Rows of text values.
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(const char* sql,
                                                              absl::string_view what) {
    PGresult* r = pq_->exec(conn_, sql);
    ExecStatusType st = r != nullptr ? pq_->resultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      std::string message =
          FirstLine(r != nullptr ? pq_->resultErrorMessage(r) : pq_->errorMessage(conn_));
      const char* code = r != nullptr ? pq_->resultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
      std::string sqlstate = code != nullptr ? code : "";
      if (r != nullptr) pq_->clear(r);
      std::string text = absl::StrCat("cannot ", what, " on ", display_, ": ", message);
      if (sqlstate == "42501") return absl::PermissionDeniedError(text);
      if (sqlstate == "55000") return absl::FailedPreconditionError(text);
      return absl::InternalError(text);
    }
    Result result(pq_, r);
    std::vector<std::vector<std::string>> rows;
    for (int i = 0; i < result.rows(); ++i) {
      std::vector<std::string> row;
      for (int c = 0; c < pq_->nfields(r); ++c) row.emplace_back(result.Value(i, c));
      rows.push_back(std::move(row));
    }
    return rows;
  }

 private:
  const Pq* pq_;
  std::string display_;
  PGconn* conn_ = nullptr;
};

}  // namespace

absl::StatusOr<PgStateStatus> InspectPgState(const std::string& uri) {
  if (!IsPostgresUri(uri)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", RedactPostgresUri(uri), "' is not a PostgreSQL URI"));
  }
  ASR_ASSIGN_OR_RETURN(const Pq* pq, LoadPq());
  PgStateStatus out;
  out.display_uri = RedactPostgresUri(uri);
  OneShot c(pq, out.display_uri);
  ASR_RETURN_IF_ERROR(c.Connect(uri));
  ASR_ASSIGN_OR_RETURN(auto rec, c.Query("SELECT pg_is_in_recovery()::text, (to_regclass("
                                         "'asr_lease') IS NOT NULL)::text",
                                         "read the server's role"));
  out.standby = rec.size() == 1 && rec[0][0] == "true";
  out.has_state = rec.size() == 1 && rec[0][1] == "true";
  if (out.has_state) {
    ASR_ASSIGN_OR_RETURN(
        auto lease, c.Query("SELECT epoch::text, holder, (expires_at > now())::text, "
                            "round(extract(epoch from (expires_at - now()))::numeric, 1)::text "
                            "FROM asr_lease WHERE id = 1",
                            "read the writer lease"));
    if (lease.size() == 1) {
      (void)absl::SimpleAtoi(lease[0][0], &out.lease_epoch);
      out.lease_holder = lease[0][1];
      out.lease_live = lease[0][2] == "true";
      (void)absl::SimpleAtod(lease[0][3], &out.lease_expires_in_s);
    }
  }
  if (!out.standby) {
    ASR_ASSIGN_OR_RETURN(
        auto standbys,
        c.Query("SELECT application_name, sync_state, "
                "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint::text "
                "FROM pg_stat_replication ORDER BY application_name",
                "read the standbys"));
    for (const auto& row : standbys) {
      PgStateStatus::Standby s;
      s.name = row[0];
      s.sync_state = row[1];
      (void)absl::SimpleAtoi(row[2], &s.replay_lag_bytes);
      out.standbys.push_back(std::move(s));
    }
  }
  return out;
}

absl::Status PromotePgStandby(const std::string& uri, absl::Duration wait) {
  ASR_ASSIGN_OR_RETURN(PgStateStatus status, InspectPgState(uri));
  if (!status.standby) {
    return absl::FailedPreconditionError(
        absl::StrCat(status.display_uri, " is not a standby (it accepts writes already)"));
  }
  ASR_ASSIGN_OR_RETURN(const Pq* pq, LoadPq());
  OneShot c(pq, status.display_uri);
  ASR_RETURN_IF_ERROR(c.Connect(uri));
  const std::string sql = absl::StrCat("SELECT pg_promote(true, ",
                                       std::max<int64_t>(1, absl::ToInt64Seconds(wait)), ")::text");
  absl::StatusOr<std::vector<std::vector<std::string>>> r = c.Query(sql.c_str(), "promote");
  if (absl::IsPermissionDenied(r.status())) {
    return absl::PermissionDeniedError(absl::StrCat(
        r.status().message(),
        " (grant EXECUTE ON FUNCTION pg_promote to this role, or run pg_ctl promote on the "
        "server)"));
  }
  if (!r.ok()) return r.status();
  if (r->size() != 1 || (*r)[0][0] != "true") {
    return absl::DeadlineExceededError(absl::StrCat(
        status.display_uri, " did not finish ", "promotion within ", absl::FormatDuration(wait)));
  }
  return absl::OkStatus();
}

bool IsPostgresUri(absl::string_view location) {
  return absl::StartsWith(location, "postgresql://") || absl::StartsWith(location, "postgres://");
}

std::string RedactPostgresUri(absl::string_view uri) {
  std::string out(uri);
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t start = scheme + 3;
    size_t end = out.find_first_of("/?#", start);
    if (end == std::string::npos) end = out.size();
    size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... among the query parameters.
  size_t query = out.find('?');
  while (query != std::string::npos) {
    size_t p = out.find("password=", query);
    if (p == std::string::npos) break;
    if (out[p - 1] != '?' && out[p - 1] != '&') {
      query = p + 1;
      continue;
    }
    size_t v = p + strlen("password=");
    size_t e = out.find('&', v);
    if (e == std::string::npos) e = out.size();
    out.replace(v, e - v, "***");
    query = v + 3;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<PgStateStore>> OpenPgStore(const std::string& uri,
                                                          const PgStoreOptions& options) {
  if (!IsPostgresUri(uri)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", RedactPostgresUri(uri),
                     "' is not a PostgreSQL URI: write postgresql://[user@]host[:port]/database"));
  }
  if (!options.read_only && options.lease_duration < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat("a writer lease of ",
                                                   absl::FormatDuration(options.lease_duration),
                                                   " is too short: give at least 1s"));
  }
  ASR_ASSIGN_OR_RETURN(const Pq* pq, LoadPq());
  auto store = std::make_unique<PgStore>(pq, uri, options);
  ASR_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<PgStateStore>(std::move(store));
}

}  // namespace asr::store
