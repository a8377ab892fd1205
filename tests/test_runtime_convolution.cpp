// The runtime's convolution against LibTorch's on geometries that take each
// of its input layouts (sparse_layers.cpp): aligned planes (rows of whole
// vectors, or several rows to a vector), shared planes, the input read in
// place; strides, padding and dilation per axis, groups
// and depthwise (the runtime takes at most 4 input channels); one image
// (output planes, or channels, split between threads) and a batch (images
// split). Max pooling's windows likewise (kernels.cpp).
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
  int bits = 2;  // of the codebook's indices
};

std::string joined(const std::vector<int64_t>& v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

// A file whose graph is `node` on the input (C, H, W), flattened into
// `outputs` logits.
void write_one_node(const std::string& path, const std::vector<int64_t>& input, int64_t outputs,
                    std::vector<dcomp::dcz::Tensor> tensors, dcomp::dcz::Node node) {
  dcomp::dcz::Model m;
  m.metadata = {{"model", "test"},
                {"input_shape", joined(input)},
                {"input_mean", joined(std::vector<int64_t>(size_t(input[0]), 0))},
                {"input_std", joined(std::vector<int64_t>(size_t(input[0]), 1))},
                {"class_names", joined(std::vector<int64_t>(size_t(outputs), 0))}};
  m.tensors = std::move(tensors);
  m.graph.nodes = {std::move(node), {dcomp::dcz::Op::kFlatten, {1}, {}, {}, {}}};
  m.graph.output = 2;
  dcomp::dcz::write(path, m);
}

// A file of one convolution (random weights, 30% nonzero, 2^bits shared
// values) and its flattened output; the same convolution in LibTorch.
torch::Tensor write_convolution(const Geometry& g, const std::string& path) {
  torch::manual_seed(7);
  std::vector<float> codebook = {-0.75f, -0.25f, 0.5f, 1.0f};
  if (g.bits != 2) {
    codebook.resize(size_t{1} << g.bits);
    for (size_t i = 0; i < codebook.size(); ++i) codebook[i] = -1.0f + 2.0f * float(i) / float(codebook.size());
  }
  const torch::Tensor index = torch::randint(0, int64_t(codebook.size()),
                                             {g.out, g.in / g.groups, g.kernel_h, g.kernel_w}, torch::kInt64);
  const torch::Tensor kept = torch::rand(index.sizes()) < 0.3;
  dcomp::dcz::Tensor t;
  t.name = "conv.weight";
  t.shape = index.sizes().vec();
  t.storage = dcomp::dcz::Storage::kShared;
  t.shared.bits = g.bits;
  t.shared.codebook = codebook;
  const auto flat_index = index.flatten(), flat_kept = kept.flatten();
  for (int64_t p = 0; p < flat_index.numel(); ++p)
    if (flat_kept[p].item<bool>()) {
      t.shared.positions.push_back(uint32_t(p));
      t.shared.indices.push_back(uint8_t(flat_index[p].item<int64_t>()));
    }
  const int64_t oh = (g.h + 2 * g.pad_h - g.dilation_h * (g.kernel_h - 1) - 1) / g.stride_h + 1,
                ow = (g.w + 2 * g.pad_w - g.dilation_w * (g.kernel_w - 1) - 1) / g.stride_w + 1;
  write_one_node(path, {g.in, g.h, g.w}, g.out * oh * ow, {t},
                 {dcomp::dcz::Op::kConv2d,
                  {0},
                  {"conv.weight"},
                  {g.stride_h, g.stride_w, g.pad_h, g.pad_w, g.dilation_h, g.dilation_w, g.groups},
                  {}});
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
      // Entries over 16 bits (9-bit offsets, 8-bit indices): in one pass over
      // the planes (read packed), and in several (decoded first) on AVX2.
      {4, 6, 1, 9, 9, 1, 1, 4, 4, 1, 1, 6, 6, 8},
      {4, 6, 1, 9, 9, 1, 1, 4, 4, 1, 1, 12, 12, 8},
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

TEST(RuntimePooling, MaxWindowsMatchLibTorch) {
  struct Window {
    int64_t kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, ceil, h, w;
  };
  const std::vector<Window> windows = {
      {2, 2, 2, 2, 0, 0, 1, 1, 0, 24, 24},  // LeNet-5's
      {3, 3, 2, 2, 0, 0, 1, 1, 1, 15, 15},  // SqueezeNet's, ceil mode: a last window cut short
      {3, 3, 1, 1, 1, 1, 1, 1, 0, 9, 7},    // padded
      {3, 2, 2, 3, 1, 1, 2, 1, 1, 13, 17},  // each axis its own stride, padding, dilation; ceil mode
      {5, 5, 3, 3, 2, 2, 1, 1, 0, 5, 5},    // windows mostly padding
  };
  const dcomp::testing::TempDir dir;
  torch::manual_seed(3);
  for (size_t k = 0; k < windows.size(); ++k) {
    const Window& p = windows[k];
    const torch::Tensor x = torch::randn({2, 4, p.h, p.w});
    const torch::Tensor expected = torch::max_pool2d(x, {p.kernel_h, p.kernel_w}, {p.stride_h, p.stride_w},
                                                     {p.pad_h, p.pad_w}, {p.dilation_h, p.dilation_w}, p.ceil != 0)
                                       .flatten(1);
    const std::string path = dir.file("pool" + std::to_string(k) + ".dcz");
    write_one_node(path, {4, p.h, p.w}, expected.size(1), {},
                   {dcomp::dcz::Op::kMaxPool2d,
                    {0},
                    {},
                    {p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dilation_h, p.dilation_w,
                     p.ceil},
                    {}});
    const torch::Tensor y = dcomp::testing::runtime_logits(path, x);
    ASSERT_TRUE(y.defined()) << "window " << k;
    EXPECT_TRUE(torch::equal(y, expected)) << "window " << k << ": largest difference "
                                           << (y - expected).abs().max().item<float>();
  }
}
