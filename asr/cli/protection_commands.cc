#include "asr/cli/protection_commands.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/vault.h"
#include "asr/model/json.h"
#include "asr/model/protection.pb.h"
#include "asr/model/protection_api.pb.h"
#include "asr/platform/signals.h"
#include "asr/protection/protection_service.h"
#include "asr/protection/site_service.h"
#include "asr/protection/throttle_schedule.h"
#include "asr/protection/tls_transport.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

constexpr char kPkiVariable[] = "ASR_PKI";

// The facade over --state-dir with the --fabric host attached.
absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx, bool write) {
  ASR_ASSIGN_OR_RETURN(SiteRecoveryOptions options, EngineOptionsWithHost(ctx));
  options.read_only = !write;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

// --pki DIR, else ASR_PKI, else "".
std::string PkiDir(const ParsedArgs& a) {
  if (a.Has("pki")) return a.Get("pki");
  const char* env = std::getenv(kPkiVariable);
  return env == nullptr ? std::string() : std::string(env);
}

// A duration flag (e.g. "30s", "5m"); `positive` refuses zero.
absl::StatusOr<absl::Duration> DurationFlag(const ParsedArgs& a, const std::string& name,
                                            absl::Duration def, bool positive) {
  if (!a.Has(name)) return def;
  absl::Duration d;
  if (!absl::ParseDuration(a.Get(name), &d) || d < absl::ZeroDuration() ||
      (positive && d == absl::ZeroDuration())) {
    return absl::InvalidArgumentError(absl::StrCat("--", name, " '", a.Get(name), "' is not a ",
                                                   positive ? "positive " : "",
                                                   "duration like 30s or 5m"));
  }
  return d;
}

// The transport of the flags: --pki (or ASR_PKI), --address,
// --receiver-name, --point-interval.
absl::StatusOr<protection::TransportOptions> TransportFromArgs(const ParsedArgs& a,
                                                               const std::string& pki) {
  protection::TransportOptions t;
  t.pki_dir = pki;
  t.address = a.Get("address");
  t.receiver_name = a.Get("receiver-name");
  ASR_ASSIGN_OR_RETURN(t.point_interval, DurationFlag(a, "point-interval", absl::ZeroDuration(),
                                                      /*positive=*/false));
  return t;
}

std::string FormatTime(int64_t unix_seconds) {
  return unix_seconds == 0 ? std::string("none") : fabric::FormatUnixTime(unix_seconds);
}

std::string FormatRpo(const model::ProtectedItem& item) {
  if (item.last_recovery_point_time_unix() == 0) return "-";
  if (item.rpo_seconds() <= 0) return "0s";
  return absl::FormatDuration(absl::Seconds(item.rpo_seconds()));
}

std::string StateName(const model::ProtectedItem& item) {
  return model::ProtectionState_Name(item.protection_state());
}

std::string HealthName(const model::ProtectedItem& item) {
  return item.replication_health() == model::REPLICATION_HEALTH_UNSPECIFIED
             ? std::string("-")
             : model::ReplicationHealth_Name(item.replication_health());
}

// A protection job, and with it (text only) the item as it is now.
absl::Status ReportProtectionJob(const CommandContext& ctx, SiteRecovery& sr,
                                 const absl::StatusOr<model::Job>& job,
                                 const std::string& item_ref) {
  ASR_RETURN_IF_ERROR(ReportJob(ctx, job));
  if (ctx.json || item_ref.empty()) return absl::OkStatus();
  absl::StatusOr<model::ProtectedItem> item = sr.protection().GetItem(item_ref);
  if (item.ok()) {
    *ctx.out << "  item " << item->id() << ": " << StateName(*item) << ", health "
             << HealthName(*item) << ", last recovery point "
             << FormatTime(item->last_recovery_point_time_unix()) << "\n";
  }
  return absl::OkStatus();
}

// Lets the endpoint refuse cycles the fabric's recovery storage cannot take
// (its "storage full" switch), as a real recovery host's disk would.
absl::Status AdmitByFabric(const CommandContext& ctx, protection::SiteServiceOptions* o) {
  ASR_ASSIGN_OR_RETURN(fabric::SimulatedFabric * f, FabricFor(ctx));
  if (f != nullptr) {
    o->admit = [f](const std::string& host_id) { return f->CheckRecoveryStorage(host_id); };
  }
  return absl::OkStatus();
}

// Runs `operation` with a recovery endpoint in this process when a PKI
// directory is given (a site service that serves replicas and does not
// replicate), so that the job's initial replication reaches a receiver;
// else with the transport as it is (none: the job says how to set one).
template <typename Fn>
absl::Status WithLocalEndpoint(const CommandContext& ctx, const ParsedArgs& a, SiteRecovery& sr,
                               Fn&& operation) {
  std::string pki = PkiDir(a);
  if (pki.empty()) return operation();
  ASR_ASSIGN_OR_RETURN(protection::TransportOptions transport, TransportFromArgs(a, pki));
  protection::SiteServiceOptions o;
  o.replicate = false;
  o.serve_replicas = true;
  o.threads = false;
  o.transport = transport;
  if (a.Has("listen")) o.listen = a.Get("listen");
  ASR_RETURN_IF_ERROR(AdmitByFabric(ctx, &o));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<protection::SiteService> endpoint,
                       protection::SiteService::Start(sr, o));
  absl::Status s = operation();
  endpoint->Stop();
  return s;
}

