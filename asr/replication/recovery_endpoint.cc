#include "asr/replication/recovery_endpoint.h"

#include <map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/status_macros.h"
#include "asr/replication/receiver.h"

namespace asr::replication {
namespace {

// The one refusal for a disk that is not bound here and for one bound to
// another writer: the same words either way, so that nothing is learnt.
absl::Status NotAuthorized(absl::string_view peer, absl::string_view disk_id) {
  return absl::PermissionDeniedError(absl::StrCat("host certificate CN=", EscapeForMessage(peer),
                                                  " is not authorized to replicate disk '",
                                                  EscapeForMessage(disk_id), "' to this receiver"));
}

}  // namespace

struct RecoveryEndpoint::Impl {
  // A binding and its store. Guarded by Impl::mu, except open_mu.
  struct Entry {
    ReplicaBinding binding;
    std::shared_ptr<ReplicaStore> store;  // open, else null
    int sessions = 0;                     // leases held
    uint64_t last_used = 0;               // a tick of Impl::tick: least recently used first
    bool unbinding = false;
    absl::Mutex open_mu;  // one opener at a time; Unbind takes it to close
  };

  // A session's hold on an entry's store: what the resolver hands out.
  struct Lease {
    Impl* impl;
    std::shared_ptr<Entry> entry;
    std::shared_ptr<ReplicaStore> store;
    ~Lease() {
      store.reset();  // before the count: at zero sessions the entry owns the store alone
      absl::MutexLock l(&impl->mu);
      --entry->sessions;
      --impl->stats.active_sessions;
      entry->last_used = ++impl->tick;
      impl->EvictIdle();
    }
  };

  RecoveryEndpointOptions options;
  std::unique_ptr<ReplicaServer> server;

  mutable absl::Mutex mu;
  std::map<std::string, std::shared_ptr<Entry>> entries ABSL_GUARDED_BY(mu);
  RecoveryEndpointStats stats ABSL_GUARDED_BY(mu);
  uint64_t tick ABSL_GUARDED_BY(mu) = 0;

  absl::Mutex stop_mu;  // serializes Stop
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;

  // The entry bound to `disk_id` and not being unbound, else null.
  std::shared_ptr<Entry> Find(const std::string& disk_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto it = entries.find(disk_id);
    if (it == entries.end() || it->second->unbinding) return nullptr;
    return it->second;
  }

  // Closes idle stores, least recently used first, while over the bound.
  // A store of an entry without sessions is held by the entry alone, so it
  // is closed (its directory lock released) here and now.
  void EvictIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    while (stats.open_stores > options.max_open_stores) {
      Entry* victim = nullptr;
      for (auto& [id, e] : entries) {
        if (e->store && e->sessions == 0 && (!victim || e->last_used < victim->last_used)) {
          victim = e.get();
        }
      }
      if (victim == nullptr) return;  // all busy: closed as they end
      victim->store.reset();
      --stats.open_stores;
    }
  }

