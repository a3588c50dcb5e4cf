// Builds the Report of a state directory from the engine's read APIs.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "asr/common/file_util.h"
#include "asr/common/status_macros.h"
#include "asr/failover/failover_service.h"
#include "asr/model/json.h"
#include "asr/model/recovery_plan.pb.h"
#include "asr/report/report.h"

namespace asr::report {
namespace {

constexpr int64_t kMicros = 1000000;

// A task's or job's time in microseconds: the precise field when recorded,
// else the second.
int64_t Micros(int64_t us, int64_t unix_seconds) {
  if (us != 0) return us;
  return unix_seconds * kMicros;
}

StepRow StepOf(const model::JobTask& t) {
  StepRow s;
  s.name = t.name();
  s.friendly_name = t.friendly_name().empty() ? t.name() : t.friendly_name();
  s.state = model::JobState_Name(t.state());
  s.start_us = Micros(t.start_time_us(), t.start_time_unix());
  s.end_us = t.end_time_unix() == 0 && t.end_time_us() == 0
                 ? 0
                 : Micros(t.end_time_us(), t.end_time_unix());
  if (s.end_us != 0 && s.end_us >= s.start_us) {
    s.seconds = static_cast<double>(s.end_us - s.start_us) / kMicros;
  }
  if (!t.errors().empty()) s.error = t.errors(0).message();
  return s;
}

// "g<N>-..." names the Nth group of a plan job's plan (1-based); 0 if not.
int GroupOfTask(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "g")) return 0;
  const size_t dash = name.find('-');
  if (dash == absl::string_view::npos) return 0;
  int n = 0;
  if (!absl::SimpleAtoi(name.substr(0, dash), &n) || n <= 0) return 0;
  return n;
}

void AddPlanGroups(const model::Job& job, JobReport& r) {
  model::RecoveryPlanJob params;
  if (!model::FromJson(job.parameters_json(), &params).ok()) return;
  r.plan_job = true;
  r.plan_name = params.plan().name();
  for (const auto& g : params.plan().groups()) {
    GroupSpan span;
    span.name = g.name();
    r.groups.push_back(std::move(span));
  }
  for (const StepRow& s : r.steps) {
    const int n = GroupOfTask(s.name);
    if (n == 0 || n > static_cast<int>(r.groups.size())) continue;
    GroupSpan& g = r.groups[n - 1];
    if (s.start_us != 0 && (g.start_us == 0 || s.start_us < g.start_us)) g.start_us = s.start_us;
    g.end_us = std::max(g.end_us, std::max(s.end_us, s.start_us));
    const std::string prefix = absl::StrCat("g", n, "-");
    absl::string_view rest = absl::string_view(s.name).substr(prefix.size());
    if (absl::StartsWith(rest, "start-") || absl::StartsWith(rest, "end-")) {
      g.actions.push_back(s);
    } else if (absl::StartsWith(rest, "vm-") && !absl::StrContains(rest, "/")) {
      g.vms.push_back(s);
    }
  }
}

JobReport JobOf(const model::Job& job) {
  JobReport r;
  r.id = job.id();
  r.scenario = job.scenario_name();
  r.display_name = job.display_name();
  r.target_name =
      job.target_object_name().empty() ? job.target_object_id() : job.target_object_name();
  r.state = model::JobState_Name(job.state());
  r.state_description = job.state_description();
  if (!job.errors().empty()) r.error = job.errors(0).message();
  for (const auto& t : job.tasks()) r.steps.push_back(StepOf(t));
  // The job's span: its first step's start to its last step's end where
  // the steps carry microseconds, else the job's own seconds.
  r.start_us = job.start_time_unix() * kMicros;
  r.end_us = job.end_time_unix() * kMicros;
  if (!job.tasks().empty() && job.tasks(0).start_time_us() != 0) {
    int64_t first = 0, last = 0;
    for (const StepRow& s : r.steps) {
      if (s.start_us != 0 && (first == 0 || s.start_us < first)) first = s.start_us;
      last = std::max(last, s.end_us);
    }
    r.start_us = first;
    if (r.end_us != 0 && last != 0) r.end_us = last;
  }
  if (r.end_us >= r.start_us && r.end_us != 0) {
    r.seconds = static_cast<double>(r.end_us - r.start_us) / kMicros;
  }
  if (absl::StartsWith(r.scenario, "RecoveryPlan")) AddPlanGroups(job, r);
  return r;
}

