// Adaptive binary arithmetic coding: the engine under the context-adaptive
// coder of pruned, weight-shared tensors (contexts are chosen by the caller).
//
// A range coder over bytes (LZMA's: 32-bit range, carries propagated through
// a run of 0xFF bytes), coding one bit at a time against the probability its
// model holds. A model is two estimates of P(bit = 0) in units of 2^-15 that
// move toward each bit seen at rates 2^-fast and 2^-slow (the "two-rate
// counter" of VVC's CABAC): the fast one follows a change, the slow one
// settles on a stationary rate; the coder uses their mean. A bit costs
// -log2 P(bit) of output, plus about 4 bytes of flush per stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dcomp {

class AdaptiveBitModel {
 public:
  static constexpr int kPrecisionBits = 15;
  static constexpr uint32_t kOne = 1u << kPrecisionBits;

  // Rates as shifts: each bit moves an estimate by 1/2^shift of its distance.
  // Both estimates start at p0 (P(bit = 0), clamped to [1, kOne - 1]).
  explicit AdaptiveBitModel(int fast_shift = 5, int slow_shift = 8, uint32_t p0 = kOne / 2);

  // P(bit = 0) in units of 2^-15; always within [1, kOne - 1].
  uint32_t p0() const { return (uint32_t(fast_) + slow_) >> 1; }
  // What coding `bit` now costs, -log2 P(bit), in bits: the ideal code
  // length, which encoders sum to choose parameters and report.
  double cost_bits(int bit) const;
  void update(int bit) {
    if (bit) {
      fast_ -= uint16_t(fast_ >> fast_shift_), slow_ -= uint16_t(slow_ >> slow_shift_);
    } else {
      fast_ += uint16_t((kOne - fast_) >> fast_shift_), slow_ += uint16_t((kOne - slow_) >> slow_shift_);
    }
  }

 private:
  uint16_t fast_, slow_;
  uint8_t fast_shift_, slow_shift_;
};

class BinaryArithmeticEncoder {
 public:
  // Codes bit (0 or 1) with model's probability, then updates the model.
  void encode(int bit, AdaptiveBitModel& model);
  // Codes bit at probability 1/2, no model (for near-uniform suffix bits).
  void encode_equiprobable(int bit);
  // Flushes and returns the stream; the encoder is spent afterwards.
  std::vector<uint8_t> finish();

 private:
  void normalize();
  void shift_low();
  uint64_t low_ = 0;
  uint32_t range_ = 0xFFFFFFFFu;
  uint8_t cache_ = 0;
  uint64_t pending_ = 1;  // bytes held back for a carry: cache_ then 0xFFs
  bool first_ = true;     // the first byte out is always 0 and is dropped
  std::vector<uint8_t> out_;
};

// Decodes what BinaryArithmeticEncoder wrote, given the same sequence of
// models. Never reads outside [data, data + size): past the end it reads
// zeros and records the overrun, which a well-formed stream never causes, so
// a caller that checks overran() after decoding rejects a truncated stream.
class BinaryArithmeticDecoder {
 public:
  BinaryArithmeticDecoder(const uint8_t* data, size_t size);
  int decode(AdaptiveBitModel& model);
  int decode_equiprobable();
  bool overran() const { return overrun_ > 0; }
  // True when the decoder has read every byte of the stream and none past
  // it: what decoding a whole, untruncated stream ends with.
  bool consumed_exactly() const { return next_ == end_ && overrun_ == 0; }

 private:
  uint8_t next_byte() {
    if (next_ < end_) return *next_++;
    ++overrun_;
    return 0;
  }
  void normalize();
  const uint8_t *next_, *end_;
  uint32_t range_ = 0xFFFFFFFFu, code_ = 0;
  uint64_t overrun_ = 0;
};

}  // namespace dcomp
