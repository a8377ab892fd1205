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

}  // namespace dcomp::testing
