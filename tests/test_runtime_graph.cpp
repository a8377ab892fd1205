// The runtime's plan of a graph: shapes checked against the input at load,
// one line naming the operation for each fault, nothing at run time.
#include <gtest/gtest.h>

#include <string>

#include "core/compressed_file.h"
#include "runtime/dcomp_runtime.h"
#include "temp_dir.h"

using namespace dcomp::dcz;

namespace {

Tensor shared(const std::string& name, std::vector<int64_t> shape) {
  Tensor t;
  t.name = name;
  t.shape = std::move(shape);
  t.storage = Storage::kShared;
  t.shared.bits = 2;
  t.shared.codebook = {-0.5f, 0.25f, 1.0f};
  for (uint32_t p = 0; p < t.numel(); p += 3) {
    t.shared.positions.push_back(p);
    t.shared.indices.push_back(uint8_t(p % 3));
  }
  return t;
}

// (3, 8, 8) -> conv 3x3 (4 channels) -> relu -> global pool -> flatten -> linear (2 classes).
Model small_network() {
  Model m;
  m.metadata = {{"model", "test"}, {"input_shape", "3,8,8"}, {"input_mean", "0.5,0.5,0.5"},
                {"input_std", "0.25,0.25,0.25"}, {"class_names", "a,b"}};
  m.tensors = {shared("conv.weight", {4, 3, 3, 3}), shared("fc.weight", {2, 4})};
  m.graph.nodes = {{Op::kConv2d, {0}, {"conv.weight"}, {1, 1, 1, 1, 1, 1, 1}, {}},
                   {Op::kRelu, {1}, {}, {}, {}},
                   {Op::kGlobalAvgPool, {2}, {}, {}, {}},
                   {Op::kFlatten, {3}, {}, {}, {}},
                   {Op::kLinear, {4}, {"fc.weight"}, {}, {}}};
  m.graph.output = 5;
  return m;
}

// "" when the runtime loads and runs the file, else its status and message.
std::string load_error(const Model& m) {
  const dcomp::testing::TempDir dir;  // its own: ctest runs tests in parallel processes
  const std::string path = dir.file("graph.dcz");
  write(path, m);
  dcomp_model* model = nullptr;
  const dcomp_status status = dcomp_load(path.c_str(), &model);
  if (status != DCOMP_OK) return std::string(dcomp_status_name(status)) + ": " + dcomp_last_error();
  std::vector<float> image(3 * 8 * 8, 0.5f), logits(size_t(dcomp_classes(model)));
  EXPECT_EQ(dcomp_run(model, image.data(), 1, logits.data()), DCOMP_OK);
  dcomp_free(model);
  return "";
}

TEST(RuntimeGraph, ASmallNetworkRuns) { EXPECT_EQ(load_error(small_network()), ""); }

TEST(RuntimeGraph, ShapeFaultsAreNamedAtLoad) {
  const auto expect_fault = [](const Model& m, const std::string& part) {
    const std::string error = load_error(m);
    EXPECT_NE(error.find(part), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  };
  Model m = small_network();
  m.graph.nodes[0].ints[6] = 2;  // 3 input channels in 2 groups
  expect_fault(m, "graph node 0 (conv2d): weight conv.weight does not fit 3 input channels in 2 groups");
  m = small_network();
  m.graph.nodes[0].ints = {1, 1, 0, 0, 4, 4, 1};  // dilated to 9x9 on an 8x8 input
  expect_fault(m, "graph node 0 (conv2d): kernel larger than the padded input");
  m = small_network();
  m.graph.nodes[3] = {Op::kRelu, {3}, {}, {}, {}};  // no flatten before the linear layer
  m.graph.nodes[2] = {Op::kRelu, {2}, {}, {}, {}};  // nor pooling
  expect_fault(m, "graph node 4 (linear): needs a flattened input");
  m = small_network();
  m.graph.nodes[2] = {Op::kAdd, {2, 0}, {}, {}, {1.0f}};  // (4, 8, 8) + (3, 8, 8)
  expect_fault(m, "graph node 2 (add): inputs of different shapes");
  m = small_network();
  m.graph.nodes[2] = {Op::kMaxPool2d, {2}, {}, {9, 9, 1, 1, 0, 0, 1, 1, 0}, {}};
  expect_fault(m, "graph node 2 (max_pool2d): kernel larger than the padded input");
  m = small_network();
  m.graph.nodes[2] = {Op::kAvgPool2d, {2}, {}, {2, 2, 2, 2, 2, 2, 0, 1}, {}};
  expect_fault(m, "padding above half the kernel");
  m = small_network();
  m.graph.nodes[2] = {Op::kSlice, {2}, {}, {1, 10, 20, 1}, {}};
  expect_fault(m, "graph node 2 (slice): leaves nothing");
  m = small_network();
  m.graph.nodes[2] = {Op::kPad, {2}, {}, {4096, 4096, 4096, 4096, 0, 0}, {0.0f}};
  expect_fault(m, "output too large");
  m = small_network();
  m.tensors[1] = shared("fc.weight", {2, 5});
  expect_fault(m, "weight fc.weight takes 5 features, not 4");
  m = small_network();
  m.tensors[0].storage = Storage::kFloat32;
  m.tensors[0].floats.assign(4 * 3 * 3 * 3, 0.1f);
  expect_fault(m, "weight 'conv.weight' is not weight-shared");
  m = small_network();
  m.metadata.back().second = "a,b,c";
  expect_fault(m, "the metadata names 3 classes, the graph gives 2");
  m = small_network();
  m.graph.output = 3;  // (4, 1, 1) logits are fine; (4, 8, 8) are not
  m.graph.nodes.resize(3);
  m.tensors.pop_back();
  m.metadata.back().second = "a,b,c,d";
  EXPECT_EQ(load_error(m), "");
  m.graph.output = 2;
  m.graph.nodes.resize(2);
  expect_fault(m, "the graph's output is not a vector of logits");
}

TEST(RuntimeGraph, VersionOneFilesAskToBeRepacked) {
  dcomp_model* model = nullptr;
  ASSERT_EQ(dcomp_load(DCOMP_TEST_DATA "/lenet300_format1.dcz", &model), DCOMP_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(dcomp_last_error()).find("re-pack it"), std::string::npos) << dcomp_last_error();
}

}  // namespace
