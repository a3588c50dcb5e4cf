#include "asr/cli/group_commands.h"

#include <cstdlib>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/simulated_fabric.h"
#include "asr/fabric/vault.h"
#include "asr/model/groups.pb.h"
#include "asr/model/json.h"
#include "asr/protection/group_service.h"
#include "asr/protection/site_service.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx, bool write) {
  ASR_ASSIGN_OR_RETURN(SiteRecoveryOptions options, EngineOptionsWithHost(ctx));
  options.read_only = !write;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

std::string FormatTime(int64_t unix_seconds) {
  return unix_seconds == 0 ? std::string("none") : fabric::FormatUnixTime(unix_seconds);
}

absl::StatusOr<int> SyncInterval(const ParsedArgs& a) {
  if (!a.Has("sync-interval")) return 0;
  ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(a.Get("sync-interval"), "--sync-interval", 0, 86400));
  return static_cast<int>(n);
}

absl::StatusOr<std::vector<std::string>> Vms(const ParsedArgs& a) {
  std::vector<std::string> vms = a.GetAll("vm");
  if (vms.empty()) {
    return absl::InvalidArgumentError("--vm VM is required (once per VM; a VM's name or id)");
  }
  return vms;
}

void PrintGroup(std::ostream& out, protection::GroupService& groups,
                const model::ReplicationGroup& g) {
  out << "group " << g.name() << " (" << g.id() << ")\n";
  out << "  sync interval: " << groups.EffectiveSyncIntervalSeconds(g) << " s"
      << (g.sync_interval_seconds() == 0 ? " (the members' copy frequency)" : "") << "\n";
  out << "  pairing: " << (g.pairing_id().empty() ? "-" : g.pairing_id()) << "\n";
  out << "  members: "
      << (g.protected_item_ids().empty() ? std::string("none")
                                         : absl::StrJoin(g.protected_item_ids(), ", "))
      << "\n";
  out << "  latest shared point: "
      << (g.latest_shared_point_id().empty()
              ? std::string("none")
              : absl::StrCat(g.latest_shared_point_id(), " at ",
                             FormatTime(g.last_shared_point_time_unix())))
      << "\n";
  for (const auto& c : g.recent_cycles()) {
    out << "  cycle " << FormatTime(c.time_unix()) << ": "
        << (c.ok() ? absl::StrCat("shared point ", c.point_sequence(), ", ",
                                  c.committed_item_ids_size(), " VMs, ", c.bytes_sent(), " bytes")
                   : absl::StrCat("failed (", c.committed_item_ids_size(),
                                  " VMs committed, no shared point): ", c.error()))
        << (c.app_consistent_fallback().empty()
                ? ""
                : absl::StrCat(" (crash-consistent: ", c.app_consistent_fallback(), ")"))
        << "\n";
  }
}

absl::Status Report(const CommandContext& ctx, protection::GroupService& groups,
                    const absl::StatusOr<model::ReplicationGroup>& g) {
  ASR_RETURN_IF_ERROR(g.status());
  if (ctx.json) {
    *ctx.out << model::ToJson(*g) << "\n";
  } else {
    PrintGroup(*ctx.out, groups, *g);
  }
  return absl::OkStatus();
}

absl::Status GroupCreate(const CommandContext& ctx, const ParsedArgs& a) {
  protection::GroupCreateRequest r;
  r.name = a.positional[0];
  r.item_refs = a.GetAll("vm");
  ASR_ASSIGN_OR_RETURN(r.sync_interval_seconds, SyncInterval(a));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return Report(ctx, sr->groups(), sr->groups().Create(r));
}

absl::Status GroupAdd(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::vector<std::string> vms, Vms(a));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return Report(ctx, sr->groups(), sr->groups().AddMembers(a.positional[0], vms));
}

absl::Status GroupRemove(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::vector<std::string> vms, Vms(a));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return Report(ctx, sr->groups(), sr->groups().RemoveMembers(a.positional[0], vms));
}

absl::Status GroupSet(const CommandContext& ctx, const ParsedArgs& a) {
  if (!a.Has("sync-interval")) {
    return absl::InvalidArgumentError(
        "--sync-interval SECONDS is required (0: the copy frequency)");
  }
  ASR_ASSIGN_OR_RETURN(int seconds, SyncInterval(a));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return Report(ctx, sr->groups(), sr->groups().SetSyncInterval(a.positional[0], seconds));
}

absl::Status GroupShow(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  return Report(ctx, sr->groups(), sr->groups().Get(a.positional[0]));
}

absl::Status GroupList(const CommandContext& ctx, const ParsedArgs&) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  ASR_ASSIGN_OR_RETURN(std::vector<model::ReplicationGroup> groups, sr->groups().List());
  if (ctx.json) {
    std::vector<std::string> json;
    for (const auto& g : groups) json.push_back(model::ToJson(g));
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
    return absl::OkStatus();
  }
  if (groups.empty()) *ctx.out << "no replication groups\n";
  for (const auto& g : groups) {
    *ctx.out << g.name() << "  " << g.protected_item_ids_size() << " VMs  every "
             << sr->groups().EffectiveSyncIntervalSeconds(g) << " s  latest shared point "
             << FormatTime(g.last_shared_point_time_unix()) << "\n";
  }
  return absl::OkStatus();
}

