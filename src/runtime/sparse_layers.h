// The runtime's layers, computed straight from the compressed weights: a
// weight tensor is kept as sparse rows of (offset, codebook index) entries,
// packed in 16 bits when they fit (the usual case: a 3x3 convolution row of
// 64 channels has 576 offsets, 10 bits, leaving 6 for the index).
#pragma once

#include <cstdint>
#include <vector>

#include "core/compressed_file.h"

namespace dcomp::runtime {

// Floats per vector of the kernels: one AVX-512 register.
constexpr int64_t kVecFloats = 16;

class SparseRows {
 public:
  // A shared tensor whose first dimension is the rows: (rows, row_length).
  SparseRows() = default;
  explicit SparseRows(const dcz::Tensor& tensor);
  int64_t rows() const { return int64_t(row_begin_.size()) - 1; }
  int64_t row_length() const { return row_length_; }
  size_t bytes() const;

  // Calls f(offset, value) for each nonzero of row r, in offset order.
  template <typename F>
  void for_each(int64_t r, F f) const {
    // Members read into locals once: f's stores could alias them otherwise.
    const int bits = index_bits_;
    const uint32_t mask = (1u << bits) - 1, begin = row_begin_[size_t(r)], end = row_begin_[size_t(r) + 1];
    const float* const codebook = codebook_.data();
    if (!entries16_.empty()) {
      const uint16_t* const entries = entries16_.data();
      for (uint32_t e = begin; e < end; ++e) f(int64_t(entries[e] >> bits), codebook[entries[e] & mask]);
    } else {
      const uint32_t* const entries = entries32_.data();
      for (uint32_t e = begin; e < end; ++e) f(int64_t(entries[e] >> bits), codebook[entries[e] & mask]);
    }
  }

  // out[q] = sum over row r's nonzeros (offset, value) of value *
  // source[start_of[offset] + q], for q < n (a multiple of kVecFloats): each
  // nonzero adds a multiple of one contiguous run of source. Reads source up
  // to the largest start plus n.
  void run_sum(int64_t r, const int32_t* start_of, const float* source, int64_t n, float* out) const;

 private:
  int64_t row_length_ = 0;
  int index_bits_ = 0;
  std::vector<float> codebook_;
  std::vector<uint32_t> row_begin_;  // rows + 1 entry indices
  std::vector<uint16_t> entries16_;  // offset << index_bits | index, when it fits
  std::vector<uint32_t> entries32_;  // otherwise
};

// Per output channel y = x * scale + shift: a folded BatchNorm, or a bias.
struct ChannelAffine {
  std::vector<float> scale, shift;
  size_t bytes() const { return 4 * (scale.size() + shift.size()); }
};

// 2-D convolution of one image, square kernel, zero padding, then the
// channel affine and optionally ReLU. Output (out, oh, ow).
struct Conv2d {
  SparseRows weight;  // (out, in * k * k)
  int64_t in = 0, out = 0, kernel = 0, stride = 1, padding = 0;
  ChannelAffine affine;
  int64_t output_size(int64_t size) const { return (size + 2 * padding - kernel) / stride + 1; }
  void forward(const float* x, int64_t h, int64_t w, float* y, bool relu) const;
};

// y = W x + b, optionally ReLU: for one input vector, or for `columns`
// vectors at once held feature-major, x (in, columns) -> y (out, columns),
// columns a multiple of kVecFloats.
struct Linear {
  SparseRows weight;  // (out, in)
  std::vector<float> bias;
  void forward(const float* x, float* y, bool relu) const;
  void forward_columns(const float* x, int64_t columns, float* y, bool relu) const;
};

}  // namespace dcomp::runtime
