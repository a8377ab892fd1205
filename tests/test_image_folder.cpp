// Image folders in torchvision's ImageFolder layout: PNG and JPEG decoding,
// resize and centre crop, classes from folder names, and the errors a user
// with a broken folder must see.
#include <gtest/gtest.h>
#include <png.h>

#include <cstdio>  // before jpeglib.h
#include <jpeglib.h>

#include <filesystem>
#include <fstream>

#include "core/datasets.h"
#include "core/image_decode.h"
#include "core/image_folder.h"
#include "temp_dir.h"

using namespace dcomp;
using dcomp::testing::TempDir;
namespace fs = std::filesystem;

namespace {

// (height, width, channels) pixels: value = (7 * x + 3 * y + 50 * c) mod 256.
std::vector<uint8_t> pattern(int width, int height, int channels) {
  std::vector<uint8_t> p(size_t(width * height * channels));
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c) p[size_t((y * width + x) * channels + c)] = uint8_t((7 * x + 3 * y + 50 * c) % 256);
  return p;
}

void write_png(const std::string& path, int width, int height, int channels, const std::vector<uint8_t>& pixels) {
  fs::create_directories(fs::path(path).parent_path());
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr)) << image.message;
}

void write_jpeg(const std::string& path, int width, int height, const std::vector<uint8_t>& rgb) {
  fs::create_directories(fs::path(path).parent_path());
  FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(file);
  jpeg_compress_struct info{};
  jpeg_error_mgr error{};
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = JDIMENSION(width);
  info.image_height = JDIMENSION(height);
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, 95, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(rgb.data()) + size_t(info.next_scanline) * size_t(width) * 3;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
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

TEST(ImageDecode, PngRoundTripsAndConvertsToGray) {
  TempDir dir;
  const auto rgb = pattern(9, 5, 3);
  write_png(dir.file("a.png"), 9, 5, 3, rgb);
  const Image image = decode_image(dir.file("a.png"), 3);
  EXPECT_EQ(image.width, 9);
  EXPECT_EQ(image.height, 5);
  EXPECT_EQ(image.pixels, rgb);
  EXPECT_EQ(decode_image(dir.file("a.png"), 1).pixels.size(), 9u * 5u);
}

TEST(ImageDecode, JpegDecodesCloseToWhatWasWritten) {
  TempDir dir;
  std::vector<uint8_t> smooth(size_t(16 * 16 * 3));
  for (size_t i = 0; i < smooth.size(); ++i) smooth[i] = uint8_t(100 + (i / 3) % 16 * 4);
  write_jpeg(dir.file("a.jpg"), 16, 16, smooth);
  const Image image = decode_image(dir.file("a.jpg"), 3);
  ASSERT_EQ(image.pixels.size(), smooth.size());
  double error = 0;
  for (size_t i = 0; i < smooth.size(); ++i) error += std::abs(int(image.pixels[i]) - int(smooth[i]));
  EXPECT_LT(error / double(smooth.size()), 3.0);
}

TEST(ImageDecode, BrokenFilesNameThemselves) {
  TempDir dir;
  write_jpeg(dir.file("whole.jpg"), 32, 32, pattern(32, 32, 3));
  std::ifstream in(dir.file("whole.jpg"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir.file("cut.jpg"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::ofstream(dir.file("text.png")) << "not an image at all";
  write_png(dir.file("whole.png"), 32, 32, 3, pattern(32, 32, 3));
  std::ifstream png_in(dir.file("whole.png"), std::ios::binary);
  const std::string png((std::istreambuf_iterator<char>(png_in)), {});
  std::ofstream(dir.file("cut.png"), std::ios::binary) << png.substr(0, png.size() - 30);
  for (const char* name : {"cut.jpg", "text.png", "cut.png"}) {
    const std::string what = error_of([&] { decode_image(dir.file(name), 3); });
    EXPECT_NE(what.find(name), std::string::npos) << name << ": " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

// At scale 1 the filter is the identity; torchvision's centre crop of a 40x32
// image to 32 drops 4 columns each side.
TEST(ImageDecode, CenterCropOfAnUnscaledImage) {
  const Image image{40, 32, 3, pattern(40, 32, 3)};
  const Image out = resize_and_center_crop(image, 32);
  ASSERT_EQ(out.width, 32);
  ASSERT_EQ(out.height, 32);
  for (int y = 0; y < 32; y += 5)
    for (int x = 0; x < 32; x += 3)
      EXPECT_EQ(out.pixels[size_t((y * 32 + x) * 3)], image.pixels[size_t((y * 40 + x + 4) * 3)]) << x << "," << y;
}

// Halving averages each 2x2 block's neighbourhood: a constant image stays
// constant, and a linear ramp stays a ramp of half the length.
TEST(ImageDecode, ShrinkingAveragesLikeAnAntialiasedFilter) {
  Image ramp{64, 64, 1, std::vector<uint8_t>(64 * 64)};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) ramp.pixels[size_t(y * 64 + x)] = uint8_t(2 * x + 40);
  const Image out = resize_and_center_crop(ramp, 32);
  // Output column j covers input columns 2j and 2j+1: value 2 * (2j + 0.5) + 40.
  for (int x = 2; x < 30; ++x) EXPECT_NEAR(out.pixels[size_t(10 * 32 + x)], 4 * x + 41, 1) << x;
}

TEST(ImageFolder, ReadsClassesInSortedOrder) {
  TempDir dir;
  write_png(dir.file("train/zebra/a.png"), 40, 32, 3, pattern(40, 32, 3));
  write_jpeg(dir.file("train/ant/b.JPG"), 32, 48, pattern(32, 48, 3));
  write_png(dir.file("train/ant/a.png"), 16, 16, 1, pattern(16, 16, 1));
  std::ofstream(dir.file("train/ant/notes.txt")) << "ignored: not an image";
  const std::vector<std::string> classes = image_folder_classes(dir.file("train"));
  EXPECT_EQ(classes, (std::vector<std::string>{"ant", "zebra"}));
  const ImageSet set = read_image_folder(dir.file("train"), classes, 32, 3);
  EXPECT_EQ(set.count, 3);
  EXPECT_EQ(set.labels, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(set.pixels.size(), size_t(3 * 3 * 32 * 32));
}

TEST(ImageFolder, ErrorsNameTheFolderOrFile) {
  TempDir dir;
  write_png(dir.file("train/cat/a.png"), 8, 8, 3, pattern(8, 8, 3));
  fs::create_directories(dir.file("train/dog"));
  EXPECT_NE(error_of([&] { read_image_folder(dir.file("train"), {"cat", "dog"}, 32, 3); }).find("dog: no .png or .jpg"),
            std::string::npos);
  write_png(dir.file("val/cow/a.png"), 8, 8, 3, pattern(8, 8, 3));
  EXPECT_NE(error_of([&] { read_image_folder(dir.file("val"), {"cat", "dog"}, 32, 3); })
                .find("cow: a class that the training folder does not have"),
            std::string::npos);
  std::ofstream(dir.file("train/dog/broken.png")) << "garbage";
  EXPECT_NE(error_of([&] { read_image_folder(dir.file("train"), {"cat", "dog"}, 32, 3); }).find("broken.png"),
            std::string::npos);
  EXPECT_NE(error_of([&] { image_folder_classes(dir.file("nowhere")); }).find("directory not found"), std::string::npos);
  fs::create_directories(dir.file("empty"));
  EXPECT_NE(error_of([&] { image_folder_classes(dir.file("empty")); }).find("no class folders"), std::string::npos);
}
