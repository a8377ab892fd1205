// The user's own network as a TorchScript module (torch.jit.script(model)
// .save(path), or torch.jit.trace): trained, pruned and quantized in place
// through the Model interface, and saved back as TorchScript that
// torch.jit.load opens.
#pragma once

#include <torch/script.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "libtorch/model.h"

namespace dcomp {

class ScriptModel : public Model {
 public:
  // Throws std::runtime_error naming the file and the fault: not a
  // TorchScript module, no forward method, no parameters (a frozen module).
  static std::unique_ptr<ScriptModel> load(const std::string& path);

  torch::Tensor forward(const torch::Tensor& inputs) override;
  // Refuses a mode that tracing baked out (see baked_training_).
  void train(bool on) override;
  bool is_training() const override { return module_.is_training(); }
  void to(const torch::Device& device) override { module_.to(device); }
  StateDict state_dict() const override;
  std::vector<torch::Tensor> parameters() const override;
  std::vector<LayerWeight> prunable_weights() const override;
  std::string architecture() const override { return "torchscript"; }
  std::optional<DatasetInfo> data() const override { return data_; }
  void set_data(const DatasetInfo& info) override { data_ = info; }
  // In eval mode, on the CPU, with the input's description as the extra
  // file dcomp.json.
  void save(const std::string& path) const override;
  dcz::Graph graph() const override;

 private:
  ScriptModel(std::string path, torch::jit::Module module);

  std::string path_;  // for messages
  torch::jit::Module module_;
  // (name, "conv" | "fc") of each weight the graph feeds to a convolution or
  // a linear layer, in state_dict order.
  std::vector<std::pair<std::string, std::string>> prunable_;
  // torch.jit.trace records BatchNorm's and dropout's training flag as a
  // constant: such a module runs in that mode only.
  std::optional<bool> baked_training_;
  std::optional<DatasetInfo> data_;
};

}  // namespace dcomp