  absl::StatusOr<std::shared_ptr<ReplicaStore>> LeaseStore(const std::shared_ptr<Entry>& e)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    auto lease = std::make_shared<Lease>();
    lease->impl = this;
    lease->entry = e;
    lease->store = e->store;
    ++e->sessions;
    e->last_used = ++tick;
    ++stats.sessions;
    ++stats.active_sessions;
    ReplicaStore* store = lease->store.get();
    return std::shared_ptr<ReplicaStore>(std::move(lease), store);
  }

  absl::StatusOr<std::shared_ptr<ReplicaStore>> Resolve(const Hello& hello,
                                                        absl::string_view peer) {
    auto refuse = [&](absl::Status why) {
      absl::MutexLock l(&mu);
      ++stats.refused;
      return why;
    };
    std::shared_ptr<Entry> e;
    ReplicaBinding binding;
    {
      absl::MutexLock l(&mu);
      e = Find(hello.source_disk_id);
      if (e == nullptr || e->binding.writer != peer) {
        ++stats.refused;
        return NotAuthorized(peer, hello.source_disk_id);
      }
      binding = e->binding;
    }
    if (options.admit) {
      absl::Status admitted = options.admit(binding);
      if (!admitted.ok()) return refuse(admitted);
    }
    absl::MutexLock opening(&e->open_mu);
    {
      absl::MutexLock l(&mu);
      if (e->unbinding) {
        ++stats.refused;
        return NotAuthorized(peer, hello.source_disk_id);
      }
      if (e->store) return LeaseStore(e);
      binding = e->binding;
    }
    ReplicaOptions o = binding.options;
    o.writer = binding.writer;
    absl::StatusOr<std::unique_ptr<ReplicaStore>> opened = ReplicaStore::Open(binding.dir, o);
    if (!opened.ok()) {
      // The peer is this replica's writer: it may hear why.
      return refuse(absl::Status(
          opened.status().code(),
          absl::StrCat("the recovery host cannot open the replica of disk '",
                       EscapeForMessage(hello.source_disk_id), "': ", opened.status().message())));
    }
    absl::MutexLock l(&mu);
    if (e->unbinding) {
      ++stats.refused;
      return NotAuthorized(peer, hello.source_disk_id);  // *opened closes here
    }
    e->store = std::move(*opened);
    ++stats.open_stores;
    absl::StatusOr<std::shared_ptr<ReplicaStore>> leased = LeaseStore(e);
    EvictIdle();
    return leased;
  }

  absl::Status AdmitCycle(const Hello& hello) {
    ReplicaBinding binding;
    {
      absl::MutexLock l(&mu);
      std::shared_ptr<Entry> e = Find(hello.source_disk_id);
      if (e == nullptr) {
        ++stats.cycles_refused;
        return absl::FailedPreconditionError(
            absl::StrCat("disk '", EscapeForMessage(hello.source_disk_id),
                         "' is no longer replicated to this receiver (it was unbound); the "
                         "replica keeps its last point"));
      }
      binding = e->binding;
    }
    if (!options.admit) return absl::OkStatus();
    absl::Status admitted = options.admit(binding);
    if (!admitted.ok()) {
      absl::MutexLock l(&mu);
      ++stats.cycles_refused;
    }
    return admitted;
  }

  void Committed(const Hello& hello, uint64_t point, const CycleStart& start) {
    ReplicaBinding binding;
    {
      absl::MutexLock l(&mu);
      ++stats.commits;
      auto it = entries.find(hello.source_disk_id);
      if (it == entries.end()) return;
      binding = it->second->binding;
    }
    if (options.on_commit) options.on_commit(binding, point, start);
  }
};

RecoveryEndpoint::RecoveryEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RecoveryEndpoint::~RecoveryEndpoint() { Stop(); }

absl::StatusOr<std::unique_ptr<RecoveryEndpoint>> RecoveryEndpoint::Start(
    const std::string& host, uint16_t port, net::TlsConfig tls, RecoveryEndpointOptions options) {
  if (options.max_open_stores < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the recovery endpoint must keep at least 1 replica open, not ", options.max_open_stores));
  }
  if (options.unbind_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("the recovery endpoint's unbind grace cannot be negative");
  }
  auto impl = std::make_unique<Impl>();
  Impl* raw = impl.get();
  impl->options = std::move(options);
  ReplicaServerOptions server = impl->options.server;
  server.serve.admit_cycle = [raw](const Hello& hello, const CycleStart&) {
    return raw->AdmitCycle(hello);
  };
  server.serve.on_commit_of = [raw](const Hello& hello, uint64_t point, const CycleStart& start) {
    raw->Committed(hello, point, start);
  };
  ASR_ASSIGN_OR_RETURN(impl->server, ReplicaServer::Start(
                                         host, port, std::move(tls),
                                         [raw](const Hello& hello, absl::string_view peer) {
                                           return raw->Resolve(hello, peer);
                                         },
                                         std::move(server)));
  return std::unique_ptr<RecoveryEndpoint>(new RecoveryEndpoint(std::move(impl)));
}

uint16_t RecoveryEndpoint::port() const { return impl_->server->port(); }

