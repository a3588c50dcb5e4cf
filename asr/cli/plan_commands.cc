#include "asr/cli/plan_commands.h"

#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "asr/cli/control_commands.h"
#include "asr/cli/engine_options.h"
#include "asr/cli/failover_commands.h"
#include "asr/common/status_macros.h"
#include "asr/fabric/vault.h"
#include "asr/failover/recovery_plan_service.h"
#include "asr/model/json.h"
#include "asr/model/recovery_plan.pb.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx, bool write) {
  ASR_ASSIGN_OR_RETURN(SiteRecoveryOptions options, EngineOptionsWithHost(ctx));
  options.read_only = !write;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

std::vector<std::string> List(const std::string& csv) {
  return absl::StrSplit(csv, ',', absl::SkipWhitespace());
}

std::string ActionLine(const model::RecoveryPlanAction& a) {
  std::string what =
      a.has_script()
          ? absl::StrCat("script ", a.script().path(), " on ",
                         model::RecoveryPlanActionLocation_Name(a.script().fabric_location()),
                         a.script().timeout_seconds() > 0
                             ? absl::StrCat(" (timeout ", a.script().timeout_seconds(), " s)")
                             : std::string())
          : absl::StrCat("manual: ", a.manual().description());
  return absl::StrCat(a.action_name(), ": ", what, "  [", absl::StrJoin(a.failover_types(), ","),
                      "; ", absl::StrJoin(a.failover_directions(), ","), "]");
}

void PrintPlan(std::ostream& out, const model::RecoveryPlan& p) {
  out << "recovery plan " << p.name() << " (" << p.id() << ")\n";
  out << "  source: cloud " << p.primary_cloud_id() << " (server " << p.primary_server_id()
      << ")  target: cloud " << p.recovery_cloud_id() << " (server " << p.recovery_server_id()
      << ")  pairing " << p.pairing_id() << "\n";
  out << "  allowed operations: "
      << (p.allowed_operations().empty() ? std::string("none")
                                         : absl::StrJoin(p.allowed_operations(), ", "))
      << "\n";
  if (!p.current_scenario().job_id().empty()) {
    out << "  last operation: " << p.current_scenario().scenario_name() << " job "
        << p.current_scenario().job_id() << " " << p.current_scenario_status() << "\n";
  }
  for (const auto& g : p.groups()) {
    std::vector<std::string> vms;
    for (const auto& i : g.replication_protected_items()) {
      vms.push_back(i.vm_name().empty() ? i.id() : i.vm_name());
    }
    out << "  " << g.name() << " (" << model::RecoveryPlanGroupType_Name(g.group_type()) << ")"
        << (vms.empty() ? std::string() : absl::StrCat(": ", absl::StrJoin(vms, ", "))) << "\n";
    for (const auto& a : g.start_group_actions()) out << "    start " << ActionLine(a) << "\n";
    for (const auto& a : g.end_group_actions()) out << "    end   " << ActionLine(a) << "\n";
  }
}

absl::Status Report(const CommandContext& ctx, const absl::StatusOr<model::RecoveryPlan>& p) {
  ASR_RETURN_IF_ERROR(p.status());
  if (ctx.json) {
    *ctx.out << model::ToJson(*p) << "\n";
  } else {
    PrintPlan(*ctx.out, *p);
  }
  return absl::OkStatus();
}

absl::Status PlanCreate(const CommandContext& ctx, const ParsedArgs& a) {
  model::RecoveryPlanCreateRequest r;
  r.set_name(a.positional[0]);
  for (const std::string& vm : a.GetAll("vm")) r.add_items(vm);
  if (r.items().empty()) {
    return absl::InvalidArgumentError("--vm VM is required (once per VM; a protected VM's name)");
  }
  if (a.Has("groups")) {
    ASR_ASSIGN_OR_RETURN(int64_t n,
                         ParseInt(a.Get("groups"), "--groups", 1, failover::kMaxBootGroups));
    r.set_boot_groups(static_cast<int>(n));
  }
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return Report(ctx, sr->recovery_plans().Create(r));
}

absl::Status PlanShow(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  return Report(ctx, sr->recovery_plans().Get(a.positional[0]));
}

absl::Status PlanList(const CommandContext& ctx, const ParsedArgs&) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPlan> plans, sr->recovery_plans().List());
  if (ctx.json) {
    std::vector<std::string> json;
    for (const auto& p : plans) json.push_back(model::ToJson(p));
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
    return absl::OkStatus();
  }
  if (plans.empty()) *ctx.out << "no recovery plans\n";
  for (const auto& p : plans) {
    int vms = 0, boot = 0;
    for (const auto& g : p.groups()) {
      vms += g.replication_protected_items_size();
      boot += g.group_type() == model::Boot;
    }
    *ctx.out << p.name() << "  " << p.primary_cloud_id() << " -> " << p.recovery_cloud_id() << "  "
             << vms << " VMs in " << boot << " groups  "
             << (p.current_scenario_status().empty()
                     ? std::string("never run")
                     : absl::StrCat(p.current_scenario().scenario_name(), " ",
                                    p.current_scenario_status()))
             << "\n";
  }
  return absl::OkStatus();
}

