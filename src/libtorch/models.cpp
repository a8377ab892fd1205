#include "libtorch/models.h"

#include <fmt/format.h>

#include <functional>
#include <limits>
#include <stdexcept>

#include "libtorch/graph_export.h"

namespace dcomp {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride)
    : conv1(register_module("conv1", conv3x3(in_planes, planes, stride))),
      bn1(register_module("bn1", nn::BatchNorm2d(planes))),
      conv2(register_module("conv2", conv3x3(planes, planes, 1))),
      bn2(register_module("bn2", nn::BatchNorm2d(planes))),
      stride(stride),
      extra_channels(planes - in_planes) {}

namespace {

// One autograd function because slicing's own backward builds its gradient in
// the default (NCHW) layout: added to the channels-last gradient from the
// block's convolutions, that mix sends the elementwise ops after it down a
// slow strided path (a tenth of a ResNet-20 training step).
struct OptionAShortcut : torch::autograd::Function<OptionAShortcut> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               int64_t stride, int64_t before, int64_t after) {
    ctx->saved_data["sizes"] = x.sizes().vec();
    ctx->saved_data["channels_last"] = x.suggest_memory_format() == torch::MemoryFormat::ChannelsLast;
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["before"] = before;
    return torch::constant_pad_nd(subsample(x, stride), {0, 0, 0, 0, before, after}, 0);
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad_outputs) {
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    const auto layout = ctx->saved_data["channels_last"].toBool() ? torch::MemoryFormat::ChannelsLast
                                                                 : torch::MemoryFormat::Contiguous;
    const torch::Tensor& grad = grad_outputs[0];
    // (torch::zeros would ignore the memory format.)
    torch::Tensor grad_x = torch::empty(sizes, grad.options().memory_format(layout)).zero_();
    subsample(grad_x, ctx->saved_data["stride"].toInt())
        .copy_(grad.narrow(1, ctx->saved_data["before"].toInt(), sizes[1]));
    return {grad_x, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }

  static torch::Tensor subsample(const torch::Tensor& x, int64_t stride) {
    using torch::indexing::None;
    using torch::indexing::Slice;
    return x.index({Slice(), Slice(), Slice(None, None, stride), Slice(None, None, stride)});
  }
};

}  // namespace

torch::Tensor option_a_shortcut(const torch::Tensor& x, int64_t stride, int64_t extra_channels) {
  const int64_t before = extra_channels / 2;
  return OptionAShortcut::apply(x, stride, before, extra_channels - before);
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto out = torch::relu(bn1(conv1(x)));
  out = bn2(conv2(out));
  torch::Tensor shortcut = x;
  if (stride != 1 || extra_channels != 0) shortcut = option_a_shortcut(x, stride, extra_channels);
  return torch::relu(out + shortcut);
}

CifarResNet::CifarResNet(int64_t blocks_per_stage, int64_t classes) {
  conv1 = register_module("conv1", conv3x3(3, 16, 1));
  bn1 = register_module("bn1", nn::BatchNorm2d(16));
  int64_t in_planes = 16;
  auto stage = [&](int64_t planes, int64_t stride) {
    nn::Sequential blocks;
    for (int64_t i = 0; i < blocks_per_stage; ++i) {
      blocks->push_back(BasicBlock(in_planes, planes, i == 0 ? stride : 1));
      in_planes = planes;
    }
    return blocks;
  };
  layer1 = register_module("layer1", stage(16, 1));
  layer2 = register_module("layer2", stage(32, 2));
  layer3 = register_module("layer3", stage(64, 2));
  fc = register_module("fc", nn::Linear(64, classes));
  // He (fan_in) initialization for convolutions and the classifier, as in
  // the reference CIFAR ResNet implementations.
  for (auto& p : named_parameters()) {
    if (p.key().find("conv") != std::string::npos || p.key() == "fc.weight")
      nn::init::kaiming_normal_(p.value(), 0.0, torch::kFanIn, torch::kReLU);
  }
}

