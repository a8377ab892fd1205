// Conformance vectors for the .dcz format (docs/format.md): small files that
// each exercise one rule, the valid ones with the tensors a reader must
// decode, the invalid ones with the one-line error it must give. Written to
// tests/conformance/ by make_conformance_vectors; tests/test_conformance.cpp
// checks that the committed files are these and that dcomp decodes them.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/compressed_file.h"

namespace dcomp::conformance {

// The worked example of docs/format.md, written field by field from the
// spec (not by dcomp's encoder): one 2x3 shared weight, three nonzeros, a
// one-operation graph. Each field can be set to break one rule.
struct TinyFile {
  std::string magic = "DCZ1";
  uint32_t version = 2;
  std::vector<std::pair<std::string, std::string>> metadata = {{"input_shape", "3,1,1"}};
  std::string name = "w";
  uint8_t storage = 2;
  std::vector<uint64_t> dims = {2, 3};
  uint8_t coder = 0, bits = 1;
  std::vector<float> codebook = {-0.5f, 0.5f};
  std::vector<uint8_t> nonzeros = {3};  // varint bytes
  std::vector<uint8_t> index_lengths = {1, 1};
  uint8_t length_padding = 0;  // the low bits after the index lengths
  uint8_t gap_bits = 2;
  std::vector<uint8_t> position_lengths = {1, 1};
  uint64_t index_stream_bits = 3, position_stream_bits = 3;
  std::vector<uint8_t> graph = {1, 15, 1, 0, 1, 0, 0, 0, 1};  // linear(value 0, tensor 0) -> value 1
  std::vector<uint8_t> index_stream = {0xA0};     // 1 0 1: indices 1, 0, 1
  std::vector<uint8_t> position_stream = {0x20};  // 0 0 1: gaps 0, 0, 1
  std::vector<uint8_t> trailing;                  // bytes after the payload
  size_t drop = 0;                                // bytes cut off the end, checksum included
};
std::vector<uint8_t> write(const TinyFile& f);

struct Tensor {  // as a reader must decode it
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> floats;      // float32, float16 (widened) and shared tensors
  std::vector<int64_t> integers;  // int64 tensors
  bool is_integer = false;
};

// A decoded tensor's values as a reader must give them: shared tensors
// expanded (+0.0 where not coded), float16 widened from its rounded value.
Tensor values_of(const dcz::Tensor& t);

struct Valid {
  std::string name, what;
  std::vector<uint8_t> bytes;
  std::vector<Tensor> tensors;
};
struct Invalid {
  std::string name, what;
  std::vector<uint8_t> bytes;
  std::string error;  // the reader's message
};

// Throws std::logic_error if a vector does not exercise what it says.
std::vector<Valid> valid_vectors();
std::vector<Invalid> invalid_vectors();

// DIR/README.md, DIR/valid/NAME.dcz with DIR/valid/NAME/TENSOR.npy, and
// DIR/invalid/NAME.dcz with DIR/invalid/NAME.error (the message and a newline).
void write_all(const std::string& dir);

}  // namespace dcomp::conformance
