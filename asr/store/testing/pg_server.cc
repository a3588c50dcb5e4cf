#include "asr/store/testing/pg_server.h"

#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "asr/common/status_macros.h"
#include "asr/platform/process.h"

namespace asr::store::testing {
namespace {

constexpr char kServerUser[] = "asrpg";

bool IsExecutable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

absl::StatusOr<std::string> FindBinDir() {
  if (const char* env = ::getenv("ASR_PG_BINDIR"); env != nullptr && *env != '\0') {
    if (!IsExecutable(absl::StrCat(env, "/initdb"))) {
      return absl::NotFoundError(absl::StrCat("ASR_PG_BINDIR=", env, " has no initdb"));
    }
    return std::string(env);
  }
  int best = -1;
  if (DIR* d = ::opendir("/usr/lib/postgresql"); d != nullptr) {
    while (struct dirent* e = ::readdir(d)) {
      int version = 0;
      if (absl::SimpleAtoi(e->d_name, &version) && version > best &&
          IsExecutable(absl::StrCat("/usr/lib/postgresql/", version, "/bin/initdb"))) {
        best = version;
      }
    }
    ::closedir(d);
  }
  if (best < 0) {
    return absl::NotFoundError(
        "no PostgreSQL server found under /usr/lib/postgresql: install it (tools/install-deps.sh, "
        "Debian package postgresql) or set ASR_PG_BINDIR");
  }
  return absl::StrCat("/usr/lib/postgresql/", best, "/bin");
}

std::string FindRunuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
    if (IsExecutable(p)) return p;
  }
  return "/usr/sbin/runuser";
}

// The uid and gid servers run as: asrpg (created when missing) under root,
// else the current user.
absl::Status EnsureServerUser(uid_t* uid, gid_t* gid) {
  if (::geteuid() != 0) {
    *uid = ::geteuid();
    *gid = ::getegid();
    return absl::OkStatus();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (struct passwd* pw = ::getpwnam(kServerUser); pw != nullptr) {
      *uid = pw->pw_uid;
      *gid = pw->pw_gid;
      return absl::OkStatus();
    }
    if (attempt == 0) {
      // Another test may create it at the same moment: look again after.
      platform::RunProcessOptions o;
      o.timeout = absl::Seconds(30);
      std::string useradd =
          IsExecutable("/usr/sbin/useradd") ? "/usr/sbin/useradd" : "/sbin/useradd";
      (void)platform::RunProcess(useradd,
                                 {"--system", "--user-group", "--no-create-home", "--home-dir",
                                  "/nonexistent", "--shell", "/usr/sbin/nologin", kServerUser},
                                 o);
    }
  }
  return absl::FailedPreconditionError(
      absl::StrCat("PostgreSQL refuses to run as root and the user ", kServerUser,
                   " could not be created (useradd --system ", kServerUser, ")"));
}

absl::StatusOr<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return absl::InternalError("cannot find a free port on 127.0.0.1");
  }
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

absl::StatusOr<std::string> MakeRoot(uid_t uid, gid_t gid) {
  std::string tmpl = "/tmp/asr-pg.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp under /tmp failed");
  if (::chmod(tmpl.c_str(), 0755) != 0 || ::chown(tmpl.c_str(), uid, gid) != 0) {
    return absl::InternalError(absl::StrCat("cannot hand ", tmpl, " to uid ", uid));
  }
  return tmpl;
}

absl::Status AppendToFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app);
  f << text;
  f.close();
  if (!f) return absl::InternalError(absl::StrCat("cannot append to ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> Checked(absl::StatusOr<platform::ProcessResult> r,
                                    const std::string& what) {
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::InternalError(absl::StrCat(what, " failed (exit ", r->exit_code, ", signal ",
                                            r->term_signal, "): ", r->output));
  }
  return r->output;
}

