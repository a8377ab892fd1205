#include "libtorch/model.h"

#include <map>
#include <stdexcept>

namespace dcomp {

int64_t parameter_count(const Model& model) {
  int64_t n = 0;
  for (const torch::Tensor& p : model.parameters()) n += p.numel();
  return n;
}

void load_state_dict(Model& model, const StateDict& weights, bool strict) {
  std::map<std::string, torch::Tensor> given(weights.begin(), weights.end());
  torch::NoGradGuard no_grad;
  size_t used = 0;
  for (auto& [name, target] : model.state_dict()) {
    auto it = given.find(name);
    if (it == given.end()) {
      if (strict) throw std::runtime_error("state_dict is missing '" + name + "'");
      continue;
    }
    if (it->second.sizes() != target.sizes())
      throw std::runtime_error("state_dict entry '" + name + "' has shape " +
                               c10::str(it->second.sizes()) + ", the model expects " +
                               c10::str(target.sizes()));
    target.copy_(it->second);
    ++used;
  }
  if (strict && used != given.size()) {
    for (const auto& [name, tensor] : model.state_dict()) given.erase(name);
    throw std::runtime_error("state_dict has unexpected entry '" + given.begin()->first + "'");
  }
}

}  // namespace dcomp
