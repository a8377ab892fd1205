// The network as the compressed file's graph (core/graph.h), for the
// runtime: from a TorchScript module by freezing an eval copy and walking
// its graph, or built operation by operation (the built-in networks,
// models.cpp).
#pragma once

#include <torch/script.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/graph.h"

namespace dcomp {

// A module with an operation the runtime does not run, or runs only in
// another form; the message names it and its line in the user's Python.
struct UnsupportedGraph : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class GraphBuilder {
 public:
  static constexpr uint32_t kInput = 0;
  // The value the operation writes.
  uint32_t add(dcz::Op op, std::vector<uint32_t> inputs, std::vector<std::string> tensors = {},
               std::vector<int64_t> ints = {}, std::vector<float> floats = {});
  // Square kernels; the weight is `name`.weight, the bias `name`.bias if any.
  uint32_t conv2d(uint32_t x, const std::string& name, bool bias, int64_t stride, int64_t padding);
  uint32_t batch_norm(uint32_t x, const std::string& name, float eps = 1e-5f);
  uint32_t relu(uint32_t x) { return add(dcz::Op::kRelu, {x}); }
  uint32_t linear(uint32_t x, const std::string& name, bool bias = true);
  dcz::Graph finish(uint32_t output) const;

 private:
  std::vector<dcz::Node> nodes_;
};

// The graph of `module`'s forward on one image. Throws UnsupportedGraph.
dcz::Graph export_graph(const torch::jit::Module& module);

}  // namespace dcomp
