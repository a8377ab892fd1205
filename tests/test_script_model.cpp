// The user's own models as TorchScript, written by tests/python/user_models.py
// with plain PyTorch: every stage runs on them through the Model interface,
// and Python's torch.jit.load of what dcomp writes computes dcomp's logits.
#include <gtest/gtest.h>

#include <filesystem>

#include "libtorch/compressed_model.h"
#include "libtorch/graph_export.h"
#include "libtorch/model_file.h"
#include "libtorch/prune.h"
#include "libtorch/script_model.h"
#include "libtorch/train.h"
#include "libtorch/weight_sharing.h"
#include <torch/version.h>
#include "python_reference.h"
#include "runtime_check.h"
#include "small_data.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;

namespace {

std::string user_model(const std::string& file) { return std::string(DCOMP_USER_MODELS) + "/" + file; }

torch::Tensor fixed_input() {
  for (const auto& [name, tensor] : load_state_dict_file(user_model("input.pt")))
    if (name == "x") return tensor;
  throw std::runtime_error("input.pt has no x");
}

using Batch = TensorDataset;
Batch pattern_batch(int64_t n) { return dcomp::testing::pattern_images(n); }

TrainConfig step_config() {
  TrainConfig c;
  c.schedule.base_lr = 0.05;
  c.bf16 = false;
  c.weight_decay = 0;
  return c;
}

// CIFAR-10's normalization without augmentation, so that steps on one batch
// see the same images.
DatasetInfo plain_cifar() {
  DatasetInfo info = dataset_info("cifar10");
  info.crop_padding = 0;
  info.horizontal_flip = false;
  return info;
}

// Trains `steps` steps on `batch`; returns the mean loss of the last five.
double mean_loss(Model& model, const Batch& batch, int steps, const TrainHooks& hooks = {}) {
  auto optimizer = make_optimizer(model, step_config());
  torch::Generator generator = at::detail::createCPUGenerator(0);
  const int tail = std::min(steps, 5);
  double mean = 0;
  model.train();
  for (int i = 0; i < steps; ++i) {
    const double loss = train_step(model, *optimizer, batch.images, batch.labels, plain_cifar(), generator,
                                   step_config(), hooks)
                            .loss.item<double>();
    if (i >= steps - tail) mean += loss / tail;
  }
  return mean;
}

torch::Tensor eval_logits(Model& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  model.eval();
  return model.forward(x);
}

// Bit patterns, so that -0.0 and +0.0 differ.
bool bit_identical(const StateDict& a, const StateDict& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.sizes() != b[i].second.sizes()) return false;
    const torch::Tensor x = a[i].second.detach().cpu().contiguous(), y = b[i].second.detach().cpu().contiguous();
    if (x.scalar_type() != y.scalar_type() || x.nbytes() != y.nbytes() ||
        std::memcmp(x.data_ptr(), y.data_ptr(), x.nbytes()) != 0) {
      ADD_FAILURE() << a[i].first << " differs";
      return false;
    }
  }
  return true;
}

// Every file's logits from Python's torch.jit.load equal `expected` (dcomp's
// forward of the same model) within float tolerance.
void expect_python_logits(const std::vector<std::pair<std::string, torch::Tensor>>& files_and_logits) {
  TempDir dir;
  std::string args = user_model("input.pt") + " " + dir.file("logits.pt");
  for (const auto& [file, logits] : files_and_logits) args += " " + file;
  ASSERT_EQ(dcomp::testing::run_python_script("user_models.py", "logits " + args), 0);
  const StateDict python = load_state_dict_file(dir.file("logits.pt"));
  ASSERT_EQ(python.size(), files_and_logits.size());
  for (const auto& [index, theirs] : python) {
    const auto& [file, ours] = files_and_logits[std::stoul(index)];
    const double scale = ours.abs().max().item<double>();
    EXPECT_LE((theirs - ours).abs().max().item<double>(), 1e-5 * scale + 1e-6) << file;
  }
}

int64_t zeros(const Model& model) {
  int64_t n = 0;
  for (const LayerWeight& l : model.prunable_weights()) n += l.weight.eq(0).sum().item<int64_t>();
  return n;
}

}  // namespace

class ScriptedModel : public ::testing::TestWithParam<std::string> {};

