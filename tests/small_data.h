// Small real training problems for tests that must show learning.
#pragma once

#include <filesystem>
#include <optional>

#include "libtorch/data.h"

namespace dcomp::testing {

// The first `train` Fashion-MNIST training images, the next `validation`
// ones held out, and the test set; nothing if Debian's
// dataset-fashion-mnist is not installed.
inline std::optional<DataSplits> fashion_mnist_subset(int64_t train, int64_t validation) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir)) return std::nullopt;
  const DataSplits full = load_splits(dataset_info("fmnist"), dir, 0);
  return DataSplits{full.train.slice(0, train), full.train.slice(train, train + validation), full.test};
}

// A small CIFAR-shaped problem: the class is which of ten fixed random
// patterns, plus noise, the image shows. (n, 3, 32, 32) uint8 images.
inline TensorDataset pattern_images(int64_t n) {
  torch::manual_seed(5);
  auto patterns = torch::randint(0, 256, {10, 3, 32, 32}, torch::kInt64);
  auto labels = torch::randint(0, 10, {n}, torch::kInt64);
  auto images = (patterns.index_select(0, labels) + torch::randint(-40, 41, {n, 3, 32, 32}, torch::kInt64))
                    .clamp(0, 255)
                    .to(torch::kUInt8);
  return {images, labels};
}

}  // namespace dcomp::testing
