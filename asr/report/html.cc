// RenderHtml: the report as one self-contained HTML page. Charts are inline
// SVG drawn here (no script); styles are inline; nothing names a network
// resource. Every text that comes from the state goes through HtmlEscape.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/report/format.h"
#include "asr/report/report.h"
#include "asr/report/svg_chart.h"

namespace asr::report {
namespace {

constexpr int64_t kMicros = 1000000;

// The charts' colours (also the legend's swatches).
constexpr char kRpoColor[] = "#2563eb";
constexpr char kPolicyColor[] = "#dc2626";
constexpr char kChangedColor[] = "#f59e0b";
constexpr char kSentColor[] = "#10b981";
constexpr char kRatioColor[] = "#7c3aed";
constexpr char kStepColor[] = "#0ea5e9";
constexpr char kFailedColor[] = "#ef4444";
constexpr char kOtherColor[] = "#94a3b8";
constexpr char kGroupColor[] = "#6366f1";
constexpr char kVmColor[] = "#14b8a6";
constexpr char kActionColor[] = "#f97316";
constexpr char kGridColor[] = "#e2e8f0";
constexpr char kAxisColor[] = "#64748b";

std::string E(const std::string& text) { return HtmlEscape(text); }

constexpr char kStyle[] = R"css(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f5f9; color: #0f172a;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: linear-gradient(120deg, #1e3a8a, #2563eb 60%, #0ea5e9); color: #fff;
  padding: 28px 40px 24px; }
header h1 { margin: 0 0 4px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }
header p { margin: 0; opacity: 0.85; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 24px 48px; }
h2 { font-size: 19px; margin: 32px 0 12px; }
h3 { font-size: 16px; margin: 0 0 4px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 14px; }
.card { background: #fff; border-radius: 12px; padding: 16px 18px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.06), 0 1px 8px rgba(15, 23, 42, 0.04); }
.stat .label { color: #64748b; font-size: 12px; text-transform: uppercase; letter-spacing: 0.05em; }
.stat .value { font-size: 26px; font-weight: 650; margin-top: 2px; }
.stat .sub { color: #64748b; font-size: 12px; }
.panel { background: #fff; border-radius: 12px; padding: 18px 20px; margin: 16px 0;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.06), 0 1px 8px rgba(15, 23, 42, 0.04); }
.meta { color: #475569; margin: 0 0 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 18px; }
figure { margin: 0; }
figcaption { font-weight: 600; color: #334155; margin-bottom: 6px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  fill: #475569; }
svg.chart .legend text { fill: #0f172a; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e2e8f0; text-align: left; vertical-align: top; }
th { color: #475569; font-weight: 600; background: #f8fafc; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
details { margin-top: 12px; }
summary { cursor: pointer; color: #1d4ed8; font-weight: 600; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 12px;
  font-weight: 600; background: #e2e8f0; color: #334155; }
.badge.ok { background: #dcfce7; color: #166534; }
.badge.bad { background: #fee2e2; color: #991b1b; }
.badge.warn { background: #fef3c7; color: #92400e; }
.empty { color: #64748b; font-style: italic; padding: 18px 0; }
.error { color: #991b1b; }
footer { color: #64748b; font-size: 12px; text-align: center; padding: 0 0 32px; }
)css";

std::string Badge(const std::string& text) {
  std::string cls = "badge";
  if (text == "Succeeded" || text == "Protected" || text == "Normal" || text == "ok") {
    cls += " ok";
  } else if (text == "Failed" || text == "Critical" || text == "Cancelled" ||
             text.find("Failed") != std::string::npos) {
    cls += " bad";
  } else if (text == "Warning" || text == "Suspended" || text == "InProgress") {
    cls += " warn";
  }
  return absl::StrCat("<span class=\"", cls, "\">", E(text), "</span>");
}

std::string Line(double x1, double y1, double x2, double y2, const std::string& color,
                 const std::string& extra = "") {
  return absl::StrCat("<line x1=\"", Num(x1), "\" y1=\"", Num(y1), "\" x2=\"", Num(x2), "\" y2=\"",
                      Num(y2), "\" stroke=\"", color, "\"", extra, "/>");
}

std::string Text(double x, double y, const std::string& text, const std::string& anchor = "start",
                 const std::string& extra = "") {
  return absl::StrCat("<text x=\"", Num(x), "\" y=\"", Num(y), "\" text-anchor=\"", anchor, "\"",
                      extra, ">", E(text), "</text>");
}

std::string Rect(double x, double y, double w, double h, const std::string& color,
                 const std::string& title = "", const std::string& extra = "") {
  std::string out =
      absl::StrCat("<rect x=\"", Num(x), "\" y=\"", Num(y), "\" width=\"", Num(std::max(w, 0.0)),
                   "\" height=\"", Num(std::max(h, 0.0)), "\" fill=\"", color, "\"", extra);
  if (title.empty()) return absl::StrCat(out, "/>");
  return absl::StrCat(out, "><title>", E(title), "</title></rect>");
}

// Legend entries drawn left to right from (x, y): a swatch (a bar or a
// line) and a name.
struct LegendEntry {
  std::string name;
  std::string color;
  bool line = false;
  bool dashed = false;
};

std::string Legend(double x, double y, const std::vector<LegendEntry>& entries) {
  std::string out = "<g class=\"legend\">";
  for (const LegendEntry& e : entries) {
    if (e.line) {
      absl::StrAppend(&out, Line(x, y - 4, x + 18, y - 4, e.color,
                                 e.dashed ? " stroke-width=\"2\" stroke-dasharray=\"5 3\""
                                          : " stroke-width=\"2.5\""));
    } else {
      absl::StrAppend(&out, Rect(x, y - 10, 14, 12, e.color, "", " rx=\"2\""));
    }
    absl::StrAppend(&out, Text(x + 22, y, e.name));
    x += 34 + 6.6 * static_cast<double>(e.name.size());
  }
  return absl::StrCat(out, "</g>");
}

// Horizontal grid lines with labels of the y axis on the left (or right).
std::string YGrid(const PlotArea& p, const Axis& a, const std::function<std::string(double)>& fmt,
                  bool right_side = false, bool grid = true) {
  std::string out;
  for (double t : a.ticks) {
    const double y = p.Y(a, t);
    if (grid) absl::StrAppend(&out, Line(p.plot_left(), y, p.plot_right(), y, kGridColor));
    absl::StrAppend(&out, right_side ? Text(p.plot_right() + 6, y + 4, fmt(t), "start")
                                     : Text(p.plot_left() - 6, y + 4, fmt(t), "end"));
  }
  return out;
}

std::string XAxisLine(const PlotArea& p) {
  return Line(p.plot_left(), p.plot_bottom(), p.plot_right(), p.plot_bottom(), kAxisColor);
}

std::string SecondsLabel(double s) {
  if (s == 0) return "0";
  if (s < 1) return absl::StrCat(Num(s * 1000), " ms");
  if (s < 120) return absl::StrCat(Num(s), " s");
  if (s < 7200) return absl::StrCat(Num(s / 60), " min");
  return absl::StrCat(Num(s / 3600), " h");
}

std::string Placeholder(const std::string& text) {
  return absl::StrCat("<div class=\"empty\">", E(text), "</div>");
}

// ---- Chart 1: RPO over time against the copy frequency -----------------------

std::string RpoChart(const VmReport& v) {
  if (v.rpo.size() < 2) {
    return Placeholder("Not enough completed cycles yet to draw the RPO over time.");
  }
  PlotArea p;
  p.width = 600;
  p.height = 280;
  p.left = 60;
  p.right = 36;
  p.top = 34;
  p.bottom = 40;
  const int64_t origin = v.rpo.front().time_us;
  double max_t = 0, max_y = v.copy_frequency_seconds;
  for (const RpoSample& s : v.rpo) {
    max_t = std::max(max_t, static_cast<double>(s.time_us - origin) / kMicros);
    max_y = std::max(max_y, s.rpo_seconds);
  }
  const Axis x = NiceAxis(0, max_t, 6);
  const Axis y = NiceAxis(0, max_y * 1.1, 5);
  std::string out = SvgOpen(p, "rpo", absl::StrCat("RPO over time of ", v.vm_name));
  absl::StrAppend(&out, YGrid(p, y, SecondsLabel));
  for (double t : x.ticks) {
    const double px = p.X(x, t);
    absl::StrAppend(&out, Line(px, p.plot_bottom(), px, p.plot_bottom() + 4, kAxisColor),
                    Text(px, p.plot_bottom() + 16,
                         UtcClock(origin + static_cast<int64_t>(t * kMicros)), "middle"));
  }
  absl::StrAppend(&out, XAxisLine(p),
                  Text((p.plot_left() + p.plot_right()) / 2, p.height - 6, "time (UTC)", "middle"),
                  Text(14, p.plot_top() - 12, "RPO", "start"));
  // The area under the curve, then the curve itself.
  std::string points;
  for (const RpoSample& s : v.rpo) {
    absl::StrAppend(&points, Num(p.X(x, static_cast<double>(s.time_us - origin) / kMicros)), ",",
                    Num(p.Y(y, s.rpo_seconds)), " ");
  }
  const std::string first_x = Num(p.X(x, 0));
  const std::string last_x =
      Num(p.X(x, static_cast<double>(v.rpo.back().time_us - origin) / kMicros));
  absl::StrAppend(&out, "<polygon points=\"", first_x, ",", Num(p.plot_bottom()), " ", points,
                  last_x, ",", Num(p.plot_bottom()), "\" fill=\"", kRpoColor,
                  "\" fill-opacity=\"0.12\"/>");
  absl::StrAppend(&out, "<polyline class=\"series rpo-curve\" points=\"", points,
                  "\" fill=\"none\" stroke=\"", kRpoColor,
                  "\" stroke-width=\"2\" stroke-linejoin=\"round\"/>");
  std::vector<LegendEntry> legend = {{"RPO (age of the newest point)", kRpoColor, true}};
  if (v.copy_frequency_seconds > 0) {
    const double py = p.Y(y, v.copy_frequency_seconds);
    absl::StrAppend(&out, Line(p.plot_left(), py, p.plot_right(), py, kPolicyColor,
                               " stroke-width=\"2\" stroke-dasharray=\"6 4\""));
    legend.push_back({absl::StrCat("copy frequency ", HumanSeconds(v.copy_frequency_seconds)),
                      kPolicyColor, true, true});
  }
  // Failed cycles: a mark on the curve where each ended (the RPO went on
  // growing through it).
  bool any_failed = false;
  for (const CycleRow& c : v.cycles) {
    if (c.ok || c.end_us < origin) continue;
    for (const RpoSample& s : v.rpo) {
      if (s.time_us != c.end_us) continue;
      any_failed = true;
      absl::StrAppend(&out, "<circle class=\"failed-cycle\" cx=\"",
                      Num(p.X(x, static_cast<double>(s.time_us - origin) / kMicros)), "\" cy=\"",
                      Num(p.Y(y, s.rpo_seconds)), "\" r=\"5\" fill=\"", kFailedColor, "\"><title>",
                      E(absl::StrCat("cycle failed at ", UtcTime(c.start_us), ": ", c.error)),
                      "</title></circle>");
      break;
    }
  }
  if (any_failed) legend.push_back({"failed cycle", kFailedColor});
  absl::StrAppend(&out, Legend(p.plot_left() + 10, 18, legend), "</svg>");
  return out;
}

// ---- Chart 2: bytes changed vs. sent per cycle, and the compression ratio ----

std::string BytesChart(const VmReport& v) {
  if (v.cycles.empty()) return Placeholder("No replication cycles recorded.");
  PlotArea p;
  p.width = 600;
  p.height = 280;
  p.left = 70;
  p.right = 52;
  p.top = 34;
  p.bottom = 40;
  uint64_t max_b = 1;
  double max_ratio = 1;
  for (const CycleRow& c : v.cycles) {
    max_b = std::max({max_b, c.bytes_changed, c.bytes_sent});
    max_ratio = std::max(max_ratio, c.compression_ratio);
  }
  // Bytes in the unit of the largest value, so that ticks are round in it.
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  double scale = 1;
  while (unit < 4 && static_cast<double>(max_b) / scale >= 1024) {
    scale *= 1024;
    ++unit;
  }
  const Axis y = NiceAxis(0, static_cast<double>(max_b) / scale * 1.1, 5);
  const Axis r = NiceAxis(0, max_ratio * 1.15, 5);
  std::string out =
      SvgOpen(p, "bytes", absl::StrCat("Bytes changed and sent per cycle of ", v.vm_name));
  absl::StrAppend(&out,
                  YGrid(p, y, [&](double t) { return absl::StrCat(Num(t), " ", kUnits[unit]); }),
                  YGrid(
                      p, r, [](double t) { return absl::StrCat(Num(t), "x"); }, true, false));
  const int n = static_cast<int>(v.cycles.size());
  const double slot = (p.plot_right() - p.plot_left()) / n;
  const double bar = std::max(1.0, std::min(18.0, slot * 0.36));
  const int label_every = std::max(1, n / 12);
  std::string ratio_points, markers;
  for (int i = 0; i < n; ++i) {
    const CycleRow& c = v.cycles[i];
    const double cx = p.plot_left() + slot * (i + 0.5);
    const double yc = p.Y(y, static_cast<double>(c.bytes_changed) / scale);
    const double ys = p.Y(y, static_cast<double>(c.bytes_sent) / scale);
    const std::string when = UtcTime(c.start_us);
    absl::StrAppend(
        &out,
        Rect(cx - bar, yc, bar, p.plot_bottom() - yc, kChangedColor,
             absl::StrCat("cycle ", i + 1, " at ", when, ": ", HumanBytes(c.bytes_changed),
                          " changed")),
        Rect(cx, ys, bar, p.plot_bottom() - ys, kSentColor,
             absl::StrCat("cycle ", i + 1, " at ", when, ": ", HumanBytes(c.bytes_sent), " sent")));
    if (!c.ok) {
      absl::StrAppend(&out, Text(cx, p.plot_bottom() - 8, "\u2716 failed", "middle",
                                 absl::StrCat(" class=\"failed-cycle\" style=\"fill:", kFailedColor,
                                              ";font-size:12px;font-weight:600\"")));
    }
    if (c.compression_ratio > 0) {
      const double yr = p.Y(r, c.compression_ratio);
      absl::StrAppend(&ratio_points, Num(cx), ",", Num(yr), " ");
      absl::StrAppend(&markers, "<circle cx=\"", Num(cx), "\" cy=\"", Num(yr), "\" r=\"3\" fill=\"",
                      kRatioColor, "\"><title>",
                      E(absl::StrCat("cycle ", i + 1, ": ratio ", Ratio(c.compression_ratio))),
                      "</title></circle>");
    }
    if (i % label_every == 0) {
      absl::StrAppend(&out, Text(cx, p.plot_bottom() + 16, absl::StrCat(i + 1), "middle"));
    }
  }
  if (!ratio_points.empty()) {  // no cycle sent changed data: no ratio to draw
    absl::StrAppend(&out, "<polyline class=\"series ratio-curve\" points=\"", ratio_points,
                    "\" fill=\"none\" stroke=\"", kRatioColor, "\" stroke-width=\"2\"/>", markers);
  }
  absl::StrAppend(&out, XAxisLine(p),
                  Text((p.plot_left() + p.plot_right()) / 2, p.height - 6, "cycle", "middle"),
                  Text(10, p.plot_top() - 12, "bytes", "start"),
                  Text(p.width - 6, p.plot_top() - 12, "ratio", "end"));
  absl::StrAppend(&out,
                  Legend(p.plot_left() + 10, 18,
                         {{"changed", kChangedColor},
                          {"sent", kSentColor},
                          {"compression ratio (changed / sent)", kRatioColor, true}}),
                  "</svg>");
  return out;
}

// ---- Gantt rows: time per step of a job; a plan's group timeline -------------

struct GanttRow {
  std::string label;
  int64_t start_us = 0;
  int64_t end_us = 0;
  std::string color;
  std::string tooltip;
  int indent = 0;
  bool thick = true;
};

std::string Truncate(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n - 1;
  // Do not split a UTF-8 sequence.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(s.substr(0, cut), "\u2026");
}

std::string Gantt(const std::string& kind, const std::string& title, int64_t origin,
                  const std::vector<GanttRow>& rows, const std::vector<LegendEntry>& legend,
                  const std::string& axis_label = "seconds since the job started") {
  PlotArea p;
  p.width = 1160;
  p.left = 330;
  p.right = 90;
  p.top = 34;
  p.bottom = 40;
  const double row_h = 24;
  p.height = p.top + p.bottom + row_h * static_cast<double>(rows.size());
  double max_t = 0;
  for (const GanttRow& r : rows) {
    max_t = std::max(max_t, static_cast<double>(std::max(r.end_us, r.start_us) - origin) / kMicros);
  }
  const Axis x = NiceAxis(0, std::max(max_t, 0.001), 8);
  std::string out = SvgOpen(p, kind, title);
  for (double t : x.ticks) {
    const double px = p.X(x, t);
    absl::StrAppend(&out, Line(px, p.plot_top(), px, p.plot_bottom(), kGridColor),
                    Text(px, p.plot_bottom() + 16, SecondsLabel(t), "middle"));
  }
  absl::StrAppend(&out, XAxisLine(p),
                  Text((p.plot_left() + p.plot_right()) / 2, p.height - 6, axis_label, "middle"));
  for (size_t i = 0; i < rows.size(); ++i) {
    const GanttRow& r = rows[i];
    const double top = p.plot_top() + row_h * static_cast<double>(i);
    if (i % 2 == 1) {
      absl::StrAppend(&out,
                      Rect(p.plot_left(), top, p.plot_right() - p.plot_left(), row_h, "#f8fafc"));
    }
    absl::StrAppend(&out,
                    Text(p.plot_left() - 10, top + row_h / 2 + 4, Truncate(r.label, 52), "end",
                         r.indent == 0 ? " font-weight=\"600\" style=\"fill:#0f172a\"" : ""));
    if (r.start_us == 0) continue;
    const int64_t end = r.end_us == 0 ? r.start_us : r.end_us;
    const double x0 = p.X(x, static_cast<double>(r.start_us - origin) / kMicros);
    const double x1 = p.X(x, static_cast<double>(end - origin) / kMicros);
    const double h = r.thick ? row_h - 8 : row_h - 12;
    absl::StrAppend(&out, Rect(x0, top + (row_h - h) / 2, std::max(x1 - x0, 3.0), h, r.color,
                               r.tooltip, " rx=\"3\""));
    absl::StrAppend(
        &out, Text(std::max(x1, x0 + 3) + 6, top + row_h / 2 + 4,
                   r.end_us == 0 ? "running"
                                 : HumanSeconds(static_cast<double>(end - r.start_us) / kMicros)));
  }
  absl::StrAppend(&out, Legend(p.plot_left(), 18, legend), "</svg>");
  return out;
}

std::string StateColor(const std::string& state) {
  if (state == "Succeeded") return kStepColor;
  if (state == "Failed" || state == "Cancelled") return kFailedColor;
  return kOtherColor;
}

std::string StepsChart(const JobReport& j) {
  if (j.steps.empty()) return Placeholder("This job recorded no steps.");
  std::vector<GanttRow> rows;
  for (const StepRow& s : j.steps) {
    GanttRow r;
    r.label = s.friendly_name;
    r.start_us = s.start_us;
    r.end_us = s.end_us;
    r.color = StateColor(s.state);
    r.tooltip = absl::StrCat(s.friendly_name, ": ", s.state,
                             s.end_us == 0 ? "" : absl::StrCat(", ", HumanSeconds(s.seconds)),
                             s.error.empty() ? "" : absl::StrCat(" - ", s.error));
    r.indent = s.name.find('/') == std::string::npos ? 0 : 1;
    rows.push_back(std::move(r));
  }
  return Gantt(
      "steps", absl::StrCat("Time per step of job ", j.id), j.start_us, rows,
      {{"succeeded", kStepColor}, {"failed or cancelled", kFailedColor}, {"other", kOtherColor}});
}

// The run's steps (asrctl drill) as a timeline from the first step's start.
std::string RunStepsChart(const std::vector<RunStep>& steps) {
  std::vector<GanttRow> rows;
  for (const RunStep& s : steps) {
    GanttRow r;
    r.label = s.name;
    r.start_us = s.start_us;
    r.end_us = s.end_us;
    r.color = s.ok ? kStepColor : kFailedColor;
    r.tooltip = absl::StrCat(s.name, ": ", s.ok ? "ok" : "FAILED",
                             s.detail.empty() ? "" : absl::StrCat(" - ", s.detail));
    rows.push_back(std::move(r));
  }
  return Gantt("run-steps", "Time per step of the run", steps.front().start_us, rows,
               {{"held", kStepColor}, {"failed", kFailedColor}}, "seconds since the run started");
}

std::string TimelineChart(const JobReport& j) {
  std::vector<GanttRow> rows;
  for (const GroupSpan& g : j.groups) {
    GanttRow r;
    r.label = g.name;
    r.start_us = g.start_us;
    r.end_us = g.end_us;
    r.color = kGroupColor;
    r.tooltip =
        g.start_us == 0
            ? absl::StrCat(g.name, ": nothing to run")
            : absl::StrCat(g.name, ": ",
                           HumanSeconds(static_cast<double>(g.end_us - g.start_us) / kMicros));
    rows.push_back(std::move(r));
    // A group's actions, then its VMs' operations, as thin rows under it.
    auto add_steps = [&rows](const std::vector<StepRow>& steps, const std::string& color) {
      for (const StepRow& s : steps) {
        GanttRow row;
        row.label = s.friendly_name;
        row.start_us = s.start_us;
        row.end_us = s.end_us;
        row.color = s.state == "Failed" ? kFailedColor : color;
        row.tooltip = absl::StrCat(s.friendly_name, ": ", s.state);
        row.indent = 1;
        row.thick = false;
        rows.push_back(std::move(row));
      }
    };
    add_steps(g.actions, kActionColor);
    add_steps(g.vms, kVmColor);
  }
  if (rows.empty()) return Placeholder("The plan has no groups.");
  return Gantt("timeline", absl::StrCat("Timeline of the groups of plan ", j.plan_name), j.start_us,
               rows,
               {{"group", kGroupColor},
                {"VM operation", kVmColor},
                {"action", kActionColor},
                {"failed", kFailedColor}});
}

std::string Stat(const std::string& label, const std::string& value, const std::string& sub) {
  return absl::StrCat("<div class=\"card stat\"><div class=\"label\">", E(label),
                      "</div><div class=\"value\">", E(value), "</div><div class=\"sub\">", E(sub),
                      "</div></div>");
}

std::string Td(const std::string& text, bool number = false) {
  return absl::StrCat(number ? "<td class=\"n\">" : "<td>", E(text), "</td>");
}

std::string Th(const std::string& text, bool number = false) {
  return absl::StrCat(number ? "<th class=\"n\">" : "<th>", E(text), "</th>");
}

double RatioOf(uint64_t changed, uint64_t sent) {
  return sent == 0 ? 0 : static_cast<double>(changed) / sent;
}

std::string Frequency(const VmReport& v) {
  if (v.copy_frequency_seconds == 0) return "-";
  return HumanSeconds(v.copy_frequency_seconds);
}

void VmSection(std::string& out, const VmReport& v, int index) {
  absl::StrAppend(&out, "<section class=\"panel vm\" id=\"vm-", index, "\"><h3>", E(v.vm_name), " ",
                  Badge(v.protection_state), " ", Badge(v.health), "</h3>");
  absl::StrAppend(
      &out, "<p class=\"meta\">",
      E(absl::StrCat("Policy ", v.policy_name.empty() ? "-" : v.policy_name, ", copy frequency ",
                     Frequency(v), " \u00b7 running on the ", v.active_location, " side \u00b7 ",
                     Plural(v.cycles_ok, "cycle"), " ok, ", v.cycles_failed, " failed \u00b7 ",
                     HumanBytes(v.bytes_changed), " changed, ", HumanBytes(v.bytes_sent),
                     " sent \u00b7 RPO now ", HumanSeconds(v.rpo_seconds_now), " \u00b7 ",
                     Plural(v.points.size(), "recovery point"), " kept")),
      "</p>");
  absl::StrAppend(&out, "<div class=\"charts\"><figure><figcaption>RPO over time</figcaption>",
                  RpoChart(v), "</figure><figure><figcaption>Bytes changed vs. sent per cycle",
                  "</figcaption>", BytesChart(v), "</figure></div>");
  if (!v.cycles.empty()) {
    absl::StrAppend(&out, "<details><summary>", Plural(v.cycles.size(), "cycle"),
                    "</summary><table><thead><tr>", Th("#", true), Th("Start (UTC)"),
                    Th("Duration", true), Th("Changed", true), Th("Sent", true), Th("Ratio", true),
                    Th("Point", true), Th("Result"), "</tr></thead><tbody>");
    int n = 0;
    for (const CycleRow& c : v.cycles) {
      absl::StrAppend(&out, "<tr>", Td(absl::StrCat(++n), true), Td(UtcTime(c.start_us, true)),
                      Td(HumanSeconds(c.seconds), true), Td(HumanBytes(c.bytes_changed), true),
                      Td(HumanBytes(c.bytes_sent), true), Td(Ratio(c.compression_ratio), true),
                      Td(c.point_sequence == 0 ? "-" : absl::StrCat(c.point_sequence), true),
                      c.ok ? absl::StrCat("<td>", Badge("ok"), "</td>")
                           : absl::StrCat("<td class=\"error\">", E(c.error), "</td>"),
                      "</tr>");
    }
    absl::StrAppend(&out, "</tbody></table></details>");
  }
  if (!v.points.empty()) {
    absl::StrAppend(&out, "<details><summary>", Plural(v.points.size(), "recovery point"),
                    "</summary><table><thead><tr>", Th("Point"), Th("Sequence", true),
                    Th("Source time (UTC)"), Th("Type"), "</tr></thead><tbody>");
    for (const PointRow& pt : v.points) {
      absl::StrAppend(&out, "<tr>", Td(pt.id), Td(absl::StrCat(pt.sequence), true),
                      Td(UtcTime(pt.time_us, true)), Td(pt.type), "</tr>");
    }
    absl::StrAppend(&out, "</tbody></table></details>");
  }
  absl::StrAppend(&out, "</section>");
}

void JobSection(std::string& out, const JobReport& j) {
  absl::StrAppend(&out, "<section class=\"panel job\" id=\"job-", E(j.id), "\"><h3>",
                  E(j.display_name.empty() ? j.scenario : j.display_name), " ", Badge(j.state),
                  "</h3>");
  absl::StrAppend(
      &out, "<p class=\"meta\">",
      E(absl::StrCat("Job ", j.id, " \u00b7 ", j.scenario, " of ", j.target_name, " \u00b7 ",
                     j.state_description.empty() ? j.state : j.state_description,
                     " \u00b7 started ", UtcTime(j.start_us), " UTC \u00b7 took ",
                     j.end_us == 0 ? std::string("(not ended)") : HumanSeconds(j.seconds))),
      "</p>");
  if (!j.error.empty()) absl::StrAppend(&out, "<p class=\"error\">", E(j.error), "</p>");
  if (j.plan_job) {
    absl::StrAppend(&out, "<figure><figcaption>Timeline of the groups of plan ", E(j.plan_name),
                    "</figcaption>", TimelineChart(j), "</figure>");
  }
  absl::StrAppend(&out, "<figure><figcaption>Time per step</figcaption>", StepsChart(j),
                  "</figure>");
  if (!j.steps.empty()) {
    absl::StrAppend(&out, "<details><summary>", Plural(j.steps.size(), "step"),
                    "</summary><table><thead><tr>", Th("Step"), Th("State"), Th("Start", true),
                    Th("Duration", true), "</tr></thead><tbody>");
    for (const StepRow& s : j.steps) {
      absl::StrAppend(
          &out, "<tr>", Td(s.friendly_name), "<td>", Badge(s.state),
          s.error.empty() ? "" : absl::StrCat(" <span class=\"error\">", E(s.error), "</span>"),
          "</td>",
          Td(s.start_us == 0 || j.start_us == 0
                 ? "-"
                 : absl::StrFormat("+%.3f s",
                                   static_cast<double>(s.start_us - j.start_us) / kMicros),
             true),
          Td(s.end_us == 0 ? "-" : HumanSeconds(s.seconds), true), "</tr>");
    }
    absl::StrAppend(&out, "</tbody></table></details>");
  }
  absl::StrAppend(&out, "</section>");
}

}  // namespace

std::string RenderHtml(const Report& report) {
  int cycles_ok = 0, cycles_failed = 0, jobs_ok = 0, jobs_failed = 0;
  uint64_t changed = 0, sent = 0;
  double worst_rpo = 0;
  for (const VmReport& v : report.vms) {
    cycles_ok += v.cycles_ok;
    cycles_failed += v.cycles_failed;
    changed += v.bytes_changed;
    sent += v.bytes_sent;
    worst_rpo = std::max(worst_rpo, v.max_rpo_seconds);
  }
  for (const JobReport& j : report.jobs) {
    if (j.state == "Succeeded") ++jobs_ok;
    if (j.state == "Failed") ++jobs_failed;
  }
  std::string out;
  absl::StrAppend(&out,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>",
                  E(report.title), "</title><style>", kStyle, "</style></head><body>");
  absl::StrAppend(&out, "<header><h1>", E(report.title), "</h1><p>",
                  E(absl::StrCat("State ", report.state_dir, " \u00b7 made ",
                                 UtcTime(report.generated_us), " UTC")),
                  "</p></header><main>");
  absl::StrAppend(
      &out, "<div class=\"cards\">",
      Stat("Protected VMs", absl::StrCat(report.vms.size()), "in this state"),
      Stat("Replication cycles", absl::StrCat(cycles_ok + cycles_failed),
           absl::StrCat(cycles_ok, " ok, ", cycles_failed, " failed")),
      Stat("Data changed", HumanBytes(changed),
           absl::StrCat(HumanBytes(sent), " sent, ratio ", Ratio(RatioOf(changed, sent)))),
      Stat("Highest RPO", worst_rpo > 0 ? HumanSeconds(worst_rpo) : "-", "in the recorded cycles"),
      Stat("Failover jobs", absl::StrCat(report.jobs.size()),
           absl::StrCat(jobs_ok, " succeeded, ", jobs_failed, " failed")),
      "</div>");

  if (!report.run_steps.empty()) {
    absl::StrAppend(&out, "<h2>Steps</h2><div class=\"panel\">", RunStepsChart(report.run_steps),
                    "<table><thead><tr>", Th("Step"), Th("Result"), Th("Duration", true),
                    Th("Detail"), "</tr></thead><tbody>");
    for (const RunStep& s : report.run_steps) {
      absl::StrAppend(&out, "<tr><td>", E(s.name), "</td><td>", Badge(s.ok ? "ok" : "Failed"),
                      "</td>",
                      Td(HumanSeconds(static_cast<double>(s.end_us - s.start_us) / kMicros), true),
                      Td(s.detail), "</tr>");
    }
    absl::StrAppend(&out, "</tbody></table></div>");
  }
  absl::StrAppend(&out, "<h2>Protected VMs</h2>");
  if (report.vms.empty()) {
    absl::StrAppend(&out, "<div class=\"panel\">", Placeholder("No protected VMs."), "</div>");
  } else {
    absl::StrAppend(&out, "<div class=\"panel\"><table><thead><tr>", Th("VM"), Th("State"),
                    Th("Health"), Th("Copy frequency", true), Th("RPO now", true),
                    Th("Highest RPO", true), Th("Cycles ok/failed", true), Th("Changed", true),
                    Th("Sent", true), Th("Ratio", true), "</tr></thead><tbody>");
    int i = 0;
    for (const VmReport& v : report.vms) {
      absl::StrAppend(&out, "<tr><td><a href=\"#vm-", i++, "\">", E(v.vm_name), "</a></td><td>",
                      Badge(v.protection_state), "</td><td>", Badge(v.health), "</td>",
                      Td(Frequency(v), true), Td(HumanSeconds(v.rpo_seconds_now), true),
                      Td(v.rpo.empty() ? "-" : HumanSeconds(v.max_rpo_seconds), true),
                      Td(absl::StrCat(v.cycles_ok, "/", v.cycles_failed), true),
                      Td(HumanBytes(v.bytes_changed), true), Td(HumanBytes(v.bytes_sent), true),
                      Td(Ratio(RatioOf(v.bytes_changed, v.bytes_sent)), true), "</tr>");
    }
    absl::StrAppend(&out, "</tbody></table></div>");
    i = 0;
    for (const VmReport& v : report.vms) VmSection(out, v, i++);
  }

  absl::StrAppend(&out, "<h2>Failover and recovery plan jobs</h2>");
  if (report.jobs.empty()) {
    absl::StrAppend(&out, "<div class=\"panel\">",
                    Placeholder("No failover or recovery plan jobs in this state."), "</div>");
  } else {
    for (const JobReport& j : report.jobs) JobSection(out, j);
  }
  absl::StrAppend(&out, "</main><footer>", E(absl::StrCat("asr report \u00b7 ", report.state_dir)),
                  "</footer></body></html>\n");
  return out;
}

}  // namespace asr::report