// ---- protect ------------------------------------------------------------------

absl::Status ProtectEnable(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  protection::EnableRequest r;
  ASR_ASSIGN_OR_RETURN(r.vm_ref, a.Require("vm"));
  r.pairing_ref = a.Get("pairing");
  r.recovery_host_ref = a.Get("recovery-host");
  return WithLocalEndpoint(ctx, a, *sr, [&] {
    return ReportProtectionJob(ctx, *sr, sr->protection().EnableProtection(r), r.vm_ref);
  });
}

absl::Status ProtectOnboard(const CommandContext& ctx, const ParsedArgs& a) {
  protection::OnboardRequest r;
  ASR_ASSIGN_OR_RETURN(r.vm_ref, a.Require("vm"));
  ASR_ASSIGN_OR_RETURN(r.recovery_host_ref, a.Require("recovery-host"));
  r.pairing_ref = a.Get("pairing");
  r.replica_dirs = a.GetAll("replica-dir");
  if (r.replica_dirs.empty()) {
    return absl::InvalidArgumentError(
        "--replica-dir DIR is required, once per disk of the VM in its disk order: the replica "
        "directories the VM already replicates into");
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return WithLocalEndpoint(ctx, a, *sr, [&] {
    return ReportProtectionJob(ctx, *sr, sr->protection().OnboardProtection(r), r.vm_ref);
  });
}

absl::Status ProtectDisable(const CommandContext& ctx, const ParsedArgs& a) {
  if (a.Has("item") == a.Has("vm")) {
    return absl::InvalidArgumentError(
        "give exactly one of --item ID (the protected item) or --vm VM (its VM)");
  }
  protection::DisableRequest r;
  r.item_ref = a.Has("item") ? a.Get("item") : a.Get("vm");
  r.force = a.Has("force");
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  std::string pki = PkiDir(a);
  if (!pki.empty()) {
    // The recovery side forgets the replicas through the transport.
    ASR_ASSIGN_OR_RETURN(protection::TransportOptions t, TransportFromArgs(a, pki));
    ASR_ASSIGN_OR_RETURN(std::shared_ptr<protection::Transport> transport,
                         protection::MakeTlsTransport(t));
    sr->protection().SetTransport(std::move(transport));
  }
  return ReportJob(ctx, sr->protection().DisableProtection(r));
}

// ---- item ---------------------------------------------------------------------

absl::Status ItemList(const CommandContext& ctx, const ParsedArgs&) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, sr->protection().ListItems());
  if (ctx.json) {
    std::vector<std::string> json;
    for (const model::ProtectedItem& item : items) json.push_back(model::ToJson(item));
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
    return absl::OkStatus();
  }
  if (items.empty()) {
    *ctx.out << "no protected items; protect a VM with 'asrctl protect enable --vm VM'\n";
    return absl::OkStatus();
  }
  for (const model::ProtectedItem& item : items) {
    *ctx.out << (item.vm_name().empty() ? item.vm_id() : item.vm_name()) << "  " << item.id()
             << "  " << StateName(item) << "  health " << HealthName(item) << "  last point "
             << FormatTime(item.last_recovery_point_time_unix()) << "  RPO " << FormatRpo(item)
             << "\n";
  }
  return absl::OkStatus();
}

