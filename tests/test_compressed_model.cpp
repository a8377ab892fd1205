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
    const FileReport report = pack(*copy, dir.file("m.dcz"), dense);
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
