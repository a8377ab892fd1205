#include "runtime/sparse_layers.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <vector>
#include <stdexcept>
#include <type_traits>
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

// Accumulator registers of one pass of run_sums: 12 of the 16 AVX2 registers
// (or of AVX-512's 32), leaving the broadcast value and room for the loads.
constexpr int kMaxBlockVecs = 12;

constexpr LaneMask kAllLanes = (LaneMask{1} << kVecFloats) - 1;

// The fewest vectors of each output plane a thread computes when threads
// share the planes (Conv2d::forward).
constexpr int64_t kMinSplitVecs = 4;

// dst[0, n) = src[0, n), inline: the rows copied here are 4 to 32 floats,
// where a call to memcpy costs more than the copy. In vectors, the last one
// overlapping the one before when n is not a whole number of them; a row
// shorter than a vector in one masked load and store.
void copy_row(const float* src, int64_t n, float* dst) {
  if (n < kVecFloats) {
    const LaneMask first_n = (LaneMask{1} << n) - 1;
    store_masked(dst, load_masked(src, first_n), first_n);
    return;
  }
  for (int64_t i = 0; i + kVecFloats < n; i += kVecFloats) store(dst + i, load(src + i));
  store(dst + n - kVecFloats, load(src + n - kVecFloats));
}

// dst[j] = src[2 j] for j < n, in vectors of the even lanes of two, the
// last one overlapping the one before when n is not a whole number of them
// (as copy_row), so that only a row shorter than a vector is stored masked:
// AVX2's masked store is microcoded on AMD Zen, and stride-2 rows stored
// masked cost as much as all the other copies of ResNet-20 together.
// Nothing past src[2 n - 2] is read.
void copy_row_stride2(const float* src, int64_t n, float* dst) {
  if (n >= kVecFloats) {
    // dst[j, j + kVecFloats) from src[2 j, 2 j + 2 kVecFloats - 1).
    const auto at = [&](int64_t j) {
      return even_lanes(load(src + 2 * j), load_masked(src + 2 * j + kVecFloats, kAllLanes >> 1));
    };
    for (int64_t j = 0; j + kVecFloats < n; j += kVecFloats) store(dst + j, at(j));
    store(dst + n - kVecFloats, at(n - kVecFloats));
    return;
  }
  const int64_t read = 2 * n - 1;  // src floats read
  const Vec low = load_masked(src, read >= kVecFloats ? kAllLanes : (LaneMask{1} << read) - 1);
  const Vec high = read > kVecFloats ? load_masked(src + kVecFloats, (LaneMask{1} << (read - kVecFloats)) - 1) : Vec{};
  store_masked(dst, even_lanes(low, high), (LaneMask{1} << n) - 1);
}

// A row's nonzeros as run_sum_block reads them, k-th: its run's start and
// its value. Decoded: from arrays that decode_entries filled once for all
// passes over the planes. Packed: from the entries themselves, decoded as
// read, for a single pass, which would read each decoded value only once.
struct DecodedNonzeros {
  const int32_t* starts;
  const float* values;
  int32_t start(size_t k) const { return starts[k]; }
  float value(size_t k) const { return values[k]; }
  DecodedNonzeros from(size_t k) const { return {starts + k, values + k}; }
};

template <typename Entry>
struct PackedNonzeros {
  const Entry* entries;
  const int32_t* start_of;
  const float* codebook;
  int bits;
  uint32_t mask;
  int32_t start(size_t k) const { return start_of[entries[k] >> bits]; }
  float value(size_t k) const { return codebook[entries[k] & mask]; }
  PackedNonzeros from(size_t k) const { return {entries + k, start_of, codebook, bits, mask}; }
};

// out[q0, q0 + V * kVecFloats) of SparseRows::run_sums, its V accumulators
// held in registers while every run adds into them.
template <int V, typename Nonzeros>
void run_sum_block(const float* source, const Nonzeros& nonzeros, size_t count, int64_t q0, const Affine& after,
                   float* out) {
  Vec acc[V] = {};
  for (size_t k = 0; k < count; ++k) {
    const float* run = source + nonzeros.start(k) + q0;
    const float value = nonzeros.value(k);
    for (int v = 0; v < V; ++v) acc[v] = multiply_add(load(run + v * kVecFloats), value, acc[v]);
  }
  // The epilogue and the store in one loop: GCC 12 turns a separate store
  // loop into a memcpy from the accumulators spilled to the stack.
  for (int v = 0; v < V; ++v) {
    const Vec y = multiply_add(acc[v], after.a, Vec{} + after.b);
    store(out + q0 + v * kVecFloats, y < after.lo ? after.lo : (y > after.hi ? after.hi : y));
  }
}

