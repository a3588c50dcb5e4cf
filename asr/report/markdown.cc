// RenderMarkdown: the report as a terminal summary (GitHub-flavoured
// Markdown tables).
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "asr/report/format.h"
#include "asr/report/report.h"

namespace asr::report {
namespace {

constexpr int64_t kMicros = 1000000;

// A table cell: one line, '|' escaped, so that a name cannot break the table.
std::string Cell(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
  }
  return out;
}

void Row(std::string& out, const std::vector<std::string>& cells) {
  std::vector<std::string> escaped;
  for (const std::string& c : cells) escaped.push_back(Cell(c));
  absl::StrAppend(&out, "| ", absl::StrJoin(escaped, " | "), " |\n");
}

void Header(std::string& out, const std::vector<std::string>& cells,
            const std::vector<bool>& right) {
  Row(out, cells);
  std::vector<std::string> rule;
  for (size_t i = 0; i < cells.size(); ++i) {
    rule.push_back(i < right.size() && right[i] ? "---:" : "---");
  }
  absl::StrAppend(&out, "|", absl::StrJoin(rule, "|"), "|\n");
}

std::string Offset(int64_t us, int64_t origin_us) {
  if (us == 0 || origin_us == 0) return "-";
  return absl::StrFormat("+%.3f s", static_cast<double>(us - origin_us) / kMicros);
}

std::string Frequency(const VmReport& v) {
  if (v.copy_frequency_seconds == 0) return "-";
  return absl::StrCat(HumanSeconds(v.copy_frequency_seconds),
                      v.policy_name.empty() ? "" : absl::StrCat(" (", v.policy_name, ")"));
}

void Vm(std::string& out, const VmReport& v) {
  absl::StrAppend(&out, "\n## ", Cell(v.vm_name), "\n\n");
  absl::StrAppend(&out, "- state: ", Cell(v.protection_state), ", health ", Cell(v.health),
                  ", running on the ", Cell(v.active_location), " side\n");
  absl::StrAppend(&out, "- copy frequency: ", Cell(Frequency(v)), "; RPO now ",
                  HumanSeconds(v.rpo_seconds_now), ", highest in the cycles below ",
                  v.rpo.empty() ? std::string("-") : HumanSeconds(v.max_rpo_seconds), "\n");
  absl::StrAppend(
      &out, "- cycles: ", v.cycles_ok, " ok, ", v.cycles_failed, " failed; ",
      HumanBytes(v.bytes_changed), " changed, ", HumanBytes(v.bytes_sent), " sent (",
      Ratio(v.bytes_sent == 0 ? 0 : static_cast<double>(v.bytes_changed) / v.bytes_sent), ")\n");
  absl::StrAppend(&out, "- ", Plural(v.points.size(), "recovery point"), " kept");
  if (!v.points.empty()) {
    absl::StrAppend(&out, ", oldest ", UtcTime(v.points.front().time_us), ", newest ",
                    UtcTime(v.points.back().time_us));
  }
  absl::StrAppend(&out, "\n");
  if (v.cycles.empty()) {
    absl::StrAppend(&out, "\nNo replication cycles recorded.\n");
    return;
  }
  absl::StrAppend(&out, "\n### Cycles\n\n");
  Header(out, {"#", "Start (UTC)", "Duration", "Changed", "Sent", "Ratio", "Point", "Result"},
         {true, false, true, true, true, true, true, false});
  int n = 0;
  for (const CycleRow& c : v.cycles) {
    Row(out, {absl::StrCat(++n), UtcTime(c.start_us), HumanSeconds(c.seconds),
              HumanBytes(c.bytes_changed), HumanBytes(c.bytes_sent), Ratio(c.compression_ratio),
              c.point_sequence == 0 ? "-" : absl::StrCat(c.point_sequence),
              c.ok ? "ok" : absl::StrCat("failed: ", c.error)});
  }
}

void Job(std::string& out, const JobReport& j) {
  absl::StrAppend(&out, "\n## Job ", Cell(j.id), ": ", Cell(j.display_name), "\n\n");
  absl::StrAppend(&out, "- ", Cell(j.scenario), " of ", Cell(j.target_name), ": ", Cell(j.state),
                  j.state_description.empty() || j.state_description == j.state
                      ? ""
                      : absl::StrCat(" (", Cell(j.state_description), ")"),
                  ", started ", UtcTime(j.start_us), ", took ",
                  j.end_us == 0 ? std::string("(not ended)") : HumanSeconds(j.seconds), "\n");
  if (!j.error.empty()) absl::StrAppend(&out, "- error: ", Cell(j.error), "\n");
  if (j.plan_job && !j.groups.empty()) {
    absl::StrAppend(&out, "\n### Groups of plan ", Cell(j.plan_name), "\n\n");
    Header(out, {"Group", "Start", "Duration", "VMs", "Actions"},
           {false, true, true, false, false});
    for (const GroupSpan& g : j.groups) {
      std::vector<std::string> vms, actions;
      for (const StepRow& s : g.vms) vms.push_back(absl::StrCat(s.friendly_name, " ", s.state));
      for (const StepRow& s : g.actions) {
        actions.push_back(absl::StrCat(s.friendly_name, " ", s.state));
      }
      Row(out,
          {g.name, Offset(g.start_us, j.start_us),
           g.start_us == 0 ? "-"
                           : HumanSeconds(static_cast<double>(g.end_us - g.start_us) / kMicros),
           vms.empty() ? "-" : absl::StrJoin(vms, "; "),
           actions.empty() ? "-" : absl::StrJoin(actions, "; ")});
    }
  }
  if (j.steps.empty()) return;
  absl::StrAppend(&out, "\n### Steps\n\n");
  Header(out, {"Step", "State", "Start", "Duration"}, {false, false, true, true});
  for (const StepRow& s : j.steps) {
    Row(out, {s.friendly_name, s.error.empty() ? s.state : absl::StrCat(s.state, ": ", s.error),
              Offset(s.start_us, j.start_us), s.end_us == 0 ? "-" : HumanSeconds(s.seconds)});
  }
}

}  // namespace

