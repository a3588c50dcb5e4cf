#include "asr/protection/site_service.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "asr/common/status_macros.h"
#include "asr/net/tls.h"
#include "asr/protection/app_consistent_due.h"
#include "asr/protection/group_service.h"
#include "asr/protection/health.h"
#include "asr/protection/item_resync.h"
#include "asr/protection/item_state.h"
#include "asr/protection/throttle.h"
#include "asr/replication/recovery_endpoint.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::protection {
namespace {

struct Schedule {
  absl::Time next_due = absl::InfinitePast();
  int failures = 0;
  bool running = false;
};

absl::Status ParseListen(const std::string& listen, std::string* host, uint16_t* port) {
  const size_t colon = listen.rfind(':');
  int p = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &p) || p < 0 ||
      p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", listen, "' is not HOST:PORT (PORT 0: any free port)"));
  }
  *host = listen.substr(0, colon);
  *port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

}  // namespace

struct SiteService::Impl {
  SiteRecovery* site = nullptr;
  SiteServiceOptions options;
  std::unique_ptr<replication::RecoveryEndpoint> endpoint;
  std::shared_ptr<Transport> transport;

  mutable absl::Mutex mu;
  absl::CondVar cv;  // work queued, a cycle finished, or stopping
  std::map<std::string, Schedule> schedule ABSL_GUARDED_BY(mu);
  std::deque<std::pair<std::string, bool>> queue ABSL_GUARDED_BY(mu);  // item, app-consistent
  SiteServiceStats stats ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  std::vector<std::thread> workers;
  std::thread scheduler;
  // Jobs this process already tried to restart or resume (once each).
  std::set<std::string> jobs_tried ABSL_GUARDED_BY(mu);
  absl::Time last_rebind ABSL_GUARDED_BY(mu) = absl::InfinitePast();
  // Items whose queued cycle is a resynchronization / is followed by a
  // verification (item_resync.h).
  std::set<std::string> resync_due ABSL_GUARDED_BY(mu);
  std::set<std::string> verify_due ABSL_GUARDED_BY(mu);

  void Log(absl::string_view line) {
    if (options.log) options.log(line);
  }

  // Runs one replication group's cycle (group_service.h) and records the
  // outcome in its schedule.
  void RunGroupCycle(const std::string& group_id, bool app) {
    GroupService& g = site->groups();
    GroupReplicateOptions ro;
    ro.app_consistent = app;
    absl::StatusOr<model::GroupCycleOutcome> r = g.ReplicateNow(group_id, ro);
    absl::StatusOr<model::ReplicationGroup> group = g.Get(group_id);
    const int freq = group.ok() ? g.EffectiveSyncIntervalSeconds(*group) : 300;
    const std::string name = group.ok() ? group->name() : group_id;
    absl::MutexLock l(&mu);
    Schedule& s = schedule[group_id];
    s.running = false;
    --stats.running;
    if (r.ok()) {
      s.failures = 0;
      ++stats.cycles_ok;
      stats.points_committed += r->committed_item_ids_size();
      Log(absl::StrFormat(
          "group %s: shared point %d of %d VMs%s, %d bytes in %.2f s", name, r->point_sequence(),
          r->committed_item_ids_size(),
          !app ? ""
          : r->app_consistent_fallback().empty()
              ? " (app-consistent)"
              : absl::StrCat(" (crash-consistent: ", r->app_consistent_fallback(), ")"),
          r->bytes_sent(), r->seconds()));
    } else {
      ++s.failures;
      ++stats.cycles_failed;
      const absl::Duration base = std::min(absl::Seconds(freq), absl::Seconds(30));
      absl::Duration backoff = base * (1 << std::min(s.failures - 1, 10));
      s.next_due = site->clock().Now() + std::min(backoff, absl::Seconds(freq));
      Log(absl::StrCat("group ", name,
                       ": cycle failed, no new shared point: ", r.status().ToString()));
    }
    cv.SignalAll();
  }

