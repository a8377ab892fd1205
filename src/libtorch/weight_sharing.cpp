#include "libtorch/weight_sharing.h"

#include <fnmatch.h>

#include <stdexcept>

#include "core/ecsq.h"
#include "core/uniform_quantizer.h"
#include "libtorch/prune.h"
#include "libtorch/weight_importance.h"

namespace dcomp {

void validate(const ShareSpec& spec) {
  auto check = [](int bits, const std::string& what) {
    if (bits < 1 || bits > 8) throw std::invalid_argument(what + " bits must be in [1, 8]");
  };
  check(spec.conv_bits, "conv");
  check(spec.fc_bits, "fc");
  for (const auto& [pattern, bits] : spec.layer_bits) check(bits, "'" + pattern + "'");
  if (spec.quantizer != "kmeans" && spec.quantizer != "ecsq" && spec.quantizer != "uniform")
    throw std::invalid_argument("unknown quantizer '" + spec.quantizer + "' (kmeans, ecsq or uniform)");
  if (!(spec.lambda >= 0)) throw std::invalid_argument("lambda must be >= 0");
  if (!(spec.step >= 0)) throw std::invalid_argument("step must be >= 0");
  if (spec.quantizer != "ecsq" && spec.lambda != 0) throw std::invalid_argument("lambda is ecsq's setting");
  if (spec.quantizer != "uniform" && spec.step != 0) throw std::invalid_argument("step is uniform's setting");
  if (spec.hessian_images < 0) throw std::invalid_argument("hessian_images must be >= 0");
  if (spec.quantizer != "kmeans" && spec.hessian_images != 0)
    throw std::invalid_argument("hessian_images weights k-means only");
}

nlohmann::json to_json(const ShareSpec& s) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& [pattern, bits] : s.layer_bits) layers.push_back({pattern, bits});
  nlohmann::json j = {{"conv_bits", s.conv_bits}, {"fc_bits", s.fc_bits}, {"layer_bits", layers},
                      {"init", to_string(s.init)},  {"seed", s.seed}};
  if (s.quantizer == "ecsq") j.update({{"quantizer", s.quantizer}, {"lambda", s.lambda}});
  if (s.quantizer == "uniform") j.update({{"quantizer", s.quantizer}, {"step", s.step}});
  if (s.hessian_images > 0) j["hessian_images"] = s.hessian_images;
  return j;
}

ShareSpec share_spec_from_json(const nlohmann::json& j) {
  try {
    ShareSpec s;
    for (const auto& [key, value] : j.items()) {
      if (key == "conv_bits") value.get_to(s.conv_bits);
      else if (key == "fc_bits") value.get_to(s.fc_bits);
      else if (key == "init") s.init = parse_kmeans_init(value.get<std::string>());
      else if (key == "seed") value.get_to(s.seed);
      else if (key == "quantizer") value.get_to(s.quantizer);
      else if (key == "lambda") value.get_to(s.lambda);
      else if (key == "step") value.get_to(s.step);
      else if (key == "hessian_images") value.get_to(s.hessian_images);
      else if (key == "layer_bits") {
        for (const auto& pair : value) s.layer_bits.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<int>());
      } else {
        throw std::invalid_argument("unknown weight-sharing setting '" + key + "'");
      }
    }
    validate(s);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("malformed setting: ") + e.what());
  }
}

namespace {

int bits_for(const ShareSpec& spec, const LayerWeight& layer) {
  for (const auto& [pattern, bits] : spec.layer_bits)
    if (::fnmatch(pattern.c_str(), layer.name.c_str(), 0) == 0) return bits;
  return layer.kind == "conv" ? spec.conv_bits : spec.fc_bits;
}

}  // namespace

