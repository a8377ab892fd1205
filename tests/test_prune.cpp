#include <gtest/gtest.h>

#include <filesystem>

#include "libtorch/models.h"
#include "libtorch/prune.h"
#include "libtorch/state_dict.h"
#include "small_data.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;

namespace {

// numpy.percentile's default (linear) on |w|, written out.
double reference_quantile(const torch::Tensor& w, double q) {
  std::vector<double> v;
  for (int64_t i = 0; i < w.numel(); ++i) v.push_back(std::abs(w.flatten()[i].item<double>()));
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t lo = size_t(pos);
  const double frac = pos - double(lo);
  return lo + 1 < v.size() ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}

double reference_std(const torch::Tensor& w) {  // unbiased, as torch.std
  const double n = double(w.numel());
  double mean = 0, ss = 0;
  for (int64_t i = 0; i < w.numel(); ++i) mean += w.flatten()[i].item<double>() / n;
  for (int64_t i = 0; i < w.numel(); ++i) ss += std::pow(w.flatten()[i].item<double>() - mean, 2);
  return std::sqrt(ss / (n - 1));
}

int64_t zeros(const torch::Tensor& t) { return t.numel() - t.count_nonzero().item<int64_t>(); }

}  // namespace

TEST(Prune, PrunableWeightsAreConvAndLinearWeightsOnly) {
  auto model = make_model("resnet20");
  const auto layers = model->prunable_weights();
  ASSERT_EQ(layers.size(), 20u);  // 19 convolutions and the classifier
  EXPECT_EQ(layers.front().name, "conv1.weight");
  EXPECT_EQ(layers.front().kind, "conv");
  EXPECT_EQ(layers.back().name, "fc.weight");
  EXPECT_EQ(layers.back().kind, "fc");
}

TEST(Prune, ThresholdsMatchReferenceComputation) {
  torch::manual_seed(3);
  auto w = torch::randn({17, 9});
  EXPECT_NEAR(std_threshold(w, 0.5), 0.5 * reference_std(w), 1e-6);
  for (double q : {0.0, 0.25, 0.5, 0.75, 0.9}) EXPECT_NEAR(quantile_threshold(w, q), reference_quantile(w, q), 1e-6);
}

TEST(Prune, ZeroAmountPrunesNothingButExactZeros) {
  for (const std::string method : {"std", "percentile", "global"}) {
    torch::manual_seed(1);
    auto model = make_model("lenet5");
    {
      torch::NoGradGuard no_grad;
      model->prunable_weights()[1].weight.view(-1).slice(0, 0, 100).zero_();  // 100 exact zeros
    }
    const SparsityReport before = sparsity_report(*model);
    prune(*model, {method, 0.0, {}});
    const SparsityReport after = sparsity_report(*model);
    EXPECT_EQ(after.prunable_nonzeros, before.prunable_nonzeros) << method;
    EXPECT_EQ(before.prunable_weights - before.prunable_nonzeros, 100) << method;
  }
}

TEST(Prune, PercentilePrunesThatFractionOfEveryLayer) {
  torch::manual_seed(2);
  auto model = make_model("resnet20");
  prune(*model, {"percentile", 0.75, {}});
  for (const SparsityRow& row : sparsity_report(*model).layers)
    EXPECT_NEAR(row.sparsity(), 0.75, 1.0 / double(row.weights) + 1e-9) << row.name;
}

TEST(Prune, StdPrunesBelowSTimesStd) {
  torch::manual_seed(4);
  auto model = make_model("lenet300");
  std::vector<double> thresholds;
  for (const LayerWeight& l : model->prunable_weights()) thresholds.push_back(1.0 * reference_std(l.weight));
  auto original = model->state_dict();
  prune(*model, {"std", 1.0, {}});
  const auto layers = model->prunable_weights();
  for (size_t i = 0; i < layers.size(); ++i) {
    auto before = std::find_if(original.begin(), original.end(), [&](auto& e) { return e.first == layers[i].name; })->second;
    auto expected = before * before.abs().ge(thresholds[i]).to(torch::kFloat32);
    EXPECT_TRUE(torch::allclose(layers[i].weight, expected)) << layers[i].name;
  }
}

