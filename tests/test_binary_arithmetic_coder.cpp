#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/binary_arithmetic_coder.h"

using namespace dcomp;

namespace {

// Bits from a source whose P(1) is p for the first half and q for the second.
std::vector<int> bits_from(double p, double q, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int> bits(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) bits[size_t(i)] = std::bernoulli_distribution(i < n / 2 ? p : q)(rng);
  return bits;
}

std::vector<uint8_t> encode(const std::vector<int>& bits, int fast = 5, int slow = 8) {
  BinaryArithmeticEncoder encoder;
  AdaptiveBitModel model(fast, slow);
  for (int b : bits) encoder.encode(b, model);
  return encoder.finish();
}

double entropy_bits(double p) { return -p * std::log2(p) - (1 - p) * std::log2(1 - p); }

}  // namespace

TEST(BinaryArithmeticCoder, RoundTripsModelledAndEquiprobableBitsInterleaved) {
  for (auto [p, q] : {std::pair{0.5, 0.5}, {0.02, 0.02}, {0.98, 0.9}, {0.01, 0.7}, {0.0, 1.0}}) {
    const std::vector<int> bits = bits_from(p, q, 20000, 7), raw = bits_from(0.5, 0.5, 20000, 8);
    BinaryArithmeticEncoder encoder;
    AdaptiveBitModel a, b(4, 7);
    for (size_t i = 0; i < bits.size(); ++i) {
      encoder.encode(bits[i], i % 3 ? a : b);
      if (i % 5 == 0) encoder.encode_equiprobable(raw[i]);
    }
    const std::vector<uint8_t> stream = encoder.finish();
    BinaryArithmeticDecoder decoder(stream.data(), stream.size());
    AdaptiveBitModel da, db(4, 7);
    for (size_t i = 0; i < bits.size(); ++i) {
      ASSERT_EQ(decoder.decode(i % 3 ? da : db), bits[i]) << "bit " << i << ", p " << p;
      if (i % 5 == 0) {
        ASSERT_EQ(decoder.decode_equiprobable(), raw[i]) << "raw bit " << i;
      }
    }
    EXPECT_FALSE(decoder.overran());
  }
}

TEST(BinaryArithmeticCoder, CostsCloseToTheSourceEntropy) {
  // Stationary: within 3% of the entropy (measured: 0.5%, 0.3%, 2.4%); the
  // excess is the estimates' noise, larger the rarer the bit.
  for (double p : {0.5, 0.16, 0.03}) {
    const int n = 200000;
    const double bits = 8.0 * double(encode(bits_from(p, p, n, 1)).size());
    EXPECT_LT(bits, 1.03 * n * entropy_bits(p)) << "p " << p;
    EXPECT_GT(bits, 0.99 * n * entropy_bits(p)) << "p " << p;
  }
  // A source that changes halfway: the fast estimate follows it.
  const int n = 100000;
  const double bits = 8.0 * double(encode(bits_from(0.02, 0.4, n, 2)).size());
  EXPECT_LT(bits, 1.05 * n * (entropy_bits(0.02) + entropy_bits(0.4)) / 2);
  // A constant source: the estimates stop short of certainty (where a step
  // of 2^-shift of the distance rounds to zero: P = 1 - 143 / 2^15), so a bit
  // costs about 0.008 bits.
  EXPECT_LT(encode(std::vector<int>(100000, 0)).size(), 110u);
  EXPECT_LT(encode(std::vector<int>(100000, 1)).size(), 110u);
}

TEST(BinaryArithmeticCoder, TruncatedOrEmptyStreamsAreDetectedNotOverread) {
  const std::vector<int> bits = bits_from(0.2, 0.2, 5000, 3);
  const std::vector<uint8_t> stream = encode(bits);
  for (size_t cut : {size_t(0), size_t(1), stream.size() / 2, stream.size() - 1}) {
    // A copy of exactly `cut` bytes, so that the sanitizers see any read past it.
    const std::vector<uint8_t> truncated(stream.begin(), stream.begin() + long(cut));
    BinaryArithmeticDecoder decoder(truncated.data(), truncated.size());
    AdaptiveBitModel model;
    for (size_t i = 0; i < bits.size(); ++i) decoder.decode(model);
    EXPECT_TRUE(decoder.overran()) << "cut at " << cut << " of " << stream.size();
  }
}

TEST(BinaryArithmeticCoder, ProbabilitiesStayInsideTheOpenInterval) {
  AdaptiveBitModel model(1, 1);  // the fastest rates reach the extremes soonest
  for (int i = 0; i < 100; ++i) model.update(0);
  EXPECT_LT(model.p0(), AdaptiveBitModel::kOne);
  for (int i = 0; i < 100; ++i) model.update(1);
  EXPECT_GT(model.p0(), 0u);
}