// The one edit the flags ask for.
absl::StatusOr<model::RecoveryPlanEdit> EditOf(const ParsedArgs& a) {
  model::RecoveryPlanEdit e;
  std::vector<std::string> chosen;
  auto items = [&](const std::string& flag) {
    for (const std::string& v : a.GetAll(flag)) {
      for (const std::string& vm : List(v)) e.add_items(vm);
    }
  };
  if (a.Has("append-group")) {
    chosen.push_back("--append-group");
    e.set_operation("AppendGroup");
  }
  if (a.Has("remove-group")) {
    chosen.push_back("--remove-group");
    e.set_operation("RemoveGroup");
    e.set_group(a.Get("remove-group"));
  }
  if (a.Has("add-vm")) {
    chosen.push_back("--add-vm");
    e.set_operation("AddProtectedItems");
    items("add-vm");
    e.set_group(a.Get("group", "1"));
  }
  if (a.Has("remove-vm")) {
    chosen.push_back("--remove-vm");
    e.set_operation("RemoveProtectedItems");
    items("remove-vm");
    e.set_group(a.Get("group"));
  }
  if (a.Has("move-vm")) {
    chosen.push_back("--move-vm");
    e.set_operation("MoveProtectedItems");
    items("move-vm");
    ASR_ASSIGN_OR_RETURN(std::string to, a.Require("to-group"));
    e.set_to_group(to);
  }
  if (a.Has("move-group")) {
    chosen.push_back("--move-group");
    e.set_operation("MoveGroup");
    e.set_group(a.Get("move-group"));
    ASR_ASSIGN_OR_RETURN(std::string pos, a.Require("position"));
    ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(pos, "--position", 1, failover::kMaxBootGroups));
    e.set_position(static_cast<int>(n));
  }
  if (a.Has("add-action")) {
    chosen.push_back("--add-action");
    e.set_operation("AddAction");
    ASR_ASSIGN_OR_RETURN(std::string group, a.Require("group"));
    e.set_group(group);
    e.set_placement(a.Get("placement", "End"));
    model::RecoveryPlanAction* action = e.mutable_action();
    action->set_action_name(a.Get("add-action"));
    ASR_ASSIGN_OR_RETURN(std::string types, a.Require("types"));
    for (const std::string& t : List(types)) action->add_failover_types(t);
    ASR_ASSIGN_OR_RETURN(std::string dirs, a.Require("directions"));
    for (const std::string& d : List(dirs)) action->add_failover_directions(d);
    if (a.Has("script") == a.Has("manual")) {
      return absl::InvalidArgumentError(
          "give exactly one of --script PATH (with --location Primary|Recovery) or --manual "
          "DESCRIPTION");
    }
    if (a.Has("script")) {
      action->mutable_script()->set_path(a.Get("script"));
      ASR_ASSIGN_OR_RETURN(std::string where, a.Require("location"));
      model::RecoveryPlanActionLocation loc;
      if (!model::RecoveryPlanActionLocation_Parse(where, &loc) ||
          loc == model::RECOVERY_PLAN_ACTION_LOCATION_UNSPECIFIED) {
        return absl::InvalidArgumentError(
            absl::StrCat("--location '", where, "' is not Primary or Recovery"));
      }
      action->mutable_script()->set_fabric_location(loc);
      if (a.Has("timeout")) {
        ASR_ASSIGN_OR_RETURN(int64_t t, ParseInt(a.Get("timeout"), "--timeout", 1, 86400));
        action->mutable_script()->set_timeout_seconds(static_cast<int>(t));
      }
    } else {
      action->mutable_manual()->set_description(a.Get("manual"));
    }
  }
  if (a.Has("remove-action")) {
    chosen.push_back("--remove-action");
    e.set_operation("RemoveAction");
    e.set_action_name(a.Get("remove-action"));
    ASR_ASSIGN_OR_RETURN(std::string group, a.Require("group"));
    e.set_group(group);
  }
  if (chosen.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        chosen.empty()
            ? "say what to change"
            : absl::StrCat("one change at a time (given: ", absl::StrJoin(chosen, ", "), ")"),
        ": --append-group, --remove-group G, --add-vm VM [--group G], --remove-vm VM, --move-vm "
        "VM --to-group G, --move-group G --position N, --add-action NAME ..., --remove-action "
        "NAME --group G"));
  }
  return e;
}