  // Queues the replication groups that are due (their members are not
  // scheduled on their own); returns the members' item ids.
  std::set<std::string> DispatchGroups(const absl::Time now, int* queued) {
    std::set<std::string> members;
    absl::StatusOr<std::vector<model::ReplicationGroup>> groups = site->groups().List();
    if (!groups.ok()) {
      Log(absl::StrCat("cannot list replication groups: ", groups.status().ToString()));
      return members;
    }
    for (const auto& g : *groups) {
      for (const std::string& id : g.protected_item_ids()) members.insert(id);
      if (!options.replicate || g.protected_item_ids_size() == 0) continue;
      const absl::Duration freq = absl::Seconds(site->groups().EffectiveSyncIntervalSeconds(g));
      bool app = false;
      absl::StatusOr<model::ProtectedItem> first =
          site->repository().Get<model::ProtectedItem>(g.protected_item_ids(0));
      if (first.ok()) {
        absl::StatusOr<model::ReplicationPolicy> policy =
            site->repository().Get<model::ReplicationPolicy>(first->policy_id());
        const int app_hours =
            policy.ok() ? policy->application_consistent_snapshot_frequency_in_hours() : 0;
        app =
            AppConsistentDue(app_hours, g.last_app_consistent_time_unix(), g.recent_cycles(), now);
      }
      absl::MutexLock l(&mu);
      Schedule& s = schedule[g.id()];
      if (s.running || stopping) continue;
      if (s.failures == 0) {
        const absl::Time last =
            g.recent_cycles_size() > 0
                ? absl::FromUnixSeconds(g.recent_cycles(g.recent_cycles_size() - 1).time_unix())
                : absl::InfinitePast();
        s.next_due = last == absl::InfinitePast() ? now : last + freq;
      }
      if (s.next_due > now) continue;
      s.running = true;
      ++stats.running;
      queue.emplace_back(g.id(), app);
      ++*queued;
    }
    return members;
  }

  // Runs one item's cycle and records the outcome in its schedule.
  void RunCycle(const std::string& item_id, bool app) {
    if (item_id.rfind("rg-", 0) == 0) return RunGroupCycle(item_id, app);
    ProtectionService& p = site->protection();
    ReplicateOptions ro;
    ro.app_consistent = app;
    bool resync = false, verify = false;
    {
      absl::MutexLock l(&mu);
      resync = resync_due.erase(item_id) > 0;
      verify = verify_due.erase(item_id) > 0;
    }
    absl::StatusOr<model::CycleOutcome> r = resync ? Resync(item_id) : p.ReplicateNow(item_id, ro);
    if (r.ok() && verify && !resync) Verify(item_id);
    absl::StatusOr<model::ProtectedItem> item = p.GetItem(item_id);
    int freq = 300;
    if (item.ok()) {
      absl::StatusOr<model::ReplicationPolicy> policy =
          site->repository().Get<model::ReplicationPolicy>(item->policy_id());
      if (policy.ok()) freq = CopyFrequencySeconds(*policy);
    }
    const std::string name = item.ok() ? item->vm_name() : item_id;
    absl::MutexLock l(&mu);
    Schedule& s = schedule[item_id];
    s.running = false;
    --stats.running;
    const absl::Time now = site->clock().Now();
    if (r.ok()) {
      s.failures = 0;
      ++stats.cycles_ok;
      ++stats.points_committed;
      Log(absl::StrFormat(
          "%s: point %d%s, %d bytes in %.2f s", name, r->point_sequence(),
          !app ? ""
          : r->app_consistent_fallback().empty()
              ? " (app-consistent)"
              : absl::StrCat(" (crash-consistent: ", r->app_consistent_fallback(), ")"),
          r->bytes_sent(), r->seconds()));
    } else {
      ++s.failures;
      ++stats.cycles_failed;
      const absl::Duration base = std::min(absl::Seconds(freq), absl::Seconds(30));
      absl::Duration backoff = base * (1 << std::min(s.failures - 1, 10));
      s.next_due = now + std::min(backoff, absl::Seconds(freq));
      Log(absl::StrCat(name, ": cycle failed: ", r.status().ToString()));
    }
    cv.SignalAll();
  }

  // The item's automatic resynchronization (item_resync.h), as a cycle.
  absl::StatusOr<model::CycleOutcome> Resync(const std::string& item_id) {
    Log(absl::StrCat(item_id, ": resynchronizing (inside the policy's window)"));
    absl::StatusOr<model::ItemVerification> v = site->protection().ResyncItem(item_id);
    if (!v.ok()) return v.status();
    model::CycleOutcome o;
    o.set_ok(true);
    o.set_bytes_sent(v->bytes_sent());
    o.set_point_sequence(v->point_sequence());
    o.set_seconds(v->seconds());
    return o;
  }

