// The runtime's layers, computed straight from the compressed weights: a
// weight tensor is kept as sparse rows of (offset, codebook index) entries,
// packed in 16 bits when they fit (the usual case: a 3x3 convolution row of
// 64 channels has 576 offsets, 10 bits, leaving 6 for the index).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/compressed_file.h"
#include "runtime/thread_pool.h"
#include "runtime/vector.h"

namespace dcomp::runtime {

// One channel's epilogue: y = clamp(x * a + b, lo, hi).
struct Affine {
  float a = 1.0f, b = 0.0f, lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
};

// What follows a layer's sums, per output channel: y = clamp(x * scale +
// shift, lo, hi). scale and shift are a folded BatchNorm and a bias, the
// clamp a fused ReLU (0, inf) or ReLU6 (0, 6); empty scale means 1, empty
// shift 0.
struct Epilogue {
  std::vector<float> scale, shift;
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  size_t bytes() const { return 4 * (scale.size() + shift.size()); }
  bool clamps() const { return lo != -std::numeric_limits<float>::infinity() || hi != std::numeric_limits<float>::infinity(); }
  // Folds a later y' = y * scale + shift (a BatchNorm) into this one; only
  // before any clamp is set.
  void then_affine(const std::vector<float>& scale, const std::vector<float>& shift);
  // Channel c's y = clamp(x * a + b, lo, hi).
  Affine of(int64_t c) const {
    return {scale.empty() ? 1.0f : scale[size_t(c)], shift.empty() ? 0.0f : shift[size_t(c)], lo, hi};
  }
  // n values of channel c, from x to y (which may be x); inline, so that it
  // vectorizes into the callers' loops.
  void apply(const float* x, int64_t n, int64_t c, float* y) const {
    const Affine e = of(c);
    for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(multiply_add(x[i], e.a, e.b), e.lo), e.hi);
  }
};

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

  // For rows r in [first, last): out_r[q] = clamp(sum * a + b, lo, hi) with
  // channel r's epilogue, sum over row r's nonzeros (offset, value) of value
  // * source_r[start_of[offset] + q], for q < n (a multiple of kVecFloats);
  // source_r = source + (r / rows_per_source) * source_step (a group's
  // input), out_r = out + (r - first) * out_step. Each nonzero adds a
  // multiple of one contiguous run of source_r, and the epilogue is applied
  // in registers. Reads each source_r up to the largest start plus n.
  void run_sums(int64_t first, int64_t last, const int32_t* start_of, const float* source, int64_t rows_per_source,
                int64_t source_step, int64_t n, const Epilogue& epilogue, float* out, int64_t out_step) const;

 private:
  int64_t row_length_ = 0;
  int index_bits_ = 0;
  std::vector<float> codebook_;
  std::vector<uint32_t> row_begin_;  // rows + 1 entry indices
  std::vector<uint16_t> entries16_;  // offset << index_bits | index, when it fits
  std::vector<uint32_t> entries32_;  // otherwise
};

// 2-D convolution of one image: any kernel size, stride, zero padding,
// dilation and groups (depthwise: groups == in == out), then the epilogue.
// Input (in, h, w), output (out, oh, ow); plan(h, w) once before forward.
struct Conv2d {
  SparseRows weight;  // (out, in / groups * kh * kw)
  int64_t in = 0, out = 0, groups = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  Epilogue epilogue;
  int64_t output_h(int64_t h) const { return (h + 2 * pad_h - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int64_t output_w(int64_t w) const { return (w + 2 * pad_w - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
  // The layout of the input's planes for an (h, w) input (sparse_layers.cpp).
  void plan(int64_t h, int64_t w);
  // Floats past the end of its input that forward reads: in the shared
  // layout a convolution at stride 1 without padding reads its input in
  // place, and the runs of the last rows go up to this far beyond it (into
  // lanes whose sums are discarded). 0 when the input is copied into planes.
  int64_t input_overrun() const { return in_place_ ? overrun_ : 0; }
  // With a pool, its threads share each output plane's vectors (the output
  // channels where planes are too small to give each a few).
  void forward(const float* x, float* y, ThreadPool* pool) const;

 private:
  // x laid out in planes, in this thread's buffer, as far as output
  // elements [q0, q1) read them; x itself when read in place.
  const float* planes_of(const float* x, int64_t q0, int64_t q1) const;
  // One input row's columns copied into one plane: dst[j] = row[source +
  // stride_w * j] for j < count, into its channel's planes at `plane`.
  struct ColumnCopy {
    int32_t plane = 0, source = 0, count = 0;
  };
  // A whole plane of one channel copied in vectors: dst[k] = x[source + k]
  // in the lanes of lane_masks_[masks + k / kVecFloats], zero in the others.
  struct PlaneCopy {
    int32_t plane = 0, source = 0, masks = 0;
  };
  int64_t h_ = 0, w_ = 0, row_width_ = 0, row_shifts_ = 1, plane_ = 0, planes_per_row_phase_ = 0, n_ = 0,
          overrun_ = 0, reach_ = 0;
  bool in_place_ = false;
  std::vector<int32_t> start_;           // run start of each weight offset (c, ky, kx), c within the group
  std::vector<int32_t> row_place_;       // where input row i goes in its channel's planes
  std::vector<ColumnCopy> column_copy_;  // and which of its columns go to which plane
  std::vector<PlaneCopy> plane_copy_;    // or, instead, whole planes
  std::vector<LaneMask> lane_masks_;     // the plane copies' masks, one per vector of a plane
};

// y = W x, then the epilogue (bias as its shift): for one input vector, or
// for `columns` vectors at once held feature-major, x (in, columns) -> y
// (out, columns), columns a multiple of kVecFloats.
struct Linear {
  SparseRows weight;  // (out, in)
  Epilogue epilogue;
  void forward(const float* x, float* y) const;
  void forward_columns(const float* x, int64_t columns, float* y) const;
};

}  // namespace dcomp::runtime