// The bandwidth throttle in force and the RPO expected with it (throttle.h).
void PrintThrottleInForce(std::ostream& o, const model::ProtectedItem& item) {
  const model::ThrottleInForce& t = item.throttle_in_force();
  o << "  throttle: " << protection::FormatRate(t.bits_per_second());
  if (!t.source().empty()) o << " (" << t.source() << " throttle: " << t.rule() << ")";
  if (t.next_change_unix() != 0) o << ", changes at " << FormatTime(t.next_change_unix());
  if (item.expected_rpo_seconds() > 0) {
    o << "; expected RPO " << absl::FormatDuration(absl::Seconds(item.expected_rpo_seconds()));
  }
  o << "\n";
}

void PrintItem(std::ostream& o, const model::ProtectedItem& item) {
  o << (item.vm_name().empty() ? item.vm_id() : item.vm_name()) << " (item " << item.id() << ", VM "
    << item.vm_id() << ")\n"
    << "  state: " << StateName(item);
  if (!item.protection_state_description().empty() &&
      item.protection_state_description() != StateName(item)) {
    o << " (" << item.protection_state_description() << ")";
  }
  o << "\n  health: " << HealthName(item) << "\n";
  for (const model::HealthError& e : item.health_errors()) {
    o << "    " << e.severity() << " " << e.code() << ": " << e.message() << "\n";
    if (!e.recommended_action().empty()) {
      o << "      recommended action: " << e.recommended_action() << "\n";
    }
  }
  if (item.last_verification_time_unix() != 0 || item.resync_state() != model::None) {
    o << "  resync: " << model::ResyncState_Name(item.resync_state()) << ", "
      << model::ResynchronizationState_Name(item.resynchronization_state())
      << "; last verification " << FormatTime(item.last_verification_time_unix()) << ": "
      << item.last_verification_result() << "\n";
  }
  o << "  allowed operations: "
    << (item.allowed_operations().empty() ? std::string("none")
                                          : absl::StrJoin(item.allowed_operations(), ", "))
    << "\n"
    << "  last recovery point: " << FormatTime(item.last_recovery_point_time_unix())
    << "  RPO: " << FormatRpo(item) << "\n"
    << "  primary host: "
    << (item.primary_host_name().empty() ? item.primary_host_id() : item.primary_host_name())
    << "\n"
    << "  replica VM: "
    << (item.replica_vm_name().empty() ? item.replica_vm_id() : item.replica_vm_name()) << " on "
    << (item.replica_host_name().empty() ? item.replica_host_id() : item.replica_host_name())
    << "\n";
  PrintThrottleInForce(o, item);
  if (!item.initial_replication_method().empty()) {
    o << "  initial replication: " << item.initial_replication_method() << "\n";
  }
  // Failover (asr/failover/failover_service.h).
  o << "  active location: "
    << (item.active_location().empty() ? std::string("Primary") : item.active_location())
    << ", test failover: "
    << (item.test_failover_state().empty() ? std::string("None") : item.test_failover_state());
  if (!item.test_vm_id().empty()) o << " (test VM " << item.test_vm_id() << ")";
  o << "\n  last failover: " << FormatTime(item.last_successful_failover_time_unix())
    << ", last test failover: " << FormatTime(item.last_successful_test_failover_time_unix())
    << "\n";
  if (!item.failover_recovery_point_id().empty()) {
    o << "  failed over to " << item.failover_recovery_point_id() << " (" << item.failover_type()
      << "): data loss about " << item.data_loss_seconds() << " s, " << item.data_loss_cycles()
      << " cycles\n";
  }
  o << "  disks:\n";
  for (const model::ProtectedDisk& d : item.disks()) {
    o << "    " << d.disk_id() << " " << d.source_path() << " -> " << d.replica_dir() << " (cycle "
      << d.last_cycle() << ")\n";
  }
  for (const model::ReplicaNic& n : item.replica_nics()) {
    o << "  replica NIC " << n.nic_id() << ": "
      << (n.vm_network_id().empty() ? std::string("not connected")
                                    : absl::StrCat(n.vm_network_id(), " / ", n.subnet_name()))
      << "\n";
  }
  if (!item.current_scenario().job_id().empty()) {
    o << "  current job: " << item.current_scenario().scenario_name() << " "
      << item.current_scenario().job_id() << "\n";
  }
  if (!item.recent_cycles().empty()) {
    const model::CycleOutcome& c = item.recent_cycles(item.recent_cycles_size() - 1);
    o << "  last cycle: " << FormatTime(c.time_unix()) << " "
      << (c.ok() ? absl::StrCat("ok, point ", c.point_sequence(), ", ", c.bytes_sent(), " bytes")
                 : absl::StrCat("failed: ", c.error()))
      << (c.app_consistent_fallback().empty()
              ? ""
              : absl::StrCat(" (crash-consistent: ", c.app_consistent_fallback(), ")"))
      << "\n";
  }
}