  // The policy's scheduled verification, after a cycle.
  void Verify(const std::string& item_id) {
    absl::StatusOr<model::ItemVerification> v = site->protection().VerifyItem(item_id);
    Log(absl::StrCat(item_id, ": verification: ", v.ok() ? v->reason() : v.status().ToString()));
  }

  void Worker() {
    for (;;) {
      std::pair<std::string, bool> job;
      {
        absl::MutexLock l(&mu);
        while (queue.empty() && !stopping) cv.Wait(&mu);
        if (queue.empty()) return;  // stopping and drained
        job = queue.front();
        queue.pop_front();
      }
      RunCycle(job.first, job.second);
    }
  }

  // Restarts enable/disable jobs a stopped process left Failed
  // (JobInterrupted) and resumes scheduled initial replications whose start
  // time has come: each job once per process.
  void ResumeJobs() {
    absl::StatusOr<std::vector<model::ProtectedItem>> items =
        site->repository().List<model::ProtectedItem>();
    if (!items.ok()) return;
    const int64_t now = absl::ToUnixSeconds(site->clock().Now());
    for (const auto& item : *items) {
      const std::string& job_id = item.current_scenario().job_id();
      if (job_id.empty()) continue;
      absl::StatusOr<model::Job> job = site->jobs().Get(job_id);
      if (!job.ok()) continue;
      {
        absl::MutexLock l(&mu);
        if (jobs_tried.count(job_id)) continue;
      }
      bool interrupted = false;
      for (const auto& e : job->errors()) interrupted |= e.error_code() == "JobInterrupted";
      absl::StatusOr<model::Job> r;
      if (job->state() == model::Failed && interrupted) {
        {
          absl::MutexLock l(&mu);
          jobs_tried.insert(job_id);
        }
        Log(absl::StrCat(item.vm_name(), ": restarting interrupted job ", job_id, " (",
                         job->scenario_name(), ")"));
        r = site->jobs().Restart(job_id);
      } else if (job->state() == model::Suspended &&
                 item.initial_replication_method() == "OnlineScheduled" &&
                 item.initial_replication_start_unix() <= now) {
        {
          absl::MutexLock l(&mu);
          jobs_tried.insert(job_id);
        }
        Log(absl::StrCat(item.vm_name(), ": the scheduled start time has come; resuming job ",
                         job_id));
        r = site->jobs().Resume(job_id);
      } else {
        continue;
      }
      Log(absl::StrCat(item.vm_name(), ": job ", job_id, " ",
                       r.ok() ? model::JobState_Name(r->state()) : r.status().ToString()));
    }
  }

  // Every replica the state knows is served here (after a restart too),
  // with its policy's retention as it is now.
  void Rebind(const model::ProtectedItem& item) {
    absl::Status b = site->protection().ApplyPolicy(item.id());
    if (!b.ok()) Log(absl::StrCat(item.vm_name(), ": ", b.ToString()));
  }

  // Binds every protected item's replicas before the first session can
  // arrive: a serve-only process is told to senders once Start returns.
  void BindAll() {
    absl::StatusOr<std::vector<model::ProtectedItem>> items =
        site->repository().List<model::ProtectedItem>();
    if (!items.ok()) {
      Log(absl::StrCat("cannot list protected items: ", items.status().ToString()));
      return;
    }
    for (const auto& item : *items) {
      if (item.protection_state() == model::Protected) Rebind(item);
    }
    absl::MutexLock l(&mu);
    last_rebind = site->clock().Now();
  }

