#include "libtorch/allocation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "core/rate_allocation.h"
#include "libtorch/compressed_model.h"
#include "libtorch/prune.h"
#include "libtorch/train.h"

namespace dcomp {

using json = nlohmann::json;

BudgetSpec budget_spec_from_json(const json& j) {
  try {
    BudgetSpec b;
    for (const auto& [key, value] : j.items()) {
      if (key == "file_bytes") value.get_to(b.file_bytes);
      else if (key == "ratio") value.get_to(b.ratio);
      else if (key == "sparsities") value.get_to(b.sparsities);
      else if (key == "bits") value.get_to(b.bits);
      else throw std::invalid_argument("unknown budget setting '" + key + "'");
    }
    if ((b.file_bytes > 0) == (b.ratio > 0)) throw std::invalid_argument("a budget needs file_bytes or ratio (> 0), not both");
    if (b.sparsities.empty() || b.bits.empty()) throw std::invalid_argument("a budget needs candidate sparsities and bits");
    for (double s : b.sparsities)
      if (!(s >= 0 && s < 1)) throw std::invalid_argument("budget sparsities must be in [0, 1)");
    for (int bits : b.bits)
      if (bits < 1 || bits > 8) throw std::invalid_argument("budget bits must be in [1, 8]");
    return b;
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("malformed budget: ") + e.what());
  }
}

json to_json(const BudgetSpec& b) {
  json j = {{"sparsities", b.sparsities}, {"bits", b.bits}};
  if (b.file_bytes > 0) j["file_bytes"] = b.file_bytes;
  else j["ratio"] = b.ratio;
  return j;
}

json to_json(const AllocationPlan& p) {
  json layers = json::array();
  for (const LayerAllocation& l : p.layers)
    layers.push_back({{"name", l.name}, {"sparsity", l.sparsity}, {"bits", l.bits}, {"bytes", l.bytes},
                      {"pruning_loss", l.pruning_loss}, {"sharing_loss", l.sharing_loss}});
  return {{"budget_bytes", p.budget_bytes}, {"other_bytes", p.other_bytes},
          {"estimated_file_bytes", p.estimated_file_bytes}, {"baseline_validation_top1", p.baseline_validation_top1},
          {"layers", layers}, {"sensitivity", p.sensitivity}};
}

AllocationPlan allocation_plan_from_json(const json& j) {
  AllocationPlan p;
  j.at("budget_bytes").get_to(p.budget_bytes);
  j.at("other_bytes").get_to(p.other_bytes);
  j.at("estimated_file_bytes").get_to(p.estimated_file_bytes);
  for (const json& l : j.at("layers"))
    p.layers.push_back({l.at("name"), l.at("sparsity"), l.at("bits"), l.at("bytes"), l.at("pruning_loss"),
                        l.at("sharing_loss")});
  p.sensitivity = j.at("sensitivity");
  // Plans before the field kept the figure among the layers' measurements.
  p.baseline_validation_top1 = j.value("baseline_validation_top1", p.sensitivity.value("baseline_validation_top1", 0.0));
  return p;
}

namespace {

StateDict deep_copy(const StateDict& weights) {
  StateDict out;
  for (const auto& [name, t] : weights) out.emplace_back(name, t.detach().clone());
  return out;
}

// Losses made non-decreasing along increasing compression: a measured
// gain from pruning more is noise, not a reason to prune more.
std::vector<double> cumulative_max(std::vector<double> v) {
  for (size_t i = 1; i < v.size(); ++i) v[i] = std::max(v[i], v[i - 1]);
  return v;
}

}  // namespace

