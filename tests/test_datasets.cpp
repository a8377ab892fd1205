#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "core/datasets.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using dcomp::DatasetError;
using dcomp::testing::TempDir;

namespace {

void write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
}

// `n` CIFAR records; record i has label i % 10 and every pixel byte i % 251.
std::vector<uint8_t> cifar_records(int n) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < n; ++i) {
    bytes.push_back(uint8_t(i % 10));
    bytes.insert(bytes.end(), 3 * 32 * 32, uint8_t(i % 251));
  }
  return bytes;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DatasetError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Cifar10Reader, ReadsRecords) {
  TempDir dir;
  write(dir.file("b.bin"), cifar_records(25));
  const dcomp::ImageSet set = dcomp::read_cifar10_file(dir.file("b.bin"), 25);
  ASSERT_EQ(set.count, 25);
  EXPECT_EQ(set.channels, 3);
  EXPECT_EQ(set.labels[13], 3);
  EXPECT_EQ(set.pixels[size_t(13 * set.image_bytes() + 100)], 13);
}

TEST(Cifar10Reader, RejectsMissingFile) {
  TempDir dir;
  const std::string message = error_of([&] { dcomp::read_cifar10_file(dir.file("nope.bin")); });
  EXPECT_NE(message.find("nope.bin: missing"), std::string::npos) << message;
}

TEST(Cifar10Reader, RejectsTruncatedFile) {
  TempDir dir;
  std::vector<uint8_t> bytes = cifar_records(3);
  bytes.resize(bytes.size() - 7);
  write(dir.file("t.bin"), bytes);
  const std::string message = error_of([&] { dcomp::read_cifar10_file(dir.file("t.bin"), 0); });
  EXPECT_NE(message.find("not a whole number of 3073-byte records"), std::string::npos) << message;
}

TEST(Cifar10Reader, RejectsShortBatch) {
  TempDir dir;
  write(dir.file("s.bin"), cifar_records(4));
  const std::string message = error_of([&] { dcomp::read_cifar10_file(dir.file("s.bin")); });
  EXPECT_NE(message.find("4 records, expected 10000"), std::string::npos) << message;
}

TEST(Cifar10Reader, RejectsBadLabel) {
  TempDir dir;
  std::vector<uint8_t> bytes = cifar_records(3);
  bytes[2 * dcomp::kCifarRecordBytes] = 10;
  write(dir.file("l.bin"), bytes);
  const std::string message = error_of([&] { dcomp::read_cifar10_file(dir.file("l.bin"), 0); });
  EXPECT_NE(message.find("record 2 has label 10, outside 0-9"), std::string::npos) << message;
}

TEST(Cifar10Reader, RejectsMissingDirectory) {
  const std::string message = error_of([] { dcomp::read_cifar10("/nonexistent/cifar", dcomp::Split::kTest); });
  EXPECT_NE(message.find("directory not found"), std::string::npos) << message;
}

// The shared lossy copy: every class appears 1000 times in the test batch.
TEST(Cifar10Reader, ReadsSharedTestBatch) {
  const std::string dir = DCOMP_SHARED_CIFAR;
  if (!fs::exists(dir + "/test_batch.bin")) GTEST_SKIP() << "no CIFAR-10 copy at " << dir;
  const dcomp::ImageSet set = dcomp::read_cifar10(dir, dcomp::Split::kTest);
  ASSERT_EQ(set.count, 10000);
  std::vector<int> counts(10);
  for (uint8_t label : set.labels) ++counts[label];
  for (int c : counts) EXPECT_EQ(c, 1000);
}

namespace {

std::vector<uint8_t> be32(uint32_t v) { return {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)}; }

std::vector<uint8_t> idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> b = be32(0x803);
  for (uint32_t d : {n, rows, cols}) {
    auto x = be32(d);
    b.insert(b.end(), x.begin(), x.end());
  }
  for (uint32_t i = 0; i < n * rows * cols; ++i) b.push_back(uint8_t(i));
  return b;
}

std::vector<uint8_t> idx_labels(uint32_t n) {
  std::vector<uint8_t> b = be32(0x801);
  auto x = be32(n);
  b.insert(b.end(), x.begin(), x.end());
  for (uint32_t i = 0; i < n; ++i) b.push_back(uint8_t(i % 10));
  return b;
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

}  // namespace

TEST(IdxReader, ReadsPlainAndGzip) {
  TempDir dir;
  write(dir.file("train-images-idx3-ubyte"), idx_images(6, 28, 28));
  write_gzip(dir.file("train-labels-idx1-ubyte.gz"), idx_labels(6));
  const dcomp::ImageSet set = dcomp::read_fashion_mnist(dir.str(), dcomp::Split::kTrain);
  EXPECT_EQ(set.count, 6);
  EXPECT_EQ(set.height, 28);
  EXPECT_EQ(set.labels[5], 5);
  EXPECT_EQ(set.pixels[300], uint8_t(300));
}

TEST(IdxReader, RejectsBadMagicAndSizes) {
  TempDir dir;
  auto images = idx_images(2, 4, 4);
  write(dir.file("img"), images);
  write(dir.file("lbl"), idx_labels(3));
  EXPECT_NE(error_of([&] { dcomp::read_idx(dir.file("img"), dir.file("lbl")); }).find("3 labels for 2 images"),
            std::string::npos);
  images[3] = 0x02;
  write(dir.file("img"), images);
  EXPECT_NE(error_of([&] { dcomp::read_idx(dir.file("img"), dir.file("lbl")); }).find("bad IDX magic"),
            std::string::npos);
  images = idx_images(2, 4, 4);
  images.pop_back();
  write(dir.file("img"), images);
  EXPECT_NE(error_of([&] { dcomp::read_idx(dir.file("img"), dir.file("lbl")); }).find("does not match its IDX header"),
            std::string::npos);
}

TEST(IdxReader, RejectsCorruptGzip) {
  TempDir dir;
  write(dir.file("train-images-idx3-ubyte.gz"), {0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7});
  write(dir.file("train-labels-idx1-ubyte"), idx_labels(1));
  EXPECT_FALSE(error_of([&] { dcomp::read_fashion_mnist(dir.str(), dcomp::Split::kTrain); }).empty());
}

// Debian's dataset-fashion-mnist package.
TEST(IdxReader, ReadsFashionMnistPackage) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const dcomp::ImageSet test = dcomp::read_fashion_mnist(dir, dcomp::Split::kTest);
  EXPECT_EQ(test.count, 10000);
  EXPECT_EQ(test.height, 28);
}
