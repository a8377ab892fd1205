// Readers for the image datasets dcomp trains and evaluates on. No LibTorch:
// the inference runtime reads the same files.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace dcomp {

// A malformed, missing or unreadable dataset file. The message names the file
// and the fault, ready to print as one line.
struct DatasetError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Images as stored on disk: uint8 pixels, (count, channels, height, width)
// row-major, and one label per image.
struct ImageSet {
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;

  int64_t image_bytes() const { return channels * height * width; }
};

enum class Split { kTrain, kTest };

// CIFAR-10, official binary layout: records of 1 label byte + 3*32*32 pixel
// bytes (R, G, B planes). `dir` holds data_batch_1..5.bin and test_batch.bin.
inline constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;
inline constexpr int64_t kCifarRecordsPerFile = 10000;
ImageSet read_cifar10(const std::string& dir, Split split);
// One batch file; every record is checked (whole records, labels 0-9).
// expected_records <= 0 accepts any whole number of records.
ImageSet read_cifar10_file(const std::string& path,
                           int64_t expected_records = kCifarRecordsPerFile);

// Fashion-MNIST (or MNIST) in IDX format, gzip-compressed or not. `dir`
// holds {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
ImageSet read_fashion_mnist(const std::string& dir, Split split);
ImageSet read_idx(const std::string& images_path, const std::string& labels_path);

// Whole file contents (gunzipped when the name ends in .gz).
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace dcomp