torch::Tensor CifarResNet::forward(torch::Tensor x) {
  // Activations in channels-last (NHWC) layout: oneDNN's convolutions, most
  // of a step, run about a quarter faster in it on CPUs (docs/benchmarks.md).
  // Parameters keep PyTorch's layout, so state_dicts are unchanged.
  x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  x = torch::relu(bn1(conv1(x)));
  x = layer3->forward(layer2->forward(layer1->forward(x)));
  x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);  // (B, 64)
  return fc(x);
}

dcz::Graph CifarResNet::graph() const {
  GraphBuilder g;
  uint32_t x = g.relu(g.batch_norm(g.conv2d(GraphBuilder::kInput, "conv1", false, 1, 1), "bn1"));
  const std::pair<const char*, const torch::nn::Sequential*> stages[] = {{"layer1", &layer1}, {"layer2", &layer2}, {"layer3", &layer3}};
  for (const auto& [stage_name, stage] : stages)
    for (size_t i = 0; i < (*stage)->size(); ++i) {
      const auto& block = *(*stage)->ptr(i)->as<BasicBlockImpl>();
      const std::string p = fmt::format("{}.{}", stage_name, i);
      uint32_t out = g.relu(g.batch_norm(g.conv2d(x, p + ".conv1", false, block.stride, 1), p + ".bn1"));
      out = g.batch_norm(g.conv2d(out, p + ".conv2", false, 1, 1), p + ".bn2");
      uint32_t shortcut = x;
      if (block.stride != 1 || block.extra_channels != 0) {  // x[:, :, ::s, ::s], then zero channels
        constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
        shortcut = g.add(dcz::Op::kSlice, {shortcut}, {}, {2, 0, kEnd, block.stride});
        shortcut = g.add(dcz::Op::kSlice, {shortcut}, {}, {3, 0, kEnd, block.stride});
        const int64_t before = block.extra_channels / 2;
        shortcut = g.add(dcz::Op::kPad, {shortcut}, {}, {0, 0, 0, 0, before, block.extra_channels - before}, {0.0f});
      }
      x = g.relu(g.add(dcz::Op::kAdd, {out, shortcut}, {}, {}, {1.0f}));
    }
  x = g.add(dcz::Op::kFlatten, {g.add(dcz::Op::kGlobalAvgPool, {x})});
  return g.finish(g.linear(x, "fc"));
}

LeNet300::LeNet300()
    : fc1(register_module("fc1", nn::Linear(784, 300))),
      fc2(register_module("fc2", nn::Linear(300, 100))),
      fc3(register_module("fc3", nn::Linear(100, 10))) {}

torch::Tensor LeNet300::forward(torch::Tensor x) {
  x = x.flatten(1);  // (B, 784)
  return fc3(torch::relu(fc2(torch::relu(fc1(x)))));
}

dcz::Graph LeNet300::graph() const {
  GraphBuilder g;
  const uint32_t x = g.add(dcz::Op::kFlatten, {GraphBuilder::kInput});
  return g.finish(g.linear(g.relu(g.linear(g.relu(g.linear(x, "fc1")), "fc2")), "fc3"));
}

LeNet5::LeNet5()
    : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 20, 5)))),
      conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(20, 50, 5)))),
      fc1(register_module("fc1", nn::Linear(800, 500))),
      fc2(register_module("fc2", nn::Linear(500, 10))) {}

torch::Tensor LeNet5::forward(torch::Tensor x) {
  x = torch::max_pool2d(conv1(x), 2);          // (B, 20, 12, 12)
  x = torch::max_pool2d(conv2(x), 2);          // (B, 50, 4, 4)
  return fc2(torch::relu(fc1(x.flatten(1))));  // (B, 800) -> (B, 500) -> (B, 10)
}

