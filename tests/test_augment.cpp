#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include "libtorch/data.h"

using namespace dcomp;

TEST(Augment, EachImageIsAShiftedPossiblyFlippedCropOfItsZeroPaddedSelf) {
  torch::manual_seed(0);
  const DatasetInfo& info = dataset_info("cifar10");
  auto images = torch::randint(1, 256, {64, 3, 32, 32}, torch::kUInt8);
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto out = augment(images, info, gen);
  ASSERT_EQ(out.sizes(), images.sizes());
  auto padded = torch::constant_pad_nd(images, {4, 4, 4, 4}, 0);
  std::set<std::pair<int, int>> offsets;
  int flipped = 0;
  for (int64_t i = 0; i < images.size(0); ++i) {
    bool found = false;
    for (int dy = 0; dy <= 8 && !found; ++dy)
      for (int dx = 0; dx <= 8 && !found; ++dx) {
        auto crop = padded[i].slice(1, dy, dy + 32).slice(2, dx, dx + 32);
        if (torch::equal(out[i], crop)) found = true;
        else if (torch::equal(out[i], crop.flip({2}))) found = true, ++flipped;
        if (found) offsets.insert({dy, dx});
      }
    EXPECT_TRUE(found) << "image " << i << " is not a crop of its padded input";
  }
  EXPECT_GT(offsets.size(), 20u);  // 81 possible offsets, 64 draws
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(Augment, SameGeneratorStateSameCrops) {
  const DatasetInfo& info = dataset_info("cifar10");
  auto images = torch::randint(0, 256, {16, 3, 32, 32}, torch::kUInt8);
  torch::Generator a = at::make_generator<at::CPUGeneratorImpl>(11);
  torch::Generator b = at::make_generator<at::CPUGeneratorImpl>(11);
  EXPECT_TRUE(torch::equal(augment(images, info, a), augment(images, info, b)));
}

TEST(Cutout, ZeroesOneClippedSquarePerImageInEveryChannel) {
  const int64_t size = 16;
  auto inputs = torch::rand({64, 3, 32, 32}) + 1.0;  // no zeros of its own
  torch::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
  auto out = cutout(inputs, size, gen);
  std::set<std::pair<int64_t, int64_t>> corners;
  int clipped = 0;
  for (int64_t i = 0; i < inputs.size(0); ++i) {
    auto zero = out[i].eq(0);
    EXPECT_TRUE(torch::equal(zero[0], zero[1]) && torch::equal(zero[0], zero[2])) << "image " << i;
    auto rows = zero[0].any(1).nonzero().flatten(), cols = zero[0].any(0).nonzero().flatten();
    ASSERT_GT(rows.numel(), 0) << "image " << i << " has no square";
    const int64_t top = rows.min().item<int64_t>(), left = cols.min().item<int64_t>();
    const int64_t height = rows.numel(), width = cols.numel();
    EXPECT_LE(height, size);
    EXPECT_LE(width, size);
    clipped += height < size || width < size;
    // Exactly that rectangle is zero, and everything else is untouched.
    EXPECT_EQ(zero[0].sum().item<int64_t>(), height * width) << "image " << i;
    EXPECT_TRUE(torch::equal(out[i].masked_fill(zero, 1.0), inputs[i].masked_fill(zero, 1.0)));
    corners.insert({top, left});
  }
  EXPECT_GT(corners.size(), 40u);
  EXPECT_GT(clipped, 8);  // centres anywhere: about 3/4 of squares of side 16 cross a border
}

TEST(Normalize, ScalesAndStandardizesPerChannel) {
  const DatasetInfo& info = dataset_info("cifar10");
  auto images = torch::full({1, 3, 2, 2}, 255, torch::kUInt8);
  auto x = normalize(images, info);
  for (int c = 0; c < 3; ++c)
    EXPECT_NEAR(x[0][c][1][1].item<float>(), (1.0 - info.mean[size_t(c)]) / info.std[size_t(c)], 1e-5);
}
