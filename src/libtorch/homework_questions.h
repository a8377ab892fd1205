// The measurements behind the answers to the homework's true/false
// questions (Problem 1.1-1.5), made with dcomp's own stages on given model
// files, for `dcomp submission`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/compressed_file.h"
#include "libtorch/data.h"

namespace dcomp {

// 1.1, 1.2: every conv and fc layer of a model shared at `bits` by k-means
// (linear initialization), no retraining: test top-1 and Huffman's bits per
// coded index (the nonzeros; all weights when nothing is pruned).
struct SharingPoint {
  int bits = 0;
  double test_top1 = 0;
  double bits_per_index = 0;
  int64_t indices = 0;
};
std::vector<SharingPoint> sharing_without_retraining(const std::string& model_file, const std::string& architecture,
                                                     const std::vector<int>& bits, const TensorDataset& test,
                                                     const DatasetInfo& info, const torch::Device& device);

// 1.3: training images/s of a pruned model, dense (the zeros train like any
// weight) and masked (gradients masked, masks re-applied after each step:
// how dcomp retrains), timed in turn on the same batches, `reps` times,
// which goes first alternating.
struct TrainingSpeed {
  std::vector<double> dense, masked;  // images/s, one per repetition
  int64_t steps = 0, batch_size = 0;
  bool bf16 = false;
};
TrainingSpeed dense_and_masked_training(const std::string& pruned_file, const std::string& architecture,
                                        const TensorDataset& train, const DatasetInfo& info,
                                        const torch::Device& device, int64_t steps, int reps);

// 1.4: Huffman's average code length for N equally likely symbols.
double uniform_huffman_bits(int symbols);

// 1.5: a file's shared tensors against the statement "N weights at k bits
// take N k bits": the indices at k bits each, the codebook as stored
// (32 bits per entry), the positions of the nonzeros, and what the file's
// entropy-coded streams take.
struct SharedTensorBits {
  std::string name;
  int64_t weights = 0, nonzeros = 0;
  int bits = 0;
  int64_t codebook_entries = 0;
  uint64_t coded_index_bits = 0, coded_position_bits = 0;
};
std::vector<SharedTensorBits> shared_tensor_bits(const dcz::Model& file, const dcz::Layout& layout);

}  // namespace dcomp
