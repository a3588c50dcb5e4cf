#include "asr/replication/replica_server.h"

#include <list>
#include <map>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/status_macros.h"

namespace asr::replication {

// One connection: its thread and, while the socket may still be shut down
// from Stop, the pending connection that owns (or owned) the socket.
struct Session {
  std::unique_ptr<net::PendingConnection> conn;
  std::string address;                  // the peer's IP address: the per-address key
  bool can_shutdown = true;             // false once the session's socket may be closed
  bool done = false;                    // the thread has finished (join it)
  const ReplicaStore* store = nullptr;  // resolved for the session's HELLO
  std::thread thread;
};

struct ReplicaServer::Impl {
  std::unique_ptr<net::TlsListener> listener;
  ReplicaStore* store = nullptr;  // one store, else `resolve` picks it
  ReplicaResolver resolve;
  ReplicaServerOptions options;
  std::thread accept_thread;

  mutable absl::Mutex mu;
  std::list<Session> sessions ABSL_GUARDED_BY(mu);
  std::map<std::string, int> per_address ABSL_GUARDED_BY(mu);
  ReplicaServerStats stats ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool accept_ended ABSL_GUARDED_BY(mu) = false;
  absl::Status outcome ABSL_GUARDED_BY(mu);  // once: the session's; else an accept error

  absl::Mutex stop_mu;  // serializes Stop
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;

  absl::Mutex callback_mu;  // one log / on_commit call at a time

  void Log(const std::string& line) {
    if (!options.log) return;
    absl::MutexLock l(&callback_mu);
    options.log(line);
  }

  // Joins finished session threads.
  void Reap() {
    std::list<Session> finished;
    {
      absl::MutexLock l(&mu);
      for (auto it = sessions.begin(); it != sessions.end();) {
        if (it->done) {
          auto next = std::next(it);
          finished.splice(finished.end(), sessions, it);
          it = next;
        } else {
          ++it;
        }
      }
    }
    for (Session& s : finished) s.thread.join();
  }

  void AcceptLoop() {
    for (;;) {
      absl::StatusOr<std::unique_ptr<net::PendingConnection>> conn = listener->AcceptConnection();
      Reap();
      if (!conn.ok()) {
        absl::MutexLock l(&mu);
        if (!absl::IsCancelled(conn.status()) && !stopping) {
          outcome = conn.status();
          Log(absl::StrCat("stopped accepting: ", conn.status().message()));
        }
        accept_ended = true;
        return;
      }
      std::string refusal;
      {
        absl::MutexLock l(&mu);
        ++stats.accepted;
        std::string address = (*conn)->peer_address();
        if (stopping) {
          refusal = "the receiver is stopping";
        } else if (stats.open >= options.max_connections) {
          refusal = absl::StrCat(stats.open, " connections are open, the receiver's limit (",
                                 "--max-connections ", options.max_connections, ")");
        } else if (per_address[address] >= options.max_connections_per_address) {
          refusal = absl::StrCat(per_address[address], " connections from ", address,
                                 " are open, the limit per address (--max-connections-per-"
                                 "address ",
                                 options.max_connections_per_address, ")");
        }
        if (!refusal.empty()) {
          ++stats.refused_by_limit;
        } else {
          ++stats.open;
          ++per_address[address];
          sessions.emplace_back();
          Session& s = sessions.back();
          s.conn = std::move(*conn);
          s.address = address;
          s.thread = std::thread([this, &s] { Serve(s); });
        }
      }
      if (!refusal.empty()) {
        Log(absl::StrCat("refused a connection from ", (*conn)->peer(), ": ", refusal));
        conn->reset();  // closed at once
        continue;
      }
      if (options.once) {
        // One connection only: later ones are refused by the closed listener.
        listener->Close();
        absl::MutexLock l(&mu);
        accept_ended = true;
        return;
      }
    }
  }

