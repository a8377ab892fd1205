#include <ATen/CPUGeneratorImpl.h>
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

namespace {

// A LeNet-300-100 (no BatchNorm, no dropout: train and eval mode agree), its
// weights saved as a teacher file, and a batch of Fashion-MNIST-shaped images.
struct DistillationSetup {
  TempDir dir;
  const DatasetInfo& info = dataset_info("fmnist");
  torch::Tensor images = torch::randint(0, 256, {32, 1, 28, 28}, torch::kUInt8);
  torch::Tensor labels = torch::randint(0, 10, {32}, torch::kInt64);
  TrainConfig config = small_config("lenet300", 1);

  std::string save_teacher(Model& model) {
    const std::string path = dir.file("teacher.pt");
    model.save(path);
    config.distillation = Distillation{path, 4.0, 1.0};
    return path;
  }
  // T^2 KL(softmax(teacher / T) || softmax(student / T)) on the batch, eval mode.
  double soft_loss(Model& student, Model& teacher) const {
    torch::NoGradGuard no_grad;
    const torch::Tensor x = normalize(images, info);
    return 16 * torch::nn::functional::kl_div(torch::log_softmax(student.forward(x) / 4, 1),
                                              torch::softmax(teacher.forward(x) / 4, 1),
                                              torch::nn::functional::KLDivFuncOptions().reduction(torch::kBatchMean))
                    .item<double>();
  }
};

}  // namespace

// With all the weight on the soft loss and the teacher the student itself,
// the loss is zero and a step (no momentum, no decay) changes nothing.
TEST(Distillation, ATeacherEqualToTheStudentLeavesItUnchanged) {
  DistillationSetup s;
  s.config.momentum = 0, s.config.nesterov = false, s.config.weight_decay = 0;
  auto student = make_model("lenet300");
  s.save_teacher(*student);
  const auto teacher = load_teacher(s.config, s.info, torch::kCPU);
  const StateDict before = student->state_dict();
  auto optimizer = make_optimizer(*student, s.config);
  torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
  const StepOutput out =
      train_step(*student, *optimizer, s.images, s.labels, s.info, generator, s.config, {}, teacher.get());
  EXPECT_NEAR(out.loss.item<double>(), 0.0, 1e-6);
  const StateDict after = student->state_dict();
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(torch::allclose(before[i].second, after[i].second, 0, 1e-7)) << before[i].first;
}

// Steps on the soft loss alone bring a differently initialised student's
// outputs to the teacher's; without distillation they do not.
TEST(Distillation, PullsTheStudentTowardTheTeacher) {
  DistillationSetup s;
  torch::manual_seed(1);
  auto teacher_model = make_model("lenet300");
  s.save_teacher(*teacher_model);
  const auto teacher = load_teacher(s.config, s.info, torch::kCPU);
  const auto distance_after_steps = [&](const TrainConfig& config) {
    torch::manual_seed(2);
    auto student = make_model("lenet300");
    auto optimizer = make_optimizer(*student, config);
    torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(0);
    for (int step = 0; step < 30; ++step)
      train_step(*student, *optimizer, s.images, s.labels, s.info, generator, config, {}, teacher.get());
    return s.soft_loss(*student, *teacher);
  };
  torch::manual_seed(2);
  const double start = s.soft_loss(*make_model("lenet300"), *teacher);
  TrainConfig plain = s.config;
  plain.distillation.reset();
  const double distilled = distance_after_steps(s.config), undistilled = distance_after_steps(plain);
  EXPECT_LT(distilled, 0.25 * start);
  EXPECT_GT(undistilled, 2 * distilled);
}

// A teacher of another architecture is loaded as the one it names; a
// state_dict of one architecture does not load as another's.
TEST(Distillation, TeacherOfAnotherArchitecture) {
  DistillationSetup s;
  s.config.model = "lenet300";
  auto lenet5 = make_model("lenet5");
  s.save_teacher(*lenet5);
  EXPECT_THROW(load_teacher(s.config, s.info, torch::kCPU), std::runtime_error);
  s.config.distillation->teacher_model = "lenet5";
  const auto teacher = load_teacher(s.config, s.info, torch::kCPU);
  lenet5->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = normalize(s.images, s.info);
  EXPECT_TRUE(teacher->forward(x).equal(lenet5->forward(x)));
}

TEST(Distillation, ConfigRoundTripsAndRefusesBadSettings) {
  nlohmann::json j = {{"distillation", {{"teacher", "t.pt"}, {"temperature", 2.0}, {"weight", 0.3}}}};
  const TrainConfig c = train_config_from_json(j);
  ASSERT_TRUE(c.distillation);
  EXPECT_EQ(c.distillation->teacher, "t.pt");
  EXPECT_EQ(to_json(c)["distillation"], j["distillation"]);
  j["distillation"]["teacher_model"] = "resnet56";
  EXPECT_EQ(train_config_from_json(j).distillation->teacher_model, "resnet56");
  EXPECT_EQ(to_json(train_config_from_json(j))["distillation"], j["distillation"]);
  EXPECT_FALSE(train_config_from_json(nlohmann::json::object()).distillation);
  EXPECT_THROW(train_config_from_json({{"distillation", {{"teachr", "t.pt"}}}}), std::invalid_argument);

  TempDir dir;
  auto model = make_model("lenet300");
  const DataSplits data{{torch::zeros({4, 1, 28, 28}, torch::kUInt8), torch::zeros({4}, torch::kInt64)}, {}, {}};
  for (const auto& [teacher, weight] : std::vector<std::pair<std::string, double>>{{"", 0.5}, {"t.pt", 1.5}}) {
    TrainConfig bad = small_config("lenet300", 1);
    bad.distillation = Distillation{teacher, 4.0, weight};
    EXPECT_THROW(train(*model, bad, data, dataset_info("fmnist"), torch::kCPU, {dir.str()}), std::invalid_argument);
  }
}
