// Magnitude pruning (Han et al. 2015, section 2) and the masks that keep
// pruned weights at exactly zero through retraining.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "libtorch/model.h"
#include "libtorch/train.h"

namespace dcomp {

// Per-layer thresholds; a weight survives when |w| >= threshold.
double std_threshold(const torch::Tensor& weight, double sensitivity);  // s * std(w)
double quantile_threshold(const torch::Tensor& weight, double q);       // q-quantile of |w|

// How to choose the thresholds.
struct PruneSpec {
  std::string method;  // "std" | "percentile" | "global" | "layerwise"
  double amount = 0;   // std: s; percentile and global: q in [0, 1)
  // layerwise: (glob pattern, sparsity) pairs; the first pattern matching a
  // layer's name wins; layers no pattern matches are left alone.
  std::vector<std::pair<std::string, double>> targets;
};
void validate(const PruneSpec& spec);
PruneSpec prune_spec_from_json(const nlohmann::json& j);  // {"method":..., "amount":..., "targets": {...}}

// Zeroes the weights the spec selects, in place, to +0.0. Weights that are
// already zero stay zero.
void prune(Model& model, const PruneSpec& spec);

// Masks implied by the zeros of a model's prunable weights: a pruned weight
// is exactly 0.0, every other weight is not.
class Masks {
 public:
  static Masks from_zeros(Model& model);
  void refresh_from_zeros();    // after the weights were pruned further

  void apply() const;           // w = +0.0 where pruned (a product with 0 could leave -0.0)
  void mask_gradients() const;  // grad = 0 where pruned
  // Hooks for train(): gradients masked before each optimizer step and the
  // mask applied again after it, so neither momentum nor weight decay can
  // revive a pruned weight.
  TrainHooks training_hooks() const;

 private:
  std::vector<std::pair<torch::Tensor, torch::Tensor>> weight_and_pruned_;  // (weight, bool: pruned)
};

// Pruning during training: the sparsity of each layer rises from `initial`
// to the spec's target between begin_epoch and end_epoch, pruning at the
// start of every `every`-th epoch, on Zhu and Gupta's cubic curve
// s_t = s_f + (s_i - s_f) (1 - (t - t_0) / (n dt))^3, or in equal steps
// ("linear": Han et al.'s iterative prune-and-retrain). The masks keep the
// zeros in between.
//
// With feedback (Lin et al. 2020, "Dynamic model pruning with feedback"),
// weights pruned before end_epoch are set aside, not lost: each step takes
// the gradient at the pruned weights (w * m) and applies it to the whole
// ones (straight through the mask), and every 16 steps the mask is chosen
// again from the whole weights' magnitudes, so that a weight pruned early
// comes back if training makes it large again. From end_epoch on the mask is
// fixed, as without feedback. The set-aside values live in memory only: a
// run resumed before end_epoch starts them again from the checkpoint's
// pruned weights (zeros).
struct PruneSchedule {
  PruneSpec target;  // percentile (q for every layer) or layerwise targets
  double initial = 0;
  int64_t begin_epoch = 0, end_epoch = 0, every = 1;
  std::string shape = "cubic";  // cubic | linear
  bool feedback = false;
};
void validate(const PruneSchedule& schedule);
PruneSchedule prune_schedule_from_json(const nlohmann::json& j);

// The fraction of the way from `initial` to the target at the start of
// `epoch` (0 before begin_epoch, 1 from end_epoch on).
double schedule_progress(const PruneSchedule& schedule, int64_t epoch);

// Training hooks that prune `model` on the schedule and keep the zeros with
// `masks` (which must outlive the training).
TrainHooks scheduled_pruning_hooks(Model& model, const PruneSchedule& schedule, Masks& masks);

// Where the zeros are: one row per prunable weight, and totals.
struct SparsityRow {
  std::string name;
  std::vector<int64_t> shape;
  int64_t weights = 0, nonzeros = 0;
  double sparsity() const { return weights ? 1.0 - double(nonzeros) / double(weights) : 0.0; }
};
struct SparsityReport {
  std::vector<SparsityRow> layers;
  int64_t prunable_weights = 0, prunable_nonzeros = 0;
  int64_t all_parameters = 0, all_nonzeros = 0;  // every parameter, BN and biases included
};
SparsityReport sparsity_report(const Model& model);
nlohmann::json to_json(const SparsityReport& report);
std::string format_table(const SparsityReport& report);

}  // namespace dcomp
