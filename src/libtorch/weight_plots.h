// Plots of a model's weights, shared by the lab commands and the report.
#pragma once

#include "libtorch/model.h"

#include <string>
#include <vector>

namespace dcomp {

struct LayerPlot {
  std::string layer;  // e.g. "layer1.0.conv1.weight"
  std::string svg;
};

// For each prunable layer: histograms of the nonzero weights of `pruned`
// and of `quantized` (the same layer after weight sharing), with the
// quantized layer's distinct values (its centroids) marked.
std::vector<LayerPlot> weight_histograms(const Model& pruned, const Model& quantized,
                                         const std::string& quantized_label);

}  // namespace dcomp
