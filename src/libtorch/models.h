// The networks built into dcomp, chosen by name. Parameter names match the
// PyTorch reference implementations, so state_dicts move between the two.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "libtorch/model.h"

namespace dcomp {

// A classifier: images (B, C, H, W) float -> logits (B, classes).
struct Classifier : torch::nn::Module {
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  // forward's operations, written out once for the runtime (graph_export.h).
  virtual dcz::Graph graph() const = 0;
};

// The option-A shortcut of a ResNet block: x[:, :, ::stride, ::stride], then
// `extra_channels` zero channels, half ahead of x's and the rest behind. Its
// gradient keeps x's memory layout.
torch::Tensor option_a_shortcut(const torch::Tensor& x, int64_t stride, int64_t extra_channels);

// ResNet for CIFAR (He et al. 2015, section 4.2): depth 6n+2, three stages
// of n BasicBlocks with 16, 32, 64 channels, option-A shortcuts.
struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride);
  torch::Tensor forward(torch::Tensor x);

  // Declared (so registered) in PyTorch's order: conv1, bn1, conv2, bn2.
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Conv2d conv2{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  int64_t stride, extra_channels;  // option A: subsample by `stride`, zero-pad channels
};
TORCH_MODULE(BasicBlock);

struct CifarResNet : Classifier {
  CifarResNet(int64_t blocks_per_stage, int64_t classes = 10);
  torch::Tensor forward(torch::Tensor x) override;
  dcz::Graph graph() const override;

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr};
  torch::nn::Linear fc{nullptr};
};

// LeNet-300-100 (LeCun et al. 1998; Han et al. 2015): 784-300-100-10.
struct LeNet300 : Classifier {
  LeNet300();
  torch::Tensor forward(torch::Tensor x) override;
  dcz::Graph graph() const override;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};

// LeNet-5 as in Caffe and Han et al.: conv 20@5x5, pool, conv 50@5x5, pool,
// fc 500, fc 10.
struct LeNet5 : Classifier {
  LeNet5();
  torch::Tensor forward(torch::Tensor x) override;
  dcz::Graph graph() const override;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

struct ModelSpec {
  std::string name;
  std::string dataset;  // what it is trained on: "cifar10" | "fmnist"
};

const std::vector<ModelSpec>& model_specs();
const ModelSpec& model_spec(const std::string& name);  // throws on unknown names
bool is_builtin_model(const std::string& name);
// A freshly initialised built-in network, behind the Model interface.
std::unique_ptr<Model> make_model(const std::string& name);

}  // namespace dcomp
