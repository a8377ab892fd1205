#include "libtorch/prune.h"

#include <fmt/format.h>
#include <fnmatch.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "libtorch/state_dict.h"

namespace dcomp {

double std_threshold(const torch::Tensor& weight, double sensitivity) {
  // Standard deviation over the whole layer, unbiased as torch.std().
  return sensitivity * weight.std().item<double>();
}

double quantile_threshold(const torch::Tensor& weight, double q) {
  // Linear interpolation between order statistics, as numpy.percentile and
  // torch.quantile do.
  return torch::quantile(weight.detach().abs().flatten().to(torch::kFloat64), q).item<double>();
}

void validate(const PruneSpec& spec) {
  if (spec.method == "std") {
    if (spec.amount < 0) throw std::invalid_argument("std pruning needs a sensitivity s >= 0");
  } else if (spec.method == "percentile" || spec.method == "global") {
    if (spec.amount < 0 || spec.amount >= 1) throw std::invalid_argument(spec.method + " pruning needs q in [0, 1)");
  } else if (spec.method == "layerwise") {
    if (spec.targets.empty()) throw std::invalid_argument("layerwise pruning needs per-layer targets");
    for (const auto& [pattern, sparsity] : spec.targets)
      if (sparsity < 0 || sparsity >= 1)
        throw std::invalid_argument("target sparsity for '" + pattern + "' must be in [0, 1)");
  } else {
    throw std::invalid_argument("unknown pruning method '" + spec.method + "' (std, percentile, global, layerwise)");
  }
}

PruneSpec prune_spec_from_json(const nlohmann::json& j) {
  try {
    PruneSpec spec;
    for (const auto& [key, value] : j.items()) {
      if (key == "method") value.get_to(spec.method);
      else if (key == "amount") value.get_to(spec.amount);
      else if (key == "targets") {
        // An array of [pattern, sparsity] pairs keeps the order that decides
        // which pattern wins.
        for (const auto& pair : value) spec.targets.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<double>());
      } else {
        throw std::invalid_argument("unknown pruning setting '" + key + "'");
      }
    }
    validate(spec);
    return spec;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("malformed setting: ") + e.what());
  }
}

namespace {

const double* layer_target(const PruneSpec& spec, const std::string& name) {
  for (const auto& [pattern, sparsity] : spec.targets)
    if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return &sparsity;
  return nullptr;
}

void zero_below(torch::Tensor& weight, double threshold) {
  weight.masked_fill_(weight.abs().lt(threshold), 0.0);
}

}  // namespace

void prune(Model& model, const PruneSpec& spec) {
  validate(spec);
  torch::NoGradGuard no_grad;
  std::vector<LayerWeight> layers = model.prunable_weights();
  if (spec.method == "global") {
    std::vector<torch::Tensor> all;
    for (const LayerWeight& l : layers) all.push_back(l.weight.detach().abs().flatten());
    const double threshold = quantile_threshold(torch::cat(all), spec.amount);
    for (LayerWeight& l : layers) zero_below(l.weight, threshold);
    return;
  }
  for (LayerWeight& l : layers) {
    if (spec.method == "std") zero_below(l.weight, std_threshold(l.weight, spec.amount));
    else if (spec.method == "percentile") zero_below(l.weight, quantile_threshold(l.weight, spec.amount));
    else if (const double* target = layer_target(spec, l.name)) zero_below(l.weight, quantile_threshold(l.weight, *target));
  }
}

Masks Masks::from_zeros(Model& model) {
  Masks masks;
  for (const LayerWeight& l : model.prunable_weights()) masks.weight_and_pruned_.emplace_back(l.weight, l.weight.detach().eq(0));
  return masks;
}

void Masks::refresh_from_zeros() {
  for (auto& [weight, pruned] : weight_and_pruned_) pruned = weight.detach().eq(0);
}

void Masks::apply() const {
  torch::NoGradGuard no_grad;
  for (const auto& [weight, pruned] : weight_and_pruned_) weight.masked_fill_(pruned.to(weight.device()), 0.0);
}

void Masks::mask_gradients() const {
  for (const auto& [weight, pruned] : weight_and_pruned_)
    if (weight.grad().defined()) weight.mutable_grad().masked_fill_(pruned.to(weight.device()), 0.0);
}