AllocationPlan plan_allocation(Model& model, const BudgetSpec& budget, const ShareSpec& sharing,
                               const TensorDataset& validation, const DatasetInfo& info, const torch::Device& device,
                               const PackOptions& packing) {
  const StateDict original = deep_copy(model.state_dict());
  const auto restore = [&] { load_state_dict(model, original); };
  const auto top1 = [&] { return 100 * evaluate(model, validation, info, device).top1; };
  const double baseline = top1();
  std::vector<double> sparsities = budget.sparsities;
  std::vector<int> bits = budget.bits;
  std::sort(sparsities.begin(), sparsities.end());
  std::sort(bits.rbegin(), bits.rend());  // most bits (least compression) first

  std::vector<std::string> names;
  for (const LayerWeight& l : model.prunable_weights()) names.push_back(l.name);
  const size_t n = names.size();
  // Sensitivity: each layer alone, pruned (then shared) with the others intact.
  std::vector<std::vector<double>> pruning_loss(n), sharing_loss(n);
  for (size_t i = 0; i < n; ++i) {
    for (double s : sparsities) {
      restore();
      prune(model, {"layerwise", 0, {{names[i], s}}});
      pruning_loss[i].push_back(baseline - top1());
    }
    for (int b : bits) {
      restore();
      LayerWeight layer = model.prunable_weights()[i];
      share_layer(layer, b, sharing);
      sharing_loss[i].push_back(baseline - top1());
    }
    pruning_loss[i] = cumulative_max(pruning_loss[i]);
    sharing_loss[i] = cumulative_max(sharing_loss[i]);
    fmt::print("plan: {:<28} pruning loss {:.2f} .. {:.2f}, sharing loss {:.2f} .. {:.2f} points\n", names[i],
               pruning_loss[i].front(), pruning_loss[i].back(), sharing_loss[i].front(), sharing_loss[i].back());
    std::fflush(stdout);  // a scan of minutes: show it as it goes, in logs too
  }
  // Bytes: every layer at each (sparsity, bits), packed; a tensor's bytes in
  // the file depend on its own choice only.
  std::vector<std::vector<RateOption>> options(n);
  std::vector<std::vector<std::pair<size_t, size_t>>> choice(n);  // (sparsity index, bits index) of each option
  double other_bytes = 0;
  ShareSpec spec = sharing;
  spec.layer_bits.clear();
  for (size_t si = 0; si < sparsities.size(); ++si) {
    const double s = sparsities[si];
    for (size_t k = 0; k < bits.size(); ++k) {
      restore();
      if (s > 0) prune(model, {"percentile", s, {}});
      spec.conv_bits = spec.fc_bits = bits[k];
      const dcz::Model file = compressed_model(model, share_weights(model, spec), packing);
      dcz::Layout layout;
      dcz::encode(file, &layout);
      double layer_bytes = 0;
      for (size_t i = 0; i < n; ++i) {
        const auto t = std::find_if(layout.tensors.begin(), layout.tensors.end(),
                                    [&](const dcz::TensorLayout& l) { return l.name == names[i]; });
        const double bytes = double(t->table_bytes + (t->index_bits + 7) / 8 + (t->position_bits + 7) / 8);
        options[i].push_back({bytes, pruning_loss[i][si] + sharing_loss[i][k]});
        choice[i].emplace_back(si, k);
        layer_bytes += bytes;
      }
      other_bytes = std::max(other_bytes, double(layout.file_bytes) - layer_bytes);
    }
  }
  restore();

  AllocationPlan plan;
  plan.budget_bytes = budget.file_bytes > 0 ? budget.file_bytes
                                            : uint64_t(std::floor(4.0 * double(parameter_count(model)) / budget.ratio));
  plan.other_bytes = other_bytes;
  if (double(plan.budget_bytes) <= other_bytes)
    throw std::invalid_argument(fmt::format("a budget of {} bytes leaves nothing for the weights (the rest of the file "
                                            "takes {:.0f})", plan.budget_bytes, other_bytes));
  const std::vector<size_t> chosen = allocate_rate(options, double(plan.budget_bytes) - other_bytes);
  plan.estimated_file_bytes = other_bytes;
  for (size_t i = 0; i < n; ++i) {
    const auto [si, bi] = choice[i][chosen[i]];
    plan.layers.push_back({names[i], sparsities[si], bits[bi], options[i][chosen[i]].bytes, pruning_loss[i][si],
                           sharing_loss[i][bi]});
    plan.estimated_file_bytes += options[i][chosen[i]].bytes;
    plan.sensitivity[names[i]] = {{"sparsities", sparsities}, {"pruning_loss", pruning_loss[i]},
                                  {"bits", bits},             {"sharing_loss", sharing_loss[i]}};
  }
  plan.baseline_validation_top1 = baseline;
  return plan;
}

}  // namespace dcomp
