// Datasets as tensors, held whole in memory as uint8, with batched
// augmentation and normalization on the training device.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dcomp {

// Images (N, C, H, W) uint8 and labels (N) int64, on one device.
struct TensorDataset {
  torch::Tensor images;
  torch::Tensor labels;

  int64_t size() const { return images.size(0); }
  TensorDataset slice(int64_t begin, int64_t end) const;
  TensorDataset to(const torch::Device& device) const;
};

// How a dataset is read, normalized and augmented.
struct DatasetInfo {
  std::string name;               // "cifar10" | "fmnist" | "imagefolder"
  std::vector<double> mean, std;  // per channel, on pixels scaled to [0, 1]
  int64_t crop_padding = 0;       // random crop from zero padding; 0 = none
  bool horizontal_flip = false;
  std::string default_dir;        // when neither --data nor $DCOMP_DATA is set
  std::vector<std::string> class_names;
  int64_t image_size = 0;  // images are (mean.size(), image_size, image_size)
};

const DatasetInfo& dataset_info(const std::string& name);  // cifar10 | fmnist

// The images as the user names them: a built-in dataset, or a folder in
// torchvision's ImageFolder layout (ROOT/train/<class>/*.png|*.jpg, and
// optionally ROOT/val/... and ROOT/test/...), decoded once into memory as
// uint8 at image_size x image_size.
struct DataSource {
  std::string dataset;  // cifar10 | fmnist | imagefolder; empty: the model's own
  // imagefolder only:
  int64_t image_size = 32;  // shorter side resized to this, then centre-cropped
  std::vector<double> mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};  // ImageNet's, as torchvision
  int64_t crop_padding = -1;  // random-crop padding; -1: image_size / 8 (CIFAR-10's 4 at 32)
  bool horizontal_flip = true;
};
nlohmann::json to_json(const DataSource& source);
DataSource data_source_from_json(const nlohmann::json& j);  // rejects unknown keys

// The DatasetInfo of `source`, whose images are in `dir`: an image folder's
// classes are the folders of dir/train. Throws on unknown datasets, an
// image folder with no train/ classes, or mean and std of unequal lengths.
DatasetInfo describe(const DataSource& source, const std::string& dir);

// What a model records about its input (all but default_dir).
nlohmann::json to_json(const DatasetInfo& info);
DatasetInfo dataset_info_from_json(const nlohmann::json& j);

// Directory for `info`: `dir` if given, else $DCOMP_DATA (CIFAR-10 only),
// else the dataset's default.
std::string resolve_data_dir(const DatasetInfo& info, const std::string& dir);

// The training set with its last `validation_size` images held out, and the
// test set. Tune on `validation`; `test` is for reporting only. An image
// folder's validation split is ROOT/val where it exists, else
// `validation_size` training images drawn by a fixed permutation (its
// files come sorted by class); its test split is ROOT/test, else the
// validation split.
struct DataSplits {
  TensorDataset train, validation, test;
};
DataSplits load_splits(const DatasetInfo& info, const std::string& dir, int64_t validation_size);

// uint8 (B, C, H, W) -> float (B, C, H, W), (x/255 - mean) / std.
torch::Tensor normalize(const torch::Tensor& images, const DatasetInfo& info);

// Where a batch sits in the global batch of a data-parallel step: random
// numbers are drawn for all `global` images on every rank (the generators stay
// in step) and this batch takes those of [offset, offset + its size). The
// default is a batch of its own.
struct BatchSlice {
  int64_t offset = 0;
  int64_t global = -1;  // -1: the batch's own size
};

// Random crop from zero padding and random horizontal flip, for a whole batch
// at once: per-sample offsets become gather indices, so nothing is allocated
// per sample. Random numbers come from `generator` (on the CPU) so that a
// resumed run draws the same crops.
torch::Tensor augment(const torch::Tensor& images, const DatasetInfo& info,
                      torch::Generator& generator, const BatchSlice& slice = {});

// Cutout (DeVries & Taylor 2017) on normalized inputs (B, C, H, W): zero a
// size x size square, clipped at the borders, centred anywhere in each image,
// the same square in every channel. Zero is the mean pixel after normalization.
torch::Tensor cutout(const torch::Tensor& inputs, int64_t size, torch::Generator& generator,
                     const BatchSlice& slice = {});

}  // namespace dcomp