TrainHooks Masks::training_hooks() const {
  TrainHooks hooks;
  hooks.after_backward = [this] { mask_gradients(); };
  hooks.after_step = [this] { apply(); };
  return hooks;
}

void validate(const PruneSchedule& s) {
  if (s.target.method != "percentile" && s.target.method != "layerwise")
    throw std::invalid_argument("a pruning schedule's target must be percentile or layerwise");
  validate(s.target);
  if (s.initial < 0 || s.initial >= 1) throw std::invalid_argument("initial sparsity must be in [0, 1)");
  if (s.begin_epoch < 0 || s.end_epoch < s.begin_epoch || s.every < 1)
    throw std::invalid_argument("pruning schedule needs 0 <= begin_epoch <= end_epoch and every >= 1");
  if (s.shape != "cubic" && s.shape != "linear") throw std::invalid_argument("schedule shape must be cubic or linear");
}

PruneSchedule prune_schedule_from_json(const nlohmann::json& j) {
  try {
    PruneSchedule s;
    nlohmann::json target;
    for (const auto& [key, value] : j.items()) {
      if (key == "initial") value.get_to(s.initial);
      else if (key == "begin_epoch") value.get_to(s.begin_epoch);
      else if (key == "end_epoch") value.get_to(s.end_epoch);
      else if (key == "every") value.get_to(s.every);
      else if (key == "shape") value.get_to(s.shape);
      else if (key == "feedback") value.get_to(s.feedback);
      else target[key] = value;  // method, amount, targets
    }
    s.target = prune_spec_from_json(target);
    validate(s);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("malformed setting: ") + e.what());
  }
}

double schedule_progress(const PruneSchedule& s, int64_t epoch) {
  if (epoch < s.begin_epoch) return 0;
  if (epoch >= s.end_epoch) return 1;
  // Pruning happens at begin, begin + every, ...; the last one at end_epoch.
  const int64_t steps = std::max<int64_t>(1, (s.end_epoch - s.begin_epoch + s.every - 1) / s.every);
  const double t = double((epoch - s.begin_epoch) / s.every) / double(steps);
  return s.shape == "cubic" ? 1 - std::pow(1 - t, 3) : t;
}

namespace {

// With feedback, how many steps a mask is kept before it is chosen again
// from the whole weights, as Lin et al. do: a pruned weight's gradient
// does not shrink as it grows (the weight stays masked), so a mask kept
// for a whole epoch let the set-aside values drift far and came back as a
// shock (ResNet-20, 88.6% targets: training loss 1.9 against 0.26-0.50 without
// feedback, results/frontier/analysis.md).
constexpr int64_t kFeedbackSteps = 16;

// What the hooks share: the sparsities of the current epoch and, with
// feedback before end_epoch, the whole weights (the model holds the pruned ones).
struct PruningState {
  PruneSpec now{"layerwise", 0, {}};
  std::vector<torch::Tensor> whole;
  int64_t steps = 0;
};

std::vector<torch::Tensor> prunable_tensors(Model& model) {
  std::vector<torch::Tensor> w;
  for (const LayerWeight& l : model.prunable_weights()) w.push_back(l.weight);
  return w;
}

// to[i] = from[i], layer by layer, outside autograd.
void copy_weights(const std::vector<torch::Tensor>& to, const std::vector<torch::Tensor>& from) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
}

// The model's prunable weights = the whole ones (if set aside), pruned to state.now.
void prune_whole(Model& model, const PruningState& state, Masks& masks) {
  if (!state.whole.empty()) copy_weights(prunable_tensors(model), state.whole);
  // Pruning to a sparsity below the current one removes nothing, so a
  // resumed run (whose checkpoint holds the zeros) repeats no work.
  prune(model, state.now);
  masks.refresh_from_zeros();
}

}  // namespace

