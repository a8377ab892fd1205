// Canonical Huffman codes with a bounded length (the zstd recipe): only the
// code lengths are stored; codes are rebuilt from them; decoding looks the
// next `max_length` bits up in a table of 1 << max_length entries.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bit_stream.h"

namespace dcomp::huffman {

// Longest code any stream may use. A decoder's table has 1 << length
// entries, so this bounds its memory at 2^20 * 4 bytes = 4 MiB.
inline constexpr int kMaxCodeLength = 20;

// Optimal code lengths under the limit `max_length` (package-merge, Larmore
// and Hirschberg 1990): lengths[s] = 0 for frequency 0. A lone symbol gets
// length 1. Throws std::invalid_argument when 2^max_length < used symbols.
std::vector<uint8_t> code_lengths(const std::vector<uint64_t>& frequencies, int max_length);

struct Code {
  uint32_t bits = 0;  // the code, right-aligned
  uint8_t length = 0;
};

// Canonical codes for `lengths`: shorter codes first, ties by symbol. Throws
// FormatError unless the lengths form a complete prefix code (Kraft sum
// exactly 1), or are a single code of length 1.
std::vector<Code> canonical_codes(const std::vector<uint8_t>& lengths);

// Total bits of `frequencies` coded with `lengths`.
uint64_t encoded_bits(const std::vector<uint64_t>& frequencies, const std::vector<uint8_t>& lengths);

class Encoder {
 public:
  explicit Encoder(const std::vector<uint8_t>& lengths) : codes_(canonical_codes(lengths)) {}
  // Throws std::invalid_argument for a symbol without a code.
  void encode(uint32_t symbol, BitWriter& out) const {
    if (symbol >= codes_.size() || codes_[symbol].length == 0) throw std::invalid_argument("symbol has no code");
    out.write(codes_[symbol].bits, codes_[symbol].length);
  }

 private:
  std::vector<Code> codes_;
};

class Decoder {
 public:
  // Validates `lengths` (FormatError) and builds the lookup table.
  explicit Decoder(const std::vector<uint8_t>& lengths);
  // The next symbol; FormatError if the bits are no code or the stream ends.
  uint32_t decode(BitReader& in) const {
    const Entry e = table_[in.peek(max_length_)];
    if (e.length == 0) throw FormatError("invalid Huffman code in stream");
    in.skip(e.length);
    return e.symbol;
  }

 private:
  struct Entry {
    uint16_t symbol;
    uint8_t length;  // 0: no code starts with these bits
  };
  int max_length_ = 1;
  std::vector<Entry> table_;
};

}  // namespace dcomp::huffman
