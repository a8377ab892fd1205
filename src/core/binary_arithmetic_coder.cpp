#include "core/binary_arithmetic_coder.h"

#include <cmath>

namespace dcomp {

namespace {
constexpr uint32_t kTop = 1u << 24;  // renormalize when the range falls below 2^24
}

AdaptiveBitModel::AdaptiveBitModel(int fast_shift, int slow_shift, uint32_t p0)
    : fast_(uint16_t(p0 < 1 ? 1 : p0 > kOne - 1 ? kOne - 1 : p0)),
      slow_(fast_),
      fast_shift_(uint8_t(fast_shift)),
      slow_shift_(uint8_t(slow_shift)) {}

double AdaptiveBitModel::cost_bits(int bit) const {
  return -std::log2(double(bit ? kOne - p0() : p0()) / kOne);
}

void BinaryArithmeticEncoder::encode(int bit, AdaptiveBitModel& model) {
  const uint32_t bound = (range_ >> AdaptiveBitModel::kPrecisionBits) * model.p0();
  if (bit) {
    low_ += bound, range_ -= bound;
  } else {
    range_ = bound;
  }
  model.update(bit);
  normalize();
}

void BinaryArithmeticEncoder::encode_equiprobable(int bit) {
  range_ >>= 1;
  if (bit) low_ += range_;
  normalize();
}

void BinaryArithmeticEncoder::normalize() {
  while (range_ < kTop) range_ <<= 8, shift_low();
}

// Moves the top byte of low_ out. It cannot be written while a later carry
// could still change it: a 0xFF byte waits (pending_) until the carry is
// known, then it and the bytes before it go out together.
void BinaryArithmeticEncoder::shift_low() {
  if (uint32_t(low_) < 0xFF000000u || (low_ >> 32) != 0) {
    const uint8_t carry = uint8_t(low_ >> 32);
    uint8_t byte = cache_;
    do {
      if (!first_) out_.push_back(uint8_t(byte + carry));
      first_ = false;
      byte = 0xFF;
    } while (--pending_ != 0);
    cache_ = uint8_t(low_ >> 24);
  }
  ++pending_;
  low_ = (low_ & 0x00FFFFFFu) << 8;
}

std::vector<uint8_t> BinaryArithmeticEncoder::finish() {
  for (int i = 0; i < 5; ++i) shift_low();
  return std::move(out_);
}

BinaryArithmeticDecoder::BinaryArithmeticDecoder(const uint8_t* data, size_t size) : next_(data), end_(data + size) {
  for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | next_byte();
}

int BinaryArithmeticDecoder::decode(AdaptiveBitModel& model) {
  const uint32_t bound = (range_ >> AdaptiveBitModel::kPrecisionBits) * model.p0();
  const int bit = code_ >= bound;
  if (bit) {
    code_ -= bound, range_ -= bound;
  } else {
    range_ = bound;
  }
  model.update(bit);
  normalize();
  return bit;
}

int BinaryArithmeticDecoder::decode_equiprobable() {
  range_ >>= 1;
  const int bit = code_ >= range_;
  if (bit) code_ -= range_;
  normalize();
  return bit;
}

void BinaryArithmeticDecoder::normalize() {
  while (range_ < kTop) range_ <<= 8, code_ = (code_ << 8) | next_byte();
}

}  // namespace dcomp
