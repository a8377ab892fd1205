// The kernels' vector type: one register of the widest vector unit the
// build targets, and the two operations they are made of.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dcomp::runtime {

// Floats per vector. A wider generic vector than the target has is not
// split into registers but kept on the stack (GCC 12 on AVX2: 17x slower).
#if defined(__AVX512F__)
constexpr int64_t kVecFloats = 16;
#elif defined(__AVX__)
constexpr int64_t kVecFloats = 8;
#else
constexpr int64_t kVecFloats = 4;
#endif

// GCC and Clang vectors of kVecFloats floats.
using Vec = float __attribute__((vector_size(4 * kVecFloats)));

// Loaded through memcpy: the kernels' runs start at any float.
inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Stored through intrinsics where there are: GCC tuned for AMD Zen splits a
// memcpy of a 32-byte vector into two 16-byte stores.
inline void store(float* p, Vec v) {
#if defined(__AVX512F__)
  _mm512_storeu_ps(p, v);
#elif defined(__AVX__)
  _mm256_storeu_ps(p, v);
#else
  std::memcpy(p, &v, sizeof v);
#endif
}

// c + a * b, rounded once where the target has FMA, in vectors and in
// scalars alike. Written out because compilers decide per loop whether to
// fuse (GCC tuned for AMD Zen leaves a lone accumulator chain unfused), and
// the logits would then depend on which path, or which block width, a
// value took: that is, on how a batch was split between threads.
inline Vec multiply_add(Vec a, float b, Vec c) {
#if defined(__AVX512F__)
  return _mm512_fmadd_ps(a, _mm512_set1_ps(b), c);
#elif defined(__FMA__) && defined(__AVX__)
  return _mm256_fmadd_ps(a, _mm256_set1_ps(b), c);
#else
  return c + a * b;
#endif
}

inline float multiply_add(float a, float b, float c) {
#if defined(__FMA__)
  return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
#else
  return c + a * b;
#endif
}

}  // namespace dcomp::runtime