// Scripted: a training step learns; pruning and masked retraining keep every
// zero and make no new one; k-means leaves at most 2^bits values per layer;
// pack then unpack into the module is bit-identical; Python computes the
// same logits from every TorchScript file written on the way.
TEST_P(ScriptedModel, GoesThroughEveryStage) {
  TempDir dir;
  const std::string name = GetParam();
  auto model = load_model(user_model(name + "_scripted.pt"), "");
  ASSERT_EQ(model->architecture(), "torchscript");
  EXPECT_FALSE(model->data()) << "written by Python, it names no dataset";
  model->set_data(dataset_info("cifar10"));
  EXPECT_FALSE(model->prunable_weights().empty());
  const torch::Tensor x = fixed_input();
  std::vector<std::pair<std::string, torch::Tensor>> outputs;

  torch::manual_seed(0);
  const Batch batch = pattern_batch(32);
  const double first = mean_loss(*model, batch, 1), later = mean_loss(*model, batch, 25);
  EXPECT_LT(later, 0.8 * first) << "a few steps on one batch lower its loss";
  model->save(dir.file("trained.pt"));
  outputs.emplace_back(dir.file("trained.pt"), eval_logits(*model, x));

  prune(*model, {"percentile", 0.6, {}});
  const int64_t pruned = zeros(*model);
  std::vector<torch::Tensor> was_zero;
  for (const LayerWeight& l : model->prunable_weights()) was_zero.push_back(l.weight.eq(0).clone());
  Masks masks = Masks::from_zeros(*model);
  mean_loss(*model, batch, 5, masks.training_hooks());
  const std::vector<LayerWeight> retrained = model->prunable_weights();
  for (size_t i = 0; i < retrained.size(); ++i)
    EXPECT_TRUE(torch::equal(retrained[i].weight.eq(0), was_zero[i])) << retrained[i].name << ": zeros moved";
  EXPECT_EQ(zeros(*model), pruned);
  model->save(dir.file("pruned.pt"));
  outputs.emplace_back(dir.file("pruned.pt"), eval_logits(*model, x));

  ShareSpec spec;
  spec.conv_bits = spec.fc_bits = 3;
  share_weights(*model, spec);
  TiedWeights tied(*model, shared_layers_from_values(*model));
  mean_loss(*model, batch, 3, tied.training_hooks());
  for (const LayerWeight& l : model->prunable_weights()) {
    const torch::Tensor values = std::get<0>(torch::_unique(l.weight.flatten().masked_select(l.weight.flatten().ne(0))));
    EXPECT_LE(values.numel(), 8) << l.name;
  }
  EXPECT_EQ(zeros(*model), pruned) << "trained quantization keeps the zeros";
  model->save(dir.file("quantized.pt"));
  outputs.emplace_back(dir.file("quantized.pt"), eval_logits(*model, x));

  pack(*model, dir.file("m.dcz"));
  dcomp::testing::expect_runtime_logits(dir.file("m.dcz"), x, eval_logits(*model, x));
  auto unpacked = ScriptModel::load(user_model(name + "_scripted.pt"));
  load_state_dict(*unpacked, expanded_state_dict(dcz::read(dir.file("m.dcz"))));
  unpacked->save(dir.file("unpacked.pt"));
  auto reloaded = load_model(dir.file("unpacked.pt"), "");
  EXPECT_TRUE(bit_identical(reloaded->state_dict(), model->state_dict())) << "pack, unpack, save, load";
  const auto recorded = load_model(dir.file("quantized.pt"), "")->data();
  ASSERT_TRUE(recorded) << "a module dcomp saved records its input";
  EXPECT_EQ(recorded->name, "cifar10");
  EXPECT_EQ(recorded->class_names, dataset_info("cifar10").class_names);
  outputs.emplace_back(dir.file("unpacked.pt"), eval_logits(*reloaded, x));
  expect_python_logits(outputs);
}

INSTANTIATE_TEST_SUITE_P(UserModels, ScriptedModel,
                         ::testing::Values("resnet20", "vgg", "mobilenetv2", "squeezenet", "resnet_projection"));

class TracedModel : public ::testing::TestWithParam<std::string> {};

// Traced in eval mode: evaluation, pruning, k-means and packing work, and
// the same logits come back from Python; training is refused in one line,
// since tracing made BatchNorm's and dropout's mode a constant.
TEST_P(TracedModel, RunsInEvalModeAndRefusesTraining) {
  TempDir dir;
  const std::string name = GetParam();
  auto model = load_model(user_model(name + "_traced.pt"), "");
  auto scripted = load_model(user_model(name + "_scripted.pt"), "");
  const torch::Tensor x = fixed_input();
  EXPECT_TRUE(torch::allclose(eval_logits(*model, x), eval_logits(*scripted, x), 1e-5, 1e-6));
  std::vector<std::string> names, scripted_names;
  for (const LayerWeight& l : model->prunable_weights()) names.push_back(l.name);
  for (const LayerWeight& l : scripted->prunable_weights()) scripted_names.push_back(l.name);
  EXPECT_EQ(names, scripted_names) << "the same layers are found in both graphs";
  try {
    model->train(true);
    ADD_FAILURE() << "training a module traced in eval mode must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("torch.jit.script"), std::string::npos) << e.what();
  }
  prune(*model, {"percentile", 0.5, {}});
  ShareSpec spec;
  spec.conv_bits = spec.fc_bits = 4;
  share_weights(*model, spec);
  model->set_data(dataset_info("cifar10"));
  pack(*model, dir.file("m.dcz"));
  dcomp::testing::expect_runtime_logits(dir.file("m.dcz"), x, eval_logits(*model, x));
  auto unpacked = ScriptModel::load(user_model(name + "_traced.pt"));
  load_state_dict(*unpacked, expanded_state_dict(dcz::read(dir.file("m.dcz"))));
  EXPECT_TRUE(bit_identical(unpacked->state_dict(), model->state_dict()));
  unpacked->save(dir.file("unpacked.pt"));
  expect_python_logits({{dir.file("unpacked.pt"), eval_logits(*unpacked, x)}});
}