absl::Status ItemShow(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, sr->protection().GetItem(a.positional[0]));
  if (ctx.json) {
    *ctx.out << model::ToJson(item) << "\n";
  } else {
    PrintItem(*ctx.out, item);
  }
  return absl::OkStatus();
}

absl::Status ItemPoints(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                       sr->protection().ListRecoveryPoints(a.positional[0]));
  if (ctx.json) {
    std::vector<std::string> json;
    for (const model::RecoveryPoint& p : points) json.push_back(model::ToJson(p));
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
    return absl::OkStatus();
  }
  if (points.empty()) {
    *ctx.out << "no recovery points yet\n";
    return absl::OkStatus();
  }
  for (const model::RecoveryPoint& p : points) {
    *ctx.out << p.sequence() << "  " << FormatTime(p.recovery_point_time_unix()) << "  "
             << model::RecoveryPointType_Name(p.recovery_point_type()) << "  " << p.disks_size()
             << (p.disks_size() == 1 ? " disk" : " disks") << "  " << p.id() << "\n";
  }
  return absl::OkStatus();
}

// ---- item verify / resync (item_resync.h) -------------------------------------

void PrintVerification(std::ostream& o, const model::ItemVerification& v) {
  o << (v.vm_name().empty() ? v.protected_item_id() : v.vm_name()) << ": " << v.reason() << "\n";
  for (const model::DiskVerification& d : v.disks()) {
    o << "  disk " << (d.name().empty() ? d.disk_id() : d.name()) << ": point " << d.point_id()
      << ", " << d.blocks_checked() << " blocks checked, " << d.replica_mismatches() << " differ";
    if (d.flagged_blocks() > 0) o << ", " << d.flagged_blocks() << " flagged earlier";
    if (d.replica_mismatch_blocks_size() > 0) {
      std::vector<std::string> first;
      for (uint64_t b : d.replica_mismatch_blocks()) {
        first.push_back(absl::StrCat(b, " (offset ", b * d.block_size(), ")"));
      }
      o << "; first: block " << absl::StrJoin(first, ", ");
    }
    o << "\n";
  }
  if (v.resynchronized()) {
    o << "  resynchronized: point " << v.point_sequence() << ", " << v.bytes_sent()
      << " bytes sent\n";
  }
}

