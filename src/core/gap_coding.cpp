#include "core/gap_coding.h"

#include <algorithm>

#include "core/huffman.h"

namespace dcomp::gaps {

namespace {
// Calls emit(symbol, count) for the gaps before each position.
template <typename Emit>
void for_each_gap(const std::vector<uint32_t>& positions, int bits, Emit emit) {
  const uint32_t e = escape(bits);
  int64_t previous = -1;
  for (uint32_t p : positions) {
    const uint64_t gap = uint64_t(int64_t(p) - previous - 1);
    emit(e, gap / e);
    emit(uint32_t(gap % e), 1);
    previous = p;
  }
}
}  // namespace

std::vector<uint32_t> symbols(const std::vector<uint32_t>& positions, int bits) {
  std::vector<uint32_t> out;
  for_each_gap(positions, bits, [&](uint32_t s, uint64_t count) { out.insert(out.end(), count, s); });
  return out;
}

std::vector<uint64_t> frequencies(const std::vector<uint32_t>& positions, int bits) {
  std::vector<uint64_t> f(size_t{1} << bits, 0);
  for_each_gap(positions, bits, [&](uint32_t s, uint64_t count) { f[s] += count; });
  return f;
}

uint64_t filler_scheme_bits(const std::vector<uint32_t>& positions, const std::vector<uint64_t>& index_frequencies,
                            int max_code_length,
                            const std::function<uint64_t(const std::vector<uint8_t>&)>& table_bits) {
  uint64_t best = UINT64_MAX;
  for (int b = 1; b <= kMaxBits; ++b) {
    const std::vector<uint64_t> gap = frequencies(positions, b);
    const std::vector<uint8_t> gap_lengths = huffman::code_lengths(gap, max_code_length);
    std::vector<uint64_t> index = index_frequencies;
    index.push_back(gap[escape(b)]);  // the fillers' zero value
    best = std::min(best, huffman::encoded_bits(gap, gap_lengths) + table_bits(gap_lengths) +
                              huffman::encoded_bits(index, huffman::code_lengths(index, max_code_length)));
  }
  return best;
}

}  // namespace dcomp::gaps
