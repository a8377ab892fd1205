#include "runtime/sparse_layers.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>
#include <stdexcept>
#include <utility>

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

void Epilogue::then_affine(const std::vector<float>& s, const std::vector<float>& t) {
  // (x * a + b) * s + t = x * (a s) + (b s + t)
  const size_t n = s.size();
  scale.resize(n, 1.0f);
  shift.resize(n, 0.0f);
  for (size_t c = 0; c < n; ++c) {
    scale[c] *= s[c];
    shift[c] = shift[c] * s[c] + t[c];
  }
}

namespace {

// Accumulator registers of one pass of run_sum: 12 of the 16 AVX2 registers
// (or of AVX-512's 32), leaving the broadcast value and room for the loads.
constexpr int kMaxBlockVecs = 12;

// dst[0, n) = src[0, n), inline: the rows copied here are 8 to 32 floats,
// where a call to memcpy costs more than the copy.
void copy_row(const float* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + kVecFloats <= n; i += kVecFloats) std::memcpy(dst + i, src + i, sizeof(Vec));
  for (; i < n; ++i) dst[i] = src[i];
}

// out[q0, q0 + V * kVecFloats) of SparseRows::run_sum, its V accumulators
// held in registers while every run adds into them.
template <int V>
void run_sum_block(const float* source, const int32_t* starts, const float* values, size_t count, int64_t q0,
                   const Affine& after, float* out) {
  Vec acc[V] = {};
  for (size_t k = 0; k < count; ++k) {
    const float* run = source + starts[k] + q0;
    const float value = values[k];
    for (int v = 0; v < V; ++v) acc[v] = multiply_add(load(run + v * kVecFloats), value, acc[v]);
  }
  for (int v = 0; v < V; ++v) {
    const Vec y = multiply_add(acc[v], after.a, Vec{} + after.b);
    acc[v] = y < after.lo ? after.lo : (y > after.hi ? after.hi : y);
  }
  std::memcpy(out + q0, acc, sizeof acc);
}

template <int... V>
void run_sum_block_of(int vecs, std::integer_sequence<int, V...>, const float* source, const int32_t* starts,
                      const float* values, size_t count, int64_t q0, const Affine& after, float* out) {
  ((vecs == V + 1 ? run_sum_block<V + 1>(source, starts, values, count, q0, after, out) : void()), ...);
}

// run_sum_block<vecs>, for vecs in 1..kMaxBlockVecs.
void run_sum_block_of(int vecs, const float* source, const int32_t* starts, const float* values, size_t count,
                      int64_t q0, const Affine& after, float* out) {
  run_sum_block_of(vecs, std::make_integer_sequence<int, kMaxBlockVecs>{}, source, starts, values, count, q0, after,
                   out);
}

}  // namespace

void SparseRows::run_sum(int64_t r, const int32_t* start_of, const float* source, int64_t n, const Affine& after,
                         float* out) const {
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
  // The plane in passes of at most kMaxBlockVecs register accumulators,
  // balanced (80 floats on AVX2 are one pass of 10, not 8 then 1 and 1):
  // a short pass has too few independent sums to hide the multiply-add's
  // latency, and every pass re-reads the row's nonzeros.
  const int64_t vecs = n / kVecFloats, passes = (vecs + kMaxBlockVecs - 1) / kMaxBlockVecs;
  int64_t q = 0;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const int64_t block = vecs / passes + (pass < vecs % passes ? 1 : 0);
    run_sum_block_of(int(block), source, s, v, count, q, after, out);
    q += block * kVecFloats;
  }
}

// The zero-padded input (in, ph, pw) is split into phase planes, one per
// (row, column) residue modulo the strides (sh, sw): phase (a, b) of channel
// c holds padded[c][a + sh*i][b + sw*j] as a (qh, qw) plane, qh = ceil(ph /
// sh), qw = ceil(pw / sw). Output (oy, ox) reads padded[c][sh*oy + dh*ky][sw*ox
// + dw*kx] = phase ((dh*ky) % sh, (dw*kx) % sw)[oy + dh*ky/sh][ox + dw*kx/sw],
// so with the output computed at width qw (the last qw - ow columns of each
// row discarded), output element q = oy * qw + ox reads that phase plane at
// q + (dh*ky/sh) * qw + dw*kx/sw. Each nonzero weight w[o][c][ky][kx] thus
// adds w times one contiguous run of the phase planes to output plane o,
// whatever the stride and dilation (for stride 1 the one phase is the padded
// input itself). Group g's outputs read its in/groups channels: the same
// runs, shifted by g's first channel.
void Conv2d::plan(int64_t h, int64_t w) {
  const int64_t sh = stride_h, sw = stride_w, ph = h + 2 * pad_h, pw = w + 2 * pad_w;
  h_ = h, w_ = w;
  qw_ = (pw + sw - 1) / sw;
  plane_ = (ph + sh - 1) / sh * qw_;
  n_ = (output_h(h) * qw_ + kVecFloats - 1) / kVecFloats * kVecFloats;
  row_phase_.clear();
  for (int64_t i = 0; i < h; ++i) {
    const int64_t py = i + pad_h;
    row_phase_.push_back(int32_t(py % sh * sw * plane_ + py / sh * qw_));
  }
  column_phase_.clear();
  for (int64_t j0 = 0; j0 < std::min(sw, w); ++j0) {
    const int64_t px = j0 + pad_w;
    column_phase_.push_back(int32_t(px % sw * plane_ + px / sw));
  }
  start_.clear();
  for (int64_t c = 0; c < in / groups; ++c)
    for (int64_t ky = 0; ky < kernel_h; ++ky)
      for (int64_t kx = 0; kx < kernel_w; ++kx) {
        const int64_t dy = dilation_h * ky, dx = dilation_w * kx;
        start_.push_back(int32_t(((c * sh + dy % sh) * sw + dx % sw) * plane_ + dy / sh * qw_ + dx / sw));
      }
  // The kept outputs read inside the input (the last, (oh - 1) qw + ow - 1
  // past the last channel's largest start, is its last element); the
  // rounding of n_ and the discarded columns read past it.
  in_place_ = sh == 1 && sw == 1 && pad_h == 0 && pad_w == 0;
  const int64_t last_start = (groups - 1) * (in / groups) * plane_ + (start_.empty() ? 0 : start_.back());
  overrun_ = std::max<int64_t>(0, last_start + n_ - in * plane_);
}

