#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/datasets.h"
#include "libtorch/models.h"
#include "libtorch/state_dict.h"
#include "libtorch/train.h"
#include "small_data.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;

namespace {

DataSplits synthetic_cifar(int64_t n) {
  const TensorDataset all = dcomp::testing::pattern_images(n);
  return {all.slice(0, n * 3 / 4), all.slice(n * 3 / 4, n), all.slice(n * 3 / 4, n)};
}

TrainConfig small_config(const std::string& model, int64_t epochs) {
  TrainConfig c;
  c.model = model;
  c.epochs = epochs;
  c.batch_size = 32;
  c.schedule.base_lr = 0.05;
  return c;
}

}  // namespace

// Resuming after epoch 1 gives bit for bit the weights, BN statistics and
// metrics of an uninterrupted two-epoch run (shuffling and crops included).
TEST(Train, ResumeMatchesUninterruptedRun) {
  TempDir dir;
  const DataSplits data = synthetic_cifar(192);
  const DatasetInfo& info = dataset_info("cifar10");
  torch::manual_seed(0);
  auto straight = make_model("resnet20");
  train(*straight, small_config("resnet20", 2), data, info, torch::kCPU, {dir.file("straight")});

  torch::manual_seed(0);
  auto first = make_model("resnet20");
  train(*first, small_config("resnet20", 2), data, info, torch::kCPU, {dir.file("resumed"), false, 1});
  torch::manual_seed(123);  // the resumed process starts from different weights
  auto resumed = make_model("resnet20");
  const TrainResult result =
      train(*resumed, small_config("resnet20", 2), data, info, torch::kCPU, {dir.file("resumed"), true});

  ASSERT_EQ(result.epochs.size(), 2u);
  const StateDict a = straight->state_dict(), b = resumed->state_dict();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

TEST(Train, ResumeRefusesADifferentRecipe) {
  TempDir dir;
  const DataSplits data = synthetic_cifar(64);
  const DatasetInfo& info = dataset_info("cifar10");
  auto model = make_model("resnet20");
  train(*model, small_config("resnet20", 1), data, info, torch::kCPU, {dir.str()});
  TrainConfig other = small_config("resnet20", 2);
  other.schedule.base_lr = 0.2;
  EXPECT_THROW(train(*model, other, data, info, torch::kCPU, {dir.str(), true}), std::runtime_error);
}

TEST(Train, WritesOneMetricsLinePerEpoch) {
  TempDir dir;
  auto model = make_model("resnet20");
  train(*model, small_config("resnet20", 2), synthetic_cifar(64), dataset_info("cifar10"), torch::kCPU, {dir.str()});
  std::ifstream in(dir.file("metrics.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("epoch").get<int>(), ++lines);
    EXPECT_TRUE(j.contains("validation_top1"));
  }
  EXPECT_EQ(lines, 2);
  EXPECT_TRUE(std::filesystem::exists(dir.file("checkpoint.pt")));
}

// Two epochs of LeNet-300-100 on 12,000 Fashion-MNIST images reach well
// above chance on 3,000 held-out ones.
TEST(Train, LeNet300LearnsFashionMnist) {
  const auto subset = dcomp::testing::fashion_mnist_subset(12000, 3000);
  if (!subset) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const DataSplits& data = *subset;
  const DatasetInfo& info = dataset_info("fmnist");
  TempDir run;
  torch::manual_seed(0);
  auto model = make_model("lenet300");
  TrainConfig config = small_config("lenet300", 2);
  config.batch_size = 64;
  const TrainResult result = train(*model, config, data, info, torch::kCPU, {run.str()});
  EXPECT_GT(result.epochs.back().validation_top1, 0.80);
  EXPECT_GT(evaluate(*model, data.validation, info, torch::kCPU).top1, 0.80);
}
