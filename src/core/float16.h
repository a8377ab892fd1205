// IEEE 754 binary16 <-> binary32, for storing tensors at half precision.
// C++17 has no half type; these are the standard bit manipulations.
#pragma once

#include <cstdint>
#include <cstring>

namespace dcomp {

// Rounds to the nearest half, ties to even; overflow gives infinity, NaN
// stays NaN.
inline uint16_t float_to_half(float value) {
  uint32_t f;
  std::memcpy(&f, &value, 4);
  const uint32_t sign = (f >> 16) & 0x8000;
  const uint32_t abs = f & 0x7FFFFFFF;
  if (abs > 0x7F800000) return uint16_t(sign | 0x7E00);          // NaN
  if (abs >= 0x477FF000) return uint16_t(sign | 0x7C00);         // rounds to >= 65520: infinity
  if (abs < 0x38800000) {                                         // below 2^-14: subnormal half
    if (abs < 0x33000000) return uint16_t(sign);                  // below half the smallest subnormal: 0
    const uint32_t mantissa = (abs & 0x7FFFFF) | 0x800000;
    const int shift = 126 - int(abs >> 23);                      // 14..24 more bits to drop
    const uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
    return uint16_t(sign | (half + (rest > midpoint || (rest == midpoint && (half & 1)))));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits.
  const uint32_t rebased = abs - 0x38000000;
  const uint32_t rest = rebased & 0x1FFF;
  uint32_t half = rebased >> 13;
  half += rest > 0x1000 || (rest == 0x1000 && (half & 1));  // a carry may round up into the exponent
  return uint16_t(sign | half);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
  uint32_t f;
  if (exponent == 0x1F) {
    f = sign | 0x7F800000 | (mantissa << 13);  // infinity or NaN
  } else if (exponent != 0) {
    f = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    f = sign;
  } else {  // subnormal: normalize
    int e = -1;
    uint32_t m = mantissa;
    do {
      ++e;
      m <<= 1;
    } while (!(m & 0x400));
    f = sign | (uint32_t(112 - e) << 23) | ((m & 0x3FF) << 13);
  }
  float value;
  std::memcpy(&value, &f, 4);
  return value;
}

}  // namespace dcomp
