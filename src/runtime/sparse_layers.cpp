#include "runtime/sparse_layers.h"

#include <algorithm>
#include <vector>
#include <stdexcept>

namespace dcomp::runtime {

SparseRows::SparseRows(const dcz::Tensor& t) {
  if (t.storage != dcz::Storage::kShared || t.shape.size() < 2)
    throw std::invalid_argument(t.name + ": expected a weight-shared tensor of rank 2 or more");
  const int64_t rows = t.shape[0];
  row_length_ = int64_t(t.numel()) / std::max<int64_t>(rows, 1);
  codebook_ = t.shared.codebook;
  while ((size_t{1} << index_bits_) < codebook_.size()) ++index_bits_;
  int offset_bits = 0;
  while ((int64_t{1} << offset_bits) < row_length_) ++offset_bits;
  if (offset_bits + index_bits_ > 32) throw std::invalid_argument(t.name + ": rows too long for the runtime");
  const bool narrow = offset_bits + index_bits_ <= 16;

  // Positions are ascending in row-major order, so rows come one after another.
  row_begin_.assign(size_t(rows) + 1, 0);
  for (uint32_t p : t.shared.positions) ++row_begin_[size_t(p / uint64_t(row_length_)) + 1];
  for (size_t r = 1; r < row_begin_.size(); ++r) row_begin_[r] += row_begin_[r - 1];
  for (size_t i = 0; i < t.shared.positions.size(); ++i) {
    const uint32_t entry = uint32_t(t.shared.positions[i] % uint64_t(row_length_)) << index_bits_ | t.shared.indices[i];
    if (narrow) entries16_.push_back(uint16_t(entry));
    else entries32_.push_back(entry);
  }
}

size_t SparseRows::bytes() const {
  return 4 * (codebook_.size() + row_begin_.size()) + 2 * entries16_.size() + 4 * entries32_.size();
}

namespace {

// y = x * scale + shift, then ReLU if asked, over n values.
void affine_relu(const float* x, int64_t n, float scale, float shift, bool relu, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] * scale + shift;
    y[i] = relu && v < 0 ? 0.0f : v;
  }
}

}  // namespace

void Conv2d::forward(const float* x, int64_t h, int64_t w, float* y, bool relu) const {
  if (stride == 1) {
    forward_unit_stride(x, h, w, y, relu);
    return;
  }
  const int64_t oh = output_size(h), ow = output_size(w);
  for (int64_t o = 0; o < out; ++o) {
    float* plane = y + o * oh * ow;  // (oh, ow)
    std::fill(plane, plane + oh * ow, 0.0f);
    // Each nonzero weight w[o][c][ky][kx] adds w * (input plane c, shifted by
    // (ky, kx) and strided) to the output plane: a row-wise axpy.
    weight.for_each(o, [&](int64_t offset, float value) {
      const int64_t c = offset / (kernel * kernel), ky = offset / kernel % kernel, kx = offset % kernel;
      const float* input = x + c * h * w;
      // Output columns whose input column ox * stride + kx - padding lies inside [0, w).
      const int64_t first = std::max<int64_t>(0, (padding - kx + stride - 1) / stride);
      const int64_t last = std::min<int64_t>(ow, (w - 1 + padding - kx) / stride + 1);
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t iy = oy * stride + ky - padding;
        if (iy < 0 || iy >= h) continue;
        const float* in_row = input + iy * w + kx - padding;
        float* out_row = plane + oy * ow;
        if (stride == 1) {
          for (int64_t ox = first; ox < last; ++ox) out_row[ox] += value * in_row[ox];
        } else {
          for (int64_t ox = first; ox < last; ++ox) out_row[ox] += value * in_row[ox * stride];
        }
      }
    });
    affine_relu(plane, oh * ow, affine.scale[size_t(o)], affine.shift[size_t(o)], relu, plane);
  }
}

// Stride 1: with the input zero-padded to (in, h + 2p, w + 2p) and the
// output computed at the padded width, output element q = oy * pw + ox
// reads padded input q + ky * pw + kx for every (ky, kx). So each nonzero
// weight is one contiguous axpy over the whole plane, long enough to
// vectorize well; the last 2p columns of each output row are discarded.
void Conv2d::forward_unit_stride(const float* x, int64_t h, int64_t w, float* y, bool relu) const {
  const int64_t ph = h + 2 * padding, pw = w + 2 * padding, oh = output_size(h), ow = output_size(w);
  thread_local std::vector<float> padded, wide;
  padded.assign(size_t(in * ph * pw + kernel), 0.0f);  // + kernel: the discarded columns read past the end
  for (int64_t c = 0; c < in; ++c)
    for (int64_t i = 0; i < h; ++i)
      std::copy(x + (c * h + i) * w, x + (c * h + i + 1) * w, padded.begin() + (c * ph + i + padding) * pw + padding);
  wide.resize(size_t(oh * pw));
  // Where the plane that weight offset (c, ky, kx) reads starts in the padded
  // input, for every offset of a row: no division in the inner loops.
  thread_local std::vector<int64_t> start;
  start.resize(size_t(in * kernel * kernel));
  for (int64_t c = 0, i = 0; c < in; ++c)
    for (int64_t ky = 0; ky < kernel; ++ky)
      for (int64_t kx = 0; kx < kernel; ++kx) start[size_t(i++)] = c * ph * pw + ky * pw + kx;
  const int64_t n = oh * pw;
  for (int64_t o = 0; o < out; ++o) {
    float* acc = wide.data();
    std::fill(acc, acc + n, 0.0f);
    weight.for_each(o, [&](int64_t offset, float value) {
      const float* source = padded.data() + start[size_t(offset)];
      for (int64_t q = 0; q < n; ++q) acc[q] += value * source[q];
    });
    for (int64_t i = 0; i < oh; ++i)
      affine_relu(acc + i * pw, ow, affine.scale[size_t(o)], affine.shift[size_t(o)], relu, y + (o * oh + i) * ow);
  }
}

void Linear::forward(const float* x, float* y, bool relu) const {
  for (int64_t o = 0; o < weight.rows(); ++o) {
    float sum = bias.empty() ? 0.0f : bias[size_t(o)];
    weight.for_each(o, [&](int64_t i, float value) { sum += value * x[i]; });
    y[o] = relu && sum < 0 ? 0.0f : sum;
  }
}

}  // namespace dcomp::runtime