void Conv2d::forward(const float* x, float* y, ThreadPool* pool) const {
  const int64_t sw = stride_w, channel_phases = stride_h * sw * plane_, oh = output_h(h_), ow = output_w(w_);
  // Runs start inside the planes and are n_ long: n_ zeros past the planes
  // keep every read in bounds. The input fills the same places of the
  // buffer at every call of a convolution of the same input geometry (the
  // ones of a ResNet stage follow each other), so the padding and the tail
  // stay zero, and the buffer is zeroed only when the geometry changes.
  thread_local std::vector<float> phases;
  thread_local std::array<int64_t, 8> zeroed_for{};
  const int64_t size = in * channel_phases + n_;
  const std::array<int64_t, 8> geometry{in, h_, w_, stride_h, sw, pad_h, pad_w, size};
  if (!in_place_ && geometry != zeroed_for) {
    phases.assign(size_t(size), 0.0f);
    zeroed_for = geometry;
  }
  for (int64_t c = 0; c < (in_place_ ? 0 : in); ++c)
    for (int64_t i = 0; i < h_; ++i) {
      const float* row = x + (c * h_ + i) * w_;
      float* phase_rows = phases.data() + c * channel_phases + row_phase_[size_t(i)];
      if (sw == 1) {
        copy_row(row, w_, phase_rows + column_phase_[0]);
        continue;
      }
      // Input columns j0, j0 + sw, ... go to one phase, one after another.
      for (int64_t j0 = 0; j0 < int64_t(column_phase_.size()); ++j0) {
        float* dst = phase_rows + column_phase_[size_t(j0)];
        for (int64_t j = j0; j < w_; j += sw) *dst++ = row[j];
      }
    }
  const float* const source = in_place_ ? x : phases.data();
  const int64_t group_out = out / groups, group_phases = in / groups * channel_phases;
  const auto outputs = [&](int64_t first, int64_t last) {
    thread_local std::vector<float> wide;  // one output plane at width qw_, per thread
    wide.resize(size_t(n_));
    for (int64_t o = first; o < last; ++o) {
      const float* const group_source = source + o / group_out * group_phases;
      float* const plane = y + o * oh * ow;
      if (n_ == oh * ow) {  // no column to discard, no rounding past the plane: straight into y
        weight.run_sum(o, start_.data(), group_source, n_, epilogue.of(o), plane);
        continue;
      }
      weight.run_sum(o, start_.data(), group_source, n_, epilogue.of(o), wide.data());
      if (qw_ == ow) std::memcpy(plane, wide.data(), size_t(oh * ow) * sizeof(float));
      else
        for (int64_t i = 0; i < oh; ++i) copy_row(wide.data() + i * qw_, ow, plane + i * ow);
    }
  };
  if (pool) pool->parallel_for(out, outputs);
  else outputs(0, out);
}

void Linear::forward(const float* x, float* y) const {
  for (int64_t o = 0; o < weight.rows(); ++o) {
    float sum = 0.0f;
    weight.for_each(o, [&](int64_t i, float value) { sum = multiply_add(x[i], value, sum); });
    epilogue.apply(&sum, 1, o, y + o);
  }
}

// Input i of every column is one run of x, at i * columns: each nonzero
// w[o][i] adds w times it to output row o.
void Linear::forward_columns(const float* x, int64_t columns, float* y) const {
  thread_local std::vector<int32_t> start;
  start.resize(size_t(weight.row_length()));
  for (size_t i = 0; i < start.size(); ++i) start[i] = int32_t(int64_t(i) * columns);
  for (int64_t o = 0; o < weight.rows(); ++o) {
    float* row = y + o * columns;
    weight.run_sum(o, start.data(), x, columns, epilogue.of(o), row);
  }
}

}  // namespace dcomp::runtime