VmReport VmOf(const model::ProtectedItem& item, const std::vector<model::RecoveryPoint>& points,
              const model::ReplicationPolicy* policy) {
  VmReport v;
  v.item_id = item.id();
  v.vm_name = item.vm_name().empty() ? item.vm_id() : item.vm_name();
  v.protection_state = model::ProtectionState_Name(item.protection_state());
  v.health = model::ReplicationHealth_Name(item.replication_health());
  v.active_location = item.active_location().empty() ? "Primary" : item.active_location();
  if (policy != nullptr) {
    v.policy_name = policy->name();
    v.copy_frequency_seconds = policy->replication_frequency_in_seconds();
  }
  v.rpo_seconds_now = item.rpo_seconds();

  std::map<uint64_t, int64_t> point_time;  // sequence -> source time
  for (const model::RecoveryPoint& p : points) {
    PointRow row;
    row.id = p.id();
    row.sequence = p.sequence();
    row.time_us = Micros(p.source_time_us(), p.recovery_point_time_unix());
    row.type = model::RecoveryPointType_Name(p.recovery_point_type());
    point_time[p.sequence()] = row.time_us;
    v.points.push_back(std::move(row));
  }

  for (const model::CycleOutcome& c : item.recent_cycles()) {
    CycleRow row;
    row.start_us = Micros(c.time_us(), c.time_unix());
    row.seconds = c.seconds();
    row.end_us = row.start_us + static_cast<int64_t>(c.seconds() * kMicros);
    row.ok = c.ok();
    row.error = c.error();
    row.bytes_changed = c.bytes_changed();
    row.bytes_sent = c.bytes_sent();
    row.compression_ratio =
        c.bytes_sent() == 0 ? 0 : static_cast<double>(c.bytes_changed()) / c.bytes_sent();
    row.point_sequence = c.point_sequence();
    row.point_time_us = c.point_time_us();
    if (row.point_time_us == 0 && row.point_sequence != 0) {
      auto it = point_time.find(row.point_sequence);
      if (it != point_time.end()) row.point_time_us = it->second;
    }
    if (row.ok) {
      ++v.cycles_ok;
    } else {
      ++v.cycles_failed;
    }
    v.bytes_changed += row.bytes_changed;
    v.bytes_sent += row.bytes_sent;
    v.cycles.push_back(std::move(row));
  }
  std::stable_sort(v.cycles.begin(), v.cycles.end(),
                   [](const CycleRow& a, const CycleRow& b) { return a.start_us < b.start_us; });

  // RPO: at each cycle end, the age of the newest point before it and, if
  // the cycle made one, of that point.
  int64_t newest = 0;
  for (const CycleRow& c : v.cycles) {
    if (newest != 0) v.rpo.push_back({c.end_us, static_cast<double>(c.end_us - newest) / kMicros});
    if (c.ok && c.point_time_us != 0 && c.point_time_us > newest) {
      newest = c.point_time_us;
      v.rpo.push_back({c.end_us, static_cast<double>(c.end_us - newest) / kMicros});
    }
  }
  for (const RpoSample& s : v.rpo) v.max_rpo_seconds = std::max(v.max_rpo_seconds, s.rpo_seconds);
  return v;
}

}  // namespace

bool IsFailoverScenario(const std::string& scenario) {
  for (absl::string_view s :
       {failover::kScenarioTestFailover, failover::kScenarioTestFailoverCleanup,
        failover::kScenarioPlannedFailover, failover::kScenarioUnplannedFailover,
        failover::kScenarioCommitFailover, failover::kScenarioCancelFailover,
        failover::kScenarioChangeRecoveryPoint, failover::kScenarioReverseReplicate,
        failover::kScenarioFailback}) {
    if (scenario == s) return true;
  }
  return absl::StartsWith(scenario, "RecoveryPlan");
}

absl::StatusOr<Report> BuildReport(SiteRecovery& sr) {
  Report r;
  r.state_dir = sr.state_dir();
  r.generated_us = absl::ToUnixMicros(sr.clock().Now());

  ASR_ASSIGN_OR_RETURN(std::vector<model::ProtectedItem> items, sr.protection().ListItems());
  for (const model::ProtectedItem& item : items) {
    ASR_ASSIGN_OR_RETURN(std::vector<model::RecoveryPoint> points,
                         sr.protection().ListRecoveryPoints(item.id()));
    absl::StatusOr<model::ReplicationPolicy> policy = sr.policies().FindPolicy(item.policy_id());
    r.vms.push_back(VmOf(item, points, policy.ok() ? &*policy : nullptr));
  }
  std::stable_sort(r.vms.begin(), r.vms.end(),
                   [](const VmReport& a, const VmReport& b) { return a.vm_name < b.vm_name; });

  ASR_ASSIGN_OR_RETURN(std::vector<model::Job> jobs, sr.jobs().List());
  std::stable_sort(jobs.begin(), jobs.end(), [](const model::Job& a, const model::Job& b) {
    return a.sequence() < b.sequence();
  });
  for (const model::Job& job : jobs) {
    if (IsFailoverScenario(job.scenario_name())) r.jobs.push_back(JobOf(job));
  }
  return r;
}

absl::StatusOr<Report> LoadReport(const std::string& state_dir) {
  if (state_dir.empty()) {
    return absl::InvalidArgumentError(
        "no state directory given; name the directory asrctl init made (--state DIR)");
  }
  if (!PathExists(state_dir)) {
    return absl::NotFoundError(absl::StrCat("state directory ", state_dir,
                                            " does not exist; name the directory asrctl init "
                                            "made (--state DIR)"));
  }
  SiteRecoveryOptions options;
  options.read_only = true;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<SiteRecovery>> sr = SiteRecovery::Open(state_dir, options);
  if (!sr.ok()) {
    return absl::Status(sr.status().code(), absl::StrCat("cannot read the state in ", state_dir,
                                                         ": ", sr.status().message()));
  }
  if (!(*sr)->IsInitialized()) {
    return absl::FailedPreconditionError(
        absl::StrCat("state directory ", state_dir,
                     " holds no asr state (asrctl init was never run there); name the directory "
                     "of the sites to report on (--state DIR)"));
  }
  return BuildReport(**sr);
}

absl::Status WriteReport(const std::string& state_dir, const ReportOptions& options) {
  if (options.html_path.empty() && options.markdown_path.empty()) {
    return absl::InvalidArgumentError(
        "no report file named; give the HTML file, the Markdown file or both");
  }
  ASR_ASSIGN_OR_RETURN(Report r, LoadReport(state_dir));
  if (!options.title.empty()) r.title = options.title;
  r.run_steps = options.run_steps;
  if (!options.markdown_path.empty()) {
    ASR_RETURN_IF_ERROR(WriteFileAtomically(options.markdown_path, RenderMarkdown(r)));
  }
  if (!options.html_path.empty()) {
    ASR_RETURN_IF_ERROR(WriteFileAtomically(options.html_path, RenderHtml(r)));
  }
  return absl::OkStatus();
}

}  // namespace asr::report
