// The LibTorch-free runtime against LibTorch on the same weight-shared
// models: per-image logits within 1e-3 of the largest logit, and the same
// logits exactly whichever coder stored the weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "libtorch/compressed_model.h"
#include "libtorch/data.h"
#include "libtorch/models.h"
#include "libtorch/prune.h"
#include "runtime/dcomp_runtime.h"
#include "runtime_check.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;

namespace {

// A random weight-shared model with random BN statistics, packed to `path`.
std::unique_ptr<Model> packed_model(const std::string& name, const std::string& path, const PackOptions& options) {
  torch::manual_seed(1);
  auto model = make_model(name);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : model->state_dict()) {
      const auto has = [&name](const char* part) { return name.find(part) != std::string::npos; };
      if (has("running_mean")) tensor.uniform_(-0.3, 0.3);
      else if (has("running_var")) tensor.uniform_(0.5, 2.0);
      else if ((has("bn") || has("bias")) && tensor.is_floating_point()) tensor.uniform_(-0.5, 1.5);
    }
  }
  prune(*model, {"percentile", 0.7, {}});
  ShareSpec spec;
  spec.conv_bits = 4;
  spec.fc_bits = 5;
  share_weights(*model, spec);
  pack(*model, path, options);  // model = the file
  model->eval();
  return model;
}

void expect_same_logits(const std::string& name, bool dense_float16, int batch = 8) {
  TempDir dir;
  const std::string path = dir.file(name + ".dcz");
  auto model = packed_model(name, path, {dense_float16 ? dcz::Storage::kFloat16 : dcz::Storage::kFloat32});
  dcomp_model* runtime = nullptr;
  ASSERT_EQ(dcomp_load(path.c_str(), &runtime), DCOMP_OK) << dcomp_last_error();
  const DatasetInfo& info = dataset_info(model_spec(name).dataset);
  ASSERT_EQ(dcomp_input_channels(runtime), int(info.mean.size()));
  ASSERT_EQ(dcomp_input_height(runtime), info.image_size);
  ASSERT_EQ(std::string(dcomp_class_name(runtime, 9)), info.class_names[9]);

  // Random uint8 images, normalized by both sides.
  const torch::Tensor pixels =
      torch::randint(0, 256, {batch, int64_t(info.mean.size()), info.image_size, info.image_size}, torch::kUInt8);
  const torch::Tensor expected_input = normalize(pixels, info);
  torch::Tensor input = torch::empty_like(expected_input);
  ASSERT_EQ(dcomp_normalize(runtime, pixels.data_ptr<uint8_t>(), batch, input.data_ptr<float>()), DCOMP_OK);
  EXPECT_TRUE(torch::equal(input, expected_input));

  torch::NoGradGuard no_grad;
  dcomp::testing::expect_runtime_logits(path, input, model->forward(expected_input));
  // Resident weights: far below dense float32 at 70% sparsity.
  EXPECT_LT(dcomp_weight_bytes(runtime), size_t(4 * parameter_count(*model)) / 4);
  dcomp_free(runtime);

  // The same weights under the adaptive coder: the same logits, bit for bit.
  const std::string adaptive = dir.file(name + "_adaptive.dcz");
  pack(*model, adaptive, {dense_float16 ? dcz::Storage::kFloat16 : dcz::Storage::kFloat32, dcz::Coder::kAdaptive});
  EXPECT_TRUE(torch::equal(dcomp::testing::runtime_logits(adaptive, input), dcomp::testing::runtime_logits(path, input)));

  // Threads split the work, not the sums: the same logits, bit for bit, for
  // one image (output channels shared) and for a batch (images shared).
  for (int64_t n : {int64_t(1), int64_t(batch)}) {
    const torch::Tensor images = input.slice(0, 0, n), one_thread = dcomp::testing::runtime_logits(path, images, 1);
    for (int threads : {2, 3})
      EXPECT_TRUE(torch::equal(dcomp::testing::runtime_logits(path, images, threads), one_thread))
          << threads << " threads, batch " << n;
  }
}

}  // namespace

TEST(Runtime, ResNet20MatchesLibTorch) { expect_same_logits("resnet20", false); }
TEST(Runtime, ResNet20WithFloat16BatchNormMatchesLibTorch) { expect_same_logits("resnet20", true); }
TEST(Runtime, LeNet300MatchesLibTorch) { expect_same_logits("lenet300", false); }
// 70 images: one pass of 64 columns and one of 6 (in 16), feature-major.
TEST(Runtime, LeNet300BatchesMatchLibTorch) { expect_same_logits("lenet300", false, 70); }
TEST(Runtime, LeNet5MatchesLibTorch) { expect_same_logits("lenet5", false); }

