// The runtime's dense operations on one image's activations, (C, H, W)
// row-major floats; a vector is (F, 1, 1). The weighted layers are in
// sparse_layers.h.
#pragma once

#include <cstdint>

namespace dcomp::runtime {

struct Shape {
  int64_t c = 0, h = 0, w = 0;
  int64_t plane() const { return h * w; }
  int64_t floats() const { return c * h * w; }
  bool operator==(const Shape& o) const { return c == o.c && h == o.h && w == o.w; }
};

// The sizes of a pooling window sliding over one dimension, as PyTorch's.
struct Window {
  int64_t kernel = 1, stride = 1, padding = 0, dilation = 1;
  bool ceil_mode = false;
  // Output length for an input of `size`; below 1 when the window does not fit.
  int64_t output(int64_t size) const;
};

void max_pool2d(const float* x, Shape in, Window wh, Window ww, float* y);
// Average over the window's elements inside the padded input
// (count_include_pad) or inside the input.
void avg_pool2d(const float* x, Shape in, Window wh, Window ww, bool count_include_pad, float* y);
void global_avg_pool(const float* x, Shape in, float* y);  // -> (C, 1, 1)

// Elementwise, over n values.
void clamp(const float* x, int64_t n, float lo, float hi, float* y);  // ReLU: (0, inf)
void leaky_relu(const float* x, int64_t n, float slope, float* y);
void sigmoid(const float* x, int64_t n, float* y);
void hardswish(const float* x, int64_t n, float* y);
void add(const float* a, const float* b, int64_t n, float alpha, float lo, float hi, float* y);  // clamp(a + alpha b)
void mul(const float* a, const float* b, int64_t n, float* y);
// a (C, plane) times a channel vector b (C).
void mul_channels(const float* a, const float* b, int64_t c, int64_t plane, float* y);

// x[:, start::step] along dimension 1 (C), 2 (H) or 3 (W) of (N, C, H, W);
// `out` is the result's shape.
void slice(const float* x, Shape in, int dim, int64_t start, int64_t step, Shape out, float* y);
// Constant padding: (left, right) on W, (top, bottom) on H, (front, back) on C.
void pad(const float* x, Shape in, const int64_t* amounts, float value, float* y);

}  // namespace dcomp::runtime