std::string RenderMarkdown(const Report& report) {
  std::string out;
  absl::StrAppend(&out, "# ", Cell(report.title), "\n\n");
  absl::StrAppend(&out, "State ", Cell(report.state_dir), ", made ", UtcTime(report.generated_us),
                  " UTC.\n");
  if (!report.run_steps.empty()) {
    absl::StrAppend(&out, "\n## Steps\n\n");
    Header(out, {"Step", "Result", "Duration", "Detail"}, {false, false, true, false});
    for (const RunStep& s : report.run_steps) {
      Row(out, {s.name, s.ok ? "ok" : "FAILED",
                HumanSeconds(static_cast<double>(s.end_us - s.start_us) / kMicros), s.detail});
    }
  }
  absl::StrAppend(&out, "\n## Protected VMs\n\n");
  if (report.vms.empty()) {
    absl::StrAppend(&out, "No protected VMs.\n");
  } else {
    Header(out,
           {"VM", "State", "Health", "Copy frequency", "RPO now", "Highest RPO", "Cycles ok/failed",
            "Changed", "Sent", "Ratio"},
           {false, false, false, true, true, true, true, true, true, true});
    for (const VmReport& v : report.vms) {
      Row(out,
          {v.vm_name, v.protection_state, v.health, Frequency(v), HumanSeconds(v.rpo_seconds_now),
           v.rpo.empty() ? "-" : HumanSeconds(v.max_rpo_seconds),
           absl::StrCat(v.cycles_ok, "/", v.cycles_failed), HumanBytes(v.bytes_changed),
           HumanBytes(v.bytes_sent),
           Ratio(v.bytes_sent == 0 ? 0 : static_cast<double>(v.bytes_changed) / v.bytes_sent)});
    }
  }
  absl::StrAppend(&out, "\n## Failover jobs\n\n");
  if (report.jobs.empty()) {
    absl::StrAppend(&out, "No failover or recovery plan jobs.\n");
  } else {
    Header(out, {"Job", "Operation", "Target", "State", "Started (UTC)", "Duration", "Steps"},
           {false, false, false, false, false, true, true});
    for (const JobReport& j : report.jobs) {
      Row(out, {j.id, j.scenario, j.target_name, j.state, UtcTime(j.start_us),
                j.end_us == 0 ? "-" : HumanSeconds(j.seconds), absl::StrCat(j.steps.size())});
    }
  }
  for (const VmReport& v : report.vms) Vm(out, v);
  for (const JobReport& j : report.jobs) Job(out, j);
  return out;
}

}  // namespace asr::report