dcz::Graph LeNet5::graph() const {
  GraphBuilder g;
  const auto max_pool2 = [&](uint32_t x) { return g.add(dcz::Op::kMaxPool2d, {x}, {}, {2, 2, 2, 2, 0, 0, 1, 1, 0}); };
  uint32_t x = max_pool2(g.conv2d(GraphBuilder::kInput, "conv1", true, 1, 0));
  x = g.add(dcz::Op::kFlatten, {max_pool2(g.conv2d(x, "conv2", true, 1, 0))});
  return g.finish(g.linear(g.relu(g.linear(x, "fc1")), "fc2"));
}

namespace {

struct ModelEntry {
  ModelSpec spec;
  std::function<std::shared_ptr<Classifier>()> make;
};

const std::vector<ModelEntry>& registry() {
  static const std::vector<ModelEntry> kModels = {
      {{"resnet20", "cifar10"}, [] { return std::make_shared<CifarResNet>(3); }},
      {{"resnet32", "cifar10"}, [] { return std::make_shared<CifarResNet>(5); }},
      {{"resnet56", "cifar10"}, [] { return std::make_shared<CifarResNet>(9); }},
      {{"lenet300", "fmnist"}, [] { return std::make_shared<LeNet300>(); }},
      {{"lenet5", "fmnist"}, [] { return std::make_shared<LeNet5>(); }},
  };
  return kModels;
}

const ModelEntry& entry(const std::string& name) {
  for (const ModelEntry& e : registry())
    if (e.spec.name == name) return e;
  std::string known;
  for (const ModelEntry& e : registry()) known += (known.empty() ? "" : ", ") + e.spec.name;
  throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
}

}  // namespace

const std::vector<ModelSpec>& model_specs() {
  static const std::vector<ModelSpec> kSpecs = [] {
    std::vector<ModelSpec> specs;
    for (const ModelEntry& e : registry()) specs.push_back(e.spec);
    return specs;
  }();
  return kSpecs;
}

const ModelSpec& model_spec(const std::string& name) { return entry(name).spec; }

bool is_builtin_model(const std::string& name) {
  for (const ModelEntry& e : registry())
    if (e.spec.name == name) return true;
  return false;
}

namespace {

class BuiltinModel : public Model {
 public:
  BuiltinModel(std::string name, std::shared_ptr<Classifier> net)
      : name_(std::move(name)), net_(std::move(net)), data_(dataset_info(model_spec(name_).dataset)) {}

  torch::Tensor forward(const torch::Tensor& inputs) override { return net_->forward(inputs); }
  void train(bool on) override { net_->train(on); }
  bool is_training() const override { return net_->is_training(); }
  void to(const torch::Device& device) override { net_->to(device); }
  StateDict state_dict() const override { return dcomp::state_dict(*net_); }
  std::vector<torch::Tensor> parameters() const override { return net_->parameters(); }

  std::vector<LayerWeight> prunable_weights() const override {
    std::vector<LayerWeight> out;
    for (const auto& item : net_->named_modules()) {
      const std::string prefix = item.key().empty() ? "" : item.key() + ".";
      const torch::nn::Module& module = *item.value();
      std::string kind;
      if (module.as<torch::nn::Conv2d>()) kind = "conv";
      else if (module.as<torch::nn::Linear>()) kind = "fc";
      else continue;
      out.push_back({prefix + "weight", kind, module.named_parameters(false)["weight"]});
    }
    return out;
  }

  std::string architecture() const override { return name_; }
  std::optional<DatasetInfo> data() const override { return data_; }
  void set_data(const DatasetInfo& info) override { data_ = info; }
  void save(const std::string& path) const override { save_state_dict(state_dict(), path); }
  dcz::Graph graph() const override { return net_->graph(); }

 private:
  std::string name_;
  std::shared_ptr<Classifier> net_;
  DatasetInfo data_;
};

}  // namespace

std::unique_ptr<Model> make_model(const std::string& name) {
  return std::make_unique<BuiltinModel>(name, entry(name).make());
}

}  // namespace dcomp
