#include "libtorch/data.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "core/datasets.h"
#include "core/image_folder.h"

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

nlohmann::json to_json(const DatasetInfo& info) {
  return {{"name", info.name},
          {"mean", info.mean},
          {"std", info.std},
          {"crop_padding", info.crop_padding},
          {"horizontal_flip", info.horizontal_flip},
          {"class_names", info.class_names},
          {"image_size", info.image_size}};
}

DatasetInfo dataset_info_from_json(const nlohmann::json& j) {
  DatasetInfo info;
  j.at("name").get_to(info.name);
  j.at("mean").get_to(info.mean);
  j.at("std").get_to(info.std);
  j.at("crop_padding").get_to(info.crop_padding);
  j.at("horizontal_flip").get_to(info.horizontal_flip);
  j.at("class_names").get_to(info.class_names);
  j.at("image_size").get_to(info.image_size);
  if (info.name == "cifar10" || info.name == "fmnist") info.default_dir = dataset_info(info.name).default_dir;
  return info;
}

nlohmann::json to_json(const DataSource& s) {
  return {{"dataset", s.dataset},           {"image_size", s.image_size},   {"mean", s.mean},
          {"std", s.std},                   {"crop_padding", s.crop_padding}, {"horizontal_flip", s.horizontal_flip}};
}

DataSource data_source_from_json(const nlohmann::json& j) {
  DataSource s;
  nlohmann::json merged = to_json(s);
  for (const auto& [key, value] : j.items()) {
    if (!merged.contains(key)) throw std::invalid_argument("unknown data setting '" + key + "'");
    merged[key] = value;
  }
  merged.at("dataset").get_to(s.dataset);
  merged.at("image_size").get_to(s.image_size);
  merged.at("mean").get_to(s.mean);
  merged.at("std").get_to(s.std);
  merged.at("crop_padding").get_to(s.crop_padding);
  merged.at("horizontal_flip").get_to(s.horizontal_flip);
  return s;
}

DatasetInfo describe(const DataSource& source, const std::string& dir) {
  if (source.dataset != "imagefolder") return dataset_info(source.dataset);
  if (dir.empty()) throw std::invalid_argument("an image folder needs --data ROOT (with ROOT/train/<class>/...)");
  if (source.mean.size() != source.std.size() || (source.mean.size() != 1 && source.mean.size() != 3))
    throw std::invalid_argument("mean and std need one value per channel (1 or 3 of each)");
  for (double s : source.std)
    if (!(s > 0)) throw std::invalid_argument("std must be positive");
  if (source.image_size < 8 || source.image_size > 1024) throw std::invalid_argument("image size must be in [8, 1024]");
  DatasetInfo info;
  info.name = "imagefolder";
  info.mean = source.mean;
  info.std = source.std;
  info.crop_padding = source.crop_padding >= 0 ? source.crop_padding : source.image_size / 8;
  info.horizontal_flip = source.horizontal_flip;
  info.class_names = image_folder_classes((std::filesystem::path(dir) / "train").string());
  info.image_size = source.image_size;
  return info;
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

namespace {

DataSplits load_image_folder(const DatasetInfo& info, const std::string& dir, int64_t validation_size) {
  namespace fs = std::filesystem;
  const auto read = [&](const char* split) {
    return to_tensors(read_image_folder((fs::path(dir) / split).string(), info.class_names, int(info.image_size),
                                        int(info.mean.size())));
  };
  DataSplits splits;
  splits.train = read("train");
  if (fs::exists(fs::path(dir) / "val")) {
    splits.validation = read("val");
  } else {
    const int64_t n = splits.train.size();
    if (validation_size < 0 || validation_size >= n)
      throw std::invalid_argument("validation size " + std::to_string(validation_size) + " must be in [0, " +
                                  std::to_string(n) + ") for " + dir + "/train (or give " + dir + "/val)");
    // A fixed permutation, the same on every machine: the files come sorted
    // by class, so a plain tail would hold out the last classes only.
    torch::Generator generator = at::make_generator<at::CPUGeneratorImpl>(uint64_t(0));
    const torch::Tensor order = torch::randperm(n, generator, torch::kInt64);
    const torch::Tensor kept = order.slice(0, 0, n - validation_size), held = order.slice(0, n - validation_size, n);
    splits.validation = {splits.train.images.index_select(0, held), splits.train.labels.index_select(0, held)};
    splits.train = {splits.train.images.index_select(0, kept), splits.train.labels.index_select(0, kept)};
  }
  splits.test = fs::exists(fs::path(dir) / "test") ? read("test") : splits.validation;
  return splits;
}

}  // namespace

DataSplits load_splits(const DatasetInfo& info, const std::string& dir, int64_t validation_size) {
  if (info.name == "imagefolder") return load_image_folder(info, dir, validation_size);
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

namespace {

// Random integers in [low, high) for the `global` images of the step, this
// batch's rows of them, on `device`.
torch::Tensor draw(int64_t low, int64_t high, int64_t b, const BatchSlice& slice, torch::Generator& generator,
                   const torch::Device& device) {
  const int64_t global = slice.global < 0 ? b : slice.global;
  const auto all = torch::randint(low, high, {global, 1}, generator, torch::TensorOptions().dtype(torch::kInt64));
  return all.slice(0, slice.offset, slice.offset + b).to(device);
}

}  // namespace

torch::Tensor augment(const torch::Tensor& images, const DatasetInfo& info,
                      torch::Generator& generator, const BatchSlice& slice) {
  const int64_t b = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  torch::Tensor out = images;
  if (info.crop_padding > 0) {
    const int64_t p = info.crop_padding;
    // padded: (B, C, H+2p, W+2p); crop rows dy..dy+H and columns dx..dx+W.
    auto padded = torch::constant_pad_nd(images, {p, p, p, p}, 0);
    auto dy = draw(0, 2 * p + 1, b, slice, generator, images.device());
    auto dx = draw(0, 2 * p + 1, b, slice, generator, images.device());
    auto rows = dy + torch::arange(h, dy.options());  // (B, H)
    auto cols = dx + torch::arange(w, dx.options());  // (B, W)
    out = padded.gather(2, rows.view({b, 1, h, 1}).expand({b, c, h, w + 2 * p}))
              .gather(3, cols.view({b, 1, 1, w}).expand({b, c, h, w}));
  }
  if (info.horizontal_flip) {
    auto flip = draw(0, 2, b, slice, generator, images.device()).view({b}).to(torch::kBool);
    out = torch::where(flip.view({b, 1, 1, 1}), out.flip({3}), out);
  }
  return out;
}

torch::Tensor cutout(const torch::Tensor& inputs, int64_t size, torch::Generator& generator,
                     const BatchSlice& slice) {
  const int64_t b = inputs.size(0), h = inputs.size(2), w = inputs.size(3);
  // Square rows [cy - size/2, cy - size/2 + size), columns likewise.
  auto top = draw(0, h, b, slice, generator, inputs.device()).sub_(size / 2);
  auto left = draw(0, w, b, slice, generator, inputs.device()).sub_(size / 2);
  auto rows = torch::arange(h, top.options()).view({1, h}) - top;   // (B, H): row - top
  auto cols = torch::arange(w, left.options()).view({1, w}) - left;  // (B, W)
  auto in_rows = rows.ge(0).logical_and(rows.lt(size)).view({b, 1, h, 1});
  auto in_cols = cols.ge(0).logical_and(cols.lt(size)).view({b, 1, 1, w});
  return inputs.masked_fill(in_rows.logical_and(in_cols), 0.0);
}

}  // namespace dcomp
