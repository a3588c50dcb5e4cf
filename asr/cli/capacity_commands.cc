#include "asr/cli/capacity_commands.h"

#include <cmath>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "asr/cli/engine_options.h"
#include "asr/common/status_macros.h"
#include "asr/model/capacity.pb.h"
#include "asr/model/json.h"
#include "asr/planning/capacity_planner.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::cli {
namespace {

absl::StatusOr<std::unique_ptr<SiteRecovery>> Open(const CommandContext& ctx) {
  SiteRecoveryOptions options = EngineOptions(ctx);
  options.read_only = true;
  options.create_if_missing = false;
  return SiteRecovery::Open(ctx.state_dir, options);
}

absl::StatusOr<double> ParseNumber(const ParsedArgs& a, const std::string& flag, double min) {
  double v = 0;
  if (!absl::SimpleAtod(a.Get(flag), &v) || !std::isfinite(v) || v < min) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " needs a number of at least ", min, ", not '", a.Get(flag), "'"));
  }
  return v;
}

// The protected items named by --vm (comma-separated), or every item.
absl::StatusOr<std::vector<model::ProtectedItem>> Items(SiteRecovery& sr, const ParsedArgs& a) {
  std::vector<model::ProtectedItem> items;
  if (a.Has("vm")) {
    for (absl::string_view vm : absl::StrSplit(a.Get("vm"), ',', absl::SkipEmpty())) {
      ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, sr.protection().GetItem(vm));
      items.push_back(std::move(item));
    }
    return items;
  }
  return sr.protection().ListItems();
}

absl::StatusOr<model::CapacityPlanInput> InputFromState(const CommandContext& ctx,
                                                        const ParsedArgs& a) {
  ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx));
  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, Items(*sr, a));
  std::vector<model::ReplicationPolicy> policies;
  for (const model::ProtectedItem& item : items) {
    absl::StatusOr<model::ReplicationPolicy> p = sr->policies().FindPolicy(item.policy_id());
    if (p.ok()) policies.push_back(*std::move(p));
  }
  return planning::PlanInputFromItems(items, policies);
}

absl::Status Plan(const CommandContext& ctx, const ParsedArgs& a) {
  model::CapacityPlanInput in;
  if (a.Has("disks")) {
    if (a.Has("vm")) {
      return absl::InvalidArgumentError(
          "give --vm VM (plan protected VMs) or --disks N (plan new ones), not both");
    }
    ASR_ASSIGN_OR_RETURN(int64_t n, ParseInt(a.Get("disks"), "--disks", 1, 100000));
    if (!a.Has("disk-used")) {
      return absl::InvalidArgumentError(
          "--disks N needs --disk-used SIZE (the bytes each disk holds, e.g. 40G)");
    }
    for (int64_t i = 0; i < n; ++i) in.add_disks()->set_name(absl::StrCat("disk", i));
    in.set_copy_frequency_seconds(300);
  } else {
    ASR_ASSIGN_OR_RETURN(in, InputFromState(ctx, a));
  }
  if (!a.Has("churn")) {
    return absl::InvalidArgumentError(
        "give --churn SIZE: the distinct bytes each disk changes per hour (measure it with "
        "'asrctl capacity measure')");
  }
  ASR_ASSIGN_OR_RETURN(uint64_t churn, ParseSize(a.Get("churn")));
  for (model::CapacityDiskInput& d : *in.mutable_disks()) {
    d.set_churn_bytes_per_hour(churn);
    if (a.Has("disk-used")) {
      ASR_ASSIGN_OR_RETURN(uint64_t used, ParseSize(a.Get("disk-used")));
      d.set_used_bytes(used);
    }
  }
  if (a.Has("copy-frequency")) {
    ASR_ASSIGN_OR_RETURN(int64_t f,
                         ParseInt(a.Get("copy-frequency"), "--copy-frequency", 1, 86400));
    in.set_copy_frequency_seconds(static_cast<int>(f));
  }
  if (a.Has("points")) {
    ASR_ASSIGN_OR_RETURN(int64_t p, ParseInt(a.Get("points"), "--points", 0, 100000));
    in.set_recovery_points_to_retain(static_cast<int>(p));
  }
  if (a.Has("app-consistent")) {
    ASR_ASSIGN_OR_RETURN(int64_t h, ParseInt(a.Get("app-consistent"), "--app-consistent", 0, 24));
    in.set_app_consistent_frequency_hours(static_cast<int>(h));
  }
  if (a.Has("compression")) {
    ASR_ASSIGN_OR_RETURN(double r, ParseNumber(a, "compression", 1.0));
    in.set_compression_ratio(r);
  }
  in.set_headroom(0.2);
  if (a.Has("headroom")) {
    ASR_ASSIGN_OR_RETURN(double h, ParseNumber(a, "headroom", 0.0));
    in.set_headroom(h);
  }
  if (a.Has("link-mbps")) {
    ASR_ASSIGN_OR_RETURN(double l, ParseNumber(a, "link-mbps", 0.0));
    in.set_link_mbps(l);
  }
  ASR_ASSIGN_OR_RETURN(model::CapacityPlan p, planning::ComputeCapacityPlan(in));
  if (ctx.json) {
    *ctx.out << model::ToJson(p) << "\n";
  } else {
    std::ostream& o = *ctx.out;
    o << "capacity plan for " << in.disks_size() << " disk(s), copy every "
      << in.copy_frequency_seconds() << " s, " << in.recovery_points_to_retain()
      << " recovery point(s) retained\n";
    for (const std::string& line : p.arithmetic()) o << "  " << line << "\n";
    o << absl::StrFormat("bandwidth: %.3f Mbit/s required (%.3f mean)\n", p.required_mbps(),
                         p.mean_mbps());
    o << "replica storage: " << planning::FormatBytes(p.replica_storage_bytes()) << " ("
      << p.replica_storage_bytes() << " B)\n";
    if (p.link_checked()) {
      o << absl::StrFormat("link: %.3f Mbit/s %s\n", in.link_mbps(),
                           p.link_sufficient() ? "is enough" : "is NOT enough");
    }
    o << "assumes: churn counts distinct blocks (a block rewritten within a cycle is sent "
         "once), spread evenly over the hour; each retained point keeps one cycle's changed "
         "blocks; initial replication is not included\n";
  }
  if (p.link_checked() && !p.link_sufficient()) return QuietFailure(3);
  return absl::OkStatus();
}