INSTANTIATE_TEST_SUITE_P(UserModels, TracedModel,
                         ::testing::Values("resnet20", "vgg", "mobilenetv2", "squeezenet", "resnet_projection"));

// ReLU6 (aten::hardtanh) has no bf16 CPU backward in LibTorch 1.13 (its
// kernel reports itself as hardshrink_backward_cpu): the probe finds that,
// and finds nothing wrong with a model without it.
TEST(ScriptModelTraining, Bf16ProbeNamesTheMissingKernel) {
  auto resnet = load_model(user_model("resnet20_scripted.pt"), "");
  EXPECT_FALSE(bf16_training_fault(*resnet, dataset_info("cifar10"), torch::kCPU));
  auto mobilenet = load_model(user_model("mobilenetv2_scripted.pt"), "");
  const StateDict before = mobilenet->state_dict();
  std::vector<torch::Tensor> copies;
  for (const auto& [name, t] : before) copies.push_back(t.clone());
  const auto fault = bf16_training_fault(*mobilenet, dataset_info("cifar10"), torch::kCPU);
#if TORCH_VERSION_MAJOR < 2
  ASSERT_TRUE(fault);
#endif
  if (fault) {
    EXPECT_NE(fault->find("not implemented for 'BFloat16'"), std::string::npos) << *fault;
  }
  // Either way the probe leaves the model as it was, BN statistics included.
  const StateDict after = mobilenet->state_dict();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(torch::equal(after[i].second, copies[i])) << after[i].first;
}

TEST(ScriptModelFiles, BadFilesGiveOneLineErrors) {
  TempDir dir;
  const auto expect_error = [](const std::string& path, const std::string& part) {
    try {
      auto model = load_model(path, "resnet20");
      auto logits = eval_logits(*model, fixed_input());
      if (logits.dim() != 2) throw std::runtime_error("the model's output has shape " + c10::str(logits.sizes()));
      ADD_FAILURE() << path << " was accepted";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(part), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  };
  expect_error(user_model("bad_frozen.pt"), "no parameters");
  // A truncated archive and one with bytes flipped in its code records.
  std::string bytes;
  {
    std::ifstream in(user_model("resnet20_scripted.pt"), std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  {
    std::ofstream(dir.file("truncated.pt"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  expect_error(dir.file("truncated.pt"), "truncated.pt");
  std::string hostile = bytes;
  for (size_t at = hostile.find("code/"); at != std::string::npos && at + 400 < hostile.size(); at = hostile.find("code/", at + 1))
    for (size_t i = 60; i < 400; i += 7) hostile[at + i] = char(hostile[at + i] ^ 0x5a);
  {
    std::ofstream(dir.file("hostile.pt"), std::ios::binary) << hostile;
  }
  expect_error(dir.file("hostile.pt"), "hostile.pt");
}

// A model whose output is not (batch, classes) is refused by evaluation and
// training alike, with the shape it gave.
TEST(ScriptModelFiles, OutputMustBeBatchByClasses) {
  auto model = load_model(user_model("bad_flat_output.pt"), "");
  const Batch batch = pattern_batch(8);
  try {
    evaluate(*model, batch, dataset_info("cifar10"), torch::kCPU);
    ADD_FAILURE() << "accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("output has shape [80]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(mean_loss(*model, batch, 1), std::runtime_error);
}

// An operation the runtime does not run is refused when packing, in one
// line naming it and its line in the user's Python (after dcomp has saved
// the module too); nothing is written.
TEST(ScriptModelFiles, PackRefusesAnOperationTheRuntimeDoesNotRun) {
  TempDir dir;
  auto model = load_model(user_model("bad_gelu.pt"), "");
  model->set_data(dataset_info("cifar10"));
  share_weights(*model, ShareSpec{});
  model->save(dir.file("shared.pt"));  // as the pipeline's stages do: the line survives saves
  model = load_model(dir.file("shared.pt"), "");
  try {
    pack(*model, dir.file("gelu.dcz"));
    ADD_FAILURE() << "packed";
  } catch (const UnsupportedGraph& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("aten::gelu at "), std::string::npos) << what;
    EXPECT_NE(what.find("user_models.py:"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.file("gelu.dcz")));
}
