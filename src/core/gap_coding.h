// Positions of a sparse tensor's nonzeros, coded as gaps with an escape.
//
// Han et al. store the difference between consecutive nonzero indices in b
// bits and insert a filler zero weight when a difference exceeds 2^b - 1;
// each filler costs a codebook index as well. Here the largest symbol of
// the 2^b alphabet is an escape meaning "E = 2^b - 1 more zeros, no weight",
// so a long run costs gap bits only, and b is chosen per tensor.
//
// With p_-1 = -1, the gap before nonzero i is g_i = p_i - p_{i-1} - 1 (the
// zeros between them); it is sent as floor(g_i / E) escapes, then g_i mod E.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace dcomp::gaps {

// b ranges over [1, kMaxBits]: 2^12 symbols keeps the code-length table of a
// tensor at most 2.5 KiB and the decoder's table small.
inline constexpr int kMaxBits = 12;

inline uint32_t escape(int bits) { return (uint32_t{1} << bits) - 1; }

// The symbol stream for ascending `positions`.
std::vector<uint32_t> symbols(const std::vector<uint32_t>& positions, int bits);

// How often each of the 2^bits symbols occurs in symbols(positions, bits).
std::vector<uint64_t> frequencies(const std::vector<uint32_t>& positions, int bits);

// For comparison: the bits of Han et al.'s scheme for the same tensor, the
// best over b in [1, kMaxBits]: both streams Huffman-coded (lengths <=
// max_code_length) plus `table_bits` of the gap code's lengths. Each filler
// is an escape in the gap stream and also a zero entry in the index stream,
// which gets one more symbol.
uint64_t filler_scheme_bits(const std::vector<uint32_t>& positions, const std::vector<uint64_t>& index_frequencies,
                            int max_code_length,
                            const std::function<uint64_t(const std::vector<uint8_t>&)>& table_bits);

}  // namespace dcomp::gaps
