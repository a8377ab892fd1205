// The networks the runtime runs (the same as dcomp's LibTorch models, see
// src/libtorch/models.cpp), built from a compressed file's tensors.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/compressed_file.h"

namespace dcomp::runtime {

// A valid file for a network this runtime cannot run.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What the network takes, from the file's metadata.
struct InputSpec {
  std::string architecture;
  int64_t channels = 0, height = 0, width = 0;
  std::vector<float> mean, std;  // per channel, on pixels scaled to [0, 1]
  std::vector<std::string> class_names;
};
InputSpec input_spec(const dcz::Model& file);

class Network {
 public:
  virtual ~Network() = default;
  virtual int64_t classes() const = 0;
  virtual size_t weight_bytes() const = 0;
  // Floats of working memory forward needs.
  virtual size_t scratch_floats() const = 0;
  // Logits for one image (channels, height, width).
  virtual void forward(const float* image, float* logits, float* scratch) const = 0;
  // Logits for `batch` images of image_floats each, one after another: by
  // default image by image; networks whose layers gain from seeing several
  // images at once override it.
  virtual void forward_batch(const float* images, int64_t image_floats, int64_t batch, float* logits) const;
};

// Throws Unsupported for an unknown architecture, std::invalid_argument when
// a tensor is missing or has the wrong shape.
std::unique_ptr<Network> build_network(const dcz::Model& file, const InputSpec& input);

}  // namespace dcomp::runtime
