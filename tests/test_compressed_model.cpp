#include <gtest/gtest.h>

#include "core/float16.h"
#include "libtorch/compressed_model.h"
#include "libtorch/models.h"
#include "libtorch/prune.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;

TEST(Float16, RoundsLikeLibTorch) {
  torch::manual_seed(0);
  // Normal values over many scales, subnormal halves and overflow included.
  const torch::Tensor x = torch::randn({200000}) * torch::pow(2.0, torch::randint(-30, 18, {200000}).to(torch::kFloat32));
  const torch::Tensor expected = x.to(torch::kHalf).to(torch::kFloat32).contiguous();
  const float* in = x.data_ptr<float>();
  const float* want = expected.data_ptr<float>();
  int mismatches = 0;
  for (int64_t i = 0; i < x.numel(); ++i)
    if (half_to_float(float_to_half(in[i])) != want[i] && ++mismatches < 5)
      ADD_FAILURE() << in[i] << " -> " << half_to_float(float_to_half(in[i])) << ", LibTorch " << want[i];
  EXPECT_EQ(mismatches, 0);
}

TEST(CompressedModel, PackGivesBackTheSharedWeightsBitForBit) {
  torch::manual_seed(0);
  auto model = make_model("resnet20");
  prune(*model, {"percentile", 0.8, {}});
  ShareSpec spec;
  spec.conv_bits = 3;
  share_weights(*model, spec);
  const StateDict before = model->state_dict();
  TempDir dir;
  for (dcz::Storage dense : {dcz::Storage::kFloat32, dcz::Storage::kFloat16}) {
    auto copy = make_model("resnet20");
    load_state_dict(*copy, before);
    const FileReport report = pack(*copy, dir.file("m.dcz"), {dense});
    const dcz::Model file = dcz::read(dir.file("m.dcz"));
    EXPECT_EQ(*file.find("model"), "resnet20");
    const StateDict after = expanded_state_dict(file);
    ASSERT_EQ(after.size(), before.size());
    for (size_t i = 0; i < before.size(); ++i) {
      EXPECT_EQ(after[i].first, before[i].first);
      const bool weight = before[i].first.find("conv") != std::string::npos || before[i].first == "fc.weight";
      const torch::Tensor expected = weight || dense == dcz::Storage::kFloat32 || before[i].second.scalar_type() != torch::kFloat32
                                         ? before[i].second
                                         : before[i].second.to(torch::kHalf).to(torch::kFloat32);
      EXPECT_TRUE(torch::equal(after[i].second, expected)) << before[i].first;
    }
    // 20% of 268,336 weights at about 3 bits, plus positions: far below float32.
    EXPECT_GT(report.file_factor, 10);
    EXPECT_EQ(report.bytes.file, std::filesystem::file_size(dir.file("m.dcz")));
  }
}

// Pruned weights are +0.0 wherever dcomp puts them (a mask fills with 0, it
// does not multiply a negative weight by 0): after pruning, after a step of
// trained quantization (whose snap would leave -0.0 under a negative
// centroid), in a saved state_dict and in the unpacked file. Sign bits are
// counted, since -0.0 == 0.0.
TEST(CompressedModel, PrunedWeightsArePositiveZero) {
  const auto negative_zeros = [](const StateDict& weights) {
    int64_t n = 0;
    for (const auto& [name, t] : weights)
      if (t.is_floating_point()) n += (t.eq(0) & t.signbit()).sum().item<int64_t>();
    return n;
  };
  torch::manual_seed(0);
  auto model = make_model("lenet5");
  prune(*model, {"percentile", 0.7, {}});
  EXPECT_EQ(negative_zeros(model->state_dict()), 0) << "after pruning";
  ShareSpec spec;
  spec.conv_bits = spec.fc_bits = 2;
  TiedWeights tied(*model, share_weights(*model, spec));
  const TrainHooks hooks = tied.training_hooks();
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1));
  model->train();
  torch::nn::functional::cross_entropy(model->forward(torch::randn({8, 1, 28, 28})), torch::randint(0, 10, {8}))
      .backward();
  hooks.after_backward();
  sgd.step();
  hooks.after_step();
  EXPECT_EQ(negative_zeros(model->state_dict()), 0) << "after a trained-quantization step";
  TempDir dir;
  save_state_dict(model->state_dict(), dir.file("m.pt"));
  EXPECT_EQ(negative_zeros(load_state_dict_file(dir.file("m.pt"))), 0) << "saved";
  pack(*model, dir.file("m.dcz"));
  EXPECT_EQ(negative_zeros(expanded_state_dict(dcz::read(dir.file("m.dcz")))), 0) << "unpacked";
}
