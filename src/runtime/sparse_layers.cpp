#include "runtime/sparse_layers.h"

#include <algorithm>
#include <array>
#include <cstdint>
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
// where a call to memcpy costs more than the copy. In vectors, the last one
// overlapping the one before when n is not a whole number of them.
void copy_row(const float* src, int64_t n, float* dst) {
  if (n < kVecFloats) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    return;
  }
  for (int64_t i = 0; i + kVecFloats < n; i += kVecFloats) store(dst + i, load(src + i));
  store(dst + n - kVecFloats, load(src + n - kVecFloats));
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
  for (int v = 0; v < V; ++v) store(out + q0 + v * kVecFloats, acc[v]);
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

// The zero-padded input (in, ph, pw) is laid out in planes so that each
// nonzero weight w[o][c][ky][kx] adds w times one contiguous run of them to
// output plane o, whatever the stride and dilation. Output (oy, ox) reads
// padded[c][sh*oy + dy][sw*ox + dx], dy = dh*ky, dx = dw*kx. The padded rows
// are split by residue modulo sh: plane row r of row phase a holds padded
// row a + sh*r, so the output, computed at a row width rw (its last rw - ow
// columns discarded), reads row phase dy % sh from row dy / sh on. The
// columns are laid out in one of two ways:
// - aligned: one plane per kx, column j holding padded column dx + sw*j, at
//   rw = ow rounded up to whole vectors. Output element q = oy*rw + ox reads
//   plane (c, dy % sh, kx) at q + (dy / sh) rw: every run starts on a vector
//   boundary, so no load straddles two cache lines (about 1.7x the loads per
//   cycle of straddling ones on AVX2, docs/benchmarks.md). kw copies of the
//   input, worth it when several output channels read each copy;
// - shared: one plane per column residue b modulo sw, column j holding
//   padded column b + sw*j, rw = ceil(pw / sw): q reads plane (c, dy % sh,
//   dx % sw) at q + (dy / sh) rw + dx / sw, a run starting at any float. One
//   copy of the input; at stride 1 without padding the input itself, read
//   in place.
// Group g's outputs read its in/groups channels: the same runs, shifted by
// g's first channel.
void Conv2d::plan(int64_t h, int64_t w) {
  const int64_t sh = stride_h, sw = stride_w, ph = h + 2 * pad_h, pw = w + 2 * pad_w, ow = output_w(w);
  const int64_t phase_width = (pw + sw - 1) / sw, aligned_width = (ow + kVecFloats - 1) / kVecFloats * kVecFloats;
  const bool reads_input = sh == 1 && sw == 1 && pad_h == 0 && pad_w == 0;
  // Aligned where copies are read by more than one output channel and cost
  // no more lanes (8-wide outputs on AVX-512 would compute 16), and not for
  // a 1x1 convolution that can read its input in place.
  const bool aligned = out / groups > 1 && aligned_width <= phase_width && !(reads_input && kernel_w == 1 && kernel_h == 1);
  h_ = h, w_ = w;
  in_place_ = !aligned && reads_input;
  row_width_ = aligned ? aligned_width : phase_width;
  planes_per_row_phase_ = aligned ? kernel_w : sw;
  plane_ = (ph + sh - 1) / sh * row_width_;
  n_ = (output_h(h) * row_width_ + kVecFloats - 1) / kVecFloats * kVecFloats;
  row_place_.clear();
  for (int64_t i = 0; i < h; ++i) {
    const int64_t py = i + pad_h;
    row_place_.push_back(int32_t(py % sh * planes_per_row_phase_ * plane_ + py / sh * row_width_));
  }
  // Plane v's column j holds padded column origin + sw*j, input column
  // origin + sw*j - pad_w: copied for those inside the input.
  column_copy_.clear();
  for (int64_t v = 0; v < planes_per_row_phase_; ++v) {
    const int64_t origin = aligned ? dilation_w * v : v, columns = aligned ? ow : phase_width;
    const int64_t first = std::max<int64_t>(0, (pad_w - origin + sw - 1) / sw);
    const int64_t end = std::min(columns, std::max<int64_t>(0, (w + pad_w - origin + sw - 1) / sw));
    if (end > first)
      column_copy_.push_back({int32_t(v * plane_ + first), int32_t(origin + sw * first - pad_w), int32_t(end - first)});
  }
  start_.clear();
  for (int64_t c = 0; c < in / groups; ++c)
    for (int64_t ky = 0; ky < kernel_h; ++ky)
      for (int64_t kx = 0; kx < kernel_w; ++kx) {
        const int64_t dy = dilation_h * ky, dx = dilation_w * kx;
        const int64_t plane = (c * sh + dy % sh) * planes_per_row_phase_ + (aligned ? kx : dx % sw);
        start_.push_back(int32_t(plane * plane_ + dy / sh * row_width_ + (aligned ? 0 : dx / sw)));
      }
  // The kept outputs read inside the input (the last, (oh - 1) rw + ow - 1
  // past the last channel's largest start, is its last element); the
  // rounding of n_ and the discarded columns read past it.
  const int64_t last_start = (groups - 1) * (in / groups) * plane_ + (start_.empty() ? 0 : start_.back());
  overrun_ = std::max<int64_t>(0, last_start + n_ - in * plane_);
}