std::vector<int> ChildrenOf(int pid) {
  std::vector<int> out;
  std::ifstream f(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  int child;
  while (f >> child) out.push_back(child);
  return out;
}

bool Gone(int pid) {
  std::ifstream f(absl::StrCat("/proc/", pid, "/stat"));
  if (!f) return true;
  std::string line;
  std::getline(f, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::StartPrimary(const std::string& name) {
  std::unique_ptr<PgServer> s(new PgServer());
  ASR_ASSIGN_OR_RETURN(s->bin_dir_, FindBinDir());
  uid_t uid = 0;
  gid_t gid = 0;
  ASR_RETURN_IF_ERROR(EnsureServerUser(&uid, &gid));
  ASR_ASSIGN_OR_RETURN(s->root_, MakeRoot(uid, gid));
  s->owns_root_ = true;
  s->data_dir_ = absl::StrCat(s->root_, "/", name);
  s->log_path_ = absl::StrCat(s->root_, "/", name, ".log");
  ASR_RETURN_IF_ERROR(
      s->RunAsServerUser("initdb", {"-D", s->data_dir_, "-U", kServerUser, "--auth=trust", "-E",
                                    "UTF8", "--locale=C", "--no-sync"})
          .status());
  ASR_RETURN_IF_ERROR(s->Configure(/*standby=*/false));
  ASR_RETURN_IF_ERROR(s->Start());
  ASR_RETURN_IF_ERROR(s->CreateDatabase("asr"));
  return s;
}

PgServer::~PgServer() {
  if (running_) {
    (void)RunAsServerUser("pg_ctl", {"-D", data_dir_, "-m", "immediate", "-w", "stop"});
  }
  if (owns_root_ && !root_.empty()) {
    platform::RunProcessOptions o;
    o.timeout = absl::Seconds(60);
    (void)platform::RunProcess("/bin/rm", {"-rf", root_}, o);
  }
}

absl::Status PgServer::Configure(bool standby) {
  ASR_ASSIGN_OR_RETURN(port_, FreePort());
  std::string conf = absl::StrCat(
      "\n# asr test server\n"
      "port = ",
      port_,
      "\n"
      "listen_addresses = '127.0.0.1'\n"
      "unix_socket_directories = ''\n"
      "max_connections = 60\n"
      "shared_buffers = 32MB\n"
      "wal_level = replica\n"
      "max_wal_senders = 5\n"
      "hot_standby = on\n"
      "wal_keep_size = 64MB\n"
      "logging_collector = off\n");
  (void)standby;
  return AppendToFile(absl::StrCat(data_dir_, "/postgresql.conf"), conf);
}

absl::Status PgServer::Start() {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<std::string> out =
        RunAsServerUser("pg_ctl", {"-D", data_dir_, "-l", log_path_, "-w", "-t", "120", "start"});
    if (out.ok()) {
      running_ = true;
      return absl::OkStatus();
    }
    // Another process took the port between the probe and the start.
    if (attempt < 3 && LogTail().find("could not bind") != std::string::npos) {
      ASR_ASSIGN_OR_RETURN(port_, FreePort());
      ASR_RETURN_IF_ERROR(AppendToFile(absl::StrCat(data_dir_, "/postgresql.conf"),
                                       absl::StrCat("port = ", port_, "\n")));
      continue;
    }
    return absl::InternalError(absl::StrCat(out.status().message(), "\nserver log:\n", LogTail()));
  }
}

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::StartStandby(const std::string& name) {
  std::unique_ptr<PgServer> s(new PgServer());
  s->bin_dir_ = bin_dir_;
  s->root_ = root_;
  s->data_dir_ = absl::StrCat(root_, "/", name);
  s->log_path_ = absl::StrCat(root_, "/", name, ".log");
  ASR_RETURN_IF_ERROR(
      s->RunAsServerUser("pg_basebackup",
                         {"-h", "127.0.0.1", "-p", absl::StrCat(port_), "-U", kServerUser, "-D",
                          s->data_dir_, "-R", "-X", "stream", "-c", "fast", "--no-sync"})
          .status());
  ASR_RETURN_IF_ERROR(s->Configure(/*standby=*/true));
  ASR_RETURN_IF_ERROR(s->Start());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    ASR_ASSIGN_OR_RETURN(
        std::string n,
        Query("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", "postgres"));
    int count = 0;
    if (absl::SimpleAtoi(n, &count) && count > 0) break;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("standby ", name, " did not start streaming in 60 s:\n", s->LogTail()));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return s;
}

absl::Status PgServer::RequireSynchronousStandby() {
  ASR_RETURN_IF_ERROR(
      Query("ALTER SYSTEM SET synchronous_standby_names = '*'", "postgres").status());
  ASR_RETURN_IF_ERROR(Query("SELECT pg_reload_conf()", "postgres").status());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    ASR_ASSIGN_OR_RETURN(
        std::string n,
        Query("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'", "postgres"));
    if (n != "0" && !n.empty()) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("no standby became synchronous within 60 s");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

absl::Status PgServer::DisconnectFrom(const PgServer& primary) {
  ASR_RETURN_IF_ERROR(Query("ALTER SYSTEM SET primary_conninfo = ''", "postgres").status());
  ASR_RETURN_IF_ERROR(Query("SELECT pg_reload_conf()", "postgres").status());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (true) {
    ASR_ASSIGN_OR_RETURN(std::string n,
                         primary.Query("SELECT count(*) FROM pg_stat_replication", "postgres"));
    if (n == "0") return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError("the standby still streams 60 s after its cut-off");
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::Status PgServer::WaitForReplay(absl::Duration timeout) {
  ASR_ASSIGN_OR_RETURN(std::string target, Query("SELECT pg_current_wal_lsn()::text", "postgres"));
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    ASR_ASSIGN_OR_RETURN(
        std::string n,
        Query(absl::StrCat("SELECT count(*) FROM pg_stat_replication WHERE replay_lsn >= '", target,
                           "'::pg_lsn"),
              "postgres"));
    if (n != "0" && !n.empty()) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("no standby replayed ", target, " in time"));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
}

absl::Status PgServer::Promote() {
  return RunAsServerUser("pg_ctl", {"-D", data_dir_, "-w", "-t", "120", "promote"}).status();
}

int PgServer::PostmasterPid() const {
  std::ifstream f(absl::StrCat(data_dir_, "/postmaster.pid"));
  int pid = 0;
  f >> pid;
  return pid;
}

absl::Status PgServer::Kill() {
  int pid = PostmasterPid();
  if (pid <= 0) return absl::FailedPreconditionError("the server is not running");
  std::vector<int> all = ChildrenOf(pid);
  all.insert(all.begin(), pid);
  for (int p : all) ::kill(p, SIGKILL);
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (int p : all) {
    while (!Gone(p)) {
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("process ", p, " outlived SIGKILL"));
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  running_ = false;
  return absl::OkStatus();
}

absl::Status PgServer::Stop() {
  ASR_RETURN_IF_ERROR(
      RunAsServerUser("pg_ctl", {"-D", data_dir_, "-m", "fast", "-w", "stop"}).status());
  running_ = false;
  return absl::OkStatus();
}

std::string PgServer::Uri(const std::string& db) const {
  // The test servers have no TLS: libpq need not even try it.
  return absl::StrCat("postgresql://", kServerUser, "@127.0.0.1:", port_, "/", db,
                      "?sslmode=disable");
}

absl::StatusOr<std::string> PgServer::Query(const std::string& sql, const std::string& db) const {
  ASR_ASSIGN_OR_RETURN(
      std::string out,
      RunClient("psql", {"-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                         absl::StrCat(port_), "-U", kServerUser, "-d", db, "-c", sql}));
  return std::string(absl::StripAsciiWhitespace(out));
}

absl::Status PgServer::CreateDatabase(const std::string& db) const {
  return Query(absl::StrCat("CREATE DATABASE ", db), "postgres").status();
}

std::string PgServer::LogTail() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string all = ss.str();
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

absl::StatusOr<std::string> PgServer::RunAsServerUser(const std::string& program,
                                                      const std::vector<std::string>& args) const {
  platform::RunProcessOptions o;
  o.timeout = absl::Minutes(3);
  const std::string path = absl::StrCat(bin_dir_, "/", program);
  std::string what = absl::StrCat(program, " ", absl::StrJoin(args, " "));
  if (::geteuid() == 0) {
    std::vector<std::string> a = {"-u", kServerUser, "--", path};
    a.insert(a.end(), args.begin(), args.end());
    return Checked(platform::RunProcess(FindRunuser(), a, o), what);
  }
  return Checked(platform::RunProcess(path, args, o), what);
}

absl::StatusOr<std::string> PgServer::RunClient(const std::string& program,
                                                const std::vector<std::string>& args) const {
  platform::RunProcessOptions o;
  o.timeout = absl::Minutes(2);
  return Checked(platform::RunProcess(absl::StrCat(bin_dir_, "/", program), args, o),
                 absl::StrCat(program, " ", absl::StrJoin(args, " ")));
}

}  // namespace asr::store::testing
