// The context-adaptive coder of a pruned, weight-shared tensor (coder 1 of
// the .dcz format, docs/coding.md): one binary arithmetic-coded stream
// (binary_arithmetic_coder.h) holding, for every element in row-major
// order, a significance bit, and after each 1 the element's codebook index.
//
// The tensor is read as kernels of K consecutive elements (K = the product
// of the dimensions after the first two: 9 for a 3x3 convolution, 1 for a
// linear layer), since pruning leaves structure inside a kernel.
//   significance of element e, j = e mod K: contexts by
//     j == 0, or else the nonzeros already seen in this kernel (0, 1, 2+),
//     and whether element e - 1 was nonzero                  (8 models)
//   index: its `bits` bits, most significant first, each coded with the
//     model of the prefix above it (a binary tree of 2^bits - 1 models: an
//     adaptive order-0 code of the index), in one of three trees chosen by
//     the previous nonzero of the same kernel: none, negative, positive.
// The significance models start at the tensor's zero fraction, the index
// models at 1/2. Each group adapts at its own two rates (2^-fast, 2^-slow),
// which the encoder chooses per tensor from a few candidates, by cost, and
// signals. Chosen by measurement on the Lab 4 ResNet-20 and the LeNets
// (docs/coding.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/binary_arithmetic_coder.h"

namespace dcomp::adaptive {

struct Tensor {  // what the coder sees of a shared tensor
  uint64_t numel = 0;
  uint64_t kernel = 1;            // K, >= 1, divides numel unless numel is 0
  int bits = 1;                   // index width, 1..8
  std::vector<float> codebook;    // <= 2^bits entries
  std::vector<uint32_t> positions;  // ascending, < numel
  std::vector<uint8_t> indices;     // < codebook.size()
};

// A model group's rates as shifts, fast and slow, each in [4, 15]. From 4
// up, an estimate adapting from 1/2 stays at least 2^-11 from 0 and 1, so
// that one byte of stream decodes to at most about 600 bytes of values
// (the dense stream's bound, dense_coding.h).
struct Rates {
  int fast = 5, slow = 8;
  uint8_t byte() const { return uint8_t(fast | slow << 4); }  // as stored
  static Rates from_byte(uint8_t b) { return {b & 15, b >> 4}; }
  bool valid() const { return fast >= 4 && slow >= 4; }  // both are 4 bits
};

// Rates an encoder tries for each model group (here and in the dense
// stream): fast adaptation pays where the statistics drift along the tensor
// (indices do, channel by channel).
inline constexpr Rates kCandidateRates[] = {{4, 6}, {4, 8}, {5, 8}, {6, 10}};

struct Parameters {  // what the decoder needs beside the tensor's shape
  uint16_t initial_p0 = AdaptiveBitModel::kOne / 2;  // the significance models' P(0) at the start, in 2^-15
  Rates significance, index;
};

struct Encoded {
  std::vector<uint8_t> bytes;
  Parameters parameters;
  // The ideal code length of each part under the models (sum of -log2 p):
  // what the stream would cost with no coder overhead.
  double position_model_bits = 0, index_model_bits = 0;
};

// Chooses the parameters, then codes t.
Encoded encode(const Tensor& t);

// Fills t.positions and t.indices from a stream that encode wrote for a
// tensor with t's numel, kernel, bits and codebook, holding `nonzeros`
// nonzeros. Throws FormatError unless the stream decodes to exactly that
// and is consumed exactly. Work is bounded by numel, which the format
// bounds (kMaxElements).
void decode(const uint8_t* data, size_t size, const Parameters& parameters, uint64_t nonzeros, Tensor& t);

// K for a tensor of this shape.
uint64_t kernel_size(const std::vector<int64_t>& shape);

}  // namespace dcomp::adaptive
