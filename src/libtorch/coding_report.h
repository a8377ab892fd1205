// Huffman coding of a weight-shared model's codebook indices, summarized
// per layer: symbol frequencies, canonical codes, average bits per weight,
// the entropy bound, and the homework's compression formula.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "libtorch/weight_sharing.h"

namespace dcomp {

// Longest Huffman code dcomp writes for codebook indices. 2^8 symbols at
// most, so this never binds for sensible distributions but bounds the
// decoder's table at 2^16 entries.
inline constexpr int kIndexCodeLimit = 16;

struct LayerCoding {
  std::string name;
  int bits = 0;
  int64_t weights = 0, nonzeros = 0;
  std::vector<uint64_t> frequencies;  // per codebook index, over the nonzero weights
  std::vector<uint8_t> code_lengths;  // canonical Huffman code lengths
  double average_bits = 0;            // Huffman bits per nonzero weight
  double entropy_bits = 0;            // Shannon entropy of the indices, bits per nonzero weight
};

struct CodingReport {
  std::vector<LayerCoding> layers;
  int64_t weights = 0, nonzeros = 0;
  double average_bits = 0;  // over all nonzero weights
  // The seed's formula, ratio = (nonzero/total) * (bits/32) * (huffman_length/bits):
  // per layer the bits cancel, so over the model it is
  // sum(nonzero_l * huffman_length_l) / (32 * total). Reported as 1/ratio.
  double formula_factor = 0;
};

CodingReport huffman_report(const std::vector<SharedLayer>& layers);
nlohmann::json to_json(const CodingReport& report);
std::string format_table(const CodingReport& report);

// The homework's artifacts in `dir`: codebook_<model>.npy (float32
// [layers, 2^max_bits], NaN where unused), huffman_encoding.npy (unicode
// '0'/'1' codes, '' where unused), huffman_freq.npy (int64 frequencies),
// and huffman_layers.json naming the rows (state_dict order).
void write_coding_artifacts(const std::string& dir, const std::string& model, const std::vector<SharedLayer>& layers,
                            const CodingReport& report);

}  // namespace dcomp