absl::Status Measure(const CommandContext& ctx, const ParsedArgs& a) {
  if (a.Has("vm") == a.Has("disk")) {
    return absl::InvalidArgumentError(
        "say what to measure: --vm VM (a protected VM's disks) or --disk FILE (a VHDX, VHD or "
        "raw disk), one of them");
  }
  absl::Duration duration;
  if (!absl::ParseDuration(a.Get("duration", "60s"), &duration) ||
      duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration needs a positive duration such as 60s or 5m");
  }
  uint32_t block = 64 * 1024;
  if (a.Has("block-size")) {
    ASR_ASSIGN_OR_RETURN(uint64_t b, ParseSize(a.Get("block-size")));
    if (b > (64ull << 20)) return absl::InvalidArgumentError("--block-size is at most 64M");
    block = static_cast<uint32_t>(b);
  }
  std::vector<std::string> paths = a.GetAll("disk");
  if (a.Has("vm")) {
    ASR_ASSIGN_OR_RETURN(std::unique_ptr<SiteRecovery> sr, Open(ctx));
    ASR_ASSIGN_OR_RETURN(model::ProtectedItem item, sr->protection().GetItem(a.Get("vm")));
    for (const model::ProtectedDisk& d : item.disks()) paths.push_back(d.source_path());
    if (paths.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("VM '", a.Get("vm"), "' has no disks to measure"));
    }
  }
  // Every disk over the same interval.
  std::vector<absl::StatusOr<model::CapacityMeasurement>> results(paths.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < paths.size(); ++i) {
    threads.emplace_back(
        [&, i] { results[i] = planning::MeasureDiskChurn(paths[i], duration, block); });
  }
  for (std::thread& t : threads) t.join();
  std::vector<std::string> json;
  uint64_t total = 0, used = 0;
  for (const auto& r : results) {
    if (!r.ok()) return r.status();
    total += r->churn_bytes_per_hour();
    used += r->used_bytes();
    if (ctx.json) {
      json.push_back(model::ToJson(*r));
      continue;
    }
    *ctx.out << absl::StrFormat(
        "%s: %d of %d blocks of %s changed in %.1f s = %d B (%s) => churn %d B/h (%s/h); used "
        "%s\n",
        r->path(), r->blocks_changed(), (r->virtual_size_bytes() + block - 1) / block,
        planning::FormatBytes(block), r->seconds(), r->bytes_changed(),
        planning::FormatBytes(r->bytes_changed()), r->churn_bytes_per_hour(),
        planning::FormatBytes(r->churn_bytes_per_hour()), planning::FormatBytes(r->used_bytes()));
  }
  if (ctx.json) {
    *ctx.out << "[" << absl::StrJoin(json, ",") << "]\n";
  } else {
    const uint64_t per_disk = total / results.size();
    *ctx.out << "plan with: asrctl capacity plan"
             << (a.Has("vm") ? absl::StrCat(" --vm ", a.Get("vm"))
                             : absl::StrCat(" --disks ", results.size(), " --disk-used ",
                                            used / results.size()))
             << " --churn " << per_disk << "   (" << per_disk << " B/h per disk on average)\n";
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterCapacityCommands(CommandRegistry& r) {
  r.Add({"capacity plan",
         "capacity plan (--vm VM[,VM...] | --disks N --disk-used SIZE) --churn SIZE "
         "[--copy-frequency S] [--points N] [--app-consistent H] [--compression R] "
         "[--headroom F] [--link-mbps M] [--json]",
         "The bandwidth that meets the copy frequency and the replica storage of the base plus "
         "the retained points, with the arithmetic shown; --churn is the distinct bytes each "
         "disk changes per hour; with --link-mbps, exit code 3 when the link is too slow.",
         {"vm", "disks", "disk-used", "churn", "copy-frequency", "points", "app-consistent",
          "compression", "headroom", "link-mbps"},
         {},
         0,
         0,
         Plan});
  r.Add({"capacity measure",
         "capacity measure (--vm VM | --disk FILE ...) [--duration 60s] [--block-size 64K] "
         "[--json]",
         "Observe disks for a while (a scan at the start and one at the end) and report the "
         "blocks changed as churn per hour, the input of 'capacity plan'.",
         {"vm", "disk", "duration", "block-size"},
         {},
         0,
         0,
         Measure});
}

}  // namespace asr::cli
