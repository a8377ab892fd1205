// PNG files as uint8 planes for the runtime's command line (libpng).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcomp::runtime {

// The image as (channels, height, width) uint8 planes: colour converted to
// grey for one channel, grey to RGB for three; alpha dropped; 16-bit
// samples reduced to 8. Throws std::runtime_error naming the file and the
// fault, including a size other than height x width.
std::vector<uint8_t> read_png(const std::string& path, int channels, int height, int width);

}  // namespace dcomp::runtime
