// asr/protection/site_service.h: the long-running part of a site. It keeps
// every protected VM replicating on its policy's schedule and, when this
// process is also the recovery side, serves every replica of the site from
// one recovery endpoint.
//
//   SiteServiceOptions o;
//   o.transport = {.pki_dir = "pki"};
//   ASR_ASSIGN_OR_RETURN(auto site, SiteService::Start(*sr, o));   // threads
//   ...                                                            // until SIGTERM
//   site->Stop();    // finishes running cycles' sends, closes trackers and the endpoint
//
// or, for a host that drives it from its own loop (the provider DLL):
//
//   o.threads = false;
//   ASR_ASSIGN_OR_RETURN(auto site, SiteService::Start(*sr, o));
//   for (;;) { ASR_RETURN_IF_ERROR(site->Step()); Sleep(site->NextDue()); }
//
// Scheduling, per protected item (state Protected or InitialReplication*):
//
//   due = last cycle start + copy frequency (30/300/900 s; 300 s for
//         HyperVReplica2012), read from the policy at every pass, so a new
//         frequency applies from the next cycle
//   app-consistent when the last app-consistent point is at least the
//         policy's app-consistent frequency (hours) old
//   a failed cycle is retried after min(frequency, 30 s) * 2^(failures-1),
//         at most the frequency
//   at most `max_concurrent` items replicate at once (a bounded pool); an
//         item never runs twice at once; a slow or failing item holds one
//         slot and no other item waits for it
//
// Replication groups (group_service.h): a group is scheduled as one unit at
// its sync interval (from its last group cycle; failures back off as
// above) and its members are not scheduled on their own; a group cycle
// holds one slot of the pool.
//
// Crash or kill -9 at any moment: on the next Start, jobs left running are
// marked Failed (restartable), trackers that were not closed cleanly make
// the next cycle of their disk a scan, a cycle whose ACK was lost is
// recognized by the replica's point (nothing is sent twice), and a VM point
// that only some disks committed is completed by the next cycle.
//
// Thread safety: Step, Stop, stats and NextDue may be called from any
// thread; Step must not run concurrently with itself.
#ifndef ASR_PROTECTION_SITE_SERVICE_H_
#define ASR_PROTECTION_SITE_SERVICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "asr/model/protection_api.pb.h"
#include "asr/protection/tls_transport.h"

namespace asr {
class SiteRecovery;
}

namespace asr::protection {

struct SiteServiceOptions {
  // Replicate this site's protected VMs (the primary side).
  bool replicate = true;
  // Also run the recovery endpoint for every replica of the site, in this
  // process (the embedded default: both sites on one machine). Start binds
  // every protected item's replicas before it returns, so a serve-only
  // process may hand out its address at once; the bindings are refreshed
  // from the state every 10 s.
  bool serve_replicas = true;
  // Where the recovery endpoint listens ("127.0.0.1:0": any free port; the
  // senders of this process are pointed at it).
  std::string listen = "127.0.0.1:0";
  TransportOptions transport;
  int max_concurrent = 4;
  // Run the scheduler on its own thread (Start returns at once); false: the
  // caller calls Step.
  bool threads = true;
  // Consulted before the endpoint accepts a cycle for a replica on recovery
  // host `host_id` (e.g. the simulated fabric's "disk full" switch); its
  // error is what the sender gets. Null: always OK.
  std::function<absl::Status(const std::string& host_id)> admit;
  // One line per cycle, failure and state change (no trailing newline).
  std::function<void(absl::string_view line)> log;
};

struct SiteServiceStats {
  uint64_t cycles_ok = 0;
  uint64_t cycles_failed = 0;
  uint64_t points_committed = 0;  // whole-VM points
  int running = 0;                // cycles in flight now
  int protected_items = 0;
  std::string endpoint_address;  // "" when not serving replicas
};

class SiteService {
 public:
  static absl::StatusOr<std::unique_ptr<SiteService>> Start(SiteRecovery& site,
                                                            const SiteServiceOptions& options);
  ~SiteService();  // Stop()
  SiteService(const SiteService&) = delete;
  SiteService& operator=(const SiteService&) = delete;

  // One scheduling pass: starts the cycles that are due (on the pool, or on
  // this thread without threads) and returns when they have finished.
  absl::Status Step();
  // How long until the next item is due (for callers of Step).
  absl::Duration NextDue() const;
  // Stops scheduling, waits for running cycles, closes the trackers and the
  // endpoint. Idempotent.
  void Stop();
  SiteServiceStats stats() const;
  // Waits until `condition` holds or `timeout` passes; returns whether it holds.
  bool AwaitStats(const std::function<bool(const SiteServiceStats&)>& condition,
                  absl::Duration timeout) const;

  struct Impl;

 private:
  explicit SiteService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The service's statistics as the model's message (for the C API, the CLI
// and .NET): stats() and NextDue().
model::SiteServiceStatistics StatisticsOf(const SiteService& service);

}  // namespace asr::protection

#endif  // ASR_PROTECTION_SITE_SERVICE_H_