// BatchNorm folded into (scale, shift) with identity statistics: LibTorch
// and the runtime give the unfolded file's logits, from a smaller file.
TEST(Runtime, FoldedBatchNormKeepsTheLogits) {
  TempDir dir;
  auto unfolded = packed_model("resnet20", dir.file("unfolded.dcz"), {});
  auto folded = packed_model("resnet20", dir.file("folded.dcz"), {dcz::Storage::kFloat32, dcz::Coder::kHuffman, true});
  torch::NoGradGuard no_grad;
  const torch::Tensor input = torch::randn({4, 3, 32, 32});
  const torch::Tensor expected = unfolded->forward(input), logits = folded->forward(input);
  EXPECT_LT((logits - expected).abs().max().item<float>(), 1e-4 * (1 + expected.abs().max().item<float>()));
  dcomp::testing::expect_runtime_logits(dir.file("folded.dcz"), input, logits);
  const dcz::Model file = dcz::read(dir.file("folded.dcz"));
  int constants = 0;
  for (const dcz::Tensor& t : file.tensors) constants += t.storage == dcz::Storage::kConstant;
  EXPECT_EQ(constants, 2 * 19) << "ResNet-20's 19 BatchNorms: mean and variance";
  namespace fs = std::filesystem;
  EXPECT_LE(fs::file_size(dir.file("folded.dcz")) + 2 * 4 * 688 - 4 * 38, fs::file_size(dir.file("unfolded.dcz")))
      << "688 channels of mean and variance, 4 bytes each, become 38 values";
}

TEST(Runtime, BadFilesGiveAStatusAndAMessage) {
  TempDir dir;
  dcomp_model* model = reinterpret_cast<dcomp_model*>(1);
  EXPECT_EQ(dcomp_load(dir.file("missing.dcz").c_str(), &model), DCOMP_ERROR_IO);
  EXPECT_EQ(model, nullptr);
  EXPECT_NE(std::string(dcomp_last_error()).find("missing.dcz: cannot open"), std::string::npos);
  { std::ofstream(dir.file("junk.dcz")) << "not a model at all, though long enough to have a header"; }
  EXPECT_EQ(dcomp_load(dir.file("junk.dcz").c_str(), &model), DCOMP_ERROR_FORMAT);
  EXPECT_NE(std::string(dcomp_last_error()).find("bad magic"), std::string::npos);
  EXPECT_EQ(dcomp_load(nullptr, &model), DCOMP_ERROR_ARGUMENT);
  EXPECT_EQ(dcomp_run(nullptr, nullptr, 1, nullptr), DCOMP_ERROR_ARGUMENT);
  EXPECT_STREQ(dcomp_status_name(DCOMP_ERROR_UNSUPPORTED), "unsupported model");
  EXPECT_EQ(dcomp_set_threads(nullptr, 1), DCOMP_ERROR_ARGUMENT);
}

// Two callers on one model of two threads: one gets the pool, the other
// runs alone; both get the logits one thread gives.
TEST(Runtime, ConcurrentCallsShareOneModel) {
  TempDir dir;
  const std::string path = dir.file("resnet20.dcz");
  packed_model("resnet20", path, {});
  torch::manual_seed(2);
  const torch::Tensor input = torch::randn({1, 3, 32, 32});
  const torch::Tensor expected = dcomp::testing::runtime_logits(path, input, 1);
  dcomp_model* model = nullptr;
  ASSERT_EQ(dcomp_load(path.c_str(), &model), DCOMP_OK);
  ASSERT_EQ(dcomp_set_threads(model, 2), DCOMP_OK);
  EXPECT_EQ(dcomp_threads(model), 2);
  EXPECT_EQ(dcomp_set_threads(model, -1), DCOMP_ERROR_ARGUMENT);
  EXPECT_EQ(dcomp_set_threads(model, 100000), DCOMP_ERROR_ARGUMENT);
  EXPECT_EQ(dcomp_threads(model), 2);
  std::vector<torch::Tensor> logits(4);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < logits.size(); ++i)
    callers.emplace_back([&, i] {
      logits[i] = torch::empty({1, 10});
      for (int k = 0; k < 20; ++k)
        if (dcomp_run(model, input.data_ptr<float>(), 1, logits[i].data_ptr<float>()) != DCOMP_OK) return;
    });
  for (std::thread& t : callers) t.join();
  for (const torch::Tensor& l : logits) EXPECT_TRUE(torch::equal(l, expected));
  dcomp_free(model);
}
