#include <gtest/gtest.h>

#include <queue>
#include <random>

#include "core/huffman.h"

using namespace dcomp;
using namespace dcomp::huffman;

namespace {

// Cost of an unrestricted Huffman code, by the textbook merge of the two
// lightest nodes: the sum of all merged weights.
uint64_t optimal_huffman_bits(const std::vector<uint64_t>& freq) {
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> heap;
  for (uint64_t f : freq)
    if (f) heap.push(f);
  if (heap.size() == 1) return heap.top();
  uint64_t cost = 0;
  while (heap.size() > 1) {
    const uint64_t a = heap.top();
    heap.pop();
    const uint64_t b = heap.top();
    heap.pop();
    cost += a + b;
    heap.push(a + b);
  }
  return cost;
}

std::vector<uint32_t> round_trip(const std::vector<uint32_t>& symbols, const std::vector<uint8_t>& lengths) {
  BitWriter writer;
  const Encoder encoder(lengths);
  for (uint32_t s : symbols) encoder.encode(s, writer);
  const uint64_t bits = writer.bit_count();
  const std::vector<uint8_t> bytes = writer.finish();
  BitReader reader(bytes.data(), bytes.size(), bits);
  const Decoder decoder(lengths);
  std::vector<uint32_t> out;
  for (size_t i = 0; i < symbols.size(); ++i) out.push_back(decoder.decode(reader));
  EXPECT_EQ(reader.remaining(), 0u);
  return out;
}

}  // namespace

TEST(Huffman, LengthsAreOptimalWhenTheLimitDoesNotBind) {
  std::mt19937_64 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint64_t> freq(1 + rng() % 64);
    for (auto& f : freq) f = rng() % 4 ? rng() % 1000 : 0;
    if (std::count_if(freq.begin(), freq.end(), [](uint64_t f) { return f > 0; }) < 2) continue;
    const auto lengths = code_lengths(freq, kMaxCodeLength);
    EXPECT_EQ(encoded_bits(freq, lengths), optimal_huffman_bits(freq)) << "trial " << trial;
    EXPECT_NO_THROW(canonical_codes(lengths));
  }
}

TEST(Huffman, LimitIsRespectedAndCodeStaysComplete) {
  // Fibonacci frequencies make the unrestricted code as deep as possible.
  std::vector<uint64_t> freq = {1, 1};
  while (freq.size() < 30) freq.push_back(freq[freq.size() - 1] + freq[freq.size() - 2]);
  const uint64_t unlimited = optimal_huffman_bits(freq);
  for (int limit : {5, 8, 12}) {
    const auto lengths = code_lengths(freq, limit);
    EXPECT_LE(*std::max_element(lengths.begin(), lengths.end()), limit);
    EXPECT_NO_THROW(canonical_codes(lengths));  // Kraft sum exactly 1
    EXPECT_GE(encoded_bits(freq, lengths), unlimited);
  }
  EXPECT_THROW(code_lengths(freq, 4), std::invalid_argument);  // 30 symbols need 5 bits
}

TEST(Huffman, CanonicalCodesFollowLengthThenSymbol) {
  const auto codes = canonical_codes({2, 1, 3, 3});
  EXPECT_EQ(codes[1].bits, 0b0u);
  EXPECT_EQ(codes[0].bits, 0b10u);
  EXPECT_EQ(codes[2].bits, 0b110u);
  EXPECT_EQ(codes[3].bits, 0b111u);
}

TEST(Huffman, RejectsImpossibleLengths) {
  EXPECT_THROW(canonical_codes({1, 1, 1}), FormatError);        // oversubscribed
  EXPECT_THROW(canonical_codes({2, 2, 2}), FormatError);        // incomplete
  EXPECT_THROW(canonical_codes({2}), FormatError);              // lone code must be 1 bit
  EXPECT_THROW(canonical_codes({21, 1}), FormatError);          // above the limit
  EXPECT_THROW(Decoder(std::vector<uint8_t>{1, 1, 1}), FormatError);
}

TEST(Huffman, RoundTripsRandomStreams) {
  std::mt19937_64 rng(7);
  for (int trial = 0; trial < 100; ++trial) {
    const size_t alphabet = 1 + rng() % 300;
    std::vector<uint32_t> symbols(rng() % 5000);
    std::geometric_distribution<uint32_t> skewed(0.05);
    for (auto& s : symbols) s = std::min<uint32_t>(skewed(rng), uint32_t(alphabet - 1));
    std::vector<uint64_t> freq(alphabet);
    for (uint32_t s : symbols) ++freq[s];
    const int limit = 9 + int(rng() % (kMaxCodeLength - 8));  // 9 bits hold the 300 symbols
    const auto lengths = code_lengths(freq, limit);
    EXPECT_EQ(round_trip(symbols, lengths), symbols) << "trial " << trial;
  }
}

TEST(Huffman, LoneSymbolUsesOneBitEach) {
  const auto lengths = code_lengths({0, 0, 5}, 8);
  EXPECT_EQ(lengths, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(round_trip({2, 2, 2, 2, 2}, lengths), (std::vector<uint32_t>{2, 2, 2, 2, 2}));
}

TEST(Huffman, DecoderRejectsTruncatedStreamsAndUnusedCodes) {
  const auto lengths = code_lengths({10, 1, 1}, 8);  // 0 -> '0', 1 -> '10', 2 -> '11'
  const Decoder decoder(lengths);
  const uint8_t byte = 0b10000000;
  BitReader truncated(&byte, 1, 1);  // one bit of a two-bit code
  EXPECT_THROW(decoder.decode(truncated), FormatError);
  const Decoder lone(std::vector<uint8_t>{1});  // only '0' is a code
  const uint8_t ones = 0xFF;
  BitReader reader(&ones, 1, 8);
  EXPECT_THROW(lone.decode(reader), FormatError);
}

TEST(BitStream, WritesAndReadsMostSignificantBitFirst) {
  BitWriter w;
  w.write(0b101, 3);
  w.write(0xABCDE, 20);
  w.write(1, 1);
  EXPECT_EQ(w.bit_count(), 24u);
  const auto bytes = w.finish();
  ASSERT_EQ(bytes.size(), 3u);
  EXPECT_EQ(bytes[0], 0b10110101);
  BitReader r(bytes.data(), bytes.size(), 24);
  EXPECT_EQ(r.read(3), 0b101u);
  EXPECT_EQ(r.read(20), 0xABCDEu);
  EXPECT_EQ(r.read(1), 1u);
  EXPECT_THROW(r.read(1), FormatError);
  EXPECT_THROW(BitReader(bytes.data(), bytes.size(), 25), FormatError);
}