  // Queues the items that are due; returns how many.
  int Dispatch() {
    absl::StatusOr<std::vector<model::ProtectedItem>> items =
        site->repository().List<model::ProtectedItem>();
    if (!items.ok()) {
      Log(absl::StrCat("cannot list protected items: ", items.status().ToString()));
      return 0;
    }
    const absl::Time now = site->clock().Now();
    int queued = 0;
    int protected_items = 0;
    bool rebind = false;
    {
      absl::MutexLock l(&mu);
      if (now - last_rebind >= absl::Seconds(10)) {
        rebind = true;
        last_rebind = now;
      }
    }
    const std::set<std::string> grouped = DispatchGroups(now, &queued);
    for (const auto& item : *items) {
      if (item.protection_state() != model::Protected) continue;
      ++protected_items;
      if (rebind) Rebind(item);
      if (!options.replicate) continue;
      if (grouped.count(item.id())) continue;  // replicates with its group
      absl::StatusOr<model::ReplicationPolicy> policy =
          site->repository().Get<model::ReplicationPolicy>(item.policy_id());
      if (!policy.ok()) continue;
      const absl::Duration freq = absl::Seconds(CopyFrequencySeconds(*policy));
      const bool app =
          AppConsistentDue(policy->application_consistent_snapshot_frequency_in_hours(),
                           item.last_app_consistent_time_unix(), item.recent_cycles(), now);
      const bool resync = item.resync_required() && InAutoResyncWindow(*policy, now);
      const bool verify = !item.resync_required() && VerificationDue(item, *policy, now);
      absl::MutexLock l(&mu);
      Schedule& s = schedule[item.id()];
      if (s.running || stopping) continue;
      if (s.failures == 0) {
        // From the stored last cycle, so that a restart keeps the rhythm
        // and a new frequency applies from the next cycle.
        const absl::Time last =
            item.recent_cycles_size() > 0
                ? absl::FromUnixSeconds(
                      item.recent_cycles(item.recent_cycles_size() - 1).time_unix())
                : absl::InfinitePast();
        s.next_due = last == absl::InfinitePast() ? now : last + freq;
      }
      if (s.next_due > now) continue;
      if (resync) resync_due.insert(item.id());
      if (verify) verify_due.insert(item.id());
      s.running = true;
      ++stats.running;
      queue.emplace_back(item.id(), app);
      ++queued;
    }
    absl::MutexLock l(&mu);
    stats.protected_items = protected_items;
    cv.SignalAll();
    return queued;
  }

  void RunQueuedHere() {
    for (;;) {
      std::pair<std::string, bool> job;
      {
        absl::MutexLock l(&mu);
        if (queue.empty()) return;
        job = queue.front();
        queue.pop_front();
      }
      RunCycle(job.first, job.second);
    }
  }

  void WaitIdle() {
    absl::MutexLock l(&mu);
    while (stats.running > 0) cv.Wait(&mu);
  }

  absl::Duration NextDue() const {
    absl::MutexLock l(&mu);
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, s] : schedule) {
      if (!s.running) next = std::min(next, s.next_due);
    }
    if (next == absl::InfiniteFuture()) return absl::Seconds(1);
    return std::max(absl::ZeroDuration(), next - site->clock().Now());
  }

  void SchedulerLoop() {
    for (;;) {
      ResumeJobs();
      Dispatch();
      absl::MutexLock l(&mu);
      if (stopping) return;
      const absl::Duration wait = std::min(absl::Seconds(1), [&] {
        absl::Time next = absl::InfiniteFuture();
        for (const auto& [id, s] : schedule) {
          if (!s.running) next = std::min(next, s.next_due);
        }
        return next == absl::InfiniteFuture() ? absl::Seconds(1) : next - site->clock().Now();
      }());
      cv.WaitWithTimeout(&mu, std::max(wait, absl::Milliseconds(20)));
      if (stopping) return;
    }
  }
};

SiteService::SiteService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SiteService::~SiteService() { Stop(); }

