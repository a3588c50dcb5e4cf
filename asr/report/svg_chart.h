// asr/report/svg_chart.h: the pieces the report's inline SVG charts are
// drawn with: "nice" axis ticks and a plot area that maps data to pixels.
//
//   Axis y = NiceAxis(0, max_rpo, 5);          // 0, 10, 20, ... covering max_rpo
//   PlotArea p{640, 260, 56, 16, 24, 36};      // size and margins
//   double py = p.Y(y, 12.5);                  // pixel row of 12.5 on y
//
// Thread safety: plain values and pure functions.
#ifndef ASR_REPORT_SVG_CHART_H_
#define ASR_REPORT_SVG_CHART_H_

#include <string>
#include <vector>

namespace asr::report {

// An axis from `min` to `max` with ticks at round values (1, 2 or 5 times a
// power of ten) covering the data.
struct Axis {
  double min = 0;
  double max = 1;
  std::vector<double> ticks;
};

// Ticks from `lo` to at least `hi`, about `target` of them; `hi` <= `lo`
// gives an axis 0..1 (or lo..lo+1).
Axis NiceAxis(double lo, double hi, int target);

// A chart's drawing: `width` x `height` pixels with the plot inside the
// margins.
struct PlotArea {
  double width = 640;
  double height = 260;
  double left = 56;
  double right = 16;
  double top = 28;
  double bottom = 36;

  double X(const Axis& a, double v) const;
  double Y(const Axis& a, double v) const;
  double plot_left() const { return left; }
  double plot_right() const { return width - right; }
  double plot_top() const { return top; }
  double plot_bottom() const { return height - bottom; }
};

// A number for SVG attributes: at most two decimals, no exponent.
std::string Num(double v);

// The opening <svg> tag of a chart: viewBox of `p`, role img, the chart's
// kind as data-chart, and an accessible title (escaped here).
std::string SvgOpen(const PlotArea& p, const std::string& kind, const std::string& title);

}  // namespace asr::report

#endif  // ASR_REPORT_SVG_CHART_H_
