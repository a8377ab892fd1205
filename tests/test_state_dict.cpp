#include <gtest/gtest.h>

#include <fstream>

#include "libtorch/models.h"
#include "libtorch/state_dict.h"
#include "python_reference.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::run_reference;
using dcomp::testing::TempDir;

namespace {

torch::Tensor entry(const StateDict& sd, const std::string& name) {
  for (const auto& [key, tensor] : sd)
    if (key == name) return tensor;
  throw std::runtime_error("no entry " + name);
}

// Gives every parameter and BN statistic a distinct random value.
void randomize(Model& model) {
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : model.state_dict()) {
    if (tensor.is_floating_point())
      tensor.copy_(name.find("running_var") != std::string::npos ? torch::rand_like(tensor) + 0.5
                                                                  : torch::randn_like(tensor) * 0.2);
    else
      tensor.fill_(3);
  }
}

class InteropTest : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST(StateDict, RoundTripIsExact) {
  TempDir dir;
  auto model = make_model("resnet20");
  randomize(*model);
  save_state_dict(model->state_dict(), dir.file("m.pt"));
  const StateDict loaded = load_state_dict_file(dir.file("m.pt"));
  const StateDict original = model->state_dict();
  ASSERT_EQ(loaded.size(), original.size());
  for (size_t i = 0; i < loaded.size(); ++i) {
    EXPECT_EQ(loaded[i].first, original[i].first);
    EXPECT_EQ(loaded[i].second.dtype(), original[i].second.dtype());
    EXPECT_TRUE(torch::equal(loaded[i].second, original[i].second)) << loaded[i].first;
  }
}

TEST(StateDict, StrictLoadRejectsMismatches) {
  auto model = make_model("lenet300");
  StateDict sd = make_model("lenet300")->state_dict();
  sd.pop_back();
  EXPECT_THROW(load_state_dict(*model, sd), std::runtime_error);
  sd = make_model("lenet300")->state_dict();
  sd.emplace_back("extra.weight", torch::zeros({1}));
  EXPECT_THROW(load_state_dict(*model, sd), std::runtime_error);
  sd = make_model("lenet5")->state_dict();
  EXPECT_THROW(load_state_dict(*model, sd), std::runtime_error);
}

TEST(StateDict, BadFilesGiveErrors) {
  TempDir dir;
  EXPECT_THROW(load_state_dict_file(dir.file("missing.pt")), std::runtime_error);
  std::ofstream(dir.file("junk.pt")) << "this is not a zip archive";
  EXPECT_THROW(load_state_dict_file(dir.file("junk.pt")), std::runtime_error);
  // A valid archive, truncated.
  save_state_dict(make_model("lenet300")->state_dict(), dir.file("ok.pt"));
  std::ifstream in(dir.file("ok.pt"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir.file("cut.pt"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(load_state_dict_file(dir.file("cut.pt")), std::runtime_error);
}

// dcomp -> PyTorch: torch.load opens our file, load_state_dict(strict=True)
// takes it, and the reference model computes the logits dcomp computes.
TEST_P(InteropTest, PythonRunsWeightsSavedByDcomp) {
  TempDir dir;
  torch::manual_seed(1);
  auto model = make_model(GetParam());
  randomize(*model);
  model->eval();
  const bool cifar = GetParam().rfind("resnet", 0) == 0;
  auto x = cifar ? torch::randn({4, 3, 32, 32}) : torch::randn({4, 1, 28, 28});
  save_state_dict(model->state_dict(), dir.file("w.pt"));
  save_state_dict({{"x", x}}, dir.file("x.pt"));
  ASSERT_EQ(run_reference("run " + GetParam() + " " + dir.file("w.pt") + " " + dir.file("x.pt") + " " +
                          dir.file("y.pt")),
            0);
  torch::NoGradGuard no_grad;
  const torch::Tensor ours = model->forward(x);
  const torch::Tensor theirs = entry(load_state_dict_file(dir.file("y.pt")), "logits");
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-4, 1e-5)) << (ours - theirs).abs().max();
}

// PyTorch -> dcomp: the OrderedDict of model.state_dict(), with _metadata,
// loads strictly and reproduces PyTorch's logits.
TEST_P(InteropTest, DcompRunsStateDictSavedByPython) {
  TempDir dir;
  ASSERT_EQ(run_reference("make " + GetParam() + " 7 " + dir.file("w.pt") + " " + dir.file("x.pt") + " " +
                          dir.file("y.pt")),
            0);
  auto model = make_model(GetParam());
  load_state_dict(*model, load_state_dict_file(dir.file("w.pt")));
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor ours = model->forward(entry(load_state_dict_file(dir.file("x.pt")), "x"));
  const torch::Tensor theirs = entry(load_state_dict_file(dir.file("y.pt")), "logits");
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-4, 1e-5)) << (ours - theirs).abs().max();
  if (GetParam() == "resnet20") {
    EXPECT_EQ(entry(model->state_dict(), "layer2.0.bn1.num_batches_tracked").item<int64_t>(), 7);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, InteropTest, ::testing::Values("resnet20", "lenet300", "lenet5"));
