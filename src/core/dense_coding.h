// Adaptive coding of the values stored whole (BN parameters and running
// statistics, biases, counters): one binary arithmetic-coded stream for all
// such tensors of a file, in table order (docs/coding.md).
//
// Each value is taken as the bytes it would be stored as (little-endian
// float32, float16 or int64) and coded from its most significant byte
// down, each byte by a binary tree of 255 adaptive models, most significant
// bit first. A tree serves one (value width, byte place, name role), the
// role being the tensor name's last component ("weight", "running_var",
// ...): the top byte holds the sign and exponent, which are alike across
// the tensors of one role, so the models carry from tensor to tensor. The
// rates are chosen by the encoder and signalled.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/adaptive_coding.h"

namespace dcomp::dense {

struct Values {
  std::string role;            // the name's last component
  int width = 4;               // bytes per value: 2, 4 or 8
  std::vector<uint8_t> bytes;  // count * width, each value little-endian
};

struct Encoded {
  std::vector<uint8_t> bytes;
  adaptive::Rates rates;
  double model_bits = 0;  // the ideal code length under the models
};

Encoded encode(const std::vector<Values>& tensors);

// Fills each tensor's bytes (its role, width and bytes.size() given) from a
// stream encode wrote; throws FormatError unless it is consumed exactly.
void decode(const uint8_t* data, size_t size, adaptive::Rates rates, std::vector<Values>& tensors);

std::string role(const std::string& tensor_name);

}  // namespace dcomp::dense
