// Bit streams, most significant bit first: the order canonical Huffman codes
// are compared in, so a decoder can index a table with the next bits as they
// stand.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace dcomp {

// A malformed, truncated or hostile compressed stream.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class BitWriter {
 public:
  // Appends the low `count` bits of `bits` (count <= 32), first bit first.
  void write(uint32_t bits, int count) {
    buffer_ = buffer_ << count | (uint64_t(bits) & ((uint64_t{1} << count) - 1));
    pending_ += count;
    bit_count_ += uint64_t(count);
    while (pending_ >= 8) {
      pending_ -= 8;
      bytes_.push_back(uint8_t(buffer_ >> pending_));
    }
  }
  uint64_t bit_count() const { return bit_count_; }
  // The bytes written, the last one padded with zero bits.
  std::vector<uint8_t> finish() {
    if (pending_ > 0) bytes_.push_back(uint8_t(buffer_ << (8 - pending_)));
    pending_ = 0;
    return std::move(bytes_);
  }

 private:
  std::vector<uint8_t> bytes_;
  uint64_t buffer_ = 0;
  int pending_ = 0;  // bits in buffer_ not yet in bytes_
  uint64_t bit_count_ = 0;
};

class BitReader {
 public:
  // Reads `bit_count` bits from `data` (which must hold at least that many).
  BitReader(const uint8_t* data, size_t size, uint64_t bit_count) : data_(data), bits_(bit_count) {
    if (bit_count > uint64_t(size) * 8) throw FormatError("bit stream is longer than its data");
  }
  // The next `count` bits (count <= 32) without consuming them; past the end
  // of the stream they read as zero.
  uint32_t peek(int count) const {
    uint64_t value = 0;
    const uint64_t byte = position_ >> 3;
    for (uint64_t i = 0; i < 5; ++i) value = value << 8 | (byte + i < (bits_ + 7) / 8 ? data_[byte + i] : 0);
    value = value << (position_ & 7) & 0xFF'FFFF'FFFFull;  // 40 bits, the next bit at the top
    return uint32_t(value >> (40 - count));
  }
  void skip(int count) {
    if (uint64_t(count) > bits_ - position_) throw FormatError("bit stream ended early");
    position_ += uint64_t(count);
  }
  uint32_t read(int count) {
    const uint32_t v = peek(count);
    skip(count);
    return v;
  }
  uint64_t remaining() const { return bits_ - position_; }

 private:
  const uint8_t* data_;
  uint64_t bits_;
  uint64_t position_ = 0;
};

}  // namespace dcomp