absl::Status ItemVerify(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  absl::StatusOr<model::ItemVerification> v;
  ASR_RETURN_IF_ERROR(WithLocalEndpoint(ctx, a, *sr, [&] {
    v = sr->protection().VerifyItem(a.positional[0]);
    return absl::OkStatus();
  }));
  ASR_RETURN_IF_ERROR(v.status());
  if (ctx.json) {
    *ctx.out << model::ToJson(*v) << "\n";
  } else {
    PrintVerification(*ctx.out, *v);
  }
  if (v->resync_required()) {
    return absl::DataLossError(absl::StrCat(
        v->reason(), "; resynchronize with `asrctl item resync ", a.positional[0], "`"));
  }
  return absl::OkStatus();
}

absl::Status ItemResync(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  absl::StatusOr<model::ItemVerification> v;
  ASR_RETURN_IF_ERROR(WithLocalEndpoint(ctx, a, *sr, [&] {
    v = sr->protection().ResyncItem(a.positional[0]);
    return absl::OkStatus();
  }));
  ASR_RETURN_IF_ERROR(v.status());
  if (ctx.json) {
    *ctx.out << model::ToJson(*v) << "\n";
  } else {
    PrintVerification(*ctx.out, *v);
  }
  return absl::OkStatus();
}

// ---- site run -----------------------------------------------------------------