void Conv2d::forward(const float* x, float* y, ThreadPool* pool) const {
  const int64_t sw = stride_w, channel_planes = stride_h * planes_per_row_phase_ * plane_, oh = output_h(h_),
                ow = output_w(w_);
  // Runs start inside the planes and are n_ long: n_ zeros past the planes
  // keep every read in bounds. The input fills the same places of the
  // buffer at every call of a convolution of the same input geometry and
  // layout (the ones of a ResNet stage follow each other), so the padding
  // and the tail stay zero, and the buffer is zeroed only when they change.
  // Its start is aligned to a cache line, so that aligned runs are.
  constexpr int64_t kLine = 64 / sizeof(float);
  thread_local std::vector<float> buffer;
  thread_local std::array<int64_t, 12> zeroed_for{};
  const int64_t size = in * channel_planes + n_;
  const std::array<int64_t, 12> geometry{in,     h_,        w_,        stride_h,   sw,
                                         pad_h,  pad_w,     kernel_w,  dilation_w, row_width_,
                                         planes_per_row_phase_, size};
  if (!in_place_ && geometry != zeroed_for) {
    buffer.assign(size_t(size + kLine), 0.0f);
    zeroed_for = geometry;
  }
  float* const planes = buffer.data() + (kLine - reinterpret_cast<uintptr_t>(buffer.data()) / sizeof(float) % kLine) % kLine;
  for (int64_t c = 0; c < (in_place_ ? 0 : in); ++c)
    for (const ColumnCopy& copy : column_copy_) {
      const float* const src = x + c * h_ * w_ + copy.source;
      float* const dst = planes + c * channel_planes + copy.plane;
      for (int64_t i = 0; i < h_; ++i) {
        if (sw == 1) copy_row(src + i * w_, copy.count, dst + row_place_[size_t(i)]);
        else
          for (int32_t j = 0; j < copy.count; ++j) dst[row_place_[size_t(i)] + j] = src[i * w_ + sw * j];
      }
    }
  const float* const source = in_place_ ? x : planes;
  const int64_t group_out = out / groups, group_planes = in / groups * channel_planes;
  const auto outputs = [&](int64_t first, int64_t last) {
    thread_local std::vector<float> wide;  // one output plane at width row_width_, per thread
    wide.resize(size_t(n_));
    for (int64_t o = first; o < last; ++o) {
      const float* const group_source = source + o / group_out * group_planes;
      float* const plane = y + o * oh * ow;
      if (n_ == oh * ow) {  // no column to discard, no rounding past the plane: straight into y
        weight.run_sum(o, start_.data(), group_source, n_, epilogue.of(o), plane);
        continue;
      }
      weight.run_sum(o, start_.data(), group_source, n_, epilogue.of(o), wide.data());
      if (row_width_ == ow) std::memcpy(plane, wide.data(), size_t(oh * ow) * sizeof(float));
      else
        for (int64_t i = 0; i < oh; ++i) copy_row(wide.data() + i * row_width_, ow, plane + i * ow);
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
