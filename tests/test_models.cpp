#include <gtest/gtest.h>

#include "libtorch/models.h"
#include "libtorch/state_dict.h"

using dcomp::make_model;
using dcomp::parameter_count;

TEST(Models, ResNet20HasTheReferenceParameterCount) {
  EXPECT_EQ(parameter_count(*make_model("resnet20")), 269722);
  EXPECT_EQ(parameter_count(*make_model("resnet32")), 464154);
  EXPECT_EQ(parameter_count(*make_model("resnet56")), 853018);
}

TEST(Models, LeNetParameterCounts) {
  EXPECT_EQ(parameter_count(*make_model("lenet300")), 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10);
  EXPECT_EQ(parameter_count(*make_model("lenet5")), 20 * 25 + 20 + 50 * 20 * 25 + 50 + 800 * 500 + 500 + 5010);
}

TEST(Models, ResNet20StateDictNamesMatchPyTorch) {
  const dcomp::StateDict sd = make_model("resnet20")->state_dict();
  std::vector<std::string> expected = {"conv1.weight"};
  const char* bn[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
  for (const char* b : bn) expected.push_back(std::string("bn1.") + b);
  for (int layer = 1; layer <= 3; ++layer)
    for (int block = 0; block < 3; ++block)
      for (int i = 1; i <= 2; ++i) {
        const std::string prefix = "layer" + std::to_string(layer) + "." + std::to_string(block) + ".";
        expected.push_back(prefix + "conv" + std::to_string(i) + ".weight");
        for (const char* b : bn) expected.push_back(prefix + "bn" + std::to_string(i) + "." + b);
      }
  expected.push_back("fc.weight");
  expected.push_back("fc.bias");
  // PyTorch orders a block's entries module by module: conv1, bn1, conv2, bn2.
  std::vector<std::string> names;
  for (const auto& [name, tensor] : sd) names.push_back(name);
  std::vector<std::string> sorted_expected = expected, sorted_names = names;
  std::sort(sorted_expected.begin(), sorted_expected.end());
  std::sort(sorted_names.begin(), sorted_names.end());
  EXPECT_EQ(sorted_names, sorted_expected);
  EXPECT_EQ(names[0], "conv1.weight");
  EXPECT_EQ(names[6], "layer1.0.conv1.weight");
  EXPECT_EQ(names[7], "layer1.0.bn1.weight");
  EXPECT_EQ(names[12], "layer1.0.conv2.weight");
  EXPECT_EQ(names.back(), "fc.bias");
}

TEST(Models, OutputShapes) {
  torch::NoGradGuard no_grad;
  EXPECT_EQ(make_model("resnet20")->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(make_model("lenet300")->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(make_model("lenet5")->forward(torch::randn({2, 1, 28, 28})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(Models, UnknownNameIsAnError) {
  EXPECT_THROW(make_model("resnet21"), std::invalid_argument);
}

// The option-A shortcut has a hand-written backward, there so that the
// gradient keeps the input's memory layout; it must also equal what autograd
// derives from slicing and padding.
TEST(Models, OptionAShortcutGradientIsSlicingsInTheInputsLayout) {
  using torch::indexing::None;
  using torch::indexing::Slice;
  torch::manual_seed(0);
  const torch::Tensor weights = torch::randn({4, 32, 4, 4});
  for (const auto layout : {torch::MemoryFormat::Contiguous, torch::MemoryFormat::ChannelsLast}) {
    const torch::Tensor x = torch::randn({4, 16, 8, 8}).contiguous(layout).requires_grad_(true);
    // autograd::grad, not .grad(): accumulating into a leaf would restore x's layout itself.
    const torch::Tensor loss = (dcomp::option_a_shortcut(x, 2, 16) * weights).sum();
    const torch::Tensor grad = torch::autograd::grad({loss}, {x})[0];

    const torch::Tensor sliced = x.index({Slice(), Slice(), Slice(None, None, 2), Slice(None, None, 2)});
    const torch::Tensor loss_ref = (torch::constant_pad_nd(sliced, {0, 0, 0, 0, 8, 8}, 0) * weights).sum();
    const torch::Tensor expected = torch::autograd::grad({loss_ref}, {x})[0];

    EXPECT_TRUE(torch::equal(grad, expected));
    EXPECT_TRUE(grad.is_contiguous(layout));
  }
}