absl::Status SiteRun(const CommandContext& ctx, const ParsedArgs& a) {
  if (a.Has("serve-only") && a.Has("replicate-only")) {
    return absl::InvalidArgumentError("--serve-only and --replicate-only exclude each other");
  }
  protection::SiteServiceOptions o;
  o.replicate = !a.Has("serve-only");
  o.serve_replicas = !a.Has("replicate-only");
  o.threads = true;
  if (a.Has("listen")) o.listen = a.Get("listen");
  if (a.Has("max-concurrent")) {
    ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(a.Get("max-concurrent"), "--max-concurrent", 1, 1024));
    o.max_concurrent = static_cast<int>(n);
  }
  std::string pki = PkiDir(a);
  if (pki.empty()) {
    return absl::InvalidArgumentError(
        "--pki DIR (or ASR_PKI) is required: the vault PKI directory with the certificates "
        "of both sides ('asrctl pki init --dir DIR' makes it)");
  }
  ASR_ASSIGN_OR_RETURN(o.transport, TransportFromArgs(a, pki));
  ASR_ASSIGN_OR_RETURN(absl::Duration duration,
                       DurationFlag(a, "duration", absl::InfiniteDuration(), /*positive=*/true));
  // One line per cycle, failure and state change, from the pool's threads.
  absl::Mutex out_mu;
  std::ostream& lines = ctx.json ? *ctx.err : *ctx.out;
  o.log = [&](absl::string_view line) {
    absl::MutexLock l(&out_mu);
    lines << line << std::endl;
  };

  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  ASR_RETURN_IF_ERROR(AdmitByFabric(ctx, &o));
  // SIGTERM and SIGINT stop the service cleanly: running cycles finish their
  // sends, trackers and the endpoint close. Blocked before any thread starts.
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<platform::TerminationSignals> signals,
                       platform::TerminationSignals::Block());
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<protection::SiteService> site,
                       protection::SiteService::Start(*sr, o));
  {
    protection::SiteServiceStats s = site->stats();
    absl::MutexLock l(&out_mu);
    lines << "site service running: " << s.protected_items << " protected items"
          << (o.replicate ? ", replicating" : "")
          << (s.endpoint_address.empty()
                  ? std::string()
                  : absl::StrCat(", recovery endpoint on ", s.endpoint_address))
          << (duration == absl::InfiniteDuration()
                  ? std::string(" (until SIGTERM or SIGINT)")
                  : absl::StrCat(" for ", absl::FormatDuration(duration)))
          << std::endl;
  }
  absl::Notification stop;
  std::thread stopper([&] {
    std::string name = signals->Wait();
    if (name.empty()) return;  // the duration ended
    {
      absl::MutexLock l(&out_mu);
      lines << name << ": stopping the site service" << std::endl;
    }
    stop.Notify();
  });
  stop.WaitForNotificationWithTimeout(duration);
  signals->Cancel();
  stopper.join();
  site->Stop();
  model::SiteServiceStatistics stats = protection::StatisticsOf(*site);
  if (ctx.json) {
    *ctx.out << model::ToJson(stats) << "\n";
  } else {
    *ctx.out << "site service stopped: " << stats.cycles_ok() << " cycles ok, "
             << stats.cycles_failed() << " failed, " << stats.points_committed()
             << " recovery points committed\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterProtectionCommands(CommandRegistry& r) {
  r.Add({"protect enable",
         "protect enable --vm VM [--pairing P] [--recovery-host H] [--pki DIR] "
         "[--point-interval D] [--json]",
         "Enable protection of a VM: create its replica VM on the recovery host and replicate "
         "its disks (with --pki, or ASR_PKI, the initial replication runs to a recovery "
         "endpoint in this process).",
         {"vm", "pairing", "recovery-host", "pki", "point-interval", "listen", "address",
          "receiver-name"},
         {},
         0,
         0,
         ProtectEnable});
  r.Add({"protect onboard",
         "protect onboard --vm VM --recovery-host H --replica-dir DIR [--replica-dir DIR ...] "
         "[--pairing P] [--pki DIR] [--json]",
         "Adopt a VM that already replicates to H: its existing replica directories (one per "
         "disk, in disk order) are reused.",
         {"vm", "pairing", "recovery-host", "replica-dir", "pki", "point-interval", "listen",
          "address", "receiver-name"},
         {},
         0,
         0,
         ProtectOnboard});
  r.Add({"protect disable",
         "protect disable (--item ID | --vm VM) [--force] [--pki DIR] [--json]",
         "Disable protection: stop replicating and remove the replica VM (its disks too when "
         "the policy's replica deletion is Required); --force removes the item even when the "
         "host cannot remove the replica.",
         {"item", "vm", "pki", "address", "receiver-name"},
         {"force"},
         0,
         0,
         ProtectDisable});
  r.Add({"item list",
         "item list [--json]",
         "List protected items: state, health, last recovery point, RPO.",
         {},
         {},
         0,
         0,
         ItemList});
  r.Add({"item show",
         "item show VM|ITEM [--json]",
         "Show a protected item: state, health with reasons, allowed operations, last "
         "recovery point, RPO, disks, replica VM.",
         {},
         {},
         1,
         1,
         ItemShow});
  r.Add({"item points",
         "item points VM|ITEM [--json]",
         "List a protected VM's recovery points (each covers all its disks), oldest first.",
         {},
         {},
         1,
         1,
         ItemPoints});
  r.Add({"item verify",
         "item verify VM|ITEM [--pki DIR] [--address HOST:PORT] [--json]",
         "Verify a protected VM's replicas: the recovery side digests each replica's latest "
         "point and they are compared with what was replicated. A difference (bit rot, a manual "
         "edit, a replica cut short) marks the item 'resynchronization required' (health "
         "Critical, RepairReplication allowed) and exits 1. With --pki the recovery endpoint "
         "runs in this process.",
         {"pki", "listen", "address", "receiver-name", "point-interval"},
         {},
         1,
         1,
         ItemVerify});
  r.Add({"item resync",
         "item resync VM|ITEM [--pki DIR] [--address HOST:PORT] [--json]",
         "Resynchronize a VM whose replicas need it (RepairReplication): fresh replica digests, "
         "then one cycle of every disk that compares the source with them and sends only the "
         "blocks that differ, as one new recovery point.",
         {"pki", "listen", "address", "receiver-name", "point-interval"},
         {},
         1,
         1,
         ItemResync});
  r.Add({"site run",
         "site run [--pki DIR] [--listen ADDR] [--address HOST:PORT] [--receiver-name N] "
         "[--max-concurrent N] [--duration D] [--point-interval D] "
         "[--serve-only | --replicate-only] [--json]",
         "Run the site service in the foreground until SIGTERM/SIGINT (or --duration): "
         "replicate every protected VM on its policy's schedule and serve every replica from "
         "one recovery endpoint; one line per cycle.",
         {"pki", "listen", "address", "receiver-name", "max-concurrent", "duration",
          "point-interval"},
         {"serve-only", "replicate-only"},
         0,
         0,
         SiteRun});
}

}  // namespace asr::cli
