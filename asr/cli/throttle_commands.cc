#include "asr/cli/throttle_commands.h"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/model/json.h"
#include "asr/model/throttle.pb.h"
#include "asr/protection/throttle.h"
#include "asr/protection/throttle_schedule.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx, bool write) {
  SiteRecoveryOptions options = EngineOptions(ctx);
  options.read_only = !write;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

// --site or --vm VM (exactly one): "" for the site, else the VM.
absl::StatusOr<std::string> Target(const ParsedArgs& a) {
  if (a.bools.count("site") && a.Has("vm")) {
    return absl::InvalidArgumentError("give --site or --vm VM, not both");
  }
  if (!a.bools.count("site") && !a.Has("vm")) {
    return absl::InvalidArgumentError(
        "say whose throttle: --site (every stream of the site) or --vm VM (one VM)");
  }
  return a.Has("vm") ? a.Get("vm") : std::string();
}

void PrintThrottle(std::ostream& o, const model::Throttle& t) {
  o << (t.vm_id().empty() ? std::string("site")
                          : absl::StrCat("VM ", t.vm_name().empty() ? t.vm_id() : t.vm_name()))
    << " (" << t.id() << "), times in " << protection::FormatUtcOffset(t.utc_offset_minutes())
    << "\n";
  for (const std::string& line : protection::FormatSchedule(t.schedule())) {
    o << "  " << line << "\n";
  }
}

absl::Status ThrottleSet(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::string target, Target(a));
  if (!a.Has("limit") && !a.Has("default")) {
    return absl::InvalidArgumentError(
        "give at least one --limit \"DAYS HH:MM-HH:MM RATE\" (e.g. \"Mon-Fri 08:00-18:00 "
        "50Mbit/s\") or --default RATE");
  }
  model::ThrottleSetRequest r;
  r.set_vm(target);
  for (const std::string& l : a.GetAll("limit")) r.add_limits(l);
  r.set_default_limit(a.Get("default"));
  r.set_utc_offset(a.Get("utc-offset"));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  protection::ThrottleService service(&sr->repository(), &sr->clock());
  ASR_ASSIGN_OR_RETURN(model::Throttle t, service.Set(r));
  if (ctx.json) {
    *ctx.out << model::ToJson(t) << "\n";
  } else {
    *ctx.out << "throttle set: ";
    PrintThrottle(*ctx.out, t);
  }
  return absl::OkStatus();
}

absl::Status ThrottleShow(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/false));
  protection::ThrottleService service(&sr->repository(), &sr->clock());
  if (a.bools.count("site") || a.Has("vm")) {
    ASR_ASSIGN_OR_RETURN(std::string target, Target(a));
    ASR_ASSIGN_OR_RETURN(model::Throttle t, service.Get(target));
    if (ctx.json) {
      *ctx.out << model::ToJson(t) << "\n";
    } else {
      PrintThrottle(*ctx.out, t);
    }
    return absl::OkStatus();
  }
  ASR_ASSIGN_OR_RETURN(std::vector<model::Throttle> all, service.List());
  if (ctx.json) {
    std::vector<std::string> json;
    for (const model::Throttle& t : all) json.push_back(model::ToJson(t));
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
    return absl::OkStatus();
  }
  if (all.empty()) {
    *ctx.out << "no throttles: replication is unlimited; set one with 'asrctl throttle set'\n";
  }
  for (const model::Throttle& t : all) PrintThrottle(*ctx.out, t);
  return absl::OkStatus();
}

absl::Status ThrottleClear(const CommandContext& ctx, const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::string target, Target(a));
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx, /*write=*/true));
  protection::ThrottleService service(&sr->repository(), &sr->clock());
  ASR_RETURN_IF_ERROR(service.Clear(target));
  if (!ctx.json) {
    *ctx.out << "throttle cleared: "
             << (target.empty() ? std::string("the site") : absl::StrCat("VM ", target))
             << " replicates without this limit\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterThrottleCommands(CommandRegistry& r) {
  r.Add({"throttle set",
         "throttle set (--site | --vm VM) [--limit \"DAYS HH:MM-HH:MM RATE\" ...] "
         "[--default RATE|unlimited] [--utc-offset +HH:MM] [--json]",
         "Limit the replication bandwidth of the site (shared by every stream) or of one VM "
         "with a weekly schedule, e.g. --limit \"Mon-Fri 08:00-18:00 50Mbit/s\" --default "
         "unlimited; times are the site's local time (--utc-offset, default UTC).",
         {"vm", "limit", "default", "utc-offset"},
         {"site"},
         0,
         0,
         ThrottleSet});
  r.Add({"throttle show",
         "throttle show [--site | --vm VM] [--json]",
         "Show the throttle of the site or of a VM; without either, every throttle.",
         {"vm"},
         {"site"},
         0,
         0,
         ThrottleShow});
  r.Add({"throttle clear",
         "throttle clear (--site | --vm VM)",
         "Remove a throttle: the site or the VM replicates without that limit.",
         {"vm"},
         {"site"},
         0,
         0,
         ThrottleClear});
}

}  // namespace asr::cli