TEST(Prune, GlobalUsesOneThresholdAcrossLayers) {
  torch::manual_seed(5);
  auto model = make_model("lenet300");
  std::vector<torch::Tensor> all;
  for (const LayerWeight& l : model->prunable_weights()) all.push_back(l.weight.detach().abs().flatten());
  const double t = reference_quantile(torch::cat(all).slice(0, 0, 1000000), 0.6);
  prune(*model, {"global", 0.6, {}});
  const SparsityReport r = sparsity_report(*model);
  EXPECT_NEAR(1.0 - double(r.prunable_nonzeros) / double(r.prunable_weights), 0.6, 1e-4);
  for (const LayerWeight& l : model->prunable_weights()) {
    auto kept = l.weight.detach().abs();
    EXPECT_GE(kept.masked_select(kept.ne(0)).min().item<double>(), t - 1e-7) << l.name;
  }
}

TEST(Prune, LayerwiseTargetsFirstMatchWins) {
  torch::manual_seed(6);
  auto model = make_model("lenet300");
  prune(*model, PruneSpec{"layerwise", 0, {{"fc1.*", 0.9}, {"fc*", 0.5}}});
  const SparsityReport r = sparsity_report(*model);
  EXPECT_NEAR(r.layers[0].sparsity(), 0.9, 1e-4);
  EXPECT_NEAR(r.layers[1].sparsity(), 0.5, 1e-4);
  EXPECT_NEAR(r.layers[2].sparsity(), 0.5, 1e-3);
  auto untouched = make_model("lenet300");
  prune(*untouched, PruneSpec{"layerwise", 0, {{"conv*", 0.9}}});
  EXPECT_EQ(sparsity_report(*untouched).prunable_nonzeros, sparsity_report(*untouched).prunable_weights);
}

TEST(Prune, SpecFromJsonRejectsUnknownKeysAndBadValues) {
  EXPECT_THROW(prune_spec_from_json({{"method", "percentile"}, {"amout", 0.5}}), std::invalid_argument);
  EXPECT_THROW(prune_spec_from_json({{"method", "percentile"}, {"amount", 1.5}}), std::invalid_argument);
  EXPECT_THROW(prune_spec_from_json({{"method", "random"}}), std::invalid_argument);
  const PruneSpec spec = prune_spec_from_json(
      nlohmann::json::parse(R"({"method": "layerwise", "targets": [["layer3.*", 0.8], ["*", 0.5]]})"));
  ASSERT_EQ(spec.targets.size(), 2u);
  EXPECT_EQ(spec.targets[0].first, "layer3.*");
}

namespace {

std::optional<DataSplits> small_fashion_mnist() { return dcomp::testing::fashion_mnist_subset(6000, 2000); }

TrainConfig quick(int64_t epochs, double lr) {
  TrainConfig c;
  c.model = "lenet300";
  c.epochs = epochs;
  c.batch_size = 64;
  c.schedule.base_lr = lr;
  return c;
}

}  // namespace

// Masked retraining keeps every pruned weight at exactly 0.0, makes no other
// weight zero, and wins back the accuracy pruning lost.
TEST(MaskedRetraining, KeepsZerosAndRecoversAccuracy) {
  const auto data = small_fashion_mnist();
  if (!data) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const DatasetInfo& info = dataset_info("fmnist");
  TempDir dir;
  torch::manual_seed(0);
  auto model = make_model("lenet300");
  train(*model, quick(2, 0.05), *data, info, torch::kCPU, {dir.file("dense")});
  const double dense = evaluate(*model, data->validation, info, torch::kCPU).top1;

  prune(*model, {"percentile", 0.95, {}});
  const double pruned = evaluate(*model, data->validation, info, torch::kCPU).top1;
  std::vector<torch::Tensor> zero_before;
  for (const LayerWeight& l : model->prunable_weights()) zero_before.push_back(l.weight.eq(0).clone());

  const Masks masks = Masks::from_zeros(*model);
  train(*model, quick(2, 0.01), *data, info, torch::kCPU, {dir.file("retrain")}, masks.training_hooks());
  const double retrained = evaluate(*model, data->validation, info, torch::kCPU).top1;

  const auto layers = model->prunable_weights();
  for (size_t i = 0; i < layers.size(); ++i)
    EXPECT_TRUE(torch::equal(layers[i].weight.eq(0), zero_before[i])) << layers[i].name;
  EXPECT_LT(pruned, dense - 0.05) << "95% pruning should cost accuracy before retraining";
  EXPECT_GT(retrained, pruned + 0.03);
  EXPECT_GT(retrained, dense - 0.03);
}