SharedLayer share_layer(LayerWeight& layer, int bits, const ShareSpec& spec, const torch::Tensor& importance) {
  torch::NoGradGuard no_grad;
  if (spec.hessian_images > 0 && !importance.defined())
    throw std::invalid_argument(layer.name + ": Hessian-weighted k-means needs the squared gradients");
  if (importance.defined() && importance.sizes() != layer.weight.sizes())
    throw std::invalid_argument(layer.name + ": importance of another shape than the weight");
  SharedLayer shared{layer.name, bits, {}, {}};
  const torch::Tensor flat = layer.weight.detach().flatten().to(torch::kCPU, torch::kFloat32).contiguous();
  const torch::Tensor nonzero = flat.nonzero().flatten();  // positions of the kept weights
  const torch::Tensor kept = flat.index_select(0, nonzero).contiguous();
  const std::vector<float> values(kept.data_ptr<float>(), kept.data_ptr<float>() + kept.numel());
  std::vector<float> weights;  // h_i of each kept weight, or none
  if (importance.defined()) {
    const torch::Tensor h = importance.flatten().to(torch::kCPU, torch::kFloat32).index_select(0, nonzero).contiguous();
    weights.assign(h.data_ptr<float>(), h.data_ptr<float>() + h.numel());
  }
  KMeansResult km = spec.quantizer == "uniform" ? uniform_quantize_1d(values, 1 << bits, spec.step)
                                                : weighted_kmeans_1d(values, weights, 1 << bits, spec.init, spec.seed);
  if (spec.quantizer == "ecsq") km = ecsq_1d(values, km.centroids, spec.lambda);
  shared.codebook = km.centroids;
  auto assignment = torch::tensor(std::vector<int64_t>(km.assignment.begin(), km.assignment.end()), torch::kInt64);
  auto index = torch::full({flat.numel()}, -1, torch::kInt64);
  index.index_put_({nonzero}, assignment);
  shared.index = index.view(layer.weight.sizes());
  // W_ij <- c[I_ij]; pruned weights stay exactly 0.
  auto codebook = torch::tensor(shared.codebook, torch::kFloat32);
  auto shared_values = torch::zeros({flat.numel()}, torch::kFloat32);
  shared_values.index_put_({nonzero}, codebook.index_select(0, assignment));
  layer.weight.copy_(shared_values.view(layer.weight.sizes()));
  return shared;
}

std::vector<SharedLayer> share_weights(Model& model, const ShareSpec& spec,
                                       const std::vector<torch::Tensor>& importance) {
  validate(spec);
  std::vector<LayerWeight> layers = model.prunable_weights();
  if (!importance.empty() && importance.size() != layers.size())
    throw std::invalid_argument("importance for " + std::to_string(importance.size()) + " layers, the model has " +
                                std::to_string(layers.size()));
  std::vector<SharedLayer> out;
  for (size_t i = 0; i < layers.size(); ++i)
    out.push_back(share_layer(layers[i], bits_for(spec, layers[i]), spec,
                              importance.empty() ? torch::Tensor() : importance[i]));
  return out;
}

std::vector<SharedLayer> share_weights(Model& model, const ShareSpec& spec, const TensorDataset& train,
                                       const DatasetInfo& info, const torch::Device& device) {
  validate(spec);
  if (spec.hessian_images == 0) return share_weights(model, spec);
  return share_weights(model, spec, squared_gradients(model, train, info, device, spec.hessian_images));
}

std::vector<SharedLayer> shared_layers_from_values(Model& model) {
  std::vector<SharedLayer> out;
  for (const LayerWeight& layer : model.prunable_weights()) {
    const torch::Tensor flat = layer.weight.detach().flatten().to(torch::kCPU, torch::kFloat32);
    const torch::Tensor nonzero = flat.nonzero().flatten();
    auto [values, inverse] = torch::_unique(flat.index_select(0, nonzero), /*sorted=*/true, /*return_inverse=*/true);
    if (values.numel() > 256)
      throw std::invalid_argument(layer.name + " has " + std::to_string(values.numel()) +
                                  " distinct values: not a weight-shared model (at most 256)");
    SharedLayer shared{layer.name, 1, {}, {}};
    while ((int64_t{1} << shared.bits) < values.numel()) ++shared.bits;
    const torch::Tensor v = values.contiguous();
    shared.codebook.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
    shared.codebook.resize(size_t{1} << shared.bits, shared.codebook.empty() ? 0.0f : shared.codebook.back());
    auto index = torch::full({flat.numel()}, -1, torch::kInt64);
    index.index_put_({nonzero}, inverse.to(torch::kInt64));
    shared.index = index.view(layer.weight.sizes());
    out.push_back(std::move(shared));
  }
  return out;
}

