// Small, dependency-free SVG charts for results and reports: line charts and
// grouped bar charts with axes, ticks, labels and a legend.
#pragma once

#include <string>
#include <vector>

namespace dcomp {

struct Series {
  std::string label;
  std::vector<double> x, y;  // line charts use x; bar charts use y only
};

struct ChartText {
  std::string title, x_label, y_label;
};

// Points joined by lines, one colour per series.
std::string line_chart(const ChartText& text, const std::vector<Series>& series);

// One group of bars per category, one bar per series in each group.
std::string bar_chart(const ChartText& text, const std::vector<std::string>& categories,
                      const std::vector<Series>& series);

// Histograms of several samples over one shared x range, one panel each
// (own y scale), with vertical lines at `marks` (e.g. k-means centroids).
struct Histogram {
  std::string label;
  std::vector<double> values;
};
std::string histogram_panels(const ChartText& text, const std::vector<Histogram>& panels,
                             const std::vector<double>& marks, int bins);

}  // namespace dcomp
