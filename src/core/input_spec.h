// What a compressed file's network takes, as its metadata says (written by
// compressed_model, src/libtorch/compressed_model.cpp): read back by the
// runtime and by dcomp unpack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/compressed_file.h"

namespace dcomp::dcz {

struct InputSpec {
  std::string architecture, dataset;  // "model" and "dataset"; empty when absent
  int64_t channels = 0, height = 0, width = 0;
  std::vector<double> mean, std;  // per channel, on pixels scaled to [0, 1]
  std::vector<std::string> class_names;
};

// Throws std::invalid_argument naming the metadata at fault: input_shape,
// input_mean or input_std missing, a shape that is not three whole numbers
// of at least 1, mean and std not one per channel, a std not positive.
InputSpec input_spec(const Model& file);

}  // namespace dcomp::dcz