absl::StatusOr<std::unique_ptr<SiteService>> SiteService::Start(SiteRecovery& site,
                                                                const SiteServiceOptions& options) {
  if (options.max_concurrent < 1 || options.max_concurrent > 256) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_concurrent must be 1..256 (cycles at once), not ", options.max_concurrent));
  }
  if (!options.replicate && !options.serve_replicas) {
    return absl::InvalidArgumentError(
        "the site service has nothing to do: enable replicating, serving replicas, or both");
  }
  auto impl = std::make_unique<Impl>();
  impl->site = &site;
  impl->options = options;
  TransportOptions t = options.transport;
  if (options.serve_replicas) {
    std::string host;
    uint16_t port = 0;
    ASR_RETURN_IF_ERROR(ParseListen(options.listen, &host, &port));
    if (t.pki_dir.empty()) {
      return absl::InvalidArgumentError(
          "serving replicas needs the vault's PKI directory (`asrctl pki init --dir DIR`, then "
          "--pki DIR)");
    }
    replication::RecoveryEndpointOptions eo;
    auto admit = options.admit;
    SiteRecovery* sr = &site;
    if (admit) {
      eo.admit = [admit, sr](const replication::ReplicaBinding& b) -> absl::Status {
        // The binding's tag is "<item id>/<disk id>": the item names the host.
        const std::string item_id = b.tag.substr(0, b.tag.find('/'));
        absl::StatusOr<model::ProtectedItem> item =
            sr->repository().Get<model::ProtectedItem>(item_id);
        if (!item.ok()) return absl::OkStatus();
        return admit(item->replica_host_id());
      };
    }
    if (options.log) {
      auto log = options.log;
      eo.server.log = [log](absl::string_view line) { log(absl::StrCat("endpoint: ", line)); };
    }
    ASR_ASSIGN_OR_RETURN(
        impl->endpoint,
        replication::RecoveryEndpoint::Start(
            host, port, net::VaultTlsConfig(t.pki_dir, t.receiver_certificate), std::move(eo)));
    t.endpoint = impl->endpoint.get();
    impl->stats.endpoint_address = absl::StrCat(host, ":", impl->endpoint->port());
  }
  if (options.replicate || options.serve_replicas) {
    ASR_ASSIGN_OR_RETURN(impl->transport, MakeTlsTransport(t));
    // Every stream obeys the site's and its VM's bandwidth throttle (throttle.h).
    impl->transport = MakeThrottlingTransport(impl->transport, &site.repository(), &site.clock());
    site.protection().SetTransport(impl->transport);
  }
  if (options.replicate) {
    absl::Status s = site.protection().OpenTrackers();
    if (!s.ok()) impl->Log(absl::StrCat("change tracking: ", s.ToString()));
  }
  if (options.serve_replicas) impl->BindAll();
  std::unique_ptr<SiteService> service(new SiteService(std::move(impl)));
  Impl* i = service->impl_.get();
  if (options.threads) {
    for (int k = 0; k < options.max_concurrent; ++k) i->workers.emplace_back([i] { i->Worker(); });
    i->scheduler = std::thread([i] { i->SchedulerLoop(); });
  }
  return service;
}

absl::Status SiteService::Step() {
  {
    absl::MutexLock l(&impl_->mu);
    if (impl_->stopped) return absl::FailedPreconditionError("the site service was stopped");
  }
  impl_->ResumeJobs();
  impl_->Dispatch();
  if (!impl_->options.threads) impl_->RunQueuedHere();
  impl_->WaitIdle();
  return absl::OkStatus();
}

absl::Duration SiteService::NextDue() const { return impl_->NextDue(); }

void SiteService::Stop() {
  {
    absl::MutexLock l(&impl_->mu);
    if (impl_->stopped) return;
    impl_->stopping = true;
    // Queued cycles that never started are not running.
    for (const auto& [item_id, app] : impl_->queue) {
      (void)app;
      impl_->schedule[item_id].running = false;
      --impl_->stats.running;
    }
    impl_->queue.clear();
    impl_->cv.SignalAll();
  }
  if (impl_->scheduler.joinable()) impl_->scheduler.join();
  for (auto& w : impl_->workers) {
    if (w.joinable()) w.join();
  }
  (void)impl_->site->protection().CloseTrackers();
  if (impl_->endpoint != nullptr) {
    impl_->site->protection().SetTransport(nullptr);
    impl_->endpoint->Stop();
  }
  absl::MutexLock l(&impl_->mu);
  impl_->stats.running = 0;
  impl_->stopped = true;
}

SiteServiceStats SiteService::stats() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->stats;
}

bool SiteService::AwaitStats(const std::function<bool(const SiteServiceStats&)>& condition,
                             absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock l(&impl_->mu);
  while (!condition(impl_->stats)) {
    if (impl_->cv.WaitWithDeadline(&impl_->mu, deadline)) return condition(impl_->stats);
  }
  return true;
}

model::SiteServiceStatistics StatisticsOf(const SiteService& service) {
  const SiteServiceStats s = service.stats();
  model::SiteServiceStatistics m;
  m.set_cycles_ok(s.cycles_ok);
  m.set_cycles_failed(s.cycles_failed);
  m.set_points_committed(s.points_committed);
  m.set_running(s.running);
  m.set_protected_items(s.protected_items);
  m.set_endpoint_address(s.endpoint_address);
  m.set_next_due_seconds(absl::ToDoubleSeconds(service.NextDue()));
  return m;
}

}  // namespace asr::protection
