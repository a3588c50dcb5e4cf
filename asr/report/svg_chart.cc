#include "asr/report/svg_chart.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "asr/report/format.h"

namespace asr::report {

Axis NiceAxis(double lo, double hi, int target) {
  Axis a;
  if (!std::isfinite(lo)) lo = 0;
  if (!std::isfinite(hi) || hi <= lo) hi = lo + 1;
  if (target < 1) target = 1;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  a.min = std::floor(lo / step) * step;
  a.max = std::ceil(hi / step - 1e-9) * step;
  if (a.max <= a.min) a.max = a.min + step;
  for (double t = a.min; t <= a.max + step / 2; t += step) a.ticks.push_back(t);
  return a;
}

double PlotArea::X(const Axis& a, double v) const {
  return left + (v - a.min) / (a.max - a.min) * (plot_right() - plot_left());
}

double PlotArea::Y(const Axis& a, double v) const {
  return plot_bottom() - (v - a.min) / (a.max - a.min) * (plot_bottom() - plot_top());
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = absl::StrFormat("%.2f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string SvgOpen(const PlotArea& p, const std::string& kind, const std::string& title) {
  return absl::StrCat("<svg class=\"chart\" data-chart=\"", HtmlEscape(kind), "\" viewBox=\"0 0 ",
                      Num(p.width), " ", Num(p.height), "\" role=\"img\" aria-label=\"",
                      HtmlEscape(title), "\"><title>", HtmlEscape(title), "</title>");
}

}  // namespace asr::report
