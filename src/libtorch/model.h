// What every stage of dcomp works on: a classifier with named parameters and
// buffers, whether one of the built-in networks (a torch::nn::Module) or the
// user's own TorchScript module. Training, pruning, weight sharing, packing
// and the pipeline see only this interface.
#pragma once

#include <torch/torch.h>

#include "core/graph.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libtorch/data.h"
#include "libtorch/state_dict.h"

namespace dcomp {

// A prunable weight: the weight that feeds a convolution or a linear layer
// (not biases, not BatchNorm).
struct LayerWeight {
  std::string name;  // e.g. "layer1.0.conv1.weight"
  std::string kind;  // "conv" | "fc"
  torch::Tensor weight;
};

class Model {
 public:
  virtual ~Model() = default;

  // Images (B, C, H, W) float -> logits (B, classes).
  virtual torch::Tensor forward(const torch::Tensor& inputs) = 0;
  virtual void train(bool on = true) = 0;
  void eval() { train(false); }
  virtual bool is_training() const = 0;
  virtual void to(const torch::Device& device) = 0;

  // Module by module (pre-order), each module's parameters then its
  // buffers: PyTorch's state_dict() order. The tensors are the model's own,
  // so writing into them changes the model.
  virtual StateDict state_dict() const = 0;
  virtual std::vector<torch::Tensor> parameters() const = 0;
  // The weights of every convolution and linear layer, in state_dict order.
  virtual std::vector<LayerWeight> prunable_weights() const = 0;

  // A built-in network's name ("resnet20", ...) or "torchscript".
  virtual std::string architecture() const = 0;
  // The images it takes, where the model knows them (built-in networks
  // always; a TorchScript module once dcomp has saved it).
  virtual std::optional<DatasetInfo> data() const = 0;
  virtual void set_data(const DatasetInfo& info) = 0;

  // Writes the model in its own format, atomically: a state_dict .pt for a
  // built-in network, a TorchScript module (that torch.jit.load opens) for
  // a TorchScript one.
  virtual void save(const std::string& path) const = 0;

  // The network as the compressed file's graph, naming state_dict entries
  // (graph_export.h). Throws UnsupportedGraph for an operation the runtime
  // does not run.
  virtual dcz::Graph graph() const = 0;
};

int64_t parameter_count(const Model& model);

// Copies every entry into `model`; with strict, names and shapes must match
// exactly both ways (as load_state_dict(strict=True) in PyTorch).
void load_state_dict(Model& model, const StateDict& weights, bool strict = true);

}  // namespace dcomp