absl::Status GroupPoints(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  ASR_ASSIGN_OR_RETURN(std::vector<model::GroupRecoveryPoint> points,
                       sr->groups().ListSharedPoints(a.positional[0]));
  if (ctx.json) {
    std::vector<std::string> json;
    for (const auto& p : points) json.push_back(model::ToJson(p));
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
    return absl::OkStatus();
  }
  if (points.empty()) *ctx.out << "no shared points yet\n";
  for (const auto& p : points) {
    std::vector<std::string> members;
    for (const auto& m : p.members()) {
      members.push_back(
          absl::StrCat(m.vm_name().empty() ? m.vm_id() : m.vm_name(), "=", m.recovery_point_id()));
    }
    *ctx.out << p.sequence() << "  " << FormatTime(p.recovery_point_time_unix()) << "  "
             << model::RecoveryPointType_Name(p.recovery_point_type()) << "  " << p.id() << "  "
             << absl::StrJoin(members, " ") << "\n";
  }
  return absl::OkStatus();
}

absl::Status GroupDelete(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  ASR_RETURN_IF_ERROR(sr->groups().Delete(a.positional[0]));
  if (!ctx.json) *ctx.out << "deleted replication group " << a.positional[0] << "\n";
  return absl::OkStatus();
}

absl::Status GroupReplicate(const CommandContext& ctx, const ParsedArgs& a) {
  std::string pki = a.Get("pki");
  if (pki.empty()) {
    const char* env = std::getenv("ASR_PKI");
    if (env != nullptr) pki = env;
  }
  if (pki.empty()) {
    return absl::InvalidArgumentError(
        "--pki DIR (or ASR_PKI) is required: the vault PKI directory (`asrctl pki init`)");
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  protection::SiteServiceOptions o;
  o.threads = false;
  o.transport.pki_dir = pki;
  ASR_ASSIGN_OR_RETURN(fabric::SimulatedFabric * f, FabricFor(ctx));
  if (f != nullptr) {
    o.admit = [f](const std::string& host_id) { return f->CheckRecoveryStorage(host_id); };
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<protection::SiteService> service,
                       protection::SiteService::Start(*sr, o));
  protection::GroupReplicateOptions ro;
  ro.app_consistent = a.Has("app-consistent");
  absl::StatusOr<model::GroupCycleOutcome> c = sr->groups().ReplicateNow(a.positional[0], ro);
  service->Stop();
  ASR_RETURN_IF_ERROR(c.status());
  if (ctx.json) {
    *ctx.out << model::ToJson(*c) << "\n";
  } else {
    *ctx.out << "shared point " << c->point_sequence() << " of " << c->committed_item_ids_size()
             << " VMs at one instant, " << c->bytes_sent() << " bytes"
             << (c->app_consistent_fallback().empty()
                     ? ""
                     : absl::StrCat(" (crash-consistent: ", c->app_consistent_fallback(), ")"))
             << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterGroupCommands(CommandRegistry& r) {
  r.Add({"group create",
         "group create NAME [--vm VM ...] [--sync-interval SECONDS] [--json]",
         "Create a replication group: its VMs (protected, of one cloud pairing, in no other "
         "group) get shared recovery points, every member at one instant, every SECONDS (0: "
         "the copy frequency).",
         {"vm", "sync-interval"},
         {},
         1,
         1,
         GroupCreate});
  r.Add({"group add",
         "group add NAME --vm VM [--vm VM ...] [--json]",
         "Add protected VMs to a replication group.",
         {"vm"},
         {},
         1,
         1,
         GroupAdd});
  r.Add({"group remove",
         "group remove NAME --vm VM [--vm VM ...] [--json]",
         "Remove VMs from a replication group (they replicate on their own again).",
         {"vm"},
         {},
         1,
         1,
         GroupRemove});
  r.Add({"group set",
         "group set NAME --sync-interval SECONDS [--json]",
         "Change a replication group's sync interval.",
         {"sync-interval"},
         {},
         1,
         1,
         GroupSet});
  r.Add({"group show",
         "group show NAME [--json]",
         "Show a replication group: members, sync interval, latest shared point, last cycles.",
         {},
         {},
         1,
         1,
         GroupShow});
  r.Add({"group list", "group list [--json]", "List replication groups.", {}, {}, 0, 0, GroupList});
  r.Add({"group points",
         "group points NAME [--json]",
         "List a group's shared recovery points (every member at one instant), oldest first.",
         {},
         {},
         1,
         1,
         GroupPoints});
  r.Add({"group replicate",
         "group replicate NAME [--pki DIR] [--app-consistent] [--json]",
         "Take one shared point of the group now (a recovery endpoint runs in this process).",
         {"pki"},
         {"app-consistent"},
         1,
         1,
         GroupReplicate});
  r.Add({"group delete",
         "group delete NAME [--json]",
         "Delete a replication group and its shared point records (the VMs stay protected).",
         {},
         {},
         1,
         1,
         GroupDelete});
}

}  // namespace asr::cli