absl::Status PlanEdit(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(model::RecoveryPlanEdit e, EditOf(a));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  return Report(ctx, sr->recovery_plans().Edit(a.positional[0], e));
}

absl::Status PlanDelete(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  ASR_RETURN_IF_ERROR(sr->recovery_plans().Delete(a.positional[0]));
  if (!ctx.json) *ctx.out << "deleted recovery plan " << a.positional[0] << "\n";
  return absl::OkStatus();
}

std::set<std::string> PlanFailoverFlags() {
  std::set<std::string> flags = {"operation",  "direction", "recovery-tag", "network-type",
                                 "network-id", "optimize",  "max-parallel", "multi-vm-sync-point"};
  for (const std::string& f : RecoveryEndpointFlags()) flags.insert(f);
  return flags;
}

absl::Status PlanFailover(const CommandContext& ctx, const ParsedArgs& a) {
  model::RecoveryPlanRunRequest r;
  ASR_ASSIGN_OR_RETURN(std::string op, a.Require("operation"));
  r.set_operation(op);
  r.set_direction(a.Get("direction"));
  r.set_recovery_tag(a.Get("recovery-tag"));
  r.set_network_type(a.Get("network-type"));
  r.set_network_id(a.Get("network-id"));
  r.set_optimize(a.Get("optimize"));
  r.set_perform_source_side_action(a.Has("source-side-action"));
  r.set_multi_vm_sync_point(a.Get("multi-vm-sync-point"));
  if (a.Has("max-parallel")) {
    ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(a.Get("max-parallel"), "--max-parallel", 1, 1000));
    r.set_max_parallel(static_cast<int>(n));
  }
  // With --pki, a recovery endpoint in this process receives the last
  // cycles of planned failovers, reverse replication and failback.
  return WithRecoveryEndpoint(ctx, a, [&](SiteRecovery& sr) {
    return ReportJob(ctx, sr.recovery_plans().Run(a.positional[0], r));
  });
}

}  // namespace

void RegisterPlanCommands(CommandRegistry& r) {
  r.Add({"plan create",
         "plan create NAME --vm VM [--vm VM ...] [--groups N] [--json]",
         "Create a recovery plan over protected VMs of one cloud pairing: groups Shutdown, "
         "Failover and N Boot groups (default 1); the VMs go to Group 1.",
         {"vm", "groups"},
         {},
         1,
         1,
         PlanCreate});
  r.Add({"plan show",
         "plan show NAME [--json]",
         "Show a recovery plan: source and target, groups with their VMs and actions, allowed "
         "operations, last operation.",
         {},
         {},
         1,
         1,
         PlanShow});
  r.Add({"plan list", "plan list [--json]", "List recovery plans.", {}, {}, 0, 0, PlanList});
  r.Add({"plan edit",
         "plan edit NAME (--append-group | --remove-group G | --add-vm VM [--group G] | "
         "--remove-vm VM [--group G] | --move-vm VM --to-group G | --move-group G --position N | "
         "--add-action NAME --group G [--placement Start|End] --types OP[,OP] --directions "
         "DIR[,DIR] (--script PATH --location Primary|Recovery [--timeout S] | --manual TEXT) | "
         "--remove-action NAME --group G) [--json]",
         "Change a recovery plan, one change at a time (groups are Shutdown, Failover, or a Boot "
         "group by name \"Group N\" or number N).",
         {"remove-group", "add-vm", "remove-vm", "move-vm", "to-group", "move-group", "position",
          "group", "add-action", "placement", "types", "directions", "script", "location",
          "timeout", "manual", "remove-action"},
         {"append-group"},
         1,
         1,
         PlanEdit});
  r.Add({"plan failover",
         "plan failover NAME --operation OP [--direction DIR] [--recovery-tag TAG] "
         "[--network-type T] [--network-id N] [--optimize O] [--source-side-action] "
         "[--multi-vm-sync-point OPTION] [--max-parallel N] [--pki DIR [--point-interval D]] "
         "[--json]",
         "Run a plan operation (TestFailover, TestFailoverCleanup, PlannedFailover, "
         "UnplannedFailover, Commit, CancelFailover, ReverseReplicate, Failback) as one job: "
         "groups in order, a group's VMs in parallel, with the actions that apply.",
         PlanFailoverFlags(),
         {"source-side-action"},
         1,
         1,
         PlanFailover});
  r.Add({"plan delete",
         "plan delete NAME [--json]",
         "Delete a recovery plan (its VMs stay protected); refused while a job of it runs or "
         "is suspended.",
         {},
         {},
         1,
         1,
         PlanDelete});
}

}  // namespace asr::cli
