#include "core/image_decode.h"

#include <cstdio>  // before jpeglib.h, which needs FILE

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <memory>

#include "core/datasets.h"

namespace dcomp {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 26;

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw DatasetError(path + ": " + what); }

void check_size(const std::string& path, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || width * height > kMaxPixels)
    fail(path, "image size " + std::to_string(width) + "x" + std::to_string(height) + " out of range");
}

Image decode_png(const std::string& path, int channels) {
  // libpng's simplified API reports errors in `message` instead of longjmp.
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, path.c_str())) fail(path, std::string("not a readable PNG (") + png.message + ")");
  std::unique_ptr<png_image, void (*)(png_imagep)> guard(&png, png_image_free);
  check_size(path, png.width, png.height);
  png.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  Image image{int(png.width), int(png.height), channels, std::vector<uint8_t>(PNG_IMAGE_SIZE(png))};
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr))
    fail(path, std::string("corrupt PNG (") + png.message + ")");
  return image;
}

// libjpeg reports fatal errors through error_exit, which must not return:
// it jumps back to decode_jpeg with the message.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;  // libjpeg only warns, and fills the rest with gray
};

void jpeg_error_exit(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

Image decode_jpeg(const std::string& path, int channels) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) fail(path, "cannot open");
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_error_exit;
  error.manager.emit_message = [](j_common_ptr common, int level) {
    // Other warnings (extraneous bytes, say) leave the image whole.
    if (level < 0 && common->err->msg_code == JWRN_JPEG_EOF) reinterpret_cast<JpegError*>(common->err)->truncated = true;
  };
  Image image;  // declared before setjmp, so that a jump leaves it in a defined state
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    fail(path, std::string("corrupt JPEG (") + error.message + ")");
  }
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file.get());
  jpeg_read_header(&info, TRUE);
  info.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  if (int64_t(info.output_width) * info.output_height > kMaxPixels) {
    jpeg_destroy_decompress(&info);
    fail(path, "image too large");
  }
  image.width = int(info.output_width);
  image.height = int(info.output_height);
  image.channels = channels;
  image.pixels.resize(size_t(image.width) * size_t(image.height) * size_t(channels));
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.pixels.data() + size_t(info.output_scanline) * size_t(image.width) * size_t(channels);
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  if (error.truncated) fail(path, "truncated JPEG");
  return image;
}

// Weights of a separable resampling filter: for each output index, the first
// input index and the normalised weights of a triangle filter whose support
// widens by the scale when shrinking (PIL's bilinear resize).
struct Taps {
  std::vector<int> first;
  std::vector<std::vector<float>> weights;
};

Taps bilinear_taps(int in, int out) {
  const double scale = double(in) / double(out);
  const double support = std::max(1.0, scale);
  Taps taps;
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, int(std::floor(center - support)));
    const int hi = std::min(in, int(std::ceil(center + support)));
    std::vector<float> w;
    double total = 0;
    for (int i = lo; i < hi; ++i) {
      const double x = std::abs((i + 0.5 - center) / support);
      const double v = std::max(0.0, 1.0 - x);
      w.push_back(float(v));
      total += v;
    }
    for (float& v : w) v = float(v / total);
    taps.first.push_back(lo);
    taps.weights.push_back(std::move(w));
  }
  return taps;
}

}  // namespace

Image decode_image(const std::string& path, int channels) {
  if (channels != 1 && channels != 3) fail(path, "images are decoded to 1 or 3 channels");
  unsigned char signature[8] = {};
  {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) fail(path, "cannot open");
    if (std::fread(signature, 1, sizeof signature, file.get()) < 3) fail(path, "truncated image");
  }
  if (png_sig_cmp(signature, 0, 8) == 0) return decode_png(path, channels);
  if (signature[0] == 0xFF && signature[1] == 0xD8 && signature[2] == 0xFF) return decode_jpeg(path, channels);
  fail(path, "neither a PNG nor a JPEG image");
}

Image resize_and_center_crop(const Image& image, int size) {
  // Shorter side to `size`, the other in proportion (torchvision truncates).
  const bool wide = image.width >= image.height;
  const int width = wide ? int(int64_t(size) * image.width / image.height) : size;
  const int height = wide ? size : int(int64_t(size) * image.height / image.width);
  const int c = image.channels;
  // Rows first, then columns, in float, rounded once at the end.
  const Taps horizontal = bilinear_taps(image.width, width), vertical = bilinear_taps(image.height, height);
  std::vector<float> rows(size_t(image.height) * size_t(width) * size_t(c));
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < width; ++x)
      for (int k = 0; k < c; ++k) {
        float sum = 0;
        for (size_t t = 0; t < horizontal.weights[size_t(x)].size(); ++t)
          sum += horizontal.weights[size_t(x)][t] *
                 image.pixels[(size_t(y) * size_t(image.width) + size_t(horizontal.first[size_t(x)]) + t) * size_t(c) + size_t(k)];
        rows[(size_t(y) * size_t(width) + size_t(x)) * size_t(c) + size_t(k)] = sum;
      }
  // torchvision's CenterCrop: offsets rounded half to even of (side - size) / 2.
  const int top = int(std::nearbyint((height - size) / 2.0)), left = int(std::nearbyint((width - size) / 2.0));
  Image out{size, size, c, std::vector<uint8_t>(size_t(size) * size_t(size) * size_t(c))};
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int k = 0; k < c; ++k) {
        const int sy = y + top, sx = x + left;
        float sum = 0;
        for (size_t t = 0; t < vertical.weights[size_t(sy)].size(); ++t)
          sum += vertical.weights[size_t(sy)][t] *
                 rows[((size_t(vertical.first[size_t(sy)]) + t) * size_t(width) + size_t(sx)) * size_t(c) + size_t(k)];
        out.pixels[(size_t(y) * size_t(size) + size_t(x)) * size_t(c) + size_t(k)] =
            uint8_t(std::clamp(std::lround(sum), 0L, 255L));
      }
  return out;
}

std::vector<uint8_t> planes(const Image& image) {
  const size_t plane = size_t(image.width) * size_t(image.height), c = size_t(image.channels);
  std::vector<uint8_t> out(plane * c);
  for (size_t i = 0; i < plane; ++i)
    for (size_t k = 0; k < c; ++k) out[k * plane + i] = image.pixels[i * c + k];
  return out;
}

}  // namespace dcomp
