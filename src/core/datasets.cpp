#include "core/datasets.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace dcomp {
namespace {

namespace fs = std::filesystem;

// IDX files of MNIST-like sets are tens of MB; anything this large is not one.
constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 31;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DatasetError(path + ": " + what);
}

std::vector<uint8_t> read_plain(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail(path, "cannot open");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    bytes.insert(bytes.end(), buf, buf + n);
    if (bytes.size() > kMaxIdxBytes) fail(path, "file too large");
  }
  if (std::ferror(f.get())) fail(path, "read error");
  return bytes;
}

std::vector<uint8_t> read_gzip(const std::string& path) {
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), &gzclose);
  if (!f) fail(path, "cannot open");
  std::vector<uint8_t> bytes;
  uint8_t buf[1 << 16];
  int n;
  while ((n = gzread(f.get(), buf, sizeof buf)) > 0) {
    bytes.insert(bytes.end(), buf, buf + n);
    if (bytes.size() > kMaxIdxBytes) fail(path, "decompressed size too large");
  }
  int err = Z_OK;
  const char* msg = gzerror(f.get(), &err);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END)) fail(path, std::string("corrupt gzip data: ") + msg);
  return bytes;
}

uint32_t read_be32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | b[at + 3];
}

// Parses an IDX header of `dims` dimensions with ubyte data; returns the sizes.
std::vector<int64_t> idx_dims(const std::vector<uint8_t>& b, const std::string& path, int dims) {
  if (b.size() < 4 + 4 * size_t(dims)) fail(path, "truncated IDX header");
  const uint32_t magic = read_be32(b, 0);
  if (magic != (0x0800u | uint32_t(dims)))
    fail(path, "bad IDX magic (expected ubyte data with " + std::to_string(dims) + " dimensions)");
  std::vector<int64_t> sizes;
  uint64_t total = 1;
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(read_be32(b, 4 + 4 * d));
    total *= uint64_t(sizes.back());
    if (total > kMaxIdxBytes) fail(path, "IDX dimensions too large");
  }
  if (b.size() != 4 + 4 * size_t(dims) + total)
    fail(path, "size " + std::to_string(b.size()) + " bytes does not match its IDX header");
  return sizes;
}

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem, stem + ".gz"}) {
    const fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  fail((fs::path(dir) / stem).string(), "missing (also looked for .gz)");
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  return gz ? read_gzip(path) : read_plain(path);
}

ImageSet read_cifar10_file(const std::string& path, int64_t expected_records) {
  if (!fs::exists(path)) fail(path, "missing");
  std::vector<uint8_t> bytes = read_plain(path);
  const int64_t n = int64_t(bytes.size()) / kCifarRecordBytes;
  if (bytes.empty() || int64_t(bytes.size()) % kCifarRecordBytes != 0)
    fail(path, "truncated or corrupt: " + std::to_string(bytes.size()) +
                   " bytes is not a whole number of 3073-byte records");
  if (expected_records > 0 && n != expected_records)
    fail(path, "truncated: " + std::to_string(n) + " records, expected " +
                   std::to_string(expected_records));
  ImageSet set;
  set.count = n, set.channels = 3, set.height = 32, set.width = 32;
  set.pixels.resize(size_t(n * set.image_bytes()));
  set.labels.resize(size_t(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* record = bytes.data() + i * kCifarRecordBytes;
    if (record[0] > 9)
      fail(path, "record " + std::to_string(i) + " has label " + std::to_string(record[0]) +
                     ", outside 0-9");
    set.labels[size_t(i)] = record[0];
    std::copy(record + 1, record + kCifarRecordBytes, set.pixels.begin() + i * set.image_bytes());
  }
  return set;
}

ImageSet read_cifar10(const std::string& dir, Split split) {
  if (!fs::is_directory(dir)) fail(dir, "CIFAR-10 directory not found");
  std::vector<std::string> files;
  if (split == Split::kTrain) {
    for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    files.push_back("test_batch.bin");
  }
  ImageSet all;
  for (const std::string& name : files) {
    ImageSet part = read_cifar10_file((fs::path(dir) / name).string());
    all.channels = part.channels, all.height = part.height, all.width = part.width;
    all.count += part.count;
    all.pixels.insert(all.pixels.end(), part.pixels.begin(), part.pixels.end());
    all.labels.insert(all.labels.end(), part.labels.begin(), part.labels.end());
  }
  return all;
}

ImageSet read_idx(const std::string& images_path, const std::string& labels_path) {
  const std::vector<uint8_t> images = read_file_bytes(images_path);
  const std::vector<uint8_t> labels = read_file_bytes(labels_path);
  const std::vector<int64_t> image_dims = idx_dims(images, images_path, 3);
  const std::vector<int64_t> label_dims = idx_dims(labels, labels_path, 1);
  if (image_dims[0] != label_dims[0])
    fail(labels_path, std::to_string(label_dims[0]) + " labels for " +
                          std::to_string(image_dims[0]) + " images in " + images_path);
  ImageSet set;
  set.count = image_dims[0], set.channels = 1, set.height = image_dims[1], set.width = image_dims[2];
  set.pixels.assign(images.begin() + 16, images.end());
  set.labels.assign(labels.begin() + 8, labels.end());
  for (size_t i = 0; i < set.labels.size(); ++i)
    if (set.labels[i] > 9)
      fail(labels_path, "label " + std::to_string(i) + " is " + std::to_string(set.labels[i]) +
                            ", outside 0-9");
  return set;
}

ImageSet read_fashion_mnist(const std::string& dir, Split split) {
  if (!fs::is_directory(dir)) fail(dir, "Fashion-MNIST directory not found");
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  return read_idx(find_idx(dir, prefix + "-images-idx3-ubyte"),
                  find_idx(dir, prefix + "-labels-idx1-ubyte"));
}

}  // namespace dcomp
