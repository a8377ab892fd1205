#include "runtime/png_reader.h"

#include <png.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace dcomp::runtime {

std::vector<uint8_t> read_png(const std::string& path, int channels, int height, int width) {
  // libpng's simplified API: it does the conversions and reports errors in
  // `image.message` instead of longjmp.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    throw std::runtime_error(path + ": not a readable PNG (" + image.message + ")");
  std::unique_ptr<png_image, void (*)(png_imagep)> guard(&image, png_image_free);
  if (int(image.height) != height || int(image.width) != width)
    throw std::runtime_error(path + ": image is " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                             ", the model takes " + std::to_string(width) + "x" + std::to_string(height));
  image.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  std::vector<uint8_t> interleaved(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, interleaved.data(), 0, nullptr))
    throw std::runtime_error(path + ": " + image.message);
  // (height, width, channels) -> (channels, height, width)
  std::vector<uint8_t> planes(interleaved.size());
  for (int c = 0; c < channels; ++c)
    for (int i = 0; i < height * width; ++i) planes[size_t(c * height * width + i)] = interleaved[size_t(i * channels + c)];
  return planes;
}

}  // namespace dcomp::runtime
