// The runtime's convolution against LibTorch's on geometries that take each
// of its input layouts (sparse_layers.cpp): aligned planes (rows of whole
// vectors, or several rows to a vector), shared planes, the input read in
// place; strides, padding and dilation per axis, groups
// and depthwise (the runtime takes at most 4 input channels); one image
// (output planes, or channels, split between threads) and a batch (images
// split).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "core/compressed_file.h"
#include "runtime_check.h"
#include "temp_dir.h"

namespace {

struct Geometry {
  int64_t in, out, groups, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, h, w;
};

std::string joined(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// A file of one convolution (random weights, 30% nonzero, 4 shared values)
// and its flattened output; the same convolution in LibTorch.
torch::Tensor write_convolution(const Geometry& g, const std::string& path) {
  torch::manual_seed(7);
  const std::vector<float> codebook = {-0.75f, -0.25f, 0.5f, 1.0f};
  const torch::Tensor index = torch::randint(0, 4, {g.out, g.in / g.groups, g.kernel_h, g.kernel_w}, torch::kInt64);
  const torch::Tensor kept = torch::rand(index.sizes()) < 0.3;
  dcomp::dcz::Tensor t;
  t.name = "conv.weight";
  t.shape = index.sizes().vec();
  t.storage = dcomp::dcz::Storage::kShared;
  t.shared.bits = 2;
  t.shared.codebook = codebook;
  const auto flat_index = index.flatten(), flat_kept = kept.flatten();
  for (int64_t p = 0; p < flat_index.numel(); ++p)
    if (flat_kept[p].item<bool>()) {
      t.shared.positions.push_back(uint32_t(p));
      t.shared.indices.push_back(uint8_t(flat_index[p].item<int64_t>()));
    }
  dcomp::dcz::Model m;
  const int64_t oh = (g.h + 2 * g.pad_h - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1,
                ow = (g.w + 2 * g.pad_w - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  m.metadata = {{"model", "test"},
                {"input_shape", joined({g.in, g.h, g.w})},
                {"input_mean", joined(std::vector<int64_t>(size_t(g.in), 0))},
                {"input_std", joined(std::vector<int64_t>(size_t(g.in), 1))},
                {"class_names", joined(std::vector<int64_t>(size_t(g.out * oh * ow), 0))}};
  m.tensors = {t};
  m.graph.nodes = {{dcomp::dcz::Op::kConv2d,
                    {0},
                    {"conv.weight"},
                    {g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, g.groups},
                    {}},
                   {dcomp::dcz::Op::kFlatten, {1}, {}, {}, {}}};
  m.graph.output = 2;
  dcomp::dcz::write(path, m);
  return torch::tensor(codebook).index({index}) * kept;
}

}  // namespace

TEST(RuntimeConvolution, GeometriesMatchLibTorch) {
  const std::vector<Geometry> geometries = {
      {3, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 32, 32},   // ResNet-20's first: aligned
      {4, 32, 1, 3, 3, 2, 2, 1, 1, 1, 1, 16, 16},  // stride 2
      {4, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 12, 12},    // depthwise: shared planes
      {4, 6, 2, 5, 3, 1, 2, 2, 0, 2, 1, 13, 11},    // groups, each axis its own stride, padding, dilation
      {4, 6, 1, 1, 1, 1, 1, 0, 0, 1, 1, 9, 7},      // 1x1 read in place
      {4, 6, 1, 5, 5, 1, 1, 0, 0, 1, 1, 12, 12},    // LeNet-5's second, unpadded
      {3, 7, 1, 3, 3, 1, 1, 2, 2, 2, 2, 24, 24},    // dilated, padded to keep the size
      {3, 7, 1, 3, 3, 1, 1, 1, 1, 1, 1, 10, 19},    // a width of no whole vectors
      {4, 8, 1, 1, 1, 2, 2, 0, 0, 1, 1, 16, 16},    // 1x1 at stride 2
      {4, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8},      // rows narrower than a vector (AVX-512): planes copied whole
      {4, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4},      // four rows to a vector
      {4, 6, 1, 3, 3, 1, 1, 0, 0, 1, 1, 8, 8},      // narrow rows copied whole, two columns discarded
      {4, 6, 1, 3, 3, 1, 1, 1, 2, 1, 2, 5, 5},      // narrow rows not copied whole (dilated): shared
      {4, 6, 1, 3, 3, 2, 2, 1, 1, 1, 1, 9, 17},     // stride 2 into narrow rows, an odd width: shared
  };
  const dcomp::testing::TempDir dir;
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < geometries.size(); ++k) {
    const Geometry& g = geometries[k];
    const std::string path = dir.file("conv" + std::to_string(k) + ".dcz");
    const torch::Tensor weight = write_convolution(g, path);
    const torch::Tensor x = torch::randn({3, g.in, g.h, g.w});
    const torch::Tensor expected =
        torch::conv2d(x, weight, {}, {g.stride_h, g.stride_w}, {g.pad_h, g.pad_w}, {g.dilation_h, g.dilation_w},
                      g.groups)
            .flatten(1);
    for (int threads : {1, 2})
      for (int64_t batch : {int64_t(1), int64_t(3)}) {
        const torch::Tensor y = dcomp::testing::runtime_logits(path, x.slice(0, 0, batch), threads);
        ASSERT_TRUE(y.defined()) << "geometry " << k;
        EXPECT_TRUE(torch::allclose(y, expected.slice(0, 0, batch), 1e-5, 1e-5))
            << "geometry " << k << ", " << threads << " threads, batch " << batch << ": largest difference "
            << (y - expected.slice(0, 0, batch)).abs().max().item<float>();
      }
  }
}