absl::Status RecoveryEndpoint::Bind(const ReplicaBinding& b) {
  if (b.source_disk_id.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the binding of replica '", b.dir,
                     "' names no source disk id; give the source disk image's own id"));
  }
  ASR_RETURN_IF_ERROR(CheckSourceDiskId(b.source_disk_id));
  if (b.dir.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the binding of disk '", b.source_disk_id, "' names no replica directory"));
  }
  if (b.writer.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the binding of disk '", b.source_disk_id,
                     "' names no writer; give the common name of the primary host's certificate"));
  }
  ASR_RETURN_IF_ERROR(CheckDisplayName("writer", b.writer, kMaxIdentifierBytes));
  ASR_RETURN_IF_ERROR(ReplicaStore::CheckPointOptions(b.options));
  Impl& i = *impl_;
  absl::MutexLock l(&i.mu);
  auto it = i.entries.find(b.source_disk_id);
  if (it != i.entries.end()) {
    Impl::Entry& e = *it->second;
    if (e.unbinding) {
      return absl::FailedPreconditionError(absl::StrCat(
          "disk '", b.source_disk_id, "' is being unbound; bind it again once Unbind returns"));
    }
    if (e.binding.dir != b.dir || e.binding.writer != b.writer) {
      return absl::FailedPreconditionError(
          absl::StrCat("disk '", b.source_disk_id, "' is bound to replica ", e.binding.dir,
                       " written by '", e.binding.writer, "'; unbind it before binding it to ",
                       b.dir, " written by '", b.writer, "'"));
    }
    if (e.store) ASR_RETURN_IF_ERROR(e.store->UpdatePointOptions(b.options));
    e.binding.options = b.options;
    e.binding.tag = b.tag;
    return absl::OkStatus();
  }
  for (const auto& [id, e] : i.entries) {
    if (e->binding.dir == b.dir) {
      return absl::FailedPreconditionError(
          absl::StrCat("replica directory ", b.dir, " is already bound to disk '", id,
                       "'; give each disk its own replica directory"));
    }
  }
  auto e = std::make_shared<Impl::Entry>();
  e->binding = b;
  e->binding.options.writer = b.writer;
  i.entries.emplace(b.source_disk_id, std::move(e));
  ++i.stats.bindings;
  return absl::OkStatus();
}

absl::Status RecoveryEndpoint::Unbind(const std::string& source_disk_id) {
  Impl& i = *impl_;
  std::shared_ptr<Impl::Entry> e;
  {
    absl::MutexLock l(&i.mu);
    auto it = i.entries.find(source_disk_id);
    if (it == i.entries.end()) {
      return absl::NotFoundError(
          absl::StrCat("disk '", source_disk_id, "' is not bound to this recovery endpoint"));
    }
    e = it->second;
    if (e->unbinding) {
      return absl::FailedPreconditionError(
          absl::StrCat("disk '", source_disk_id, "' is already being unbound"));
    }
    e->unbinding = true;  // from here HELLOs and cycles for it are refused
  }
  auto idle = [](Impl::Entry* entry)
                  ABSL_NO_THREAD_SAFETY_ANALYSIS { return entry->sessions == 0; };
  bool ended;
  {
    absl::MutexLock l(&i.mu);
    ended = i.mu.AwaitWithTimeout(absl::Condition(+idle, e.get()), i.options.unbind_grace);
  }
  while (!ended) {
    // Still in session: disconnect it (again, should it have resolved just
    // as the first disconnect went out).
    const ReplicaStore* store;
    {
      absl::MutexLock l(&i.mu);
      store = e->store.get();
    }
    if (store != nullptr) i.server->Disconnect(store);
    absl::MutexLock l(&i.mu);
    ended = i.mu.AwaitWithTimeout(absl::Condition(+idle, e.get()), absl::Seconds(1));
  }
  // No opener is midway (it would find the entry unbinding and drop its store).
  absl::MutexLock opening(&e->open_mu);
  absl::MutexLock l(&i.mu);
  if (e->store) {
    e->store.reset();  // the last owner: closed, its directory lock released
    --i.stats.open_stores;
  }
  i.entries.erase(source_disk_id);
  --i.stats.bindings;
  return absl::OkStatus();
}

std::vector<ReplicaBinding> RecoveryEndpoint::Bindings() const {
  absl::MutexLock l(&impl_->mu);
  std::vector<ReplicaBinding> out;
  for (const auto& [id, e] : impl_->entries) {
    if (!e->unbinding) out.push_back(e->binding);
  }
  return out;
}

RecoveryEndpointStats RecoveryEndpoint::stats() const {
  ReplicaServerStats server = impl_->server->stats();
  absl::MutexLock l(&impl_->mu);
  RecoveryEndpointStats s = impl_->stats;
  s.server = server;
  return s;
}

void RecoveryEndpoint::Stop() {
  absl::MutexLock stop_lock(&impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->server->Stop();  // every session has ended: no lease is left
  absl::MutexLock l(&impl_->mu);
  for (auto& [id, e] : impl_->entries) e->store.reset();
  impl_->stats.open_stores = 0;
  impl_->stopped = true;
}

}  // namespace asr::replication
