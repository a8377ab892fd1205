#include "report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dcomp {
namespace {

constexpr double kWidth = 760, kHeight = 470;
constexpr double kLeft = 95, kRight = 170, kTop = 40, kBottom = 130;  // margins: rotated labels below, legend right
const char* const kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// A "nice" axis: range [lo, hi] rounded out to steps of 1, 2 or 5 x 10^k.
struct Axis {
  double lo, hi, step;
  Axis(double min, double max) {
    if (!(max > min)) max = min + 1;
    const double raw = (max - min) / 5;
    const double mag = std::pow(10, std::floor(std::log10(raw)));
    step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
    lo = std::floor(min / step) * step;
    hi = std::ceil(max / step) * step;
  }
};

// The tick values of an axis, computed from integers so that no rounding
// error accumulates (a tick at 0 must print as 0, not -5.6e-17).
std::vector<double> ticks(const Axis& a) {
  std::vector<double> out;
  const long n = std::lround((a.hi - a.lo) / a.step);
  for (long i = 0; i <= n; ++i) {
    const double v = a.lo + double(i) * a.step;
    out.push_back(std::abs(v) < a.step * 1e-9 ? 0.0 : v);
  }
  return out;
}

struct Frame {
  Axis y;
  double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  double py(double v) const { return kTop + plot_h * (1 - (v - y.lo) / (y.hi - y.lo)); }
};

// Wide enough for the legend's longest label (about 7 px a character at 12 px).
double chart_width(const std::vector<Series>& series) {
  size_t longest = 0;
  for (const Series& s : series) longest = std::max(longest, s.label.size());
  return std::max(kWidth, kWidth - kRight + 40 + 7.0 * double(longest));
}

std::string header(const ChartText& text, double x_label_y, double width) {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" + num(kHeight) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(kWidth / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + escape(text.title) + "</text>\n";
  s += "<text x=\"16\" y=\"" + num(kTop + (kHeight - kTop - kBottom) / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " +
       num(kTop + (kHeight - kTop - kBottom) / 2) + ")\">" + escape(text.y_label) + "</text>\n";
  s += "<text x=\"" + num(kLeft + (kWidth - kLeft - kRight) / 2) + "\" y=\"" + num(x_label_y) +
       "\" text-anchor=\"middle\">" + escape(text.x_label) + "</text>\n";
  return s;
}

std::string y_axis(const Frame& f) {
  std::string s;
  for (double v : ticks(f.y)) {
    s += "<line x1=\"" + num(kLeft) + "\" x2=\"" + num(kLeft + f.plot_w) + "\" y1=\"" + num(f.py(v)) + "\" y2=\"" +
         num(f.py(v)) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + num(kLeft - 6) + "\" y=\"" + num(f.py(v) + 4) + "\" text-anchor=\"end\">" + num(v) + "</text>\n";
  }
  s += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(f.plot_w) + "\" height=\"" +
       num(f.plot_h) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  return s;
}

std::string legend(const std::vector<Series>& series) {
  std::string s;
  for (size_t i = 0; i < series.size(); ++i) {
    const double y = kTop + 10 + 18 * double(i);
    s += "<rect x=\"" + num(kWidth - kRight + 12) + "\" y=\"" + num(y - 9) + "\" width=\"12\" height=\"12\" fill=\"" +
         kColours[i % 10] + "\"/>\n";
    s += "<text x=\"" + num(kWidth - kRight + 30) + "\" y=\"" + num(y + 1) + "\">" + escape(series[i].label) + "</text>\n";
  }
  return s;
}

std::pair<double, double> y_range(const std::vector<Series>& series, bool include_zero) {
  double lo = include_zero ? 0 : INFINITY, hi = include_zero ? 0 : -INFINITY;
  for (const Series& s : series)
    for (double v : s.y) lo = std::min(lo, v), hi = std::max(hi, v);
  return {std::isfinite(lo) ? lo : 0, std::isfinite(hi) ? hi : 1};
}

}  // namespace

std::string line_chart(const ChartText& text, const std::vector<Series>& series) {
  double x_lo = INFINITY, x_hi = -INFINITY;
  for (const Series& s : series)
    for (double v : s.x) x_lo = std::min(x_lo, v), x_hi = std::max(x_hi, v);
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1;
  const auto [y_lo, y_hi] = y_range(series, false);
  const Frame f{Axis(y_lo, y_hi)};
  const Axis x(x_lo, x_hi);
  auto px = [&](double v) { return kLeft + f.plot_w * (v - x.lo) / (x.hi - x.lo); };
  std::string s = header(text, kTop + f.plot_h + 38, chart_width(series)) + y_axis(f);  // tick labels, then the axis label
  for (double v : ticks(x))
    s += "<text x=\"" + num(px(v)) + "\" y=\"" + num(kTop + f.plot_h + 16) + "\" text-anchor=\"middle\">" + num(v) + "</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    std::string points;
    for (size_t k = 0; k < std::min(series[i].x.size(), series[i].y.size()); ++k) {
      points += num(px(series[i].x[k])) + "," + num(f.py(series[i].y[k])) + " ";
      s += "<circle cx=\"" + num(px(series[i].x[k])) + "\" cy=\"" + num(f.py(series[i].y[k])) + "\" r=\"3.5\" fill=\"" +
           kColours[i % 10] + "\"/>\n";
    }
    s += "<polyline points=\"" + points + "\" fill=\"none\" stroke=\"" + kColours[i % 10] + "\" stroke-width=\"2\"/>\n";
  }
  return s + legend(series) + "</svg>\n";
}

