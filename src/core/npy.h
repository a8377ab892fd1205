// NumPy .npy files (format version 1.0), written so that numpy.load opens
// them without allow_pickle: little-endian float32, int64 and fixed-width
// unicode arrays in C order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcomp::npy {

// `shape` must multiply to values.size(); written atomically.
void save(const std::string& path, const std::vector<float>& values, const std::vector<int64_t>& shape);
void save(const std::string& path, const std::vector<int64_t>& values, const std::vector<int64_t>& shape);
// Unicode strings ('<U' of the longest string's length; ASCII expected).
void save(const std::string& path, const std::vector<std::string>& values, const std::vector<int64_t>& shape);

}  // namespace dcomp::npy
