// asr/report/report.h: the report of a state directory: what replication
// and failover did, as a Markdown summary for a terminal and as one
// self-contained HTML file (inline CSS and SVG charts, no script, nothing
// fetched from a network) that people would rather read than a job list.
//
// The model (Report) is read from the state through the engine's read-only
// APIs: per protected VM its replication cycles (start, duration, bytes
// changed, bytes sent, outcome), its recovery points and its RPO over time
// against the policy's copy frequency; per failover or recovery plan job its
// steps with their times, and for a plan job the timeline of its groups.
//
//   ASR_ASSIGN_OR_RETURN(report::Report r, report::LoadReport("/var/lib/asr"));
//   std::cout << report::RenderMarkdown(r);
//   ASR_RETURN_IF_ERROR(WriteFileAtomically("report.html", report::RenderHtml(r)));
//
//   // Or both files at once (asrctl report, asrctl drill):
//   report::ReportOptions o;
//   o.html_path = "drill/report.html";
//   o.markdown_path = "drill/report.md";
//   ASR_RETURN_IF_ERROR(report::WriteReport("/var/lib/asr", o));
//
// Thread safety: the functions keep no state; a Report is a plain value.
#ifndef ASR_REPORT_REPORT_H_
#define ASR_REPORT_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asr/site_recovery/site_recovery.h"

namespace asr::report {

// One replication cycle of a VM (all its disks), from the item's recorded
// cycles (protection keeps the last 100).
struct CycleRow {
  int64_t start_us = 0;  // Unix microseconds
  int64_t end_us = 0;
  double seconds = 0;
  bool ok = false;
  std::string error;
  uint64_t bytes_changed = 0;  // raw size of the changed blocks sent
  uint64_t bytes_sent = 0;     // on the wire, compressed, headers included
  // bytes_changed / bytes_sent; 0 when nothing was sent.
  double compression_ratio = 0;
  uint64_t point_sequence = 0;  // the point it made; 0 when it failed
  int64_t point_time_us = 0;    // that point's source time; 0 when unknown
};

// A kept recovery point of a VM.
struct PointRow {
  std::string id;
  uint64_t sequence = 0;
  int64_t time_us = 0;  // source time
  std::string type;     // "AppConsistent" | "CrashConsistent"
};

// The RPO at an instant: seconds since the source time of the newest point.
struct RpoSample {
  int64_t time_us = 0;
  double rpo_seconds = 0;
};

struct VmReport {
  std::string item_id;
  std::string vm_name;
  std::string protection_state;
  std::string health;
  std::string active_location;  // "Primary" | "Recovery"
  std::string policy_name;
  int copy_frequency_seconds = 0;  // the policy's; 0 when unknown
  int64_t rpo_seconds_now = 0;     // as the item reports it now
  std::vector<CycleRow> cycles;    // oldest first
  std::vector<PointRow> points;    // oldest first
  // The RPO sampled at every cycle end, twice where the cycle made a point:
  // just before (the previous point's age) and just after (the new one's),
  // so that joined in order the samples draw the sawtooth RPO really is.
  std::vector<RpoSample> rpo;
  // Totals over `cycles`.
  int cycles_ok = 0;
  int cycles_failed = 0;
  uint64_t bytes_changed = 0;
  uint64_t bytes_sent = 0;
  double max_rpo_seconds = 0;
};

// One step (task) of a job.
struct StepRow {
  std::string name;           // the task's name, e.g. "create-views"
  std::string friendly_name;  // e.g. "Create the views of the point"
  std::string state;          // "Succeeded", "Failed", ...
  int64_t start_us = 0;
  int64_t end_us = 0;  // 0 while it has not ended
  double seconds = 0;
  std::string error;  // the first error's message, if any
};

// A recovery plan's group in one plan job: when its first step started and
// its last ended, its start/end actions and its VMs' operations.
struct GroupSpan {
  std::string name;  // "Shutdown", "Failover", "Group 1", ...
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::vector<StepRow> actions;
  std::vector<StepRow> vms;
};

struct JobReport {
  std::string id;
  std::string scenario;  // e.g. "PlannedFailover", "RecoveryPlanTestFailover"
  std::string display_name;
  std::string target_name;
  std::string state;              // JobState name
  std::string state_description;  // "Completed", "Failed", ...
  std::string error;              // the job's first error, if any
  int64_t start_us = 0;
  int64_t end_us = 0;
  double seconds = 0;
  std::vector<StepRow> steps;  // in the order they ran
  // Recovery plan jobs: the plan and its groups in order (groups that ran
  // no step have start_us == 0).
  bool plan_job = false;
  std::string plan_name;
  std::vector<GroupSpan> groups;
};

// A step of the run that made the state (asrctl drill's steps), shown
// before everything else: a table and a timeline.
struct RunStep {
  std::string name;
  bool ok = false;
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::string detail;  // what the step found, or why it failed
};

struct Report {
  std::string title = "Site Recovery report";
  std::vector<RunStep> run_steps;  // empty unless the caller adds them
  std::string state_dir;
  int64_t generated_us = 0;
  std::vector<VmReport> vms;    // by VM name
  std::vector<JobReport> jobs;  // failover and plan jobs, oldest first
};

// Whether a job of `scenario` belongs in the report: the failover
// operations of a VM (test failover and its cleanup, planned and unplanned
// failover, commit, cancel, change of point, reverse replication, failback)
// and every recovery plan operation.
bool IsFailoverScenario(const std::string& scenario);

// The report of an open state.
absl::StatusOr<Report> BuildReport(SiteRecovery& sr);

// Opens `state_dir` read-only and builds its report. NotFound when the
// directory does not exist, FailedPrecondition when it holds no state
// (asrctl init was never run there), each saying what to give instead.
absl::StatusOr<Report> LoadReport(const std::string& state_dir);

// The terminal summary: a table of the protected VMs, then per VM its
// cycles and per job its steps (and a plan job's groups).
std::string RenderMarkdown(const Report& report);

// One self-contained HTML document: inline CSS and inline SVG charts (RPO
// over time against the copy frequency, bytes changed vs. sent per cycle
// with the compression ratio, time per step of each failover job, the
// timeline of each plan job's groups) and the tables behind them. No
// script, no external reference; every text from the state is escaped.
std::string RenderHtml(const Report& report);

struct ReportOptions {
  std::string html_path;      // "" = no HTML file
  std::string markdown_path;  // "" = no Markdown file
  std::string title;          // "" = "Site Recovery report"
  std::vector<RunStep> run_steps;
};

// LoadReport(state_dir), then writes the files `options` names (atomically;
// their directories must exist). InvalidArgument when it names neither.
absl::Status WriteReport(const std::string& state_dir, const ReportOptions& options);

}  // namespace asr::report

#endif  // ASR_REPORT_REPORT_H_
