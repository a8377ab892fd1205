#include "libtorch/weight_plots.h"

#include <algorithm>

#include "libtorch/prune.h"
#include "report/svg_chart.h"

namespace dcomp {

namespace {

std::vector<double> nonzero_values(const torch::Tensor& weight) {
  const torch::Tensor w = weight.detach().flatten().to(torch::kCPU, torch::kFloat64);
  const torch::Tensor nz = w.masked_select(w.ne(0)).contiguous();
  return std::vector<double>(nz.data_ptr<double>(), nz.data_ptr<double>() + nz.numel());
}

}  // namespace

std::vector<LayerPlot> weight_histograms(const Model& pruned, const Model& quantized,
                                         const std::string& quantized_label) {
  const std::vector<LayerWeight> before = pruned.prunable_weights(), after = quantized.prunable_weights();
  std::vector<LayerPlot> plots;
  for (size_t i = 0; i < before.size() && i < after.size(); ++i) {
    const std::vector<double> quantized_values = nonzero_values(after[i].weight);
    std::vector<double> marks = quantized_values;  // its distinct values
    std::sort(marks.begin(), marks.end());
    marks.erase(std::unique(marks.begin(), marks.end()), marks.end());
    plots.push_back({before[i].name, histogram_panels({before[i].name + ": nonzero weights (centroids dashed)",
                                                       "weight value", "count"},
                                                      {{"after pruning", nonzero_values(before[i].weight)},
                                                       {quantized_label, quantized_values}},
                                                      marks, 120)});
  }
  return plots;
}

}  // namespace dcomp
