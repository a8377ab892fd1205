// The LibTorch-free runtime against LibTorch: the file's logits for the
// images x (B, C, H, W) within 1e-3 of the largest of LibTorch's.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "runtime/dcomp_runtime.h"

namespace dcomp::testing {

// The file's logits for x (B, C, H, W) on `threads` threads (0: all the
// cores); an empty tensor, with a test failure, when the runtime refuses the
// file or the run.
inline torch::Tensor runtime_logits(const std::string& path, const torch::Tensor& x, int threads = 0) {
  dcomp_model* runtime = nullptr;
  if (dcomp_load(path.c_str(), &runtime) != DCOMP_OK || dcomp_set_threads(runtime, threads) != DCOMP_OK) {
    ADD_FAILURE() << path << ": " << dcomp_last_error();
    return {};
  }
  const int batch = int(x.size(0));
  const torch::Tensor input = x.to(torch::kFloat32).contiguous();
  torch::Tensor logits = torch::empty({batch, dcomp_classes(runtime)});
  const bool ran = dcomp_run(runtime, input.data_ptr<float>(), batch, logits.data_ptr<float>()) == DCOMP_OK;
  if (!ran) ADD_FAILURE() << path << ": " << dcomp_last_error();
  dcomp_free(runtime);
  return ran ? logits : torch::Tensor();
}

inline void expect_runtime_logits(const std::string& path, const torch::Tensor& x, const torch::Tensor& expected) {
  const torch::Tensor logits = runtime_logits(path, x);
  ASSERT_TRUE(logits.defined());
  ASSERT_EQ(logits.sizes(), expected.sizes());
  for (int64_t b = 0; b < x.size(0); ++b) {
    const double scale = expected[b].abs().max().item<double>();
    EXPECT_LE((logits[b] - expected[b]).abs().max().item<double>(), 1e-3 * scale) << path << " image " << b;
  }
}

}  // namespace dcomp::testing