// Without the masks, the same retraining revives pruned weights: the hooks
// are what keep them at zero.
TEST(MaskedRetraining, WithoutMasksZerosAreRevived) {
  const auto data = small_fashion_mnist();
  if (!data) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  torch::manual_seed(0);
  auto model = make_model("lenet300");
  prune(*model, {"percentile", 0.9, {}});
  const int64_t zero_count = zeros(model->prunable_weights()[0].weight);
  train(*model, quick(1, 0.01), *data, dataset_info("fmnist"), torch::kCPU, {dir.str()});
  EXPECT_LT(zeros(model->prunable_weights()[0].weight), zero_count / 10);
}

TEST(PruneSchedule, CubicRisesFastThenLevelsOff) {
  PruneSchedule s{{"percentile", 0.8, {}}, 0.0, 2, 10, 2, "cubic"};
  EXPECT_DOUBLE_EQ(schedule_progress(s, 0), 0.0);
  EXPECT_DOUBLE_EQ(schedule_progress(s, 2), 0.0);                     // first pruning step: initial
  EXPECT_DOUBLE_EQ(schedule_progress(s, 6), 1 - std::pow(0.5, 3));  // halfway in time, 87.5% of the way
  EXPECT_DOUBLE_EQ(schedule_progress(s, 7), schedule_progress(s, 6));  // only every 2 epochs
  EXPECT_DOUBLE_EQ(schedule_progress(s, 10), 1.0);
  s.shape = "linear";
  EXPECT_DOUBLE_EQ(schedule_progress(s, 6), 0.5);
}

TEST(PruneSchedule, FromJsonValidates) {
  EXPECT_THROW(prune_schedule_from_json({{"method", "std"}, {"amount", 1.0}}), std::invalid_argument);
  EXPECT_THROW(prune_schedule_from_json({{"method", "percentile"}, {"amount", 0.5}, {"every", 0}}), std::invalid_argument);
  EXPECT_THROW(prune_schedule_from_json({{"method", "percentile"}, {"amount", 0.5}, {"shape", "cosine"}}),
               std::invalid_argument);
  const PruneSchedule s = prune_schedule_from_json(
      {{"method", "percentile"}, {"amount", 0.5}, {"begin_epoch", 1}, {"end_epoch", 3}, {"shape", "linear"}});
  EXPECT_EQ(s.end_epoch, 3);
  EXPECT_EQ(s.target.amount, 0.5);
  EXPECT_FALSE(s.feedback);
  EXPECT_TRUE(prune_schedule_from_json({{"method", "percentile"}, {"amount", 0.5}, {"feedback", true}}).feedback);
  EXPECT_THROW(prune_schedule_from_json({{"method", "percentile"}, {"amount", 0.5}, {"feedback", "yes"}}),
               std::invalid_argument);
}

