#include "libtorch/data.h"

#include <cstdlib>
#include <stdexcept>

#include "core/datasets.h"

namespace dcomp {

TensorDataset TensorDataset::slice(int64_t begin, int64_t end) const {
  return {images.slice(0, begin, end), labels.slice(0, begin, end)};
}

TensorDataset TensorDataset::to(const torch::Device& device) const {
  return {images.to(device), labels.to(device)};
}

const DatasetInfo& dataset_info(const std::string& name) {
  // Channel statistics of the CIFAR-10 and Fashion-MNIST training sets.
  static const DatasetInfo kCifar10{"cifar10", {0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616},
                                    4, true, "./data/cifar-10-batches-bin",
                                    {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                     "horse", "ship", "truck"},
                                    32};
  static const DatasetInfo kFashionMnist{"fmnist", {0.2860}, {0.3530}, 0, false,
                                         "/usr/share/datasets/fashion-mnist",
                                         {"T-shirt/top", "trouser", "pullover", "dress", "coat",
                                          "sandal", "shirt", "sneaker", "bag", "ankle boot"},
                                         28};
  if (name == kCifar10.name) return kCifar10;
  if (name == kFashionMnist.name) return kFashionMnist;
  throw std::invalid_argument("unknown dataset '" + name + "' (known: cifar10, fmnist)");
}

std::string resolve_data_dir(const DatasetInfo& info, const std::string& dir) {
  if (!dir.empty()) return dir;
  if (info.name == "cifar10") {
    if (const char* env = std::getenv("DCOMP_DATA"); env && *env) return env;
  }
  return info.default_dir;
}

namespace {

TensorDataset to_tensors(ImageSet set) {
  auto images = torch::from_blob(set.pixels.data(), {set.count, set.channels, set.height, set.width},
                                 torch::kUInt8)
                    .clone();
  auto labels = torch::from_blob(set.labels.data(), {set.count}, torch::kUInt8).to(torch::kInt64);
  return {images, labels};
}

}  // namespace

DataSplits load_splits(const DatasetInfo& info, const std::string& dir, int64_t validation_size) {
  const bool cifar = info.name == "cifar10";
  auto read = [&](Split split) {
    return to_tensors(cifar ? read_cifar10(dir, split) : read_fashion_mnist(dir, split));
  };
  TensorDataset train = read(Split::kTrain);
  if (validation_size < 0 || validation_size >= train.size())
    throw std::invalid_argument("validation size " + std::to_string(validation_size) +
                                " must be in [0, " + std::to_string(train.size()) + ")");
  const int64_t cut = train.size() - validation_size;
  return {train.slice(0, cut), train.slice(cut, train.size()), read(Split::kTest)};
}

torch::Tensor normalize(const torch::Tensor& images, const DatasetInfo& info) {
  const auto options = torch::TensorOptions().dtype(torch::kFloat32).device(images.device());
  const int64_t c = images.size(1);
  auto mean = torch::tensor(info.mean, options).view({1, c, 1, 1});
  auto std = torch::tensor(info.std, options).view({1, c, 1, 1});
  return (images.to(torch::kFloat32).div_(255.0f) - mean).div_(std);
}

torch::Tensor augment(const torch::Tensor& images, const DatasetInfo& info,
                      torch::Generator& generator) {
  const int64_t b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto cpu_long = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor out = images;
  if (info.crop_padding > 0) {
    const int64_t p = info.crop_padding;
    // padded: (B, C, H+2p, W+2p); crop rows dy..dy+H and columns dx..dx+W.
    auto padded = torch::constant_pad_nd(images, {p, p, p, p}, 0);
    auto dy = torch::randint(0, 2 * p + 1, {b, 1}, generator, cpu_long).to(images.device());
    auto dx = torch::randint(0, 2 * p + 1, {b, 1}, generator, cpu_long).to(images.device());
    auto rows = dy + torch::arange(h, dy.options());  // (B, H)
    auto cols = dx + torch::arange(w, dx.options());  // (B, W)
    out = padded.gather(2, rows.view({b, 1, h, 1}).expand({b, c, h, w + 2 * p}))
              .gather(3, cols.view({b, 1, 1, w}).expand({b, c, h, w}));
  }
  if (info.horizontal_flip) {
    auto flip = torch::randint(0, 2, {b}, generator, cpu_long).to(torch::kBool).to(images.device());
    out = torch::where(flip.view({b, 1, 1, 1}), out.flip({3}), out);
  }
  return out;
}

torch::Tensor cutout(const torch::Tensor& inputs, int64_t size, torch::Generator& generator) {
  const int64_t b = inputs.size(0), h = inputs.size(2), w = inputs.size(3);
  const auto cpu_long = torch::TensorOptions().dtype(torch::kInt64);
  // Square rows [cy - size/2, cy - size/2 + size), columns likewise.
  auto top = torch::randint(0, h, {b, 1}, generator, cpu_long).sub_(size / 2).to(inputs.device());
  auto left = torch::randint(0, w, {b, 1}, generator, cpu_long).sub_(size / 2).to(inputs.device());
  auto rows = torch::arange(h, top.options()).view({1, h}) - top;   // (B, H): row - top
  auto cols = torch::arange(w, left.options()).view({1, w}) - left;  // (B, W)
  auto in_rows = rows.ge(0).logical_and(rows.lt(size)).view({b, 1, h, 1});
  auto in_cols = cols.ge(0).logical_and(cols.lt(size)).view({b, 1, 1, w});
  return inputs.masked_fill(in_rows.logical_and(in_cols), 0.0);
}

}  // namespace dcomp
