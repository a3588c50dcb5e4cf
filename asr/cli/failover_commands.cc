#include "asr/cli/failover_commands.h"

#include <cstdlib>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/fabric_service.h"
#include "asr/failover/failover_service.h"
#include "asr/model/json.h"
#include "asr/protection/site_service.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

using failover::FailoverInput;

// --pki DIR, else ASR_PKI, else "".
std::string PkiDir(const ParsedArgs& a) {
  if (a.Has("pki")) return a.Get("pki");
  const char* env = std::getenv("ASR_PKI");
  return env == nullptr ? std::string() : std::string(env);
}

// The failover fields of the item after the job (text only).
void PrintItem(const CommandContext& ctx, SiteRecovery& sr, const std::string& ref) {
  if (ctx.json) return;
  absl::StatusOr<model::ProtectedItem> i = sr.protection().GetItem(ref);
  if (!i.ok()) return;
  *ctx.out << "  item " << i->id() << ": " << model::ProtectionState_Name(i->protection_state())
           << ", active location "
           << (i->active_location().empty() ? "Primary" : i->active_location());
  if (!i->test_failover_state().empty()) *ctx.out << ", test failover " << i->test_failover_state();
  if (!i->failover_recovery_point_id().empty()) {
    *ctx.out << ", point " << i->failover_recovery_point_id() << " (data loss about "
             << i->data_loss_seconds() << " s, " << i->data_loss_cycles() << " cycles)";
  }
  *ctx.out << "\n  allowed: ";
  for (int k = 0; k < i->allowed_operations_size(); ++k) {
    *ctx.out << (k ? ", " : "") << i->allowed_operations(k);
  }
  *ctx.out << "\n";
}

absl::StatusOr<FailoverInput> InputFromArgs(const ParsedArgs& a) {
  FailoverInput in;
  in.item_ref = a.positional.at(0);
  if (a.Has("direction")) in.direction = a.Get("direction");
  if (a.Has("tag") && a.Has("point")) {
    return absl::InvalidArgumentError("give --tag or --point, not both");
  }
  if (a.Has("tag")) in.recovery_tag = a.Get("tag");
  if (a.Has("point")) in.recovery_point_id = a.Get("point");
  if (a.Has("network")) {
    const std::string n = absl::AsciiStrToLower(a.Get("network"));
    if (n == "none") {
      in.network_type = "None";
    } else if (n == "isolated") {
      in.network_type = "Isolated";
    } else if (n == "vmnetwork") {
      in.network_type = "VmNetwork";
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--network '", a.Get("network"),
                                                     "' is not one of None, Isolated, VmNetwork"));
    }
  }
  in.network_id = a.Get("network-id");
  if (a.Has("network-id") && !a.Has("network")) in.network_type = "VmNetwork";
  if (a.Has("optimize")) in.optimize = a.Get("optimize");
  in.perform_source_side_action = a.bools.count("source-side-action") > 0;
  return in;
}

std::function<absl::Status(const CommandContext&, const ParsedArgs&)> Operation(
    absl::string_view operation) {
  const std::string op(operation);
  return [op](const CommandContext& ctx, const ParsedArgs& a) -> absl::Status {
    ASR_ASSIGN_OR_RETURN(FailoverInput in, InputFromArgs(a));
    if (op == failover::kFailback) in.direction = "RecoveryToPrimary";
    return WithRecoveryEndpoint(ctx, a, [&](SiteRecovery& sr) -> absl::Status {
      ASR_RETURN_IF_ERROR(ReportJob(ctx, sr.failover().Start(op, in)));
      PrintItem(ctx, sr, in.item_ref);
      return absl::OkStatus();
    });
  };
}

absl::Status Resume(const CommandContext& ctx, const ParsedArgs& a) {
  return WithRecoveryEndpoint(ctx, a, [&](SiteRecovery& sr) {
    return ReportJob(ctx, sr.jobs().Resume(a.positional.at(0)));
  });
}

const std::set<std::string> kTransportFlags = {"pki", "address", "receiver-name", "listen",
                                               "point-interval"};

std::set<std::string> Flags(std::set<std::string> more) {
  more.insert(kTransportFlags.begin(), kTransportFlags.end());
  return more;
}

}  // namespace