template <typename Nonzeros, int... V>
void run_sum_block_of(int vecs, std::integer_sequence<int, V...>, const float* source, const Nonzeros& nonzeros,
                      size_t count, int64_t q0, const Affine& after, float* out) {
  ((vecs == V + 1 ? run_sum_block<V + 1>(source, nonzeros, count, q0, after, out) : void()), ...);
}

// run_sum_block<vecs>, for vecs in 1..kMaxBlockVecs.
template <typename Nonzeros>
void run_sum_block_of(int vecs, const float* source, const Nonzeros& nonzeros, size_t count, int64_t q0,
                      const Affine& after, float* out) {
  run_sum_block_of(vecs, std::make_integer_sequence<int, kMaxBlockVecs>{}, source, nonzeros, count, q0, after, out);
}

// The planes' buffer of a convolution's input geometry and layout, of
// `size` floats, its start aligned to a cache line so that aligned runs
// are. One per geometry and thread, for the last kBuffers geometries used,
// each zeroed once when made: the input fills the same places of it at
// every call, so its padding and tail stay zero.
using PlaneGeometry = std::array<int64_t, 12>;
float* planes_buffer(const PlaneGeometry& geometry, int64_t size) {
  constexpr int64_t kLine = 64 / sizeof(float);
  constexpr size_t kBuffers = 8;
  struct Buffer {
    PlaneGeometry geometry{};
    uint64_t used = 0;  // when last used; 0: never
    std::vector<float> floats;
  };
  thread_local std::array<Buffer, kBuffers> buffers;
  thread_local uint64_t clock = 0;
  Buffer *found = nullptr, *oldest = &buffers[0];
  for (Buffer& b : buffers) {
    if (b.used && b.geometry == geometry) found = &b;
    if (b.used < oldest->used) oldest = &b;
  }
  if (!found) {
    found = oldest;
    found->geometry = geometry;
    found->floats.assign(size_t(size + kLine), 0.0f);
  }
  found->used = ++clock;
  float* const data = found->floats.data();
  return data + (kLine - reinterpret_cast<uintptr_t>(data) / sizeof(float) % kLine) % kLine;
}

}  // namespace

