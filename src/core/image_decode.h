// PNG and JPEG images decoded to pixels (libpng, libjpeg-turbo), and the
// resize and centre crop that torchvision's usual evaluation transforms
// apply. No LibTorch: the runtime reads images too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcomp {

// Pixels (height, width, channels) row-major, interleaved.
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// Decodes a PNG or a JPEG file (told apart by their signatures) to 1 (gray)
// or 3 (RGB) channels, converting as needed. Throws DatasetError naming the
// file on anything unreadable, corrupt or over 2^26 pixels.
Image decode_image(const std::string& path, int channels);

// torchvision's Resize(size) then CenterCrop(size): the shorter side scaled
// to `size` with a bilinear filter widened when shrinking (antialias, as PIL
// does), then the central size x size square.
Image resize_and_center_crop(const Image& image, int size);

// The pixels as (channels, height, width) planes, the layout of ImageSet
// and of the networks' input.
std::vector<uint8_t> planes(const Image& image);

}  // namespace dcomp