std::string bar_chart(const ChartText& text, const std::vector<std::string>& categories,
                      const std::vector<Series>& series) {
  const auto [y_lo, y_hi] = y_range(series, true);
  const Frame f{Axis(y_lo, y_hi)};
  std::string s = header(text, kHeight - 10, chart_width(series)) + y_axis(f);  // below the rotated category labels
  const double group = f.plot_w / double(std::max<size_t>(1, categories.size()));
  const double bar = group * 0.8 / double(std::max<size_t>(1, series.size()));
  for (size_t c = 0; c < categories.size(); ++c) {
    const double gx = kLeft + group * double(c) + group * 0.1;
    for (size_t i = 0; i < series.size(); ++i) {
      if (c >= series[i].y.size()) continue;
      const double top = f.py(std::max(0.0, series[i].y[c])), base = f.py(std::min(0.0, series[i].y[c]));
      s += "<rect x=\"" + num(gx + bar * double(i)) + "\" y=\"" + num(top) + "\" width=\"" + num(bar) + "\" height=\"" +
           num(base - top) + "\" fill=\"" + kColours[i % 10] + "\"/>\n";
    }
    const double lx = gx + group * 0.4, ly = kTop + f.plot_h + 10;
    s += "<text x=\"" + num(lx) + "\" y=\"" + num(ly) + "\" text-anchor=\"end\" font-size=\"10\" transform=\"rotate(-50 " +
         num(lx) + " " + num(ly) + ")\">" + escape(categories[c]) + "</text>\n";
  }
  return s + legend(series) + "</svg>\n";
}

std::string histogram_panels(const ChartText& text, const std::vector<Histogram>& panels,
                             const std::vector<double>& marks, int bins) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Histogram& p : panels)
    for (double v : p.values) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!std::isfinite(lo)) lo = -1, hi = 1;
  const Axis x(lo, hi);
  const double panel_h = 150, gap = 45, top = kTop + 10, plot_w = kWidth - kLeft - 40;
  const double height = top + double(panels.size()) * (panel_h + gap) + 20;
  auto px = [&](double v) { return kLeft + plot_w * (v - x.lo) / (x.hi - x.lo); };
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(kWidth / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + escape(text.title) + "</text>\n";
  for (size_t p = 0; p < panels.size(); ++p) {
    const double y0 = top + double(p) * (panel_h + gap);  // the panel's top edge
    std::vector<double> counts(size_t(bins), 0);
    for (double v : panels[p].values)
      counts[std::min(size_t(bins) - 1, size_t(std::max(0.0, (v - x.lo) / (x.hi - x.lo) * bins)))] += 1;
    const double peak = std::max(1.0, *std::max_element(counts.begin(), counts.end()));
    for (int b = 0; b < bins; ++b) {
      const double h = panel_h * counts[size_t(b)] / peak;
      s += "<rect x=\"" + num(px(x.lo + (x.hi - x.lo) * b / bins)) + "\" y=\"" + num(y0 + panel_h - h) + "\" width=\"" +
           num(plot_w / bins) + "\" height=\"" + num(h) + "\" fill=\"" + kColours[p % 10] + "\"/>\n";
    }
    for (double m : marks)
      s += "<line x1=\"" + num(px(m)) + "\" x2=\"" + num(px(m)) + "\" y1=\"" + num(y0) + "\" y2=\"" + num(y0 + panel_h) +
           "\" stroke=\"#d62728\" stroke-width=\"0.7\" stroke-dasharray=\"3,2\"/>\n";
    s += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(y0) + "\" width=\"" + num(plot_w) + "\" height=\"" + num(panel_h) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
    s += "<text x=\"" + num(kLeft + 6) + "\" y=\"" + num(y0 + 15) + "\">" + escape(panels[p].label) + " (peak " +
         num(peak) + ")</text>\n";
    for (double v : ticks(x))
      s += "<text x=\"" + num(px(v)) + "\" y=\"" + num(y0 + panel_h + 15) + "\" text-anchor=\"middle\">" + num(v) + "</text>\n";
  }
  s += "<text x=\"16\" y=\"" + num(height / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " + num(height / 2) +
       ")\">" + escape(text.y_label) + "</text>\n";
  s += "<text x=\"" + num(kLeft + plot_w / 2) + "\" y=\"" + num(height - 8) + "\" text-anchor=\"middle\">" +
       escape(text.x_label) + "</text>\n";
  return s + "</svg>\n";
}

}  // namespace dcomp
