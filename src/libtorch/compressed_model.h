// Between a weight-shared LibTorch model and the compressed file (.dcz): the
// prunable weights go in as shared tensors (codebook, positions, indices),
// every other state_dict entry (BN, biases) as raw values; and back.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/compressed_file.h"
#include "libtorch/coding_report.h"
#include "libtorch/model.h"
#include "libtorch/state_dict.h"
#include "libtorch/weight_sharing.h"

namespace dcomp {

// The file's model for `model`, whose prunable weights `layers` describes
// (from share_weights or shared_layers_from_values). Metadata records the
// architecture and the input (shape, normalization, class names), so that
// the file alone can be run.
struct PackOptions {
  // float32 tensors other than the shared weights (BN, biases) are stored at
  // `dense` precision: kFloat32 (exact) or kFloat16 (rounded, half the bytes).
  dcz::Storage dense = dcz::Storage::kFloat32;
  dcz::Coder coder = dcz::Coder::kHuffman;  // of every tensor (pack's file; the breakdowns have both)
  // BatchNorm folded for inference (core/batchnorm_folding.h): the file then
  // holds eval-equivalent BN tensors, not the training state.
  bool fold_batchnorm = false;
};
// Tensors whose elements are all one value (folded running statistics)
// are stored once (kConstant), exactly.
dcz::Model compressed_model(const Model& model, const std::vector<SharedLayer>& layers, const PackOptions& options = {});

// The input a file's metadata describes (compressed_model's inverse): the
// built-in dataset it names, or an image folder's size, normalization and
// classes (augmentation as describe() defaults it).
DatasetInfo file_data(const dcz::Model& file);

// The state_dict a compressed model stands for, weights expanded to dense
// float32 (bit-identical to the weight-shared model's).
StateDict expanded_state_dict(const dcz::Model& file);

// The built-in network a file holds, with those weights, on the CPU, set up
// for file_data(file). Throws for TorchScript models, which need their module.
std::unique_ptr<Model> built_in_model(const dcz::Model& file);

// Where a file's bytes went.
struct PartBytes {
  uint64_t file = 0, positions = 0, indices = 0, codebooks = 0, dense_tensors = 0, tables = 0, graph = 0, header = 0;
  // The streams' bound: Huffman, their order-0 entropy (n * H / 8);
  // adaptive, the context models' own code length.
  double entropy = 0;
};
PartBytes part_bytes(const dcz::Model& file, const dcz::Layout& layout);

const char* coder_name(dcz::Coder coder);
dcz::Coder parse_coder(const std::string& name);  // "huffman" or "adaptive"

// The compression figures of a written file.
struct FileReport {
  dcz::Coder coder = dcz::Coder::kHuffman;
  int64_t parameters = 0;   // the model's parameters (not buffers)
  uint64_t dense_bytes = 0; // 4 bytes per parameter
  PartBytes bytes;          // where the file's bytes went; bytes.file is its size
  // Streams plus position code tables, ours and under Han et al.'s filler zeros.
  double comparable_bytes = 0, filler_scheme_bytes = 0;
  double file_factor = 0;    // dense_bytes / bytes.file
  CodingReport coding;       // the streams' figures, with the seed's formula
  std::vector<dcz::TensorLayout> tensors;
  // The same model under each coder (the written file's among them).
  std::vector<std::pair<dcz::Coder, PartBytes>> by_coder;
};
FileReport file_report(const dcz::Model& file, const dcz::Layout& layout, int64_t parameters,
                       const CodingReport& coding);
nlohmann::json to_json(const FileReport& report);

// Writes `model` (weight-shared) to `path` and returns its figures (with
// the other coder's beside them). The file is read back and must give the
// model's weights bit for bit (and its other tensors too, at their storage's
// precision, folded where asked); `model` then holds what the file holds,
// so that evaluating it measures the file.
FileReport pack(Model& model, const std::string& path, const PackOptions& options = {});
std::string format_table(const FileReport& report);

}  // namespace dcomp