  void Serve(Session& s) {
    net::PendingConnection& conn = *s.conn;
    absl::Status result;
    bool handshake_ok = false;
    std::string peer = conn.peer();
    {
      absl::StatusOr<std::unique_ptr<net::ByteStream>> stream = listener->Handshake(conn);
      if (!stream.ok()) {
        result = stream.status();
        Log(absl::StrCat("refused a connection: ", result.message()));
      } else {
        handshake_ok = true;
        peer = (*stream)->PeerDescription();
        {
          absl::MutexLock l(&mu);
          ++stats.in_session;
        }
        if (store != nullptr) {
          result = ServeConnection(**stream, *store, options.serve);
        } else {
          // Records the session's store, so that Disconnect finds it.
          ReplicaResolver resolve_and_note =
              [this, &s](
                  const Hello& hello,
                  absl::string_view identity) -> absl::StatusOr<std::shared_ptr<ReplicaStore>> {
            absl::StatusOr<std::shared_ptr<ReplicaStore>> r = resolve(hello, identity);
            if (r.ok()) {
              absl::MutexLock l(&mu);
              s.store = r->get();
            }
            return r;
          };
          result = ServeConnection(**stream, resolve_and_note, options.serve);
        }
        {
          // From here the socket may be closed: Stop must not touch it.
          absl::MutexLock l(&mu);
          s.can_shutdown = false;
          --stats.in_session;
        }
        (void)(*stream)->Close();
        if (!result.ok()) {
          Log(absl::StrCat("session with ", peer, " failed: ", result.message()));
        }
      }
    }  // the stream (and with it the socket) is gone
    absl::MutexLock l(&mu);
    s.can_shutdown = false;
    s.store = nullptr;
    s.conn.reset();  // closes the socket of a refused connection
    if (!handshake_ok) {
      ++stats.handshakes_failed;
    } else if (result.ok()) {
      ++stats.sessions_ok;
    } else {
      ++stats.sessions_failed;
    }
    --stats.open;
    if (--per_address[s.address] == 0) per_address.erase(s.address);
    if (options.once) outcome = result;
    s.done = true;
  }
};

ReplicaServer::ReplicaServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReplicaServer::~ReplicaServer() { Stop(); }

namespace {

// Wraps a callback so that it runs one call at a time under `mu`.
template <typename... Args>
std::function<void(Args...)> OneAtATime(absl::Mutex* mu, std::function<void(Args...)> f) {
  if (!f) return f;
  return [mu, f = std::move(f)](Args... args) {
    absl::MutexLock l(mu);
    f(args...);
  };
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplicaServer>> ReplicaServer::Start(const std::string& host,
                                                                    uint16_t port,
                                                                    net::TlsConfig tls,
                                                                    ReplicaStore& store,
                                                                    ReplicaServerOptions options) {
  return StartServing(host, port, std::move(tls), &store, nullptr, std::move(options));
}

absl::StatusOr<std::unique_ptr<ReplicaServer>> ReplicaServer::Start(const std::string& host,
                                                                    uint16_t port,
                                                                    net::TlsConfig tls,
                                                                    ReplicaResolver resolve,
                                                                    ReplicaServerOptions options) {
  if (!resolve) {
    return absl::InvalidArgumentError("the receiver needs a resolver for its replicas");
  }
  return StartServing(host, port, std::move(tls), nullptr, std::move(resolve), std::move(options));
}

absl::StatusOr<std::unique_ptr<ReplicaServer>> ReplicaServer::StartServing(
    const std::string& host, uint16_t port, net::TlsConfig tls, ReplicaStore* store,
    ReplicaResolver resolve, ReplicaServerOptions options) {
  if (options.max_connections < 1 || options.max_connections_per_address < 1) {
    return absl::InvalidArgumentError(
        "the receiver's connection limits (--max-connections, --max-connections-per-address) "
        "must be at least 1");
  }
  if (options.handshake_timeout <= absl::ZeroDuration() ||
      options.idle_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "the receiver's timeouts (--handshake-timeout, --idle-timeout) must be positive");
  }
  tls.handshake_timeout = options.handshake_timeout;
  tls.io_timeout = options.idle_timeout;
  auto impl = std::make_unique<Impl>();
  ASR_ASSIGN_OR_RETURN(impl->listener, net::TlsListener::Listen(host, port, tls));
  impl->store = store;
  impl->resolve = std::move(resolve);
  impl->options = std::move(options);
  // One call at a time, as the header promises.
  ServeOptions& serve = impl->options.serve;
  serve.on_commit = OneAtATime(&impl->callback_mu, std::move(serve.on_commit));
  serve.on_commit_of = OneAtATime(&impl->callback_mu, std::move(serve.on_commit_of));
  Impl* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->AcceptLoop(); });
  return std::unique_ptr<ReplicaServer>(new ReplicaServer(std::move(impl)));
}

uint16_t ReplicaServer::port() const { return impl_->listener->port(); }

void ReplicaServer::Stop() {
  absl::MutexLock stop_lock(&impl_->stop_mu);
  if (impl_->stopped) return;
  {
    absl::MutexLock l(&impl_->mu);
    impl_->stopping = true;
    for (Session& s : impl_->sessions) {
      if (s.can_shutdown && s.conn) s.conn->Shutdown();
    }
  }
  impl_->listener->Close();
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  {
    absl::MutexLock l(&impl_->mu);
    impl_->mu.Await(absl::Condition(
        +[](Impl* i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i->mu) {
          for (const Session& s : i->sessions) {
            if (!s.done) return false;
          }
          return true;
        },
        impl_.get()));
  }
  impl_->Reap();
  impl_->stopped = true;
}

absl::Status ReplicaServer::Wait() {
  {
    absl::MutexLock l(&impl_->mu);
    impl_->mu.Await(absl::Condition(
        +[](Impl* i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i->mu) {
          if (i->stopping) return true;
          if (!i->accept_ended) return false;
          for (const Session& s : i->sessions) {
            if (!s.done) return false;
          }
          return true;
        },
        impl_.get()));
  }
  Stop();
  absl::MutexLock l(&impl_->mu);
  return impl_->outcome;
}

int ReplicaServer::Disconnect(const ReplicaStore* store) {
  if (store == nullptr) return 0;
  absl::MutexLock l(&impl_->mu);
  int n = 0;
  for (Session& s : impl_->sessions) {
    if (s.store == store && s.can_shutdown && s.conn) {
      s.conn->Shutdown();
      ++n;
    }
  }
  return n;
}

ReplicaServerStats ReplicaServer::stats() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->stats;
}

bool ReplicaServer::AwaitStats(const std::function<bool(const ReplicaServerStats&)>& condition,
                               absl::Duration timeout) const {
  absl::MutexLock l(&impl_->mu);
  struct Args {
    const std::function<bool(const ReplicaServerStats&)>* condition;
    const ReplicaServerStats* stats;
  } args{&condition, &impl_->stats};
  return impl_->mu.AwaitWithTimeout(absl::Condition(
                                        +[](Args* a) { return (*a->condition)(*a->stats); }, &args),
                                    timeout);
}

}  // namespace asr::replication
