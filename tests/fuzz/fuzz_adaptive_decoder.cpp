// libFuzzer target: the adaptive coder's decoder on arbitrary streams. An
// 11-byte header chooses the tensor and the coder's parameters, the rest is
// the stream:
//   [0] kernel - 1 (mod 16)   [1..2] kernels (u16, mod 4096)   [3] bits - 1 (mod 8)
//   [4] codebook size - 1 (mod 2^bits; entries alternate in sign)
//   [5..6] initial P(0) - 1 (u16, mod 32767)   [7] significance rates   [8] index rates
//   [9..10] nonzeros (u16)
// Decoding must throw FormatError or give exactly the nonzeros asked for,
// at ascending positions inside the tensor, with indices in the codebook.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "core/adaptive_coding.h"
#include "core/bit_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHeader = 11;
  if (size < kHeader) return 0;
  const auto u16 = [data](size_t at) { return uint32_t(data[at] | data[at + 1] << 8); };
  dcomp::adaptive::Tensor t;
  t.kernel = 1 + data[0] % 16;
  t.numel = t.kernel * (u16(1) % 4096);
  t.bits = 1 + data[3] % 8;
  const uint32_t codebook = 1 + data[4] % (1u << t.bits);
  for (uint32_t i = 0; i < codebook; ++i) t.codebook.push_back(i % 2 ? float(i) : -float(i));
  dcomp::adaptive::Parameters p;
  p.initial_p0 = uint16_t(1 + u16(5) % 32767);
  p.significance = dcomp::adaptive::Rates::from_byte(data[7]);
  p.index = dcomp::adaptive::Rates::from_byte(data[8]);
  const uint64_t nonzeros = u16(9);
  try {
    dcomp::adaptive::decode(data + kHeader, size - kHeader, p, nonzeros, t);
  } catch (const dcomp::FormatError&) {
    return 0;
  }
  if (t.positions.size() != nonzeros || t.indices.size() != nonzeros) std::abort();
  for (size_t i = 0; i < t.positions.size(); ++i)
    if (t.positions[i] >= t.numel || (i > 0 && t.positions[i] <= t.positions[i - 1]) || t.indices[i] >= codebook)
      std::abort();
  return 0;
}