// Runs `operation` over the state with the fabric as host and, when a PKI
// directory is given, a recovery endpoint in this process (the last cycles
// of a failover reach it).
absl::Status WithRecoveryEndpoint(const CommandContext& ctx, const ParsedArgs& a,
                                  const std::function<absl::Status(SiteRecovery&)>& operation) {
  ASR_ASSIGN_OR_RETURN(SiteRecoveryOptions options, EngineOptionsWithHost(ctx));
  options.create_if_missing = false;
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr,
                       SiteRecovery::Open(ctx.state_dir, options));
  std::string pki = PkiDir(a);
  if (pki.empty()) return operation(*sr);
  protection::SiteServiceOptions o;
  o.replicate = false;
  o.serve_replicas = true;
  o.threads = false;
  o.transport.pki_dir = pki;
  o.transport.address = a.Get("address");
  o.transport.receiver_name = a.Get("receiver-name");
  if (a.Has("point-interval")) {
    absl::Duration d;
    if (!absl::ParseDuration(a.Get("point-interval"), &d) || d < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("--point-interval '", a.Get("point-interval"),
                                                     "' is not a duration like 30s or 5m"));
    }
    o.transport.point_interval = d;
  }
  if (a.Has("listen")) o.listen = a.Get("listen");
  ASR_ASSIGN_OR_RETURN(fabric::SimulatedFabric * f, FabricFor(ctx));
  if (f != nullptr) {
    o.admit = [f](const std::string& host_id) { return f->CheckRecoveryStorage(host_id); };
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<protection::SiteService> endpoint,
                       protection::SiteService::Start(*sr, o));
  absl::Status s = operation(*sr);
  endpoint->Stop();
  return s;
}

std::set<std::string> RecoveryEndpointFlags() { return kTransportFlags; }

void RegisterFailoverCommands(CommandRegistry& r) {
  r.Add({"failover test",
         "failover test VM [--tag Latest|LatestAvailable|LatestAvailableApplicationConsistent | "
         "--point ID] [--network None|Isolated|VmNetwork] [--network-id NET] [--pki DIR] [--json]",
         "Test failover: a test VM on the replica's host from a view of the point (no disk copy), "
         "started beside production replication; its writes reach no replica.",
         Flags({"tag", "point", "network", "network-id", "direction"}),
         {},
         1,
         1,
         Operation(failover::kTestFailover)});
  r.Add({"failover cleanup",
         "failover cleanup VM [--json]",
         "Delete the test VM, its views and its isolated network.",
         Flags({}),
         {},
         1,
         1,
         Operation(failover::kTestFailoverCleanup)});
  r.Add({"failover planned",
         "failover planned VM [--optimize ForSynchronization|ForDownTime] --pki DIR [--json]",
         "Planned failover: shut the VM down cleanly, send the last changes, start the replica "
         "(zero data loss). ForDownTime syncs while the VM runs and suspends the job: "
         "'asrctl failover resume JOB' does the rest.",
         Flags({"optimize", "direction"}),
         {},
         1,
         1,
         Operation(failover::kPlannedFailover)});
  r.Add({"failover resume",
         "failover resume JOB --pki DIR [--json]",
         "Resume a suspended planned failover (ForDownTime): shutdown, last sync, replica start.",
         Flags({}),
         {},
         1,
         1,
         Resume});
  r.Add({"failover unplanned",
         "failover unplanned VM [--tag Latest|LatestAvailable|LatestAvailableApplicationConsistent|"
         "LatestAvailableCrashConsistent | --point ID] [--source-side-action] [--pki DIR] [--json]",
         "Unplanned failover to a point (Latest syncs first when the source answers); "
         "--source-side-action shuts the source down first when reachable. Reports the data lost.",
         Flags({"tag", "point", "direction"}),
         {"source-side-action"},
         1,
         1,
         Operation(failover::kUnplannedFailover)});
  r.Add({"failover change-point",
         "failover change-point VM (--point ID | --tag T) [--json]",
         "Before commit: run the failed-over VM from another recovery point.",
         Flags({"tag", "point"}),
         {},
         1,
         1,
         Operation(failover::kChangePit)});
  r.Add({"failover commit",
         "failover commit VM [--json]",
         "Make the failover final: the recovery points are discarded.",
         Flags({}),
         {},
         1,
         1,
         Operation(failover::kCommit)});
  r.Add({"failover cancel",
         "failover cancel VM [--json]",
         "Back to protected: the replica VM off and rolled back to its latest point, the source "
         "VM started again if the failover stopped it.",
         Flags({}),
         {},
         1,
         1,
         Operation(failover::kCancelFailover)});
  r.Add({"reprotect",
         "reprotect VM --pki DIR [--json]",
         "Reverse replication after a commit: the old source's disks become the replica (no "
         "copy) and only the blocks that differ are sent; the VM is protected from where it runs.",
         Flags({}),
         {},
         1,
         1,
         Operation(failover::kReverseReplicate)});
  r.Add({"failback",
         "failback VM --pki DIR [--json]",
         "Back to where the VM started: planned failover in the other direction, commit and "
         "reverse replication again.",
         Flags({}),
         {},
         1,
         1,
         Operation(failover::kFailback)});
}

}  // namespace asr::cli
