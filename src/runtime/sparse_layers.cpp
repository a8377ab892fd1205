#include "runtime/sparse_layers.h"

#include <algorithm>
#include <cstring>
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

// GCC and Clang vectors of kVecFloats floats: one AVX-512 register (two AVX2,
// four SSE ones); loaded through memcpy, since the runs are not aligned.
using Vec = float __attribute__((vector_size(4 * kVecFloats)));

Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// out[q0, q0 + V * kVecFloats) of SparseRows::run_sum, its V accumulators
// held in registers while every run adds into them.
template <int V>
void run_sum_block(const float* source, const int32_t* starts, const float* values, size_t count, int64_t q0,
                   float* out) {
  Vec acc[V] = {};
  for (size_t k = 0; k < count; ++k) {
    const float* run = source + starts[k] + q0;
    const Vec value = Vec{} + values[k];
    for (int v = 0; v < V; ++v) acc[v] += value * load(run + v * kVecFloats);
  }
  std::memcpy(out + q0, acc, sizeof acc);
}

}  // namespace

void SparseRows::run_sum(int64_t r, const int32_t* start_of, const float* source, int64_t n, float* out) const {
  // The row's nonzeros as (run start, value), decoded once for all blocks.
  thread_local std::vector<int32_t> starts;
  thread_local std::vector<float> values;
  starts.resize(size_t(row_length_));
  values.resize(size_t(row_length_));
  int32_t* const s = starts.data();
  float* const v = values.data();
  size_t count = 0;
  for_each(r, [&](int64_t offset, float value) {
    s[count] = start_of[offset];
    v[count++] = value;
  });
  constexpr int kBlockVecs = 4;
  int64_t q = 0;
  for (; q + kBlockVecs * kVecFloats <= n; q += kBlockVecs * kVecFloats)
    run_sum_block<kBlockVecs>(source, s, v, count, q, out);
  for (; q < n; q += kVecFloats) run_sum_block<1>(source, s, v, count, q, out);
}

// The zero-padded input (in, ph, pw) is split into stride^2 phase planes:
// phase (a, b) of channel c holds padded[c][a + s*i][b + s*j] as a (qh, qw)
// plane, qh = ceil(ph / s), qw = ceil(pw / s). Output (oy, ox) reads
// padded[c][s*oy + ky][s*ox + kx] = phase (ky % s, kx % s)[oy + ky/s][ox + kx/s],
// so with the output computed at width qw (the last qw - ow columns of each
// row discarded), output element q = oy * qw + ox reads that phase plane at
// q + (ky/s) * qw + kx/s. Each nonzero weight w[o][c][ky][kx] thus adds w
// times one contiguous run of the phase planes to output plane o, whatever
// the stride (for stride 1 the one phase is the padded input itself).
void Conv2d::forward(const float* x, int64_t h, int64_t w, float* y, bool relu) const {
  const int64_t s = stride, ph = h + 2 * padding, pw = w + 2 * padding;
  const int64_t qh = (ph + s - 1) / s, qw = (pw + s - 1) / s, plane = qh * qw;
  const int64_t oh = output_size(h), ow = output_size(w);
  const int64_t n = (oh * qw + kVecFloats - 1) / kVecFloats * kVecFloats;

  // Runs start inside the planes and are n long: n zeros past the planes
  // keep every read in bounds.
  thread_local std::vector<float> phases, wide;
  phases.assign(size_t(in * s * s * plane + n), 0.0f);
  for (int64_t c = 0; c < in; ++c)
    for (int64_t i = 0; i < h; ++i) {
      const int64_t py = i + padding;
      const float* row = x + (c * h + i) * w;
      float* phase_rows = phases.data() + (c * s + py % s) * s * plane + py / s * qw;
      // Input columns j, j + s, ... go to phase (j + padding) % s, one after another.
      for (int64_t j0 = 0; j0 < std::min(s, w); ++j0) {
        const int64_t px = j0 + padding;
        float* dst = phase_rows + px % s * plane + px / s;
        for (int64_t j = j0; j < w; j += s) *dst++ = row[j];
      }
    }
  // Where the run of weight offset (c, ky, kx) starts.
  thread_local std::vector<int32_t> start;
  start.resize(size_t(in * kernel * kernel));
  for (int64_t c = 0, i = 0; c < in; ++c)
    for (int64_t ky = 0; ky < kernel; ++ky)
      for (int64_t kx = 0; kx < kernel; ++kx)
        start[size_t(i++)] = int32_t(((c * s + ky % s) * s + kx % s) * plane + ky / s * qw + kx / s);

  wide.resize(size_t(n));
  for (int64_t o = 0; o < out; ++o) {
    weight.run_sum(o, start.data(), phases.data(), n, wide.data());
    for (int64_t i = 0; i < oh; ++i)
      affine_relu(wide.data() + i * qw, ow, affine.scale[size_t(o)], affine.shift[size_t(o)], relu,
                  y + (o * oh + i) * ow);
  }
}

void Linear::forward(const float* x, float* y, bool relu) const {
  for (int64_t o = 0; o < weight.rows(); ++o) {
    float sum = bias.empty() ? 0.0f : bias[size_t(o)];
    weight.for_each(o, [&](int64_t i, float value) { sum += value * x[i]; });
    y[o] = relu && sum < 0 ? 0.0f : sum;
  }
}

// Input i of every column is one run of x, at i * columns: each nonzero
// w[o][i] adds w times it to output row o.
void Linear::forward_columns(const float* x, int64_t columns, float* y, bool relu) const {
  thread_local std::vector<int32_t> start;
  start.resize(size_t(weight.row_length()));
  for (size_t i = 0; i < start.size(); ++i) start[i] = int32_t(int64_t(i) * columns);
  for (int64_t o = 0; o < weight.rows(); ++o) {
    float* row = y + o * columns;
    weight.run_sum(o, start.data(), x, columns, row);
    affine_relu(row, columns, 1.0f, bias.empty() ? 0.0f : bias[size_t(o)], relu, row);
  }
}

}  // namespace dcomp::runtime
