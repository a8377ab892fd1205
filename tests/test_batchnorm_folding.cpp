// BatchNorm folded for inference: the runtime's logits stay, the running
// statistics become constants, and only BatchNorms that own their tensors
// are folded.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "core/batchnorm_folding.h"
#include "core/compressed_file.h"
#include "runtime/dcomp_runtime.h"
#include "temp_dir.h"

using namespace dcomp::dcz;

namespace {

Tensor vector_tensor(const std::string& name, std::vector<float> values) {
  Tensor t;
  t.name = name;
  t.shape = {int64_t(values.size())};
  t.floats = std::move(values);
  return t;
}

// A BatchNorm's four tensors with uneven statistics, as training leaves them.
std::vector<Tensor> batch_norm_tensors(const std::string& bn, int channels, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.2f, 2.0f);
  std::vector<float> gamma, beta, mean, var;
  for (int c = 0; c < channels; ++c) gamma.push_back(u(rng)), beta.push_back(u(rng) - 1), mean.push_back(u(rng) - 1),
                                     var.push_back(u(rng) * u(rng));
  return {vector_tensor(bn + ".weight", gamma), vector_tensor(bn + ".bias", beta),
          vector_tensor(bn + ".running_mean", mean), vector_tensor(bn + ".running_var", var)};
}

// (3, 8, 8) -> conv 3x3 (4 channels) -> BN -> relu -> global pool -> BN -> flatten -> linear (2 classes).
Model network() {
  Model m;
  m.metadata = {{"model", "test"}, {"input_shape", "3,8,8"}, {"input_mean", "0.5,0.5,0.5"},
                {"input_std", "0.25,0.25,0.25"}, {"class_names", "a,b"}};
  Tensor conv;
  conv.name = "conv.weight";
  conv.shape = {4, 3, 3, 3};
  conv.storage = Storage::kShared;
  conv.shared.bits = 2;
  conv.shared.codebook = {-0.5f, 0.25f, 1.0f};
  for (uint32_t p = 0; p < conv.numel(); p += 2) conv.shared.positions.push_back(p), conv.shared.indices.push_back(uint8_t(p % 3));
  Tensor fc = conv;
  fc.name = "fc.weight";
  fc.shape = {2, 4};
  fc.shared.positions = {0, 3, 5, 6}, fc.shared.indices = {0, 1, 2, 1};
  m.tensors = {conv};
  for (const char* bn : {"bn1", "bn2"})
    for (Tensor& t : batch_norm_tensors(bn, 4, bn[2])) m.tensors.push_back(std::move(t));
  m.tensors.push_back(fc);
  const auto bn = [](uint32_t x, const std::string& name, float eps) {
    return Node{Op::kBatchNorm, {x}, {name + ".weight", name + ".bias", name + ".running_mean", name + ".running_var"}, {}, {eps}};
  };
  m.graph.nodes = {{Op::kConv2d, {0}, {"conv.weight"}, {1, 1, 1, 1, 1, 1, 1}, {}},
                   bn(1, "bn1", 1e-5f),
                   {Op::kRelu, {2}, {}, {}, {}},
                   {Op::kGlobalAvgPool, {3}, {}, {}, {}},
                   bn(4, "bn2", 0.1f),  // an eps that matters
                   {Op::kFlatten, {5}, {}, {}, {}},
                   {Op::kLinear, {6}, {"fc.weight"}, {}, {}}};
  m.graph.output = 7;
  return m;
}

std::vector<float> logits(const Model& m) {
  const dcomp::testing::TempDir dir;  // its own: ctest runs tests in parallel processes
  const std::string path = dir.file("folding.dcz");
  write(path, m);
  dcomp_model* model = nullptr;
  EXPECT_EQ(dcomp_load(path.c_str(), &model), DCOMP_OK) << dcomp_last_error();
  std::vector<float> image(3 * 8 * 8), out(2);
  for (size_t i = 0; i < image.size(); ++i) image[i] = float(i % 7) / 7;
  EXPECT_EQ(dcomp_run(model, image.data(), 1, out.data()), DCOMP_OK);
  dcomp_free(model);
  return out;
}

const Tensor& tensor(const Model& m, const std::string& name) {
  for (const Tensor& t : m.tensors)
    if (t.name == name) return t;
  throw std::out_of_range(name);
}

}  // namespace

TEST(BatchNormFolding, LogitsStayAndStatisticsBecomeConstants) {
  const Model original = network();
  Model folded = original;
  EXPECT_EQ(fold_batch_norms(folded), 2);
  const std::vector<float> before = logits(original), after = logits(folded);
  for (size_t i = 0; i < before.size(); ++i) EXPECT_NEAR(after[i], before[i], 1e-5 * (1 + std::abs(before[i])));
  for (const char* bn : {"bn1", "bn2"}) {
    const std::string name(bn);
    EXPECT_EQ(tensor(folded, name + ".running_mean").storage, Storage::kConstant);
    EXPECT_EQ(tensor(folded, name + ".running_mean").floats, std::vector<float>(4, 0.0f));
    EXPECT_EQ(tensor(folded, name + ".running_var").floats, std::vector<float>(4, 1.0f));
    EXPECT_NE(tensor(folded, name + ".weight").floats, tensor(original, name + ".weight").floats);
  }
  EXPECT_EQ(tensor(folded, "conv.weight").shared.positions, tensor(original, "conv.weight").shared.positions);
  EXPECT_EQ(encode(original).size() - encode(folded).size(), 4 * (4 * 4 - 4)) << "4 float32 vectors become 4 values";
}

TEST(BatchNormFolding, SharedTensorsAreLeftAsTheyAre) {
  Model m = network();
  // bn2 reads bn1's weight: folding either would change the other.
  m.graph.nodes[4].tensors[0] = "bn1.weight";
  m.tensors.erase(m.tensors.begin() + 5);  // bn2.weight, now read by nothing
  const std::vector<float> before = logits(m);
  EXPECT_EQ(fold_batch_norms(m), 0);
  EXPECT_EQ(logits(m), before);
  Model no_graph = network();
  no_graph.graph = {};
  EXPECT_THROW(fold_batch_norms(no_graph), std::invalid_argument);
}
