// The LibTorch-free runtime against LibTorch: the file's logits for the
// images x (B, C, H, W) within 1e-3 of the largest of LibTorch's.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "runtime/dcomp_runtime.h"

namespace dcomp::testing {

inline void expect_runtime_logits(const std::string& path, const torch::Tensor& x, const torch::Tensor& expected) {
  dcomp_model* runtime = nullptr;
  ASSERT_EQ(dcomp_load(path.c_str(), &runtime), DCOMP_OK) << dcomp_last_error();
  const int batch = int(x.size(0));
  const torch::Tensor input = x.to(torch::kFloat32).contiguous();
  torch::Tensor logits = torch::empty({batch, dcomp_classes(runtime)});
  ASSERT_EQ(dcomp_run(runtime, input.data_ptr<float>(), batch, logits.data_ptr<float>()), DCOMP_OK) << dcomp_last_error();
  dcomp_free(runtime);
  ASSERT_EQ(logits.sizes(), expected.sizes());
  for (int b = 0; b < batch; ++b) {
    const double scale = expected[b].abs().max().item<double>();
    EXPECT_LE((logits[b] - expected[b]).abs().max().item<double>(), 1e-3 * scale) << path << " image " << b;
  }
}

}  // namespace dcomp::testing
