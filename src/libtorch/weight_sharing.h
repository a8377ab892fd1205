// Weight sharing (Han et al. 2015, section 3): each prunable layer's nonzero
// weights are clustered by k-means into 2^bits shared values; a weight is
// then a small index into its layer's codebook. Pruned weights stay 0.0 and
// take no centroid. Two other quantizers take k-means' place: "ecsq" goes on
// from k-means' clusters to entropy-constrained ones (core/ecsq.h), fewer
// bits for the entropy coder at some distortion; "uniform" puts the levels
// at the nonzero multiples of a step (core/uniform_quantizer.h). k-means may
// weight each weight by its Hessian diagonal (weight_importance.h).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/kmeans.h"
#include "libtorch/model.h"
#include "libtorch/train.h"

namespace dcomp {

struct ShareSpec {
  int conv_bits = 8;  // Han et al.'s choice for AlexNet/VGG convolutions
  int fc_bits = 5;    // and for fully connected layers
  // (glob pattern, bits) overrides; the first matching pattern wins.
  std::vector<std::pair<std::string, int>> layer_bits;
  KMeansInit init = KMeansInit::kLinear;
  uint64_t seed = 0;
  std::string quantizer = "kmeans";  // or "ecsq" or "uniform"
  double lambda = 0;                 // ecsq's rate weight, in units of each layer's weight variance
  double step = 0;                   // uniform's step, in units of each layer's weight RMS; 0 spans the range
  // > 0: Hessian-weighted k-means (Choi et al. 2017), the diagonal from the
  // squared gradients of this many training images; 0: plain k-means.
  int64_t hessian_images = 0;
};
void validate(const ShareSpec& spec);
ShareSpec share_spec_from_json(const nlohmann::json& j);  // rejects unknown keys
nlohmann::json to_json(const ShareSpec& spec);

// One layer after sharing.
struct SharedLayer {
  std::string name;
  int bits = 0;
  std::vector<float> codebook;  // 2^bits values (ascending as clustered)
  torch::Tensor index;          // int64, the weight's shape: codebook index, -1 where pruned
};

// Clusters every prunable layer and writes the shared values into the
// weights, in place. With spec.hessian_images, `importance` holds each
// layer's Hessian diagonal (prunable_weights() order); throws
// std::invalid_argument if it is missing.
std::vector<SharedLayer> share_weights(Model& model, const ShareSpec& spec,
                                       const std::vector<torch::Tensor>& importance = {});
// The same, measuring the importance the spec asks for on `train`.
std::vector<SharedLayer> share_weights(Model& model, const ShareSpec& spec, const TensorDataset& train,
                                       const DatasetInfo& info, const torch::Device& device);
// The same for one layer, at `bits` (spec's quantizer and its settings).
SharedLayer share_layer(LayerWeight& layer, int bits, const ShareSpec& spec, const torch::Tensor& importance = {});

// The clusters a shared model implies: each layer's distinct nonzero values
// are its codebook (ascending), so a quantized state_dict needs no side file.
// Throws std::invalid_argument if a layer has more than 256 distinct values.
std::vector<SharedLayer> shared_layers_from_values(Model& model);

// Trained quantization (section 3.2): the weights of a cluster stay tied
// while training. After backward, each weight's gradient is replaced by the
// sum of the gradients of all weights sharing its centroid,
//   dL/dc_k = sum_ij dL/dW_ij * 1(I_ij = k),
// so an SGD step moves every member of cluster k, and hence c_k, by the same
// amount; pruned weights get zero gradient. After each step the weights are
// snapped back to their cluster's value to remove rounding drift.
class TiedWeights {
 public:
  TiedWeights(Model& model, std::vector<SharedLayer> layers);
  TrainHooks training_hooks() const;
  // The codebooks as the weights now hold them.
  const std::vector<SharedLayer>& layers();

 private:
  void tie_gradients() const;
  void snap() const;
  std::vector<torch::Tensor> weights_;
  std::vector<SharedLayer> layers_;
};

}  // namespace dcomp