TiedWeights::TiedWeights(Model& model, std::vector<SharedLayer> layers) : layers_(std::move(layers)) {
  const std::vector<LayerWeight> prunable = model.prunable_weights();
  if (prunable.size() != layers_.size()) throw std::invalid_argument("shared layers do not match the model");
  for (size_t i = 0; i < prunable.size(); ++i) {
    if (prunable[i].name != layers_[i].name) throw std::invalid_argument("shared layers do not match the model");
    weights_.push_back(prunable[i].weight);
  }
}

void TiedWeights::tie_gradients() const {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < weights_.size(); ++i) {
    const torch::Tensor& w = weights_[i];
    if (!w.grad().defined()) continue;
    const int64_t k = int64_t(layers_[i].codebook.size());
    const torch::Tensor index = layers_[i].index.to(w.device()).flatten();
    const torch::Tensor kept = index.ge(0);
    const torch::Tensor slot = index.clamp_min(0);  // pruned weights: slot 0, masked below
    // (k) per-centroid gradient sums, then each kept weight takes its sum.
    const torch::Tensor grad = w.grad().flatten() * kept.to(w.grad().dtype());
    const torch::Tensor sums = torch::zeros({k}, grad.options()).index_add_(0, slot, grad);
    w.mutable_grad().copy_((sums.index_select(0, slot) * kept.to(grad.dtype())).view(w.sizes()));
  }
}

void TiedWeights::snap() const {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < weights_.size(); ++i) {
    const torch::Tensor& w = weights_[i];
    const int64_t k = int64_t(layers_[i].codebook.size());
    const torch::Tensor index = layers_[i].index.to(w.device()).flatten();
    const torch::Tensor kept = index.ge(0).to(w.dtype());
    const torch::Tensor slot = index.clamp_min(0);
    const torch::Tensor flat = w.flatten() * kept;
    // c_k = mean of cluster k's weights (equal up to rounding); pruned
    // weights +0.0 (a product with 0 would leave -0.0 under a negative c_0).
    const torch::Tensor sums = torch::zeros({k}, w.options()).index_add_(0, slot, flat);
    const torch::Tensor counts = torch::zeros({k}, w.options()).index_add_(0, slot, kept).clamp_min(1);
    w.copy_((sums / counts).index_select(0, slot).masked_fill_(index.lt(0), 0.0).view(w.sizes()));
  }
}

TrainHooks TiedWeights::training_hooks() const {
  TrainHooks hooks;
  hooks.after_backward = [this] { tie_gradients(); };
  hooks.after_step = [this] { snap(); };
  return hooks;
}

const std::vector<SharedLayer>& TiedWeights::layers() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < weights_.size(); ++i) {
    const torch::Tensor flat = weights_[i].detach().flatten().to(torch::kCPU, torch::kFloat32);
    const torch::Tensor index = layers_[i].index.flatten();
    for (size_t c = 0; c < layers_[i].codebook.size(); ++c) {
      // Any member of the cluster holds its value; empty clusters keep theirs.
      const torch::Tensor members = index.eq(int64_t(c)).nonzero();
      if (members.numel() > 0) layers_[i].codebook[c] = flat[members[0][0].item<int64_t>()].item<float>();
    }
  }
  return layers_;
}

}  // namespace dcomp
