// The homework's deliverables: net_before_pruning.pt, net_after_pruning.pt,
// net_after_quantization.pt (plain state_dicts), codebook_<model>.npy,
// huffman_encoding.npy, huffman_freq.npy, and lab4_submission.zip holding
// those six. The .npy rows are named in huffman_layers.json beside them.
#pragma once

#include <string>
#include <vector>

#include "libtorch/model.h"
#include "libtorch/state_dict.h"

namespace dcomp {

// Writes the artifacts of `quantized` (a weight-shared model) into `dir` and
// returns the paths of the six files in the zip.
std::vector<std::string> write_seed_artifacts(const std::string& dir, const std::string& architecture,
                                              const StateDict& before_pruning, const StateDict& after_pruning,
                                              Model& quantized);

// A zip archive, written atomically: each file under its name in the archive
// (a relative path; the file's base name when `name` is empty).
struct ZipEntry {
  std::string file, name;
};
void write_zip(const std::string& path, const std::vector<ZipEntry>& entries);

}  // namespace dcomp
