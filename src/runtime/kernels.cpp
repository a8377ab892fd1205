#include "runtime/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace dcomp::runtime {

// PyTorch's pooling_output_shape: floor or ceil of (size + 2p - d(k-1) - 1) / s,
// plus 1; in ceil mode a last window must start inside the input or its
// left padding.
int64_t Window::output(int64_t size) const {
  const int64_t span = size + 2 * padding - dilation * (kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t n = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (n - 1) * stride >= size + padding) --n;
  return n;
}

namespace {

// The taps [begin, end) of window position o that fall inside [0, size):
// tap k reads o * stride - padding + k * dilation.
struct Taps {
  int64_t begin, end, first;  // first: where tap 0 would read
};
Taps taps(const Window& w, int64_t o, int64_t size) {
  const int64_t first = o * w.stride - w.padding;
  int64_t begin = 0, end = w.kernel;
  while (begin < end && first + begin * w.dilation < 0) ++begin;
  while (end > begin && first + (end - 1) * w.dilation >= size) --end;
  return {begin, end, first};
}

}  // namespace

// Max is separable: each output row takes the max over its window's rows
// first (one vector pass across the width), then over each window's
// columns, one tap at a time across the output row: y[j] = max over kx of
// m[j * stride - padding + kx * dilation], for the j whose tap kx falls
// inside the row (a loop per output over its few taps ran at about 60
// cycles an output).
void max_pool2d(const float* x, Shape in, Window wh, Window ww, float* y) {
  const int64_t oh = wh.output(in.h), ow = ww.output(in.w);
  thread_local std::vector<float> row_max;
  row_max.resize(size_t(in.w));
  float* const m = row_max.data();
  for (int64_t c = 0; c < in.c; ++c) {
    const float* plane = x + c * in.plane();
    for (int64_t i = 0; i < oh; ++i, y += ow) {
      const Taps rows = taps(wh, i, in.h);
      std::fill(m, m + in.w, -std::numeric_limits<float>::infinity());
      for (int64_t ky = rows.begin; ky < rows.end; ++ky) {
        const float* row = plane + (rows.first + ky * wh.dilation) * in.w;
        for (int64_t s = 0; s < in.w; ++s) m[s] = std::max(m[s], row[s]);
      }
      std::fill(y, y + ow, -std::numeric_limits<float>::infinity());
      for (int64_t kx = 0; kx < ww.kernel; ++kx) {
        // Tap kx of output j reads column j * stride + offset: inside [0, w) for j in [j0, j1).
        const int64_t offset = kx * ww.dilation - ww.padding, stride = ww.stride;
        const int64_t j0 = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        const int64_t j1 = std::min(ow, in.w - offset <= 0 ? 0 : (in.w - offset + stride - 1) / stride);
        for (int64_t j = j0; j < j1; ++j) y[j] = std::max(y[j], m[j * stride + offset]);
      }
    }
  }
}

// As PyTorch's avg_pool2d: the divisor is the window clipped to the padded
// input (count_include_pad) or to the input.
void avg_pool2d(const float* x, Shape in, Window wh, Window ww, bool count_include_pad, float* y) {
  const int64_t oh = wh.output(in.h), ow = ww.output(in.w);
  for (int64_t c = 0; c < in.c; ++c) {
    const float* plane = x + c * in.plane();
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        int64_t r0 = i * wh.stride - wh.padding, s0 = j * ww.stride - ww.padding;
        int64_t r1 = std::min(r0 + wh.kernel, in.h + wh.padding), s1 = std::min(s0 + ww.kernel, in.w + ww.padding);
        const int64_t padded_count = (r1 - r0) * (s1 - s0);
        r0 = std::max<int64_t>(r0, 0), s0 = std::max<int64_t>(s0, 0);
        r1 = std::min(r1, in.h), s1 = std::min(s1, in.w);
        float sum = 0;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t s = s0; s < s1; ++s) sum += plane[r * in.w + s];
        const int64_t count = count_include_pad ? padded_count : (r1 - r0) * (s1 - s0);
        *y++ = count > 0 ? sum / float(count) : 0.0f;
      }
  }
}

void global_avg_pool(const float* x, Shape in, float* y) {
  for (int64_t c = 0; c < in.c; ++c) {
    float sum = 0;
    for (int64_t i = 0; i < in.plane(); ++i) sum += x[c * in.plane() + i];
    y[c] = sum / float(in.plane());
  }
}

void clamp(const float* x, int64_t n, float lo, float hi, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
}

void leaky_relu(const float* x, int64_t n, float slope, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? x[i] * slope : x[i];
}

void sigmoid(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

// x * relu6(x + 3) / 6
void hardswish(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * std::min(std::max(x[i] + 3.0f, 0.0f), 6.0f) / 6.0f;
}

void add(const float* a, const float* b, int64_t n, float alpha, float lo, float hi, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(a[i] + alpha * b[i], lo), hi);
}

void mul(const float* a, const float* b, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}

void mul_channels(const float* a, const float* b, int64_t c, int64_t plane, float* y) {
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < plane; ++i) y[k * plane + i] = a[k * plane + i] * b[k];
}

void slice(const float* x, Shape in, int dim, int64_t start, int64_t step, Shape out, float* y) {
  for (int64_t c = 0; c < out.c; ++c)
    for (int64_t i = 0; i < out.h; ++i)
      for (int64_t j = 0; j < out.w; ++j) {
        int64_t sc = c, si = i, sj = j;
        (dim == 1 ? sc : dim == 2 ? si : sj) = start + step * (dim == 1 ? c : dim == 2 ? i : j);
        *y++ = x[(sc * in.h + si) * in.w + sj];
      }
}

void pad(const float* x, Shape in, const int64_t* p, float value, float* y) {
  const Shape out{in.c + p[4] + p[5], in.h + p[2] + p[3], in.w + p[0] + p[1]};
  std::fill(y, y + out.floats(), value);
  for (int64_t c = 0; c < in.c; ++c)
    for (int64_t i = 0; i < in.h; ++i)
      std::memcpy(y + ((c + p[4]) * out.h + i + p[2]) * out.w + p[0], x + (c * in.h + i) * in.w, size_t(in.w) * 4);
}

}  // namespace dcomp::runtime
