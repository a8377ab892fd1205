// A compressed file's graph (core/graph.h) as an execution plan: shapes
// inferred and checked against the input once, BatchNorm and ReLU folded
// into the layer before them, activations placed in one arena whose buffers
// are reused once their last reader has run. Nothing here knows any
// architecture.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/compressed_file.h"
#include "core/input_spec.h"
#include "runtime/kernels.h"
#include "runtime/sparse_layers.h"
#include "runtime/thread_pool.h"

namespace dcomp::runtime {

// A valid file for a network this runtime cannot run.
struct Unsupported : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What the network takes, from the file's metadata (core/input_spec.h),
// within what the runtime runs: an architecture named, 1 to 4 channels,
// images up to 256 x 256. Throws Unsupported.
using InputSpec = dcz::InputSpec;
InputSpec input_spec(const dcz::Model& file);

class Network {
 public:
  // Throws Unsupported for a file without a graph, std::invalid_argument
  // naming the operation when the graph does not fit its tensors or input.
  Network(const dcz::Model& file, const InputSpec& input);
  ~Network();
  int64_t classes() const { return classes_; }
  size_t weight_bytes() const;
  // Logits (batch, classes) for `batch` images of image_floats each, one
  // after another. When the graph ends in vector operations (linear layers
  // and what goes between them), batches run those for up to 64 images at
  // once, feature-major, so that each nonzero weight is one vector
  // operation over all of them. With a pool of several threads, a batch of
  // at least as many images is split between them, image by image; in a
  // smaller one (batch 1) they share each convolution's output planes and
  // each elementwise step's, part by part (Conv2d::forward).
  void forward_batch(const float* images, int64_t image_floats, int64_t batch, float* logits,
                     ThreadPool* pool = nullptr) const;

 private:
  struct Step;
  // Buffers of one plan: offsets into an arena of `floats`.
  struct Arena {
    std::vector<size_t> offset;  // per value
    size_t floats = 0;
  };
  Arena plan_arena(size_t first, size_t last, const std::vector<uint32_t>& inputs, int64_t per_float) const;
  void run_steps(size_t first, size_t last, const Arena& arena, float* memory, int64_t columns,
                 ThreadPool* pool) const;
  void forward_images(const float* images, int64_t image_floats, int64_t batch, float* logits,
                      ThreadPool* pool) const;

  std::vector<Step> steps_;
  std::vector<Shape> shapes_;      // per value
  std::vector<uint32_t> buffer_;   // per value: the value whose buffer it shares (itself, or what it aliases)
  uint32_t output_ = 0;
  int64_t classes_ = 0;
  size_t buffer_slack_ = 0;        // floats after each buffer that convolutions reading in place may read
  Arena image_arena_;              // all steps, one image
  size_t column_first_ = 0;        // steps from here on run on columns; steps_.size(): none
  uint32_t column_input_ = 0;      // the value they take from the per-image steps
  Arena column_arena_;             // those steps, per column
};

}  // namespace dcomp::runtime
