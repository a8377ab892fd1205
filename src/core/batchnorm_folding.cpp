#include "core/batchnorm_folding.h"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

namespace dcomp::dcz {

int fold_batch_norms(Model& model) {
  if (model.graph.empty()) throw std::invalid_argument("folding BatchNorm needs the model's graph (a version 2 file)");
  std::map<std::string, Tensor*> by_name;
  for (Tensor& t : model.tensors) by_name[t.name] = &t;
  std::map<std::string, std::vector<const Node*>> readers;
  for (const Node& n : model.graph.nodes)
    for (const std::string& name : n.tensors) readers[name].push_back(&n);
  // A BatchNorm is folded when its tensors hold floats and no other
  // operation reads them (a BatchNorm the graph runs twice, with the same
  // tensors and eps, is folded once).
  const auto only_this_batch_norm_reads = [&](const Node& n) {
    for (const std::string& name : n.tensors)
      for (const Node* r : readers[name])
        if (r->op != Op::kBatchNorm || r->tensors != n.tensors || r->floats != n.floats) return false;
    return true;
  };
  std::set<std::string> folded;  // by gamma's name
  int count = 0;
  for (const Node& n : model.graph.nodes) {
    if (n.op != Op::kBatchNorm || folded.count(n.tensors[0]) || !only_this_batch_norm_reads(n)) continue;
    Tensor *gamma = by_name.at(n.tensors[0]), *beta = by_name.at(n.tensors[1]), *mean = by_name.at(n.tensors[2]),
           *var = by_name.at(n.tensors[3]);
    bool floats = std::set<std::string>(n.tensors.begin(), n.tensors.end()).size() == 4;
    for (const Tensor* t : {gamma, beta, mean, var})
      floats = floats && holds_floats(t->storage) && t->floats.size() == gamma->floats.size();
    if (!floats) continue;
    const double eps = n.floats[0];
    for (size_t c = 0; c < gamma->floats.size(); ++c) {
      const double scale = double(gamma->floats[c]) / std::sqrt(double(var->floats[c]) + eps);
      const double shift = double(beta->floats[c]) - double(mean->floats[c]) * scale;
      gamma->floats[c] = float(scale * std::sqrt(1 + eps));
      beta->floats[c] = float(shift);
    }
    mean->storage = var->storage = Storage::kConstant;
    mean->floats.assign(mean->floats.size(), 0.0f);
    var->floats.assign(var->floats.size(), 1.0f);
    folded.insert(n.tensors[0]);
    ++count;
  }
  return count;
}

}  // namespace dcomp::dcz