void SparseRows::run_sums(int64_t first, int64_t last, const int32_t* start_of, const float* source,
                          int64_t rows_per_source, int64_t source_step, int64_t n, const Epilogue& epilogue, float* out,
                          int64_t out_step) const {
  // The planes in passes of at most kMaxBlockVecs register accumulators,
  // balanced (80 floats on AVX2 are one pass of 10, not 8 then 1 and 1):
  // a short pass has too few independent sums to hide the multiply-add's
  // latency. Each pass runs over all the rows, so that the part of the
  // source it reads is still in cache for the next row.
  const int64_t vecs = n / kVecFloats, passes = (vecs + kMaxBlockVecs - 1) / kMaxBlockVecs;
  const uint32_t e0 = row_begin_[size_t(first)];
  const auto run_passes = [&](const auto& nonzeros) {
    int64_t q = 0;
    for (int64_t pass = 0; pass < passes; ++pass) {
      const int64_t block = vecs / passes + (pass < vecs % passes ? 1 : 0);
      for (int64_t r = first; r < last; ++r) {
        const uint32_t k = row_begin_[size_t(r)] - e0;
        run_sum_block_of(int(block), source + r / rows_per_source * source_step, nonzeros.from(k),
                         row_begin_[size_t(r) + 1] - e0 - k, q, epilogue.of(r), out + (r - first) * out_step);
      }
      q += block * kVecFloats;
    }
  };
  // f(entries) on the rows' entries, 16 or 32 bits wide.
  const auto with_entries = [&](const auto& f) {
    if (entries16_.empty()) f(entries32_.data() + e0);
    else f(entries16_.data() + e0);
  };
  if (passes == 1) {
    with_entries([&](const auto* entries) {
      using Entry = std::remove_cv_t<std::remove_pointer_t<decltype(entries)>>;
      run_passes(PackedNonzeros<Entry>{entries, start_of, codebook_.data(), index_bits_, (1u << index_bits_) - 1});
    });
    return;
  }
  // The rows' nonzeros as (run start, value), decoded once for all passes.
  thread_local std::vector<int32_t> starts;
  thread_local std::vector<float> values;
  const uint32_t count = row_begin_[size_t(last)] - e0;
  // Grown only: resizing down and up again would zero the new part each call.
  if (starts.size() < count) starts.resize(count), values.resize(count);
  with_entries([&](const auto* entries) {
    decode_entries(entries, count, index_bits_, start_of, codebook_.data(), starts.data(), values.data());
  });
  run_passes(DecodedNonzeros{starts.data(), values.data()});
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
//   rw = ow rounded up to whole vectors, or to a power of two when ow is
//   less than one vector. Output element q = oy*rw + ox reads plane (c,
//   dy % sh, kx) at q + (dy / sh) rw. When R = vector / rw > 1 rows share a
//   vector, each plane comes in R copies, copy s starting at row s, and q
//   reads copy (dy / sh) % R at q + floor((dy / sh) / R) R rw. Either way
//   every run starts on a vector boundary, so no load straddles two cache
//   lines (about 1.7x the loads per cycle of straddling ones, on AVX2 and
//   AVX-512 alike, docs/benchmarks.md). kw R copies of the input, worth it
//   when several output channels read each copy;
// - shared: one plane per column residue b modulo sw, column j holding
//   padded column b + sw*j, rw = ceil(pw / sw): q reads plane (c, dy % sh,
//   dx % sw) at q + (dy / sh) rw + dx / sw, a run starting at any float. One
//   copy of the input; at stride 1 without padding the input itself, read
//   in place.
// Group g's outputs read its in/groups channels: the same runs, shifted by
// g's first channel.
void Conv2d::plan(int64_t h, int64_t w) {
  const int64_t sh = stride_h, sw = stride_w, ph = h + 2 * pad_h, pw = w + 2 * pad_w, ow = output_w(w);
  int64_t aligned_width = (ow + kVecFloats - 1) / kVecFloats * kVecFloats;
  if (ow < kVecFloats)
    for (aligned_width = 1; aligned_width < ow;) aligned_width *= 2;
  const int64_t phase_width = (pw + sw - 1) / sw, phase_rows = (ph + sh - 1) / sh;
  const bool reads_input = sh == 1 && sw == 1 && pad_h == 0 && pad_w == 0;
  // Aligned where copies are read by more than one output channel and cost
  // no more lanes, and not for a 1x1 convolution that can read its input
  // in place. Rows narrower than a vector only where the planes are copied
  // whole (below): their R copies row by row cost more than they save
  // (LeNet-5's second convolution, ResNet-20's stride-2 one into 8 x 8).
  const bool narrow = aligned_width < kVecFloats, copied_whole = sh == 1 && sw == 1 && aligned_width == w;
  const bool aligned = out / groups > 1 && aligned_width <= phase_width && (!narrow || copied_whole) &&
                       !(reads_input && kernel_w == 1 && kernel_h == 1);
  h_ = h, w_ = w;
  in_place_ = !aligned && reads_input;
  row_width_ = aligned ? aligned_width : phase_width;
  row_shifts_ = aligned ? std::max<int64_t>(1, kVecFloats / row_width_) : 1;
  planes_per_row_phase_ = aligned ? kernel_w * row_shifts_ : sw;
  plane_ = phase_rows * row_width_;
  if (aligned) plane_ = (plane_ + kVecFloats - 1) / kVecFloats * kVecFloats;
  n_ = (output_h(h) * row_width_ + kVecFloats - 1) / kVecFloats * kVecFloats;
  // Plane v's column j holds padded column origin + sw*j, input column
  // origin + sw*j - pad_w: copied for those inside the input.
  column_copy_.clear();
  for (int64_t v = 0; v < planes_per_row_phase_ / row_shifts_; ++v) {
    const int64_t origin = aligned ? dilation_w * v : v, columns = aligned ? ow : phase_width;
    const int64_t first = std::max<int64_t>(0, (pad_w - origin + sw - 1) / sw);
    const int64_t end = std::min(columns, std::max<int64_t>(0, (w + pad_w - origin + sw - 1) / sw));
    if (end > first)
      column_copy_.push_back(
          {int32_t(v * row_shifts_ * plane_ + first), int32_t(origin + sw * first - pad_w), int32_t(end - first)});
  }
  // At stride 1 with planes as wide as the input's rows, plane element q
  // (row q / rw, column q % rw) holds input element q + a constant: each
  // plane is copied whole, in vectors, masked to the lanes that come from
  // inside the input (the others are its zero padding).
  plane_copy_.clear();
  lane_masks_.clear();
  if (aligned && copied_whole) {
    for (const ColumnCopy& copy : column_copy_)
      for (int64_t s = 0; s < row_shifts_; ++s) {
        const int64_t first = copy.plane % plane_, end = first + copy.count;
        plane_copy_.push_back({int32_t(copy.plane - first + s * plane_),
                               int32_t(copy.source - first + (s - pad_h) * w), int32_t(lane_masks_.size())});
        for (int64_t q0 = 0; q0 < plane_; q0 += kVecFloats) {
          LaneMask m = 0;
          for (int64_t l = 0; l < kVecFloats; ++l) {
            const int64_t q = q0 + l, i = q / row_width_ + s - pad_h, j = q % row_width_;
            if (i >= 0 && i < h && j >= first && j < end) m |= LaneMask{1} << l;
          }
          lane_masks_.push_back(m);
        }
      }
    column_copy_.clear();
  }
  // Otherwise row by row, into one copy of each plane (R > 1 only where
  // copied whole): input row i is padded row py, row py / sh of phase py % sh.
  row_place_.clear();
  for (int64_t i = 0; i < (column_copy_.empty() ? 0 : h); ++i) {
    const int64_t py = i + pad_h;
    row_place_.push_back(int32_t(py % sh * planes_per_row_phase_ * plane_ + py / sh * row_width_));
  }
  start_.clear();
  for (int64_t c = 0; c < in / groups; ++c)
    for (int64_t ky = 0; ky < kernel_h; ++ky)
      for (int64_t kx = 0; kx < kernel_w; ++kx) {
        const int64_t dy = dilation_h * ky, dx = dilation_w * kx, row = dy / sh;
        const int64_t plane =
            (c * sh + dy % sh) * planes_per_row_phase_ + (aligned ? kx * row_shifts_ + row % row_shifts_ : dx % sw);
        start_.push_back(int32_t(plane * plane_ + (row - row % row_shifts_) * row_width_ + (aligned ? 0 : dx / sw)));
      }
  // The kept outputs read inside the input (the last, (oh - 1) rw + ow - 1
  // past the last channel's largest start, is its last element); the
  // rounding of n_ and the discarded columns read past it.
  const int64_t last_start = (groups - 1) * (in / groups) * plane_ + (start_.empty() ? 0 : start_.back());
  overrun_ = std::max<int64_t>(0, last_start + n_ - in * plane_);
  reach_ = 0;
  for (int32_t start : start_) reach_ = std::max<int64_t>(reach_, start % plane_);
}

const float* Conv2d::planes_of(const float* x, int64_t q0, int64_t q1) const {
  if (in_place_) return x;
  const int64_t sw = stride_w, channel_planes = stride_h * planes_per_row_phase_ * plane_;
  // Runs start inside the planes and are n_ long: n_ zeros past the planes
  // keep every read in bounds.
  const int64_t size = in * channel_planes + n_;
  float* const planes = planes_buffer(
      {in, h_, w_, stride_h, sw, pad_h, pad_w, kernel_w, dilation_w, row_width_, planes_per_row_phase_, size}, size);
  // Outputs [q0, q1) read each plane at [q0, q1 + reach_): only that part
  // is copied (what else the buffer holds is never read by them).
  const int64_t end = q1 + reach_;
  const int64_t k0 = q0 / kVecFloats, k1 = std::min(plane_, end + kVecFloats - 1) / kVecFloats;
  for (int64_t c = 0; c < in; ++c)
    for (const PlaneCopy& copy : plane_copy_) {
      const float* const src = x + c * h_ * w_ + copy.source;
      float* const dst = planes + c * channel_planes + copy.plane;
      const LaneMask* const masks = lane_masks_.data() + copy.masks;
      for (int64_t k = k0; k < k1; ++k)  // masked only at the padding: a plain load is faster (AVX2 on Zen)
        store(dst + k * kVecFloats, masks[k] == kAllLanes ? load(src + k * kVecFloats)
                                                          : load_masked(src + k * kVecFloats, masks[k]));
    }
  for (int64_t c = 0; c < in; ++c)
    for (const ColumnCopy& copy : column_copy_) {
      const float* const src = x + c * h_ * w_ + copy.source;
      float* const dst = planes + c * channel_planes + copy.plane;
      for (int64_t i = 0; i < h_; ++i) {
        const int64_t place = row_place_[size_t(i)] % plane_;  // within its plane
        if (place + row_width_ <= q0 || place >= end) continue;
        float* const row = dst + row_place_[size_t(i)];
        if (sw == 1) copy_row(src + i * w_, copy.count, row);
        else if (sw == 2) copy_row_stride2(src + i * w_, copy.count, row);
        else
          for (int32_t j = 0; j < copy.count; ++j) row[j] = src[i * w_ + sw * j];
      }
    }
  return planes;
}

void Conv2d::forward(const float* x, float* y, ThreadPool* pool) const {
  const int64_t channel_planes = stride_h * planes_per_row_phase_ * plane_, oh = output_h(h_), ow = output_w(w_);
  const int64_t group_out = out / groups, group_planes = in / groups * channel_planes;
  // Output channels [first, last), their elements [q0, q1) at width
  // row_width_ (q1 a whole number of vectors past q0, or n_).
  const auto outputs = [&](int64_t first, int64_t last, int64_t q0, int64_t q1) {
    const float* const source = planes_of(x, q0, q1) + q0;
    if (n_ == oh * ow) {  // no column to discard, no rounding past the plane: straight into y
      weight.run_sums(first, last, start_.data(), source, group_out, group_planes, q1 - q0, epilogue,
                      y + first * n_ + q0, n_);
      return;
    }
    thread_local std::vector<float> wide;  // the output planes at width row_width_, per thread
    if (wide.size() < size_t(out * n_)) wide.resize(size_t(out * n_));  // grown only, as run_sums' arrays
    weight.run_sums(first, last, start_.data(), source, group_out, group_planes, q1 - q0, epilogue,
                    wide.data() + first * n_ + q0, n_);
    // The kept columns of the rows that [q0, q1) holds.
    for (int64_t o = first; o < last; ++o)
      for (int64_t i = q0 / row_width_; i < std::min(oh, (q1 + row_width_ - 1) / row_width_); ++i) {
        const int64_t from = std::max(q0, i * row_width_), to = std::min(q1, i * row_width_ + ow);
        if (to > from)
          copy_row(wide.data() + o * n_ + from, to - from, y + (o * oh + i) * ow + from - i * row_width_);
      }
  };
  // Threads share each plane's vectors, so that each reads and writes the
  // same rows from layer to layer, in its own core's cache (the output
  // channels split between them, all would read every input plane another
  // core wrote: at batch 1, two threads were slower than one). Planes too
  // small to give each thread kMinSplitVecs share the output channels.
  const int64_t vecs = n_ / kVecFloats;
  if (!pool) outputs(0, out, 0, n_);
  else if (vecs >= kMinSplitVecs * pool->threads())
    pool->parallel_for(vecs, [&](int64_t v0, int64_t v1) { outputs(0, out, v0 * kVecFloats, v1 * kVecFloats); });
  else pool->parallel_for(out, [&](int64_t first, int64_t last) { outputs(first, last, 0, n_); });
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
  weight.run_sums(0, weight.rows(), start.data(), x, weight.rows(), 0, columns, epilogue, y, columns);
}

}  // namespace dcomp::runtime
