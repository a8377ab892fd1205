#include "core/npy.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "core/atomic_file.h"

namespace dcomp::npy {
namespace {

// Magic, version 1.0, a little-endian uint16 header length, then a Python
// dict literal padded with spaces and ended by '\n' so that the data starts
// at a multiple of 64 bytes.
std::string header(const std::string& descr, const std::vector<int64_t>& shape, size_t count) {
  int64_t product = 1;
  std::string dims;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("npy: negative dimension");
    product *= d;
    dims += std::to_string(d) + ", ";
  }
  if (size_t(product) != count) throw std::invalid_argument("npy: shape does not match the number of values");
  if (shape.size() != 1 && !dims.empty()) dims.erase(dims.size() - 2);  // (3, 4) but (5,)
  if (shape.size() == 1) dims.pop_back();
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(dict.size() & 0xFF);
  out += char(dict.size() >> 8);
  return out + dict;
}

template <typename T>
void save_numbers(const std::string& path, const std::vector<T>& values, const std::vector<int64_t>& shape,
                  const std::string& descr) {
  std::string bytes = header(descr, shape, values.size());
  const size_t at = bytes.size();
  bytes.resize(at + values.size() * sizeof(T));
  std::memcpy(&bytes[at], values.data(), values.size() * sizeof(T));  // this machine is little-endian
  write_file_atomic(path, bytes);
}

}  // namespace

void save(const std::string& path, const std::vector<float>& values, const std::vector<int64_t>& shape) {
  save_numbers(path, values, shape, "<f4");
}

void save(const std::string& path, const std::vector<int64_t>& values, const std::vector<int64_t>& shape) {
  save_numbers(path, values, shape, "<i8");
}

void save(const std::string& path, const std::vector<std::string>& values, const std::vector<int64_t>& shape) {
  size_t width = 1;  // numpy has no zero-width unicode
  for (const std::string& s : values) width = std::max(width, s.size());
  std::string bytes = header("<U" + std::to_string(width), shape, values.size());
  for (const std::string& s : values)
    for (size_t i = 0; i < width; ++i) {
      const char32_t c = i < s.size() ? char32_t(uint8_t(s[i])) : 0;  // UTF-32LE
      for (int b = 0; b < 4; ++b) bytes += char((c >> (8 * b)) & 0xFF);
    }
  write_file_atomic(path, bytes);
}

}  // namespace dcomp::npy
