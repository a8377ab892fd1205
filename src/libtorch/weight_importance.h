// How much each weight matters to the loss, for Hessian-weighted k-means
// (Choi et al. 2017, "Towards the limit of network quantization"): the
// quantization error of weight i costs about h_ii (w_i - c)^2 / 2 in loss,
// h_ii the diagonal of the loss's Hessian. Like their section 3.3 it is
// approximated by the second moment of the gradient,
//   h_i = mean over mini-batches b of (dL_b / dw_i)^2,
// which costs one forward and backward per batch instead of a Hessian.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "libtorch/data.h"
#include "libtorch/model.h"

namespace dcomp {

// One tensor per prunable weight (prunable_weights() order, the weight's
// shape, float32 on the CPU), from the first `images` of `train` (fewer if
// it holds fewer), unaugmented, in batches of `batch_size`, L_b the mean
// cross-entropy of batch b. The model is in eval mode meanwhile (BatchNorm on
// its running statistics, as deployed) and is left as it was: weights,
// .grad and mode. Throws std::invalid_argument for images < 1.
std::vector<torch::Tensor> squared_gradients(Model& model, const TensorDataset& train, const DatasetInfo& info,
                                             const torch::Device& device, int64_t images, int64_t batch_size = 128);

}  // namespace dcomp
