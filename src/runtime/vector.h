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

// Lanes as bits: lane i of a vector is bit i of a LaneMask.
using LaneMask = uint32_t;

#if defined(__AVX2__) && !defined(__AVX512F__)
inline __m256i lanes_of(LaneMask m) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(m)), bit), bit);
}
#endif

// The lanes of p in m, the others zero; and v's lanes in m stored to p, the
// others untouched. Masked where the target has masks (no lane outside m
// is read or written, so p may point outside an array there), else lane by
// lane.
inline Vec load_masked(const float* p, LaneMask m) {
#if defined(__AVX512F__)
  return _mm512_maskz_loadu_ps(__mmask16(m), p);
#elif defined(__AVX2__)
  return _mm256_maskload_ps(p, lanes_of(m));
#else
  Vec v{};
  for (int64_t i = 0; i < kVecFloats; ++i)
    if (m >> i & 1) v[i] = p[i];
  return v;
#endif
}

inline void store_masked(float* p, Vec v, LaneMask m) {
#if defined(__AVX512F__)
  _mm512_mask_storeu_ps(p, __mmask16(m), v);
#elif defined(__AVX2__)
  _mm256_maskstore_ps(p, lanes_of(m), v);
#else
  for (int64_t i = 0; i < kVecFloats; ++i)
    if (m >> i & 1) p[i] = v[i];
#endif
}

// The even lanes of a, then those of b: {a0, a2, ..., b0, b2, ...}.
inline Vec even_lanes(Vec a, Vec b) {
#if defined(__AVX512F__)
  return _mm512_permutex2var_ps(a, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b);
#elif defined(__AVX2__)
  // {a0 a2 b0 b2 | a4 a6 b4 b6}, then its 64-bit quarters reordered 0, 2, 1, 3.
  const __m256 pairs = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
#else
  Vec v;
  for (int64_t i = 0; i < kVecFloats / 2; ++i) v[i] = a[2 * i], v[i + kVecFloats / 2] = b[2 * i];
  return v;
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

// s[e] = table[entries[e] >> bits] and v[e] = values[entries[e] & (2^bits
// - 1)] for e < n: sparse entries (offset, index) decoded; 16-bit ones in
// gathers where the target has them.
template <typename Entry>
void decode_entries(const Entry* entries, uint32_t n, int bits, const int32_t* table, const float* values, int32_t* s,
                    float* v) {
  const uint32_t mask = (1u << bits) - 1;
  uint32_t e = 0;
  if constexpr (sizeof(Entry) == 2) {
#if defined(__AVX512F__)
    const __mmask16 all = 0xFFFF;
    const __m512i shift = _mm512_set1_epi32(bits);
    for (; e + 16 <= n; e += 16) {
      // The masked forms, all lanes on: GCC 12's unmasked ones warn of their
      // own undefined pass-through operand.
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(entries + e));
      const __m512i x = _mm512_maskz_cvtepu16_epi32(all, packed);
      const __m512i offset = _mm512_maskz_srlv_epi32(all, x, shift);
      const __m512i index = _mm512_and_si512(x, _mm512_set1_epi32(int(mask)));
      _mm512_storeu_si512(s + e, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), all, offset, table, 4));
      _mm512_storeu_ps(v + e, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), all, index, values, 4));
    }
#elif defined(__AVX2__)
    const __m128i shift = _mm_cvtsi32_si128(bits);
    for (; e + 8 <= n; e += 8) {
      const __m256i x = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(entries + e)));
      const __m256i offset = _mm256_srl_epi32(x, shift), index = _mm256_and_si256(x, _mm256_set1_epi32(int(mask)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(s + e), _mm256_i32gather_epi32(table, offset, 4));
      _mm256_storeu_ps(v + e, _mm256_i32gather_ps(values, index, 4));
    }
#endif
  }
  for (; e < n; ++e) {
    s[e] = table[entries[e] >> bits];
    v[e] = values[entries[e] & mask];
  }
}

}  // namespace dcomp::runtime