TrainHooks scheduled_pruning_hooks(Model& model, const PruneSchedule& schedule, Masks& masks) {
  TrainHooks hooks = masks.training_hooks();
  auto state = std::make_shared<PruningState>();
  if (schedule.feedback) {
    // The gradient was taken at w * m; the optimizer steps the whole weights with it.
    hooks.after_backward = [state, &model, &masks] {
      if (state->whole.empty()) return masks.mask_gradients();
      copy_weights(prunable_tensors(model), state->whole);
    };
    hooks.after_step = [state, &model, &masks] {
      if (state->whole.empty()) return masks.apply();
      copy_weights(state->whole, prunable_tensors(model));
      if (++state->steps % kFeedbackSteps == 0) prune_whole(model, *state, masks);
      else masks.apply();
    };
  }
  hooks.before_epoch = [&model, schedule, &masks, state](int64_t epoch) {
    const double p = schedule_progress(schedule, epoch);
    state->now.targets.clear();
    if (schedule.target.method == "percentile") {
      state->now.targets.emplace_back("*", schedule.initial + (schedule.target.amount - schedule.initial) * p);
    } else {
      for (const auto& [pattern, target] : schedule.target.targets)
        state->now.targets.emplace_back(
            pattern, std::min(target, schedule.initial) + (target - std::min(target, schedule.initial)) * p);
    }
    if (schedule.feedback && state->whole.empty() && epoch < schedule.end_epoch) {
      torch::NoGradGuard no_grad;
      for (const torch::Tensor& t : prunable_tensors(model)) state->whole.push_back(t.clone());
    }
    // With feedback the mask is chosen again from the whole weights; from
    // end_epoch on it is fixed.
    prune_whole(model, *state, masks);
    if (epoch >= schedule.end_epoch) state->whole.clear();
  };
  return hooks;
}

SparsityReport sparsity_report(const Model& model) {
  SparsityReport report;
  for (const LayerWeight& l : model.prunable_weights()) {
    SparsityRow row{l.name, l.weight.sizes().vec(), l.weight.numel(), l.weight.count_nonzero().item<int64_t>()};
    report.prunable_weights += row.weights;
    report.prunable_nonzeros += row.nonzeros;
    report.layers.push_back(row);
  }
  for (const auto& p : model.parameters()) {
    report.all_parameters += p.numel();
    report.all_nonzeros += p.count_nonzero().item<int64_t>();
  }
  return report;
}

nlohmann::json to_json(const SparsityReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const SparsityRow& row : r.layers)
    layers.push_back({{"name", row.name}, {"shape", row.shape}, {"weights", row.weights},
                      {"nonzeros", row.nonzeros}, {"sparsity", row.sparsity()}});
  return {{"layers", layers},
          {"prunable_weights", r.prunable_weights},
          {"prunable_nonzeros", r.prunable_nonzeros},
          {"prunable_sparsity", 1.0 - double(r.prunable_nonzeros) / double(std::max<int64_t>(1, r.prunable_weights))},
          {"all_parameters", r.all_parameters},
          {"all_nonzeros", r.all_nonzeros},
          {"all_sparsity", 1.0 - double(r.all_nonzeros) / double(std::max<int64_t>(1, r.all_parameters))}};
}

std::string format_table(const SparsityReport& r) {
  std::string out = fmt::format("{:<26} {:<16} {:>9} {:>9} {:>9}\n", "layer", "shape", "weights", "nonzeros", "sparsity");
  for (const SparsityRow& row : r.layers)
    out += fmt::format("{:<26} {:<16} {:>9} {:>9} {:>8.2f}%\n", row.name, fmt::format("{}", fmt::join(row.shape, "x")),
                       row.weights, row.nonzeros, 100 * row.sparsity());
  const auto pct = [](int64_t nz, int64_t n) { return 100.0 * (1.0 - double(nz) / double(std::max<int64_t>(1, n))); };
  out += fmt::format("{:<26} {:<16} {:>9} {:>9} {:>8.2f}%\n", "prunable weights", "", r.prunable_weights,
                     r.prunable_nonzeros, pct(r.prunable_nonzeros, r.prunable_weights));
  out += fmt::format("{:<26} {:<16} {:>9} {:>9} {:>8.2f}%\n", "all parameters", "", r.all_parameters, r.all_nonzeros,
                     pct(r.all_nonzeros, r.all_parameters));
  return out;
}

}  // namespace dcomp
