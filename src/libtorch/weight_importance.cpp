#include "libtorch/weight_importance.h"

#include <algorithm>
#include <stdexcept>

namespace dcomp {

std::vector<torch::Tensor> squared_gradients(Model& model, const TensorDataset& train, const DatasetInfo& info,
                                             const torch::Device& device, int64_t images, int64_t batch_size) {
  if (images < 1 || batch_size < 1) throw std::invalid_argument("squared gradients need images and batch size >= 1");
  const bool was_training = model.is_training();
  model.eval();
  std::vector<torch::Tensor> weights;
  for (const LayerWeight& layer : model.prunable_weights()) weights.push_back(layer.weight);
  std::vector<torch::Tensor> sums;
  for (const torch::Tensor& w : weights) sums.push_back(torch::zeros_like(w, torch::kFloat32));

  const int64_t n = std::min(images, train.size());
  int64_t batches = 0;
  for (int64_t begin = 0; begin < n; begin += batch_size, ++batches) {
    const TensorDataset batch = train.slice(begin, std::min(n, begin + batch_size)).to(device);
    const torch::Tensor loss = torch::cross_entropy_loss(model.forward(normalize(batch.images, info)), batch.labels);
    // autograd::grad leaves every .grad untouched.
    const std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, weights);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < weights.size(); ++i) sums[i].add_(grads[i].to(torch::kFloat32).square());
  }
  model.train(was_training);
  for (torch::Tensor& s : sums) s = (s / double(std::max<int64_t>(batches, 1))).to(torch::kCPU).contiguous();
  return sums;
}

}  // namespace dcomp