// Gradual pruning from a dense model reaches the target sparsity in every
// layer by end_epoch and keeps it after.
TEST(PruneSchedule, GradualPruningReachesTheTarget) {
  const auto data = small_fashion_mnist();
  if (!data) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir dir;
  torch::manual_seed(0);
  auto model = make_model("lenet300");
  Masks masks = Masks::from_zeros(*model);
  const PruneSchedule schedule{{"layerwise", 0, {{"fc1.*", 0.9}, {"*", 0.6}}}, 0.0, 0, 2, 1, "cubic"};
  std::vector<double> fc1_sparsity;
  TrainHooks hooks = scheduled_pruning_hooks(*model, schedule, masks);
  auto prune_epoch = hooks.before_epoch;
  hooks.before_epoch = [&](int64_t epoch) {
    prune_epoch(epoch);
    fc1_sparsity.push_back(sparsity_report(*model).layers[0].sparsity());
  };
  train(*model, quick(4, 0.05), *data, dataset_info("fmnist"), torch::kCPU, {dir.str()}, hooks);
  ASSERT_EQ(fc1_sparsity.size(), 4u);
  EXPECT_NEAR(fc1_sparsity[0], 0.0, 1e-6);
  EXPECT_NEAR(fc1_sparsity[1], 0.9 * (1 - std::pow(0.5, 3)), 1e-4);
  EXPECT_NEAR(fc1_sparsity[2], 0.9, 1e-4);
  const SparsityReport r = sparsity_report(*model);
  EXPECT_NEAR(r.layers[0].sparsity(), 0.9, 1e-4);  // kept through the last epochs
  EXPECT_NEAR(r.layers[1].sparsity(), 0.6, 1e-4);
  EXPECT_GT(evaluate(*model, data->validation, dataset_info("fmnist"), torch::kCPU).top1, 0.8);
}

// With feedback, a weight pruned at one epoch can come back at the next (its
// whole value kept training); without it, the pruned set only grows. Either
// way every epoch ends on the pruned weights (what is evaluated and
// checkpointed), the target is reached at end_epoch and the mask stays
// fixed after it.
TEST(PruneSchedule, FeedbackRevivesWeightsPrunedEarly) {
  const auto data = small_fashion_mnist();
  if (!data) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  for (const bool feedback : {false, true}) {
    SCOPED_TRACE(feedback ? "with feedback" : "without feedback");
    TempDir dir;
    torch::manual_seed(0);
    auto model = make_model("lenet300");
    Masks masks = Masks::from_zeros(*model);
    const PruneSchedule schedule{{"layerwise", 0, {{"fc1.*", 0.9}, {"*", 0.6}}}, 0.0, 0, 2, 1, "cubic", feedback};
    std::vector<torch::Tensor> fc1_pruned;  // after each epoch's pruning
    std::vector<double> ended_at;           // fc1's sparsity when each epoch began: what the one before ended on
    TrainHooks hooks = scheduled_pruning_hooks(*model, schedule, masks);
    auto prune_epoch = hooks.before_epoch;
    hooks.before_epoch = [&](int64_t epoch) {
      ended_at.push_back(sparsity_report(*model).layers[0].sparsity());
      prune_epoch(epoch);
      fc1_pruned.push_back(model->prunable_weights()[0].weight.eq(0).clone());
    };
    train(*model, quick(4, 0.05), *data, dataset_info("fmnist"), torch::kCPU, {dir.str()}, hooks);
    ASSERT_EQ(fc1_pruned.size(), 4u);
    const int64_t revived = (fc1_pruned[1] & ~fc1_pruned[2]).sum().item<int64_t>();
    if (feedback) EXPECT_GT(revived, 0);
    else EXPECT_EQ(revived, 0);
    EXPECT_NEAR(ended_at[2], 0.9 * (1 - std::pow(0.5, 3)), 1e-4);
    EXPECT_NEAR(ended_at[3], 0.9, 1e-4);
    EXPECT_TRUE(fc1_pruned[3].equal(fc1_pruned[2]));
    const SparsityReport r = sparsity_report(*model);
    EXPECT_NEAR(r.layers[0].sparsity(), 0.9, 1e-4);
    EXPECT_NEAR(r.layers[1].sparsity(), 0.6, 1e-4);
    EXPECT_GT(evaluate(*model, data->validation, dataset_info("fmnist"), torch::kCPU).top1, 0.8);
  }
}
